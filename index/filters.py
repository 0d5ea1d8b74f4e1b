"""Exclusions for index searches: rows hidden from every query, and per-query mentor ids."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence

import numpy as np

from mentor_match.errors import InvalidParameterError

PerQuery = Sequence[Collection[int] | np.ndarray]
"""One collection of mentor ids per query row (a list, tuple, set or 1-D array each)."""


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
    exclude: PerQuery | None, m: int, n: int, rows_of: Callable[..., np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``exclude`` (one collection of mentor ids per each of ``m`` queries) as index rows:
    (rows excluded for every query, ``query * n + row`` keys of the others, their count per
    query). ``rows_of(ids, strict=False)`` maps mentor ids to rows, dropping unknown ids.

    >>> rows_of = lambda ids, strict: np.asarray([i for i in ids if 0 <= i < 4], dtype=np.int64)
    >>> shared, keys, counts = split_exclusions([[1, 2], [2, 9]], 2, 4, rows_of)
    >>> shared.tolist(), keys.tolist(), counts.tolist()
    ([2], [1], [1, 0])
    """
    none = np.empty(0, dtype=np.int64)
    if exclude is None:
        return none, none, np.zeros(m, dtype=np.int64)
    per_query = [np.unique(rows_of(ids, strict=False)) for ids in per_query_ids(exclude, m)]
    owner = np.repeat(np.arange(m, dtype=np.int64), [len(p) for p in per_query])
    rows = np.concatenate(per_query) if per_query else none
    shared = np.flatnonzero(np.bincount(rows, minlength=n) == m) if m else none
    extra = ~np.isin(rows, shared)
    keys = owner[extra] * n + rows[extra]
    return shared, keys, np.bincount(owner[extra], minlength=m)


def per_query_ids(exclude: PerQuery, m: int) -> list[np.ndarray]:
    """``exclude`` as one int64 array of mentor ids per query row, its shape checked.

    >>> [ids.tolist() for ids in per_query_ids([[3, 1], {2}], 2)]
    [[3, 1], [2]]
    """
    if isinstance(exclude, (str, bytes)) or not isinstance(exclude, (Sequence, np.ndarray)) or len(exclude) != m:
        length = len(exclude) if hasattr(exclude, "__len__") else "?"
        raise InvalidParameterError(
            f"exclude must hold one collection of mentor ids per query ({m}); got "
            f"{type(exclude).__name__} of length {length}. For one query: exclude=[ids]."
        )
    out = []
    for ids in exclude:
        if np.isscalar(ids) or isinstance(ids, (str, bytes)):
            raise InvalidParameterError(
                f"exclude must hold one collection of mentor ids per query; got the scalar {ids!r}. "
                "For one query: exclude=[ids]."
            )
        values = list(ids) if isinstance(ids, (set, frozenset)) else ids
        try:
            out.append(np.asarray(values, dtype=np.int64).ravel())
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"exclude must hold mentor ids (integers); got {str(ids)[:80]}."
            ) from None
    return out
