"""Ranking metrics of binary relevance: precision@k, recall@k, average precision, reciprocal rank.

An item is relevant when ``y_true > threshold`` (default 0). Ties in ``y_score``:
precision@k, recall@k and reciprocal rank are expected values over a uniformly random
order of the tied items. Average precision instead follows
``sklearn.metrics.average_precision_score`` exactly: a tied block enters the ranking at
once, at its last rank. A query without a relevant item scores 0 on every metric here.

The examples below share one toy input: two mentees, ana with relevant mentors at ranks
1 and 3 of three, ben with his one relevant mentor at rank 2 of two::

    y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    groups = ["ana", "ana", "ana", "ben", "ben"]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from eval.metrics.ranked import ArrayLike, RankedQueries, cutoff, rank_queries
from mentor_match.validation import check_number

__all__ = [
    "average_precision_per_query",
    "map_at_k",
    "mrr",
    "precision_at_k",
    "precision_per_query",
    "recall_at_k",
    "recall_per_query",
    "reciprocal_rank_per_query",
]


def _hits_at(ranked: RankedQueries, relevant: np.ndarray, depth: float) -> np.ndarray:
    """Expected relevant items in the top ``depth`` of each query (ties averaged)."""
    return ranked.per_query_sum(np.where(ranked.position < depth, ranked.block_mean(relevant), 0.0))


def _block_relevance(ranked: RankedQueries, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relevant items per tie block, and relevant items ranked before the block in its query."""
    per_block = np.bincount(ranked.block, weights=relevant)
    cumulative = np.cumsum(per_block)
    # Cumulative count at the end of each query's previous block, per block.
    first_block_of_query = np.searchsorted(ranked.block_query, np.arange(ranked.n_queries))
    before_query = np.concatenate(([0.0], cumulative))[first_block_of_query]
    before = cumulative - per_block - before_query[ranked.block_query]
    return per_block, before


def precision_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """Precision@k of each query: relevant items in the top k, divided by k.

    Divides by k even when a query has fewer than k items (trec_eval's rule: the list is
    padded with non-relevant items), so short lists are not flattered. Ties averaged.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> precision_per_query(y_true, y_score, 2, groups).tolist()
    [0.5, 0.5]
    """
    func = "precision_per_query"
    depth = cutoff(k, func, allow_none=False)
    threshold = check_number("threshold", threshold, func)
    ranked = rank_queries(y_true, y_score, groups, func)
    hits = _hits_at(ranked, ranked.relevant(threshold), depth)
    return ranked.series(hits / depth, f"precision@{k}")


def recall_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """Recall@k of each query: share of its relevant items in the top k (0 if it has none).

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> recall_per_query(y_true, y_score, 2, groups).tolist()
    [0.5, 1.0]
    """
    func = "recall_per_query"
    depth = cutoff(k, func, allow_none=False)
    threshold = check_number("threshold", threshold, func)
    ranked = rank_queries(y_true, y_score, groups, func)
    relevant = ranked.relevant(threshold)
    total = ranked.per_query_sum(relevant)
    hits = _hits_at(ranked, relevant, depth)
    return ranked.series(np.where(total > 0, hits / np.maximum(total, 1.0), 0.0), f"recall@{k}")


