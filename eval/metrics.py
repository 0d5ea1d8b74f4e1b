"""Offline evaluation metrics: pure functions over arrays, checked against scikit-learn.

Ranking metrics work on flat arrays with one row per (query, item): ``y_true`` (the graded
gain, >= 0), ``y_score`` (the model's score) and ``groups`` (the query id of each row; rows
of a query need not be contiguous; ``None`` means one query). Each metric has a
``*_per_query`` function that returns a :class:`pandas.Series` indexed by query id, and a
mean over queries beside it, so aggregation (means, bootstrap intervals, paired tests)
stays separate, as in ir_measures.

Conventions, shared by every ranking metric here:

- Gain: NDCG uses ``y_true`` itself as a linear gain with a ``log2(rank + 1)`` discount,
  like ``sklearn.metrics.ndcg_score``. The binary metrics (AP, MRR, precision, recall,
  AUC) call an item relevant when ``y_true > threshold`` (default 0).
- Ties in ``y_score``: NDCG, precision@k, recall@k and MRR are expected values over a
  uniformly random order of the tied items (scikit-learn's tie averaging for NDCG,
  McSherry & Najork 2008). Average precision instead follows
  ``sklearn.metrics.average_precision_score`` exactly: an item's rank is the number of
  items scored at least as high, i.e. a tied block enters the ranking at once, at its
  last rank; at a cutoff k, a block that straddles k counts with the share of it that
  fits above k. AUC counts a tied positive-negative pair as one half.
- Empty queries: every query present in ``groups`` counts in the mean. A query with no
  relevant item (all gains zero) scores 0 on every metric (scikit-learn's ``ndcg_score``
  and ``average_precision_score`` also give 0); AUC is undefined for it and it is left
  out of GAUC. A query with one item is allowed (scikit-learn's ``ndcg_score`` refuses
  it): NDCG is 1 if that item is relevant, else 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mentor_match.errors import InvalidParameterError

ArrayLike = Sequence[float] | np.ndarray | pd.Series

__all__ = [
    "auc_per_query",
    "average_precision_per_query",
    "classification_metrics",
    "gauc",
    "map_at_k",
    "mrr",
    "ndcg_at_k",
    "ndcg_at_ks_per_query",
    "ndcg_per_query",
    "precision_at_k",
    "precision_per_query",
    "recall_at_k",
    "recall_per_query",
    "reciprocal_rank_per_query",
    "roc_auc",
]


# --------------------------------------------------------------------------- validation


def _as_1d(values: ArrayLike, name: str, func: str) -> np.ndarray:
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


def _check_k(k: int | None, func: str, *, allow_none: bool) -> float:
    """Return k as a float cutoff (``inf`` for None) after checking it is an int >= 1."""
    if k is None and allow_none:
        return math.inf
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        also = " or None" if allow_none else ""
        raise InvalidParameterError(
            f"The 'k' parameter of {func} must be an int >= 1{also}. Got {k!r}."
        )
    return float(k)


def _check_threshold(threshold: float, func: str) -> float:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float | np.number)
        or not np.isfinite(threshold)
    ):
        raise InvalidParameterError(
            f"The 'threshold' parameter of {func} must be a finite number. Got {threshold!r}."
        )
    return float(threshold)


# --------------------------------------------------------------------------- ranking core


@dataclass(frozen=True)
class _Ranked:
    """Rows sorted by (query, score descending), with tie blocks marked.

    Row arrays are in sorted order, except ``input_gid`` and ``input_y_true`` (input
    order, kept to sort by gain for the ideal DCG). ``pos`` is the 0-based rank within
    the query; ``block`` numbers the runs of equal scores inside a query (globally, in order).
    """

    labels: pd.Index
    n_groups: int
    gid: np.ndarray
    pos: np.ndarray
    y_true: np.ndarray
    block: np.ndarray
    block_gid: np.ndarray
    block_start: np.ndarray
    block_size: np.ndarray
    group_size: np.ndarray
    input_gid: np.ndarray
    input_y_true: np.ndarray

    def block_mean(self, row_values: np.ndarray) -> np.ndarray:
        """Per-row mean of ``row_values`` over the row's tie block (the tie-averaging step)."""
        sums = np.bincount(self.block, weights=row_values)
        return (sums / self.block_size)[self.block]

    def per_group_sum(self, row_values: np.ndarray) -> np.ndarray:
        return np.bincount(self.gid, weights=row_values, minlength=self.n_groups)

    def series(self, values: np.ndarray, name: str) -> pd.Series:
        return pd.Series(values, index=self.labels, name=name)


