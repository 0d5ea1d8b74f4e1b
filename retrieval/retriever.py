"""Stage 1: query vectors -> :class:`~retrieval.results.Candidates`, never an ineligible mentor.

A retriever is anything with ``search(queries, k, exclude=None) -> Candidates``:

* :class:`IndexRetriever`, the serving one: the index as served
  (:class:`index.live.LiveIndex`: the FAISS index with its eligibility prepared once as a
  row filter, plus the side index of mentors added since the build) and the pre-ranker
  (:mod:`ranking.preranker`), which orders the ``pool`` nearest mentors and keeps the best
  ``k``;
* :class:`ExactRetriever`, a plain NumPy reference (every similarity, then sort) that the
  contract tests hold the others to.

``exclude`` is per query: one collection of mentor ids for each query row (ids unknown to
the retriever are ignored). Results are mentor ids, padded as :class:`Candidates` says.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from index.filters import per_query_ids
from index.live import LiveIndex
from index.spec import DEFAULT_POOL
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int
from ranking.features import PreparedProfiles
from ranking.preranker import Preranker
from retrieval.results import PAD_ID, Candidates

Exclude = Sequence[Collection[int] | np.ndarray] | None
"""None, or one collection of mentor ids per query row."""


class Retriever(Protocol):
    """The stage-1 interface (see the module docstring)."""

    def search(self, queries: np.ndarray, k: int, exclude: Exclude = None) -> Candidates:
        """The ``k`` best eligible mentors of each query row, minus that row's ``exclude``."""
        ...