def average_precision_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int | None = None,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """Average precision (AP@k) of each query; ``k=None`` gives AP over the whole list.

    With ``k=None`` this is ``sklearn.metrics.average_precision_score`` per query, ties
    included: a tied block enters at its last rank, each relevant item in it scoring the
    precision there. AP@k sums those precisions over the top k and divides by
    ``min(k, R)`` (R = relevant items of the query), so a perfect top k scores 1 and
    AP@k equals the full AP once k reaches the list length. A block straddling k enters
    with the share ``(k - start) / size`` of its relevant items, at precision measured at k.
    A query without relevant items scores 0.

    ana: (1/1 + 2/3) / 2 = 0.833; ben: (1/2) / 1 = 0.5.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> average_precision_per_query(y_true, y_score, None, groups).round(3).tolist()
    [0.833, 0.5]
    """
    func = "average_precision_per_query"
    depth = cutoff(k, func, allow_none=True)
    threshold = check_number("threshold", threshold, func)
    ranked = rank_queries(y_true, y_score, groups, func)
    relevant = ranked.relevant(threshold)
    per_block, before = _block_relevance(ranked, relevant)
    share = np.clip((depth - ranked.block_start) / ranked.block_size, 0.0, 1.0)
    hits = per_block * share
    reached = ranked.block_start + ranked.block_size * share
    contribution = np.divide(
        hits * (before + hits), reached, out=np.zeros_like(hits), where=hits > 0
    )
    total = ranked.per_query_sum(relevant)
    summed = np.bincount(ranked.block_query, weights=contribution, minlength=ranked.n_queries)
    denominator = np.minimum(total, depth)
    name = "ap" if k is None else f"ap@{k}"
    return ranked.series(np.where(total > 0, summed / np.maximum(denominator, 1.0), 0.0), name)


def map_at_k(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int | None,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean AP@k over queries; see :func:`average_precision_per_query`.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> round(map_at_k(y_true, y_score, None, groups), 3), map_at_k(y_true, y_score, 2, groups)
    (0.667, 0.5)
    """
    return float(
        average_precision_per_query(y_true, y_score, k, groups, threshold=threshold).mean()
    )


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def reciprocal_rank_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """1 / rank of the first relevant item of each query (0 if none is relevant).

    Ties: the expected value over a uniformly random order of the tied items. If the
    first tied block holding a relevant item starts after rank s, has m items and r of
    them relevant, the first relevant one lands at s + j with probability
    C(m - j, r - 1) / C(m, r). A block of relevant items only thus scores 1 / (s + 1).

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> reciprocal_rank_per_query(y_true, y_score, groups).tolist()
    [1.0, 0.5]
    >>> reciprocal_rank_per_query([1, 0], [0.5, 0.5]).tolist()  # rank 1 or 2, even odds
    [0.75]
    """
    func = "reciprocal_rank_per_query"
    threshold = check_number("threshold", threshold, func)
    ranked = rank_queries(y_true, y_score, groups, func)
    per_block, _ = _block_relevance(ranked, ranked.relevant(threshold))
    relevant_blocks = np.flatnonzero(per_block > 0)
    queries, first = np.unique(ranked.block_query[relevant_blocks], return_index=True)
    blocks = relevant_blocks[first]
    start = ranked.block_start[blocks]
    size = ranked.block_size[blocks].astype(float)
    n_relevant = per_block[blocks]
    # One term per possible rank j (1-based, inside the block) of the first relevant item.
    span = (size - n_relevant + 1).astype(np.intp)
    owner = np.repeat(np.arange(len(blocks)), span)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(span) - span, span) + 1.0
    m, r = size[owner], n_relevant[owner]
    probability = np.exp(_log_comb(m - j, r - 1.0) - _log_comb(m, r))
    out = np.zeros(ranked.n_queries)
    reciprocal = probability / (start[owner] + j)
    out[queries] = np.bincount(owner, weights=reciprocal, minlength=len(blocks))
    return ranked.series(out, "rr")


def mrr(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean reciprocal rank over queries; see :func:`reciprocal_rank_per_query`.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> mrr(y_true, y_score, groups)
    0.75
    """
    return float(reciprocal_rank_per_query(y_true, y_score, groups, threshold=threshold).mean())


def precision_at_k(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean precision@k over queries; see :func:`precision_per_query`.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> precision_at_k(y_true, y_score, 2, groups)
    0.5
    """
    return float(precision_per_query(y_true, y_score, k, groups, threshold=threshold).mean())


def recall_at_k(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean recall@k over queries; see :func:`recall_per_query`.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> groups = ["ana", "ana", "ana", "ben", "ben"]
    >>> recall_at_k(y_true, y_score, 2, groups)
    0.75
    """
    return float(recall_per_query(y_true, y_score, k, groups, threshold=threshold).mean())
