"""The benchmark's only calls into the recommender beyond ``recommend``/``recommend_batch``.

Kept in one place so that a move of brute-force scoring or of the stages touches this file
alone: a recommender over in-memory parts, the scored candidates of one mentee (every
eligible mentor, or stage 1's), stage 1's candidates, and a mentee as an ad-hoc profile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def recommender_over(index, ranker, mentors: pd.DataFrame, mentees: pd.DataFrame,
                     goal_vectors: np.ndarray, encoder=None):
    """A :class:`retrieval.Recommender` over objects in memory (no database, no artifacts)."""
    from retrieval import Recommender

    return Recommender.from_components(
        index, ranker, mentors, mentees, mentee_vectors=goal_vectors, encoder=encoder
    )


def scored_candidates(recommender, mentee_id: int, *, every_eligible: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mentor ids, ranker scores) of one mentee's candidates: every eligible mentor (brute
    force, as the original guide's inference does) or stage 1's retrieved ones."""
    from eval.exhaustive import eligible_pairs, score_pairs

    if every_eligible:
        pairs = eligible_pairs(recommender, [mentee_id])
    else:
        pairs = recommender.retrieve([mentee_id], progress=False)
    scores = score_pairs(recommender, pairs)
    return pairs["mentor_id"].to_numpy(), scores


def stage1_candidates(recommender, mentee_ids: np.ndarray) -> pd.DataFrame:
    """Stage 1's (mentee_id, mentor_id) candidates of ``mentee_ids``."""
    return recommender.retrieve(mentee_ids, progress=False)


def profile_of(mentees: pd.DataFrame, mentee_id) -> dict[str, Any]:
    """The mentee's row as an ad-hoc profile (no id: the goals are encoded per query)."""
    from retrieval import PROFILE_FIELDS

    row = mentees.loc[mentees["mentee_id"] == mentee_id].iloc[0]
    return {name: row[name] for name in PROFILE_FIELDS}
