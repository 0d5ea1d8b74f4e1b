"""The index as served between rebuilds: the published FAISS index minus hidden rows, plus a side index.

FAISS rows cannot be removed (HNSW) nor re-embedded in place, so a live catalogue leaves the
published :class:`~index.ann.MentorIndex` as it is and changes around it:

* an eligibility flag per index row: False hides the row from every search (an inactive,
  full or deleted mentor, or one whose bio changed and who moved to the side index);
* a :class:`SideIndex`: the vectors added since the build (new mentors, changed bios),
  searched exactly with NumPy inner products, each with its own eligibility.

:class:`LiveIndex` searches both and merges the two result lists by similarity. Its rows
number the main index's rows first (``0 .. n-1``) and the side rows after them
(``n .. n+s-1``): the *served rows*, the one numbering that per-mentor arrays (pre-ranker
priors, prepared profiles) align with. Everything here is immutable: a change makes a new
:class:`LiveIndex` sharing the unchanged parts (the FAISS index, untouched side vectors).
The next ``scripts/build_index.py`` folds the side mentors into a new main index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.ann import MentorIndex, SearchResult
from index.filters import PerQuery, RowFilter, per_query_ids
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int

_QUERY_CHUNK = 256  # queries per block of the exact side search


@dataclass(frozen=True)
class SideIndex:
    """Vectors added since the build, searched exactly: ``ids`` (s,) int64, unique;
    ``vectors`` (s, dim) float32, unit length; ``eligible`` (s,) bool.

    >>> side = SideIndex.empty(2).with_rows([0, 1], [7, 9], np.eye(2, dtype=np.float32), [True, True])
    >>> side.search(np.array([[1.0, 0.0]], dtype=np.float32), 2, exclude=None).ids.tolist()
    [[7, 9]]
    >>> side.with_rows([1], [9], np.array([[0.6, 0.8]], dtype=np.float32), [False]).eligible.tolist()
    [True, False]
    """

    ids: np.ndarray
    vectors: np.ndarray
    eligible: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> SideIndex:
        return cls(np.empty(0, np.int64), np.empty((0, dim), np.float32), np.empty(0, bool))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def with_rows(
        self, rows: Sequence[int] | np.ndarray, ids: Sequence[int] | np.ndarray, vectors: np.ndarray,
        eligible: Sequence[bool] | np.ndarray,
    ) -> SideIndex:
        """A copy with ``rows`` set to (``ids``, ``vectors``, ``eligible``); rows from
        ``len(self)`` on append (they must continue the numbering without gaps)."""
        rows = np.asarray(rows, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(rows), self.dim)
        size = max(len(self), int(rows.max()) + 1) if len(rows) else len(self)
        appended = np.setdiff1d(np.arange(len(self), size), rows)
        if len(appended) or (len(rows) and rows.min() < 0):
            raise InvalidParameterError(
                f"SideIndex.with_rows sets existing rows or appends from {len(self)} without gaps; "
                f"got rows {rows[:5].tolist()}."
            )
        out_ids = np.concatenate([self.ids, np.zeros(size - len(self), np.int64)])
        out_vectors = np.concatenate([self.vectors, np.zeros((size - len(self), self.dim), np.float32)])
        out_eligible = np.concatenate([self.eligible, np.zeros(size - len(self), bool)])
        out_ids[rows], out_vectors[rows], out_eligible[rows] = ids, vectors, eligible
        return SideIndex(out_ids, out_vectors, out_eligible)

    def search(self, queries: np.ndarray, k: int, exclude: PerQuery | None) -> SearchResult:
        """The ``k`` most similar eligible side vectors of each query row, minus that row's
        ``exclude`` (mentor ids); rows are side rows (0..s-1)."""
        m = len(queries)
        out_rows = np.full((m, k), -1, dtype=np.int64)
        out_scores = np.full((m, k), -np.inf, dtype=np.float32)
        allowed = np.flatnonzero(self.eligible)
        width = min(k, len(allowed))
        if width == 0 or m == 0:
            return SearchResult(out_rows.copy(), out_scores, out_rows)
        order = np.argsort(self.ids, kind="stable")
        blocked = [] if exclude is None else per_query_ids(exclude, m)
        for start in range(0, m, _QUERY_CHUNK):
            sims = queries[start : start + _QUERY_CHUNK] @ self.vectors.T
            sims[:, ~self.eligible] = -np.inf
            for offset, ids in enumerate(blocked[start : start + _QUERY_CHUNK]):
                pos = np.minimum(np.searchsorted(self.ids, ids, sorter=order), len(order) - 1)
                hit = order[pos][self.ids[order[pos]] == ids]
                sims[offset, hit] = -np.inf
            top = np.argsort(-sims, axis=1, kind="stable")[:, :width]
            scores = np.take_along_axis(sims, top, axis=1)
            top = np.where(np.isfinite(scores), top, -1)
            out_rows[start : start + len(top), :width] = top
            out_scores[start : start + len(top), :width] = scores
        ids = np.where(out_rows >= 0, self.ids[np.maximum(out_rows, 0)], -1)
        return SearchResult(ids, out_scores, out_rows)


class LiveIndex:
    """The main index with per-row eligibility, plus a side index; searched as one.

    ``main_eligible``: bool per main row (None: all). ``side``: the added vectors (None:
    none). Build it once per catalogue snapshot: the main filter is prepared here, not per
    query.

    >>> main = MentorIndex.build([7, 8], np.eye(3, dtype=np.float32)[:2], "Flat", encoder_identity="toy")
    >>> side = SideIndex.empty(3).with_rows([0], [8], np.array([[0.0, 0.6, 0.8]], dtype=np.float32), [True])
    >>> live = LiveIndex(main, np.array([True, False]), side)  # 8 moved to the side index
    >>> found = live.search(np.array([[0.0, 1.0, 0.0]], dtype=np.float32), 2)
    >>> found.ids.tolist(), found.rows.tolist()  # row 2 = the first side row
    ([[8, 7]], [[2, 0]])
    """

    def __init__(
        self, main: MentorIndex, main_eligible: np.ndarray | None = None, side: SideIndex | None = None
    ) -> None:
        n = len(main)
        main_eligible = np.ones(n, dtype=bool) if main_eligible is None else np.asarray(main_eligible, dtype=bool)
        if main_eligible.shape != (n,):
            raise InvalidParameterError(
                f"main_eligible has shape {main_eligible.shape} for an index of {n} mentors; "
                "pass one flag per index row (index.ids order)."
            )
        side = SideIndex.empty(main.dim) if side is None else side
        if side.dim != main.dim:
            raise InvalidParameterError(
                f"The side index holds {side.dim}-d vectors, the main index {main.dim}-d ones; "
                "embed the added bios with the index's encoder."
            )
        self.main = main
        self.main_eligible = main_eligible
        self.side = side
        self.excluded: RowFilter = main.row_filter(np.flatnonzero(~main_eligible))

    def __len__(self) -> int:
        return len(self.main) + len(self.side)

    def __repr__(self) -> str:
        return (
            f"LiveIndex({int(self.main_eligible.sum())} of {len(self.main)} index rows and "
            f"{int(self.side.eligible.sum())} of {len(self.side)} side rows eligible, spec={self.main.spec!r})"
        )

    @property
    def eligible(self) -> np.ndarray:
        """Bool per served row (main rows, then side rows)."""
        return np.concatenate([self.main_eligible, self.side.eligible])

    @property
    def ids(self) -> np.ndarray:
        """Mentor id per served row (a mentor that moved to the side index appears twice,
        its main row never eligible)."""
        return np.concatenate([self.main.ids, self.side.ids])

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """The ``(len(rows), dim)`` vectors of served ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self.main)
        if not len(self.side):
            return self.main.vectors[rows]
        out = np.empty((len(rows), self.main.dim), dtype=np.float32)
        in_main = rows < n
        out[in_main] = self.main.vectors[rows[in_main]]
        out[~in_main] = self.side.vectors[rows[~in_main] - n]
        return out

    def with_changes(self, main_eligible: np.ndarray, side: SideIndex) -> LiveIndex:
        """The same main index with other eligibility and side index."""
        return LiveIndex(self.main, main_eligible, side)

    def search(self, queries: np.ndarray, k: int, *, exclude: PerQuery | None = None) -> SearchResult:
        """The ``k`` most similar eligible mentors of each query row over both indexes, minus
        that row's ``exclude``; rows are served rows. On equal similarity the main index's
        mentor comes first."""
        k = check_int("k", k, "search")
        main = self.main.search(queries, k, exclude=exclude, excluded_rows=self.excluded)
        if not self.side.eligible.any():
            return main
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        side = self.side.search(queries, k, exclude)
        side_rows = np.where(side.rows >= 0, side.rows + len(self.main), -1)
        scores = np.concatenate([main.scores, side.scores], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]

        def merged(first: np.ndarray, second: np.ndarray) -> np.ndarray:
            return np.take_along_axis(np.concatenate([first, second], axis=1), order, axis=1)

        return SearchResult(merged(main.ids, side.ids), merged(main.scores, side.scores), merged(main.rows, side_rows))
