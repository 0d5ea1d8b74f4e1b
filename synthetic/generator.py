"""A whole synthetic mentoring world from a seed: profiles, the interaction log, the truth.

The world looks like a real platform's: people in a dozen domains, bios and goals in varied
natural sentences, exposure-biased contacts and graded outcomes drawn from the hidden ground
truth (:mod:`synthetic.truth`). The sub-specialties a mentee wants and a mentor has appear
only in the texts (and in the truth tables), so a sentence encoder can find signal that the
structured fields do not carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from db.loading import validate_frame
from db.schema import interactions, mentees, mentors
from mentor_match.validation import check_int
from synthetic.interactions import make_interactions, with_total_mentees
from synthetic.profiles import (
    NEW_MENTOR_SHARE,
    REFERENCE_TIME,
    START_TIME,
    make_mentees,
    make_mentors,
)
from synthetic.truth import attach_truth, truth_frame


@dataclass(frozen=True)
class SyntheticWorld:
    """Generated frames in the ``load_*`` shapes, plus the hidden truth tables."""

    mentors: pd.DataFrame
    mentees: pd.DataFrame
    interactions: pd.DataFrame
    mentor_truth: pd.DataFrame  # mentor_id, subspecialties (list), latent
    mentee_truth: pd.DataFrame  # mentee_id, subspecialties (list), latent

    def with_truth(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(mentees, mentors) with the hidden ``true_subspecialties`` and ``latent`` columns."""
        return (
            attach_truth(self.mentees, self.mentee_truth, "mentee_id", "mentees"),
            attach_truth(self.mentors, self.mentor_truth, "mentor_id", "mentors"),
        )


def generate_world(
    n_mentors: int = 2000,
    n_mentees: int = 5000,
    interactions_per_mentee: int = 8,
    seed: int = 42,
) -> SyntheticWorld:
    """A whole world, a pure function of its arguments (same seed, same frames).

    >>> world = generate_world(n_mentors=5, n_mentees=6, interactions_per_mentee=2, seed=1)
    >>> len(world.mentors), len(world.mentees), len(world.interactions)
    (5, 6, 12)
    >>> bool(world.interactions.groupby("mentee_id").size().eq(2).all())
    True
    >>> generate_world(n_mentors=5, n_mentees=6, interactions_per_mentee=2, seed=1).mentors.equals(world.mentors)
    True
    """
    check_int("n_mentors", n_mentors, "generate_world")
    check_int("n_mentees", n_mentees, "generate_world")
    check_int("interactions_per_mentee", interactions_per_mentee, "generate_world", low=0)
    rng = np.random.default_rng(seed)
    mentor_frame, mentor_truth = make_mentors(
        rng, np.arange(1, n_mentors + 1), new_share=NEW_MENTOR_SHARE,
        created=(START_TIME, REFERENCE_TIME - pd.Timedelta(days=180)),
    )
    mentee_frame, mentee_truth = make_mentees(rng, np.arange(1, n_mentees + 1))
    interaction_frame = make_interactions(
        rng, mentor_frame, mentor_truth, mentee_frame, mentee_truth, interactions_per_mentee
    )
    mentor_frame = with_total_mentees(rng, mentor_frame, interaction_frame)
    return SyntheticWorld(
        mentors=validate_frame(mentors, mentor_frame),
        mentees=validate_frame(mentees, mentee_frame),
        interactions=validate_frame(interactions, interaction_frame),
        mentor_truth=truth_frame(mentor_truth, "mentor_id"),
        mentee_truth=truth_frame(mentee_truth, "mentee_id"),
    )
