"""Generated mentoring worlds with a hidden ground truth, for evaluation, the demo and tests.

The serving path never imports this package: it is the only place that knows the truth
(``true_match_probability``), so whatever reads it is judging the engine, not running it.

Where things live: :mod:`synthetic.vocabulary` (domains, sub-specialties, names),
:mod:`synthetic.texts` (bios and goals), :mod:`synthetic.profiles` (mentors and mentees),
:mod:`synthetic.interactions` (the contact log), :mod:`synthetic.truth` (the ground-truth
model and its tables), :mod:`synthetic.generator` (a whole world from a seed),
:mod:`synthetic.writing` (into the database), :mod:`synthetic.refresh` (a data refresh),
:mod:`synthetic.summary` (headline rates).
"""

from synthetic.generator import SyntheticWorld, generate_world
from synthetic.profiles import REFERENCE_TIME
from synthetic.refresh import refresh_world
from synthetic.summary import summarize
from synthetic.truth import attach_truth, experience_effect, load_truth, true_match_probability
from synthetic.writing import write_world

__all__ = [
    "REFERENCE_TIME",
    "SyntheticWorld",
    "attach_truth",
    "experience_effect",
    "generate_world",
    "load_truth",
    "refresh_world",
    "summarize",
    "true_match_probability",
    "write_world",
]
