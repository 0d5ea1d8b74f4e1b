"""Exhaustive (brute-force) scoring: every eligible mentor of a mentee, scored by the ranker.

The reference that two-stage retrieval is judged against (evaluation's end-to-end view, the
benchmark's brute-force timings): no index, no pre-ranker, the same pair features and
ranker as serving. Built on the public stages of a :class:`retrieval.Recommender`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from retrieval import Recommender


def eligible_pairs(recommender: Recommender, mentee_ids: Sequence[int]) -> pd.DataFrame:
    """Every (mentee_id, mentor_id) the two stages could return: the brute-force candidate set.

    Served mentors that are active and not full, minus those the mentee already contacted
    (read now, as a query reads them); mentors in ascending id order within each mentee,
    mentees in the given order.
    """
    catalogue = recommender.stages.catalogue
    mentee_ids = np.asarray(list(mentee_ids), dtype=np.int64)
    known = catalogue.lookup(mentee_ids)  # by key, in chunks; unknown ids raise
    contacted_of = dict(zip(known.ids.tolist(), known.contacted, strict=True))
    eligible = np.sort(catalogue.mentor_ids[catalogue.eligible])
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(mentee_ids, len(eligible)),
        "mentor_id": np.tile(eligible, len(mentee_ids)),
    })
    contacted = [(mentee, mentor) for mentee in mentee_ids for mentor in contacted_of[int(mentee)]]
    if contacted:
        keep = ~pd.MultiIndex.from_frame(pairs).isin(pd.MultiIndex.from_tuples(contacted))
        pairs = pairs[keep].reset_index(drop=True)
    return pairs


def score_pairs(recommender: Recommender, pairs: pd.DataFrame) -> np.ndarray:
    """The ranker's score of each known (mentee_id, mentor_id) pair, served mentors only.

    The features come from :func:`ranking.features.pair_features`, as in training and serving;
    the mentees are read by key.
    """
    return recommender.stages.score_known(pairs)
