"""NDCG: graded gain, tie-averaged, one sort for any number of cutoffs.

Gain is ``y_true`` itself (linear, must be >= 0) with a ``1 / log2(rank + 1)`` discount,
like ``sklearn.metrics.ndcg_score``. Tied scores are averaged over every order of the tied
items (``ignore_ties=False``; McSherry & Najork 2008), so a cutoff inside a tie block counts
the share of the block above it. A query whose gains are all zero scores 0; a query with
one item scores 1 if that item is relevant, else 0 (scikit-learn refuses such a query).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from eval.metrics.ranked import ArrayLike, RankedQueries, cutoff, rank_queries
from mentor_match.errors import InvalidParameterError

__all__ = ["ndcg_at_k", "ndcg_at_ks_per_query", "ndcg_per_query"]


def _discount(position: np.ndarray) -> np.ndarray:
    return 1.0 / np.log2(position + 2.0)


def _ndcg_table(ranked: RankedQueries, cutoffs: Sequence[float]) -> np.ndarray:
    """NDCG of each query (rows) at each cutoff (columns) from one sort."""
    if (ranked.y_true < 0).any():
        raise InvalidParameterError(
            f"NDCG needs non-negative gains, but y_true has {int((ranked.y_true < 0).sum())} "
            "negative values; shift or clip the relevance labels."
        )
    discount = _discount(ranked.position)
    # Tie averaging: each row gets its block's mean gain at its own discount, so a cutoff
    # inside a block counts exactly the share of the block above it (sklearn's rule).
    gained = ranked.block_mean(ranked.y_true) * discount
    # The ideal ordering sorts by gain; the query layout (and so ``position``) is the same.
    ideal_order = np.lexsort((-ranked.input_y_true, ranked.input_query))
    ideal_gained = ranked.input_y_true[ideal_order] * discount
    table = np.empty((ranked.n_queries, len(cutoffs)))
    for j, depth in enumerate(cutoffs):
        inside = ranked.position < depth
        dcg = ranked.per_query_sum(np.where(inside, gained, 0.0))
        idcg = ranked.per_query_sum(np.where(inside, ideal_gained, 0.0))
        table[:, j] = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)
    return table


def ndcg_at_ks_per_query(
    y_true: ArrayLike, y_score: ArrayLike, ks: Sequence[int], groups: ArrayLike | None = None
) -> pd.DataFrame:
    """NDCG@k for several cutoffs at once: one row per query, one column per k.

    Sorting happens once, so a whole NDCG@1..20 curve costs about one metric call.
    Same gain, tie and empty-query rules as :func:`ndcg_per_query`.

    >>> ndcg_at_ks_per_query([3, 2, 0], [0.9, 0.2, 0.5], [1, 3]).round(3)
         1      3
    0  1.0  0.939
    """
    func = "ndcg_at_ks_per_query"
    cutoffs = [cutoff(k, func, allow_none=False) for k in ks]
    if not cutoffs:
        raise InvalidParameterError(
            f"The 'ks' parameter of {func} is empty; pass at least one cutoff."
        )
    ranked = rank_queries(y_true, y_score, groups, func)
    return pd.DataFrame(
        _ndcg_table(ranked, cutoffs), index=ranked.query_ids, columns=[int(k) for k in ks]
    )


def ndcg_per_query(
    y_true: ArrayLike, y_score: ArrayLike, k: int | None, groups: ArrayLike | None = None
) -> pd.Series:
    """NDCG@k of each query (``k=None``: the whole list), as ``sklearn.metrics.ndcg_score``.

    Gain is ``y_true`` (linear, must be >= 0) with discount ``1 / log2(rank + 1)``; tied
    scores are averaged over all their orders (``ignore_ties=False``). A query whose gains
    are all zero scores 0. Agrees with ``ndcg_score([y_true_q], [y_score_q], k=k)`` per query.

    Two mentees; ana's top 3 reads gains 3, 0, 2 where 3, 2, 0 was possible, ben's reads 0, 1:

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> ndcg_per_query(y_true, y_score, 3, groups).round(3)
    ana    0.939
    ben    0.631
    Name: ndcg@3, dtype: float64
    """
    func = "ndcg_per_query"
    depth = cutoff(k, func, allow_none=True)
    ranked = rank_queries(y_true, y_score, groups, func)
    return ranked.series(_ndcg_table(ranked, [depth])[:, 0], "ndcg" if k is None else f"ndcg@{k}")


def ndcg_at_k(
    y_true: ArrayLike, y_score: ArrayLike, k: int | None, groups: ArrayLike | None = None
) -> float:
    """Mean NDCG@k over queries; see :func:`ndcg_per_query`.

    The worked example of :func:`ndcg_per_query`: ana's DCG is 3/log2(2) + 0/log2(3) +
    2/log2(4) = 4 against an ideal 3/log2(2) + 2/log2(3) = 4.262, so 0.939; ben's is
    1/log2(3) = 0.631 against an ideal 1; the mean over the two mentees is 0.785.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> round(ndcg_at_k(y_true, y_score, 3, groups), 3)
    0.785

    A perfect order scores 1, and tied scores count every order of the tied items:

    >>> ndcg_at_k(y_true, y_true, 3, groups)
    1.0
    >>> round(ndcg_at_k([1, 0], [0.5, 0.5], 1), 3)
    0.5
    """
    return float(ndcg_per_query(y_true, y_score, k, groups).mean())