def _rank(y_true: ArrayLike, y_score: ArrayLike, groups: ArrayLike | None, func: str) -> _Ranked:
    """Validate the inputs and sort rows by (query, -score), marking tie blocks."""
    t = _as_1d(y_true, "y_true", func)
    s = _as_1d(y_score, "y_score", func)
    if len(t) != len(s):
        raise InvalidParameterError(
            f"y_true and y_score of {func} must have the same length. Got {len(t)} and {len(s)}."
        )
    if groups is None:
        codes = np.zeros(len(t), dtype=np.intp)
        labels = pd.Index([0])
    else:
        group_arr = groups if isinstance(groups, pd.Series) else np.asarray(groups)
        if len(group_arr) != len(t):
            raise InvalidParameterError(
                f"The 'groups' parameter of {func} must have one query id per row "
                f"({len(t)} rows). Got {len(group_arr)}."
            )
        codes, labels = pd.factorize(group_arr, sort=True)
        if (codes < 0).any():
            raise InvalidParameterError(
                f"The 'groups' parameter of {func} has {int((codes < 0).sum())} missing query "
                "ids; give every row the id of its query."
            )
        labels = pd.Index(labels, name=getattr(groups, "name", None))
    n_groups = len(labels)
    order = np.lexsort((-s, codes))
    gid = codes[order]
    s_sorted = s[order]
    group_size = np.bincount(codes, minlength=n_groups)
    group_start = np.concatenate(([0], np.cumsum(group_size)[:-1]))
    pos = np.arange(len(t)) - group_start[gid]
    new_block = np.ones(len(t), dtype=bool)
    new_block[1:] = (gid[1:] != gid[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    block = np.cumsum(new_block) - 1
    firsts = np.flatnonzero(new_block)
    return _Ranked(
        labels=labels,
        n_groups=n_groups,
        gid=gid,
        pos=pos,
        y_true=t[order],
        block=block,
        block_gid=gid[firsts],
        block_start=pos[firsts],
        block_size=np.diff(np.append(firsts, len(t))),
        group_size=group_size,
        input_gid=codes,
        input_y_true=t,
    )


def _discount(pos: np.ndarray) -> np.ndarray:
    return 1.0 / np.log2(pos + 2.0)


# --------------------------------------------------------------------------- NDCG


def _ndcg_table(r: _Ranked, cutoffs: Sequence[float]) -> np.ndarray:
    """NDCG of each query (rows) at each cutoff (columns) from one sort."""
    if (r.y_true < 0).any():
        raise InvalidParameterError(
            f"NDCG needs non-negative gains, but y_true has {int((r.y_true < 0).sum())} "
            "negative values; shift or clip the relevance labels."
        )
    disc = _discount(r.pos)
    # Tie averaging: each row gets its block's mean gain at its own discount, so a cutoff
    # inside a block counts exactly the share of the block above it (sklearn's rule).
    gained = r.block_mean(r.y_true) * disc
    # The ideal ordering sorts by gain; the group layout (and so ``pos``) is the same.
    ideal_gained = r.input_y_true[np.lexsort((-r.input_y_true, r.input_gid))] * disc
    table = np.empty((r.n_groups, len(cutoffs)))
    for j, cutoff in enumerate(cutoffs):
        inside = r.pos < cutoff
        dcg = r.per_group_sum(np.where(inside, gained, 0.0))
        idcg = r.per_group_sum(np.where(inside, ideal_gained, 0.0))
        table[:, j] = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)
    return table


def ndcg_at_ks_per_query(
    y_true: ArrayLike, y_score: ArrayLike, ks: Sequence[int], groups: ArrayLike | None = None
) -> pd.DataFrame:
    """NDCG@k for several cutoffs at once: one row per query, one column per k.

    Sorting happens once, so a whole NDCG@1..20 curve costs about one metric call.
    Same gain, tie and empty-query rules as :func:`ndcg_per_query`.
    """
    func = "ndcg_at_ks_per_query"
    cutoffs = [_check_k(k, func, allow_none=False) for k in ks]
    if not cutoffs:
        raise InvalidParameterError(
            f"The 'ks' parameter of {func} is empty; pass at least one cutoff."
        )
    r = _rank(y_true, y_score, groups, func)
    return pd.DataFrame(_ndcg_table(r, cutoffs), index=r.labels, columns=[int(k) for k in ks])


def ndcg_per_query(
    y_true: ArrayLike, y_score: ArrayLike, k: int | None, groups: ArrayLike | None = None
) -> pd.Series:
    """NDCG@k of each query (``k=None``: the whole list), as ``sklearn.metrics.ndcg_score``.

    Gain is ``y_true`` (linear, must be >= 0) with discount ``1 / log2(rank + 1)``; tied
    scores are averaged over all their orders (``ignore_ties=False``). A query whose gains
    are all zero scores 0. Agrees with ``ndcg_score([y_true_q], [y_score_q], k=k)`` per query.
    """
    func = "ndcg_per_query"
    cutoff = _check_k(k, func, allow_none=True)
    r = _rank(y_true, y_score, groups, func)
    return r.series(_ndcg_table(r, [cutoff])[:, 0], "ndcg" if k is None else f"ndcg@{k}")


def ndcg_at_k(
    y_true: ArrayLike, y_score: ArrayLike, k: int | None, groups: ArrayLike | None = None
) -> float:
    """Mean NDCG@k over queries; see :func:`ndcg_per_query`."""
    return float(ndcg_per_query(y_true, y_score, k, groups).mean())


# --------------------------------------------------------------------------- binary metrics


def _relevant(r: _Ranked, threshold: float) -> np.ndarray:
    return (r.y_true > threshold).astype(float)


def _hits_at(r: _Ranked, rel: np.ndarray, cutoff: float) -> np.ndarray:
    """Expected relevant items in the top ``cutoff`` of each query (ties averaged)."""
    return r.per_group_sum(np.where(r.pos < cutoff, r.block_mean(rel), 0.0))


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
    """
    func = "precision_per_query"
    cutoff = _check_k(k, func, allow_none=False)
    threshold = _check_threshold(threshold, func)
    r = _rank(y_true, y_score, groups, func)
    return r.series(_hits_at(r, _relevant(r, threshold), cutoff) / cutoff, f"precision@{k}")


def recall_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """Recall@k of each query: share of its relevant items in the top k (0 if it has none)."""
    func = "recall_per_query"
    cutoff = _check_k(k, func, allow_none=False)
    threshold = _check_threshold(threshold, func)
    r = _rank(y_true, y_score, groups, func)
    rel = _relevant(r, threshold)
    total = r.per_group_sum(rel)
    hits = _hits_at(r, rel, cutoff)
    return r.series(np.where(total > 0, hits / np.maximum(total, 1.0), 0.0), f"recall@{k}")


def _block_relevance(r: _Ranked, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relevant items per tie block, and relevant items ranked before the block in its query."""
    per_block = np.bincount(r.block, weights=rel)
    cum = np.cumsum(per_block)
    # Cumulative count at the end of each query's previous block, per block.
    first_block_of_group = np.searchsorted(r.block_gid, np.arange(r.n_groups))
    before_group = np.concatenate(([0.0], cum))[first_block_of_group]
    before = cum - per_block - before_group[r.block_gid]
    return per_block, before


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
    """
    func = "average_precision_per_query"
    cutoff = _check_k(k, func, allow_none=True)
    threshold = _check_threshold(threshold, func)
    r = _rank(y_true, y_score, groups, func)
    rel = _relevant(r, threshold)
    per_block, before = _block_relevance(r, rel)
    share = np.clip((cutoff - r.block_start) / r.block_size, 0.0, 1.0)
    hits = per_block * share
    depth = r.block_start + r.block_size * share
    contrib = np.divide(hits * (before + hits), depth, out=np.zeros_like(hits), where=hits > 0)
    total = r.per_group_sum(rel)
    summed = np.bincount(r.block_gid, weights=contrib, minlength=r.n_groups)
    denom = np.minimum(total, cutoff)
    name = "ap" if k is None else f"ap@{k}"
    return r.series(np.where(total > 0, summed / np.maximum(denom, 1.0), 0.0), name)


def map_at_k(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int | None,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean AP@k over queries; see :func:`average_precision_per_query`."""
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
    """
    func = "reciprocal_rank_per_query"
    threshold = _check_threshold(threshold, func)
    r = _rank(y_true, y_score, groups, func)
    per_block, _ = _block_relevance(r, _relevant(r, threshold))
    relevant_blocks = np.flatnonzero(per_block > 0)
    gids, first = np.unique(r.block_gid[relevant_blocks], return_index=True)
    b = relevant_blocks[first]
    start, size, n_rel = r.block_start[b], r.block_size[b].astype(float), per_block[b]
    # One term per possible rank j (1-based, inside the block) of the first relevant item.
    span = (size - n_rel + 1).astype(np.intp)
    owner = np.repeat(np.arange(len(b)), span)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(span) - span, span) + 1.0
    m, k = size[owner], n_rel[owner]
    prob = np.exp(_log_comb(m - j, k - 1.0) - _log_comb(m, k))
    out = np.zeros(r.n_groups)
    out[gids] = np.bincount(owner, weights=prob / (start[owner] + j), minlength=len(b))
    return r.series(out, "rr")


def mrr(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean reciprocal rank over queries; see :func:`reciprocal_rank_per_query`."""
    return float(reciprocal_rank_per_query(y_true, y_score, groups, threshold=threshold).mean())


def precision_at_k(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean precision@k over queries; see :func:`precision_per_query`."""
    return float(precision_per_query(y_true, y_score, k, groups, threshold=threshold).mean())


def recall_at_k(
    y_true: ArrayLike,
    y_score: ArrayLike,
    k: int,
    groups: ArrayLike | None = None,
    *,
    threshold: float = 0.0,
) -> float:
    """Mean recall@k over queries; see :func:`recall_per_query`."""
    return float(recall_per_query(y_true, y_score, k, groups, threshold=threshold).mean())


# --------------------------------------------------------------------------- AUC


def roc_auc(y_true: ArrayLike, y_score: ArrayLike, *, threshold: float = 0.0) -> float:
    """ROC-AUC of ``y_score`` for the labels ``y_true > threshold`` (``roc_auc_score``).

    Raises InvalidParameterError when only one class is present: AUC is undefined there
    (scikit-learn warns and returns NaN, which would silently poison a mean).
    """
    func = "roc_auc"
    threshold = _check_threshold(threshold, func)
    t = _as_1d(y_true, "y_true", func)
    s = _as_1d(y_score, "y_score", func)
    if len(t) != len(s):
        raise InvalidParameterError(
            f"y_true and y_score of {func} must have the same length. Got {len(t)} and {len(s)}."
        )
    labels = t > threshold
    n_pos = int(labels.sum())
    if n_pos in (0, len(labels)):
        raise InvalidParameterError(
            f"ROC-AUC is undefined with one class: all {len(labels)} labels are "
            f"{'positive' if n_pos else 'negative'}. Evaluate on data with both classes."
        )
    return float(roc_auc_score(labels, s))


def _auc_table(r: _Ranked, threshold: float) -> np.ndarray:
    """Per-query AUC by the Mann-Whitney rank sum (NaN where a query has one class)."""
    positive = _relevant(r, threshold)
    # Average ascending rank (1-based) of each row within its query; ties share the mean,
    # which is how roc_auc_score scores tied pairs (one half).
    desc_pos = r.block_start[r.block] + (r.block_size[r.block] - 1) / 2.0
    asc_rank = r.group_size[r.gid] - desc_pos
    n_pos = r.per_group_sum(positive)
    n_neg = r.group_size - n_pos
    u = r.per_group_sum(asc_rank * positive) - n_pos * (n_pos + 1) / 2.0
    pairs = n_pos * n_neg
    return np.divide(u, pairs, out=np.full(r.n_groups, np.nan), where=pairs > 0)


def auc_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """ROC-AUC of each query, as ``roc_auc_score`` per query (ties count one half).

    Queries with only one class get NaN: their AUC is undefined.
    """
    func = "auc_per_query"
    threshold = _check_threshold(threshold, func)
    r = _rank(y_true, y_score, groups, func)
    return r.series(_auc_table(r, threshold), "auc")


def gauc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    *,
    weighted: bool = False,
    threshold: float = 0.0,
) -> float:
    """Group AUC: the mean per-query (per-mentee) AUC over queries with both classes.

    ``weighted=True`` weights each query by its number of rows (the GAUC of Zhou et al.,
    2018, with impressions as weights); the default is the plain mean, which the report
    uses. Raises InvalidParameterError when no query has both classes.
    """
    func = "gauc"
    threshold = _check_threshold(threshold, func)
    r = _rank(y_true, y_score, groups, func)
    auc = _auc_table(r, threshold)
    defined = ~np.isnan(auc)
    if not defined.any():
        raise InvalidParameterError(
            f"GAUC is undefined: none of the {r.n_groups} queries has both relevant and "
            "non-relevant items. Evaluate on queries with both classes."
        )
    weights = r.group_size[defined] if weighted else None
    return float(np.average(auc[defined], weights=weights))


# --------------------------------------------------------------------------- classification


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, y_score: ArrayLike
) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (of the positive class, 1) and ROC-AUC of a classifier.

    ``y_true`` and ``y_pred`` are 0/1 labels; ``y_score`` the positive-class score used for
    ROC-AUC. Precision and recall are 0 (not an error) when nothing is predicted positive.
    """
    func = "classification_metrics"
    t = _as_1d(y_true, "y_true", func)
    p = _as_1d(y_pred, "y_pred", func)
    s = _as_1d(y_score, "y_score", func)
    if not len(t) == len(p) == len(s):
        raise InvalidParameterError(
            f"y_true, y_pred and y_score of {func} must have the same length. "
            f"Got {len(t)}, {len(p)} and {len(s)}."
        )
    for name, arr in (("y_true", t), ("y_pred", p)):
        if not np.isin(arr, (0.0, 1.0)).all():
            raise InvalidParameterError(
                f"The '{name}' parameter of {func} must hold 0/1 labels. Got values "
                f"{np.unique(arr)[:5].tolist()}; threshold graded labels first (e.g. y > 0)."
            )
    t_int, p_int = t.astype(int), p.astype(int)
    return {
        "accuracy": float(accuracy_score(t_int, p_int)),
        "precision": float(precision_score(t_int, p_int, zero_division=0)),
        "recall": float(recall_score(t_int, p_int, zero_division=0)),
        "f1": float(f1_score(t_int, p_int, zero_division=0)),
        "roc_auc": roc_auc(t, s, threshold=0.5),
    }
