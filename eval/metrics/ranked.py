"""The shared core of the ranking metrics: input checks and one sort into tie blocks.

Every ranking metric validates its flat ``(y_true, y_score, groups)`` arrays here, then
sorts the rows once by (query, score descending) into :class:`RankedQueries`, which marks
the runs of equal scores (tie blocks) that the tie rules of :mod:`eval.metrics` act on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int

ArrayLike = Sequence[float] | np.ndarray | pd.Series

__all__ = ["ArrayLike", "RankedQueries", "as_1d", "cutoff", "rank_queries"]


def as_1d(values: ArrayLike, name: str, func: str) -> np.ndarray:
    """Return ``values`` as a finite 1-D float array or raise a message naming the fix."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(
            f"The '{name}' parameter of {func} must be numeric. Got {type(values).__name__}: {exc}."
        ) from None
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"The '{name}' parameter of {func} must be 1-D (one row per query-item pair). "
            f"Got shape {arr.shape}; flatten it and pass query ids in 'groups'."
        )
    if arr.size == 0:
        raise InvalidParameterError(
            f"The '{name}' parameter of {func} is empty; pass at least one row."
        )
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise InvalidParameterError(
            f"The '{name}' parameter of {func} has {bad} NaN or infinite values; "
            "drop or impute those rows first."
        )
    return arr


def as_labels_and_scores(y_true: ArrayLike, y_score: ArrayLike, func: str) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_score`` checked by :func:`as_1d` and of one length."""
    labels = as_1d(y_true, "y_true", func)
    scores = as_1d(y_score, "y_score", func)
    if len(labels) != len(scores):
        raise InvalidParameterError(
            f"y_true and y_score of {func} must have the same length. "
            f"Got {len(labels)} and {len(scores)}."
        )
    return labels, scores


def cutoff(k: int | None, func: str, *, allow_none: bool) -> float:
    """``k`` checked as an int >= 1 and returned as a float cutoff (``inf`` for None: no cutoff).

    >>> cutoff(10, "ndcg_per_query", allow_none=True)
    10.0
    >>> cutoff(None, "ndcg_per_query", allow_none=True)
    inf
    """
    checked = check_int("k", k, func, allow_none=allow_none)
    return math.inf if checked is None else float(checked)


@dataclass(frozen=True)
class RankedQueries:
    """Rows sorted by (query, score descending), with tie blocks marked.

    Row arrays are in sorted order, except ``input_query`` and ``input_y_true`` (input
    order, kept to sort by gain for the ideal DCG). ``position`` is the 0-based rank within
    the query; ``block`` numbers the runs of equal scores inside a query (globally, in order).
    """

    query_ids: pd.Index
    n_queries: int
    query: np.ndarray
    position: np.ndarray
    y_true: np.ndarray
    block: np.ndarray
    block_query: np.ndarray
    block_start: np.ndarray
    block_size: np.ndarray
    query_size: np.ndarray
    input_query: np.ndarray
    input_y_true: np.ndarray

    def block_mean(self, row_values: np.ndarray) -> np.ndarray:
        """Per-row mean of ``row_values`` over the row's tie block (the tie-averaging step)."""
        sums = np.bincount(self.block, weights=row_values)
        return (sums / self.block_size)[self.block]

    def per_query_sum(self, row_values: np.ndarray) -> np.ndarray:
        """Sum of ``row_values`` over the rows of each query, in query-id order."""
        return np.bincount(self.query, weights=row_values, minlength=self.n_queries)

    def relevant(self, threshold: float) -> np.ndarray:
        """1.0 for a row whose gain is above ``threshold``, else 0.0 (sorted order)."""
        return (self.y_true > threshold).astype(float)

    def series(self, values: np.ndarray, name: str) -> pd.Series:
        """One value per query as a Series indexed by query id."""
        return pd.Series(values, index=self.query_ids, name=name)


def rank_queries(
    y_true: ArrayLike, y_score: ArrayLike, groups: ArrayLike | None, func: str
) -> RankedQueries:
    """Validate the inputs and sort rows by (query, -score), marking tie blocks.

    >>> ranked = rank_queries([1, 0, 2], [0.5, 0.5, 0.9], None, "example")
    >>> ranked.y_true.tolist(), ranked.block.tolist(), ranked.block_size.tolist()
    ([2.0, 1.0, 0.0], [0, 1, 1], [1, 2])
    """
    gains, scores = as_labels_and_scores(y_true, y_score, func)
    if groups is None:
        codes = np.zeros(len(gains), dtype=np.intp)
        query_ids = pd.Index([0])
    else:
        group_arr = groups if isinstance(groups, pd.Series) else np.asarray(groups)
        if len(group_arr) != len(gains):
            raise InvalidParameterError(
                f"The 'groups' parameter of {func} must have one query id per row "
                f"({len(gains)} rows). Got {len(group_arr)}."
            )
        codes, query_ids = pd.factorize(group_arr, sort=True)
        if (codes < 0).any():
            raise InvalidParameterError(
                f"The 'groups' parameter of {func} has {int((codes < 0).sum())} missing query "
                "ids; give every row the id of its query."
            )
        query_ids = pd.Index(query_ids, name=getattr(groups, "name", None))
    n_queries = len(query_ids)
    order = np.lexsort((-scores, codes))
    query = codes[order]
    sorted_scores = scores[order]
    query_size = np.bincount(codes, minlength=n_queries)
    query_start = np.concatenate(([0], np.cumsum(query_size)[:-1]))
    position = np.arange(len(gains)) - query_start[query]
    new_block = np.ones(len(gains), dtype=bool)
    new_block[1:] = (query[1:] != query[:-1]) | (sorted_scores[1:] != sorted_scores[:-1])
    block = np.cumsum(new_block) - 1
    firsts = np.flatnonzero(new_block)
    return RankedQueries(
        query_ids=query_ids,
        n_queries=n_queries,
        query=query,
        position=position,
        y_true=gains[order],
        block=block,
        block_query=query[firsts],
        block_start=position[firsts],
        block_size=np.diff(np.append(firsts, len(gains))),
        query_size=query_size,
        input_query=codes,
        input_y_true=gains,
    )