@dataclass(frozen=True)
class Prerank:
    """A pre-ranker and its mentor prior per served row (computed once per catalogue, and
    for the changed rows on a refresh: :meth:`with_rows`).

    >>> prerank = Prerank(Preranker(2.0, {}, 1.0, 0), np.array([0.0, 1.0]))
    >>> prerank.scores(np.array([[0.5, 0.25]], dtype=np.float32), np.array([[0, 1]])).tolist()
    [[1.0, 1.5]]
    """

    preranker: Preranker
    prior: np.ndarray

    @classmethod
    def build(cls, preranker: Preranker, prepared_mentors: PreparedProfiles) -> Prerank:
        """The pre-ranker over ``prepared_mentors`` (in index row order)."""
        return cls(preranker, preranker.mentor_prior(prepared_mentors))

    def with_rows(self, size: int, rows: np.ndarray, prepared_mentors: PreparedProfiles) -> Prerank:
        """The prior over ``size`` served rows: this one's, with ``rows`` recomputed from
        ``prepared_mentors`` (the new catalogue's, all rows); rows past the old end not in
        ``rows`` get 0 (they are never eligible)."""
        prior = np.zeros(size)
        kept = min(size, len(self.prior))
        prior[:kept] = self.prior[:kept]
        if len(rows):
            prior[rows] = self.preranker.mentor_prior(prepared_mentors.take(rows))
        return Prerank(self.preranker, prior)

    def scores(self, similarity: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Pre-scores of candidates at index ``rows`` (-1: none, scored -inf)."""
        found = rows >= 0
        pre = self.preranker.similarity_weight * np.where(found, similarity, 0.0) + self.prior[np.maximum(rows, 0)]
        pre[~found] = -np.inf  # padding last
        return pre


class IndexRetriever:
    """Search over the eligible mentors of the index as served, then the pre-ranker (when
    there is one).

    ``index``: a :class:`index.live.LiveIndex` (its eligibility: never returned when False,
    e.g. inactive or full). ``prerank``: None gives the ``k`` nearest mentors; otherwise
    :meth:`search` reads the ``pool`` nearest and keeps the ``k`` best by pre-score.
    """

    def __init__(self, index: LiveIndex, prerank: Prerank | None = None) -> None:
        if not isinstance(index, LiveIndex):
            raise InvalidParameterError(
                f"IndexRetriever needs an index.live.LiveIndex, got {type(index).__name__}; wrap a "
                "MentorIndex with its eligibility: LiveIndex(index, eligible)."
            )
        if prerank is not None and len(prerank.prior) != len(index):
            raise InvalidParameterError(
                f"The pre-ranker's prior covers {len(prerank.prior)} mentors, the index {len(index)}; "
                "build it from the catalogue of this index (Prerank.build)."
            )
        self.index = index
        self.prerank = prerank

    def __repr__(self) -> str:
        return f"IndexRetriever({self.index!r}, prerank={self.prerank is not None})"

    def search(
        self, queries: np.ndarray, k: int, exclude: Exclude = None, *, pool: int | None = None
    ) -> Candidates:
        """The ``k`` candidates of each query row: the best ``k`` of the ``pool`` nearest
        eligible mentors by pre-score (default pool :data:`index.spec.DEFAULT_POOL`), or
        without a pre-ranker the ``k`` nearest (``pool`` does not apply)."""
        k = check_int("k", k, "search")
        pool = DEFAULT_POOL if pool is None else check_int("pool", pool, "search")
        exclude = _per_query(exclude, len(queries))
        fetch = k if self.prerank is None else max(pool, k)
        ids, similarity, rows = self.index.search(queries, fetch, exclude=exclude)
        if fetch == k:
            return Candidates(ids, similarity)
        keep = np.argsort(-self.prerank.scores(similarity, rows), axis=1, kind="stable")[:, :k]
        return Candidates(np.take_along_axis(ids, keep, axis=1), np.take_along_axis(similarity, keep, axis=1))


class ExactRetriever:
    """Every similarity, sorted: the reference stage 1 (no pre-ranker, no index).

    >>> vectors = np.eye(3, dtype=np.float32)
    >>> exact = ExactRetriever([30, 10, 20], vectors, eligible=[True, True, False])
    >>> found = exact.search(vectors, 3, exclude=[[], [30], []])
    >>> found.mentor_ids.tolist()
    [[30, 10, -1], [10, -1, -1], [30, 10, -1]]
    """

    def __init__(
        self,
        mentor_ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray,
        eligible: Sequence[bool] | np.ndarray | None = None,
    ) -> None:
        self.mentor_ids = np.asarray(mentor_ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.eligible = (
            np.ones(len(self.mentor_ids), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
        )
        if self.vectors.ndim != 2 or not len(self.mentor_ids) == len(self.vectors) == len(self.eligible):
            raise InvalidParameterError(
                f"ExactRetriever needs mentor_ids (n,), vectors (n, dim) and eligible (n,); got "
                f"{self.mentor_ids.shape}, {self.vectors.shape} and {self.eligible.shape}."
            )
        self._rows = pd.Index(self.mentor_ids)

    def search(self, queries: np.ndarray, k: int, exclude: Exclude = None) -> Candidates:
        """The ``k`` most similar eligible mentors per query row, minus its ``exclude``."""
        k = check_int("k", k, "search")
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.vectors.shape[1]:
            raise InvalidParameterError(
                f"search needs queries of shape (m, {self.vectors.shape[1]}); got {queries.shape}."
            )
        exclude = _per_query(exclude, len(queries))
        similarity = queries @ self.vectors.T
        similarity[:, ~self.eligible] = -np.inf
        for query, ids in enumerate(() if exclude is None else exclude):
            rows = self._rows.get_indexer(np.asarray(list(ids), dtype=np.int64))
            similarity[query, rows[rows >= 0]] = -np.inf
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(similarity, order, axis=1)
        ids = np.where(np.isfinite(best), self.mentor_ids[order], PAD_ID)
        width = ids.shape[1]
        out_ids = np.full((len(queries), k), PAD_ID, dtype=np.int64)
        out_similarity = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_ids[:, :width], out_similarity[:, :width] = ids, best
        return Candidates(out_ids, out_similarity)


def _per_query(exclude: Exclude, m: int) -> list[np.ndarray] | None:
    """``exclude`` as one int64 array per query row (or None), its length checked."""
    return None if exclude is None else per_query_ids(exclude, m)
