"""ROC-AUC over all rows, per query, and group AUC (the mean per-query AUC).

A row is positive when ``y_true > threshold`` (default 0). A tied positive-negative pair
counts one half, as in ``sklearn.metrics.roc_auc_score``. AUC is undefined for a query
with one class: :func:`auc_per_query` gives it NaN and :func:`gauc` leaves it out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from eval.metrics.ranked import ArrayLike, RankedQueries, as_labels_and_scores, rank_queries
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_number

__all__ = ["auc_per_query", "gauc", "roc_auc"]


def roc_auc(y_true: ArrayLike, y_score: ArrayLike, *, threshold: float = 0.0) -> float:
    """ROC-AUC of ``y_score`` for the labels ``y_true > threshold`` (``roc_auc_score``).

    Raises InvalidParameterError when only one class is present: AUC is undefined there
    (scikit-learn warns and returns NaN, which would silently poison a mean).

    Three of the four positive-negative pairs are in the right order (0.4 sits below 0.8):

    >>> roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.4, 0.1])
    0.75
    """
    func = "roc_auc"
    threshold = check_number("threshold", threshold, func)
    labels_in, scores = as_labels_and_scores(y_true, y_score, func)
    labels = labels_in > threshold
    n_positive = int(labels.sum())
    if n_positive in (0, len(labels)):
        raise InvalidParameterError(
            f"ROC-AUC is undefined with one class: all {len(labels)} labels are "
            f"{'positive' if n_positive else 'negative'}. Evaluate on data with both classes."
        )
    return float(roc_auc_score(labels, scores))


def _auc_table(ranked: RankedQueries, threshold: float) -> np.ndarray:
    """Per-query AUC by the Mann-Whitney rank sum (NaN where a query has one class)."""
    positive = ranked.relevant(threshold)
    # Average ascending rank (1-based) of each row within its query; ties share the mean,
    # which is how roc_auc_score scores tied pairs (one half).
    descending = ranked.block_start[ranked.block] + (ranked.block_size[ranked.block] - 1) / 2.0
    ascending_rank = ranked.query_size[ranked.query] - descending
    n_positive = ranked.per_query_sum(positive)
    n_negative = ranked.query_size - n_positive
    u = ranked.per_query_sum(ascending_rank * positive) - n_positive * (n_positive + 1) / 2.0
    pairs = n_positive * n_negative
    return np.divide(u, pairs, out=np.full(ranked.n_queries, np.nan), where=pairs > 0)


def auc_per_query(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    *,
    threshold: float = 0.0,
) -> pd.Series:
    """ROC-AUC of each query, as ``roc_auc_score`` per query (ties count one half).

    Queries with only one class get NaN: their AUC is undefined.

    >>> auc_per_query([1, 0, 0, 1, 0, 1, 1], [0.6, 0.5, 0.7, 0.9, 0.2, 0.3, 0.4],
    ...               ["ana", "ana", "ana", "ben", "ben", "cy", "cy"])
    ana    0.5
    ben    1.0
    cy     NaN
    Name: auc, dtype: float64
    """
    func = "auc_per_query"
    threshold = check_number("threshold", threshold, func)
    ranked = rank_queries(y_true, y_score, groups, func)
    return ranked.series(_auc_table(ranked, threshold), "auc")


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

    ana's good mentor sits between her two others (AUC 0.5), ben's tops his list (1.0),
    and cy has good mentors only, so has no AUC and is left out:

    >>> y_true = [1, 0, 0, 1, 0, 1, 1]
    >>> y_score = [0.6, 0.5, 0.7, 0.9, 0.2, 0.3, 0.4]
    >>> groups = ["ana", "ana", "ana", "ben", "ben", "cy", "cy"]
    >>> gauc(y_true, y_score, groups)
    0.75
    >>> gauc(y_true, y_score, groups, weighted=True)  # (3 x 0.5 + 2 x 1.0) / 5
    0.7
    """
    func = "gauc"
    threshold = check_number("threshold", threshold, func)
    ranked = rank_queries(y_true, y_score, groups, func)
    auc = _auc_table(ranked, threshold)
    defined = ~np.isnan(auc)
    if not defined.any():
        raise InvalidParameterError(
            f"GAUC is undefined: none of the {ranked.n_queries} queries has both relevant and "
            "non-relevant items. Evaluate on queries with both classes."
        )
    weights = ranked.query_size[defined] if weighted else None
    return float(np.average(auc[defined], weights=weights))
