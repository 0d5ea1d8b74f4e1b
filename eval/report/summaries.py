"""A model's ranking entries of the report and the NDCG@K curve, from scores alone.

An evaluation protocol only has to produce scores; these turn them into the report's
``models[name]`` ranking keys and ``curves["ndcg_at_k"]``, with bootstrap intervals over
queries drawn as :func:`eval.stats.bootstrap_ci` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eval.metrics import (
    ArrayLike,
    average_precision_per_query,
    ndcg_at_ks_per_query,
    reciprocal_rank_per_query,
)
from eval.stats import bootstrap_ci, bootstrap_means
from mentor_match.errors import InvalidParameterError

__all__ = ["ndcg_curve", "ranking_summary"]


def ndcg_curve(
    y_true: ArrayLike,
    scores_by_model: Mapping[str, ArrayLike],
    groups: ArrayLike,
    ks: Sequence[int] = range(1, 21),
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, dict[str, list[float]]]:
    """Mean NDCG@K per model for each K, with percentile bootstrap bands over queries.

    Every model and K share the same resamples of queries (the ones
    :func:`eval.stats.bootstrap_ci` draws with the same seed), so bands of different models
    are comparable. Returns the ``curves["ndcg_at_k"]`` structure.

    >>> y_true, groups = [3, 2, 0, 1, 0], ["ana", "ana", "ana", "ben", "ben"]
    >>> scores = {"ranker": [0.9, 0.2, 0.5, 0.1, 0.8], "oracle": [3, 2, 0, 1, 0]}
    >>> curve = ndcg_curve(y_true, scores, groups, ks=[1, 3], n_boot=200)
    >>> curve["oracle"]
    {'k': [1, 3], 'mean': [1.0, 1.0], 'low': [1.0, 1.0], 'high': [1.0, 1.0]}
    >>> [round(value, 3) for value in curve["ranker"]["mean"]]
    [0.5, 0.785]
    """
    if not scores_by_model:
        raise InvalidParameterError("ndcg_curve needs at least one model in 'scores_by_model'.")
    ks = [int(k) for k in ks]
    tables = {
        model: ndcg_at_ks_per_query(y_true, scores, ks, groups).to_numpy()
        for model, scores in scores_by_model.items()
    }
    stacked = np.hstack(list(tables.values()))
    means = bootstrap_means(stacked, n_boot=n_boot, seed=seed)
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    curves = {}
    for i, (model, table) in enumerate(tables.items()):
        columns = slice(i * len(ks), (i + 1) * len(ks))
        curves[model] = {
            "k": ks,
            "mean": table.mean(axis=0).tolist(),
            "low": low[columns].tolist(),
            "high": high[columns].tolist(),
        }
    return curves


def ranking_summary(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """A model's ranking-view entries of report["models"][name]: NDCG@5/10, MAP@10, MRR, CI.

    Means over queries (every query counts; one without relevant items scores 0) and the
    percentile bootstrap interval of NDCG@10, as :func:`eval.stats.bootstrap_ci` gives it.

    >>> y_true, y_score = [3, 2, 0, 1, 0], [0.9, 0.2, 0.5, 0.1, 0.8]
    >>> summary = ranking_summary(y_true, y_score, ["ana", "ana", "ana", "ben", "ben"])
    >>> sorted(summary)
    ['map@10', 'mrr', 'ndcg@10', 'ndcg@10_ci', 'ndcg@5']
    >>> round(summary["ndcg@10"], 3), summary["mrr"]
    (0.785, 0.75)
    """
    ndcg = ndcg_at_ks_per_query(y_true, y_score, [5, 10], groups)
    low, high = bootstrap_ci(ndcg[10], n_boot=n_boot, alpha=alpha, seed=seed)
    return {
        "ndcg@5": float(ndcg[5].mean()),
        "ndcg@10": float(ndcg[10].mean()),
        "map@10": float(average_precision_per_query(y_true, y_score, 10, groups).mean()),
        "mrr": float(reciprocal_rank_per_query(y_true, y_score, groups).mean()),
        "ndcg@10_ci": [float(low), float(high)],
    }
