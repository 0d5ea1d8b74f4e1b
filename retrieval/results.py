"""What the stages hand each other: stage 1's :class:`Candidates`, stage 2's :class:`Recommendation`.

Both speak in mentor ids, never in index rows, so a caller needs no map from one to the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError

PAD_ID = -1
"""Mentor id of an empty candidate slot (mentor ids are >= 0)."""


@dataclass(frozen=True)
class Candidates:
    """Stage-1 candidates of ``m`` queries, padded: row ``i`` holds query ``i``'s, best first.

    ``mentor_ids`` is ``(m, k)`` int64 and ``similarity`` ``(m, k)`` float32 (the cosine of
    goal and bio). A row is filled from the left; its slots after the last candidate hold
    :data:`PAD_ID` and ``-inf``, which happens only where fewer than ``k`` eligible mentors
    exist for that query. Padded rather than ragged: one array per field for a batch, the
    shape FAISS returns.

    >>> found = Candidates(np.array([[7, 3], [5, -1]]), np.array([[0.5, 0.25], [0.75, -np.inf]]))
    >>> len(found), found.counts.tolist()
    (2, [2, 1])
    >>> found.of(1)
    (array([5]), array([0.75], dtype=float32))
    >>> found.to_frame([10, 11])
       mentee_id  mentor_id  similarity
    0         10          7        0.50
    1         10          3        0.25
    2         11          5        0.75
    """

    mentor_ids: np.ndarray
    similarity: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.mentor_ids, dtype=np.int64)
        similarity = np.asarray(self.similarity, dtype=np.float32)
        if ids.ndim != 2 or ids.shape != similarity.shape:
            raise InvalidParameterError(
                f"Candidates needs mentor_ids and similarity of one (queries, k) shape; got "
                f"{ids.shape} and {similarity.shape}."
            )
        object.__setattr__(self, "mentor_ids", ids)
        object.__setattr__(self, "similarity", similarity)

    def __len__(self) -> int:
        return len(self.mentor_ids)

    @property
    def found(self) -> np.ndarray:
        """``(m, k)`` bool: which slots hold a mentor (the others are padding)."""
        return self.mentor_ids != PAD_ID

    @property
    def counts(self) -> np.ndarray:
        """Candidates per query (int64)."""
        return self.found.sum(axis=1)

    def of(self, query: int) -> tuple[np.ndarray, np.ndarray]:
        """(mentor ids, similarities) of one query, without the padding."""
        keep = self.found[query]
        return self.mentor_ids[query][keep], self.similarity[query][keep]

    def to_frame(self, mentee_ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
        """One row per candidate: mentee_id (of each query row), mentor_id, similarity
        (float64), in query order and best first within a query."""
        mentee_ids = np.asarray(mentee_ids, dtype=np.int64)
        if mentee_ids.shape != (len(self),):
            raise InvalidParameterError(
                f"to_frame needs one mentee id per query row ({len(self)}); got {mentee_ids.shape[0]}."
            )
        found = self.found
        return pd.DataFrame({
            "mentee_id": np.repeat(mentee_ids, found.sum(axis=1)),
            "mentor_id": self.mentor_ids[found],
            "similarity": self.similarity[found].astype(np.float64),
        })


@dataclass(frozen=True)
class Recommendation:
    """One recommended mentor, as returned by :meth:`retrieval.Recommender.recommend`.

    ``score`` is the served score (comparable within one list only): the ranker's, or the
    arm's P(match) or blend (:mod:`retrieval.scoring`); ``similarity`` stage 1's cosine,
    ``features`` the models' inputs, ``reasons`` plain-word phrases and
    ``contributions`` the relative contributions of the features behind them.
    ``propensity``: the probability that the serving policy put this mentor at this rank,
    given the ranks above (1 without exploration); ``list_id`` names the served list in the
    recommendation log (post outcomes with it) and ``variant`` the A/B arm that served it.

    >>> Recommendation(7, "Ada", 1, 0.5, 0.25, {}, ["same timezone"]).to_dict()["reasons"]
    ['same timezone']
    """

    mentor_id: int
    name: str
    rank: int
    score: float
    similarity: float
    features: dict[str, float]
    reasons: list[str]
    contributions: dict[str, float] = field(default_factory=dict)
    propensity: float = 1.0
    list_id: str | None = None
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (JSON-ready)."""
        return {
            "mentor_id": self.mentor_id,
            "name": self.name,
            "rank": self.rank,
            "score": self.score,
            "similarity": self.similarity,
            "features": self.features,
            "reasons": self.reasons,
            "contributions": self.contributions,
            "propensity": self.propensity,
            "list_id": self.list_id,
            "variant": self.variant,
        }
