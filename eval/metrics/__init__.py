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

The modules, by concept: :mod:`eval.metrics.ranked` (input checks and the one sort into
tie blocks), :mod:`eval.metrics.ndcg`, :mod:`eval.metrics.binary` (precision, recall, AP,
reciprocal rank), :mod:`eval.metrics.auc` (ROC-AUC, per-query AUC, GAUC) and
:mod:`eval.metrics.classification`.

>>> from eval.metrics import ndcg_at_k, ndcg_per_query
>>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
>>> groups = ["ana", "ana", "ana", "ben", "ben"]
>>> ndcg_per_query(y_true, y_score, 3, groups).round(3).to_dict()
{'ana': 0.939, 'ben': 0.631}
>>> round(ndcg_at_k(y_true, y_score, 3, groups), 3)
0.785
"""

from eval.metrics.auc import auc_per_query, gauc, roc_auc
from eval.metrics.binary import (
    average_precision_per_query,
    map_at_k,
    mrr,
    precision_at_k,
    precision_per_query,
    recall_at_k,
    recall_per_query,
    reciprocal_rank_per_query,
)
from eval.metrics.calibration import ReliabilityCurve, expected_calibration_error, reliability_curve
from eval.metrics.classification import classification_metrics
from eval.metrics.ndcg import ndcg_at_k, ndcg_at_ks_per_query, ndcg_per_query
from eval.metrics.ranked import ArrayLike

__all__ = [
    "ArrayLike",
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
    "ReliabilityCurve",
    "expected_calibration_error",
    "reliability_curve",
]
