"""Generated mentoring worlds with a hidden ground truth, for evaluation, the demo and tests.

The serving path never imports this package: it is the only place that knows the truth
(``true_match_probability``), so whatever reads it is judging the engine, not running it.
"""

from synthetic.world import (
    REFERENCE_TIME,
    SyntheticWorld,
    attach_truth,
    experience_effect,
    generate_world,
    load_truth,
    refresh_world,
    summarize,
    true_match_probability,
    write_world,
)

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
