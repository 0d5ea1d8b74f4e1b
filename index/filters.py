"""Exclusions for index searches: rows hidden from every query, and per-query mentor ids."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from mentor_match.errors import InvalidParameterError

ExcludeArg = None | Sequence[int] | np.ndarray | Sequence[Sequence[int] | np.ndarray]


class RowFilter:
    """Index rows excluded from every search, prepared once (see :meth:`MentorIndex.row_filter`).

    Holds the sorted rows and the bitmap of allowed rows that FAISS's ``IDSelectorBitmap``
    reads, so a query pays neither for merging the rows nor for packing the bitmap.

    >>> import numpy as np
    >>> excluded = RowFilter(np.array([3, 1, 3]), n=5)
    >>> excluded.rows.tolist(), len(excluded)
    ([1, 3], 2)
    >>> excluded.contains(np.array([0, 1, 2, 3])).tolist()
    [False, True, False, True]
    """

    def __init__(self, rows: np.ndarray, n: int) -> None:
        self.rows = np.unique(np.asarray(rows, dtype=np.int64))
        self.rows.setflags(write=False)
        self.n = n

    @functools.cached_property
    def allowed(self) -> np.ndarray:
        """Packed bits, 1 = row may be returned (made on first use: a filter that is never
        searched with, such as the empty one of an unfiltered search, costs nothing)."""
        allowed = np.ones(self.n, dtype=bool)
        allowed[self.rows] = False
        packed = np.packbits(allowed, bitorder="little")
        packed.setflags(write=False)
        return packed

    def __len__(self) -> int:
        return len(self.rows)

    def contains(self, rows: np.ndarray) -> np.ndarray:
        """Whether each of ``rows`` is excluded."""
        if len(self.rows) == 0:
            return np.zeros(len(rows), dtype=bool)
        pos = np.minimum(np.searchsorted(self.rows, rows), len(self.rows) - 1)
        return self.rows[pos] == rows


def split_exclusions(
    exclude: ExcludeArg, m: int, n: int, rows_of: Callable[..., np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``exclude`` (mentor ids for all ``m`` queries, or one list per query) as index rows:
    (rows excluded for every query, ``query * n + row`` keys of the others, their count per
    query). ``rows_of(ids, strict=False)`` maps mentor ids to rows, dropping unknown ids."""
    none = np.empty(0, dtype=np.int64)
    if exclude is None:
        return none, none, np.zeros(m, dtype=np.int64)
    if _is_per_query(exclude):
        if len(exclude) != m:
            raise InvalidParameterError(
                f"exclude has {len(exclude)} lists for {m} queries; pass one list per "
                "query, or one flat list of mentor ids for all of them."
            )
        per_query = [np.unique(rows_of(e, strict=False)) for e in exclude]
        owner = np.repeat(np.arange(m, dtype=np.int64), [len(p) for p in per_query])
        rows = np.concatenate(per_query) if per_query else none
        shared = np.flatnonzero(np.bincount(rows, minlength=n) == m) if m else none
        extra = ~np.isin(rows, shared)
        keys = owner[extra] * n + rows[extra]
        return shared, keys, np.bincount(owner[extra], minlength=m)
    shared = np.unique(rows_of(exclude, strict=False))
    return shared, none, np.zeros(m, dtype=np.int64)


def _is_per_query(exclude) -> bool:
    if isinstance(exclude, np.ndarray):
        return exclude.ndim == 2 or exclude.dtype == object
    if isinstance(exclude, (list, tuple)) and exclude:
        return all(not np.isscalar(e) for e in exclude)
    return False
