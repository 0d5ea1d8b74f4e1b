"""Uncertainty and concentration statistics over per-query metric values.

Bootstrap intervals resample queries (mentees), not rows: the query is the unit the
ranking view averages over. Resampling is done as a matrix of multinomial counts, so
many series (models x cutoffs) share the same resamples and cost one matrix product.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number

__all__ = [
    "ConfidenceInterval",
    "bootstrap_ci",
    "bootstrap_means",
    "compare_to_reference",
    "coverage",
    "gini",
    "paired_comparison",
]


class ConfidenceInterval(NamedTuple):
    """A two-sided interval; a tuple, so it unpacks and serialises to JSON as [low, high]."""

    low: float
    high: float


def _values(values: Iterable[float] | np.ndarray | pd.Series, name: str, func: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0 or arr.size == 0:
        raise InvalidParameterError(
            f"The '{name}' parameter of {func} needs at least one per-query value. Got {arr.size}."
        )
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise InvalidParameterError(
            f"The '{name}' parameter of {func} has {bad} NaN or infinite values; score every "
            "query (a query without relevant items scores 0) before aggregating."
        )
    return arr


def _check_alpha(alpha: float, func: str) -> float:
    return check_number("alpha", alpha, func, low=0.0, high=1.0, low_open=True, high_open=True)


def bootstrap_means(values: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap means of each column of ``values`` (queries x series), shape (n_boot, series).

    Every column sees the same resamples of queries, which keeps paired series (models
    scored on the same mentees, cutoffs of one model) comparable. 1-D input -> (n_boot,).

    Three queries, two series, four resamples (each row: the means of one resample):

    >>> values = np.array([[0.2, 0.3], [0.9, 0.8], [0.4, 0.6]])
    >>> bootstrap_means(values, n_boot=4, seed=0).round(3)
    array([[0.733, 0.733],
           [0.2  , 0.3  ],
           [0.2  , 0.3  ],
           [0.567, 0.667]])
    """
    func = "bootstrap_means"
    arr = _values(values, "values", func)
    check_int("n_boot", n_boot, func)
    n = arr.shape[0]
    rng = np.random.default_rng(seed)
    # Resample counts per query, in batches that keep the count matrix near 16 MB.
    batch = max(1, 2_000_000 // n)
    means = []
    for start in range(0, n_boot, batch):
        rows = min(batch, n_boot - start)
        draws = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n)
        means.append(counts @ arr / n)
    return np.concatenate(means)


def bootstrap_ci(
    per_query_values: Iterable[float] | np.ndarray | pd.Series,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap interval (1 - alpha) of the mean over queries.

    Agrees with ``scipy.stats.bootstrap(..., method="percentile")`` up to Monte Carlo
    error (the resamples differ). One query gives a zero-width interval at its value.

    The same seed gives the same interval:

    >>> ndcg_per_mentee = [0.2, 0.9, 0.4, 0.7, 0.6]
    >>> low, high = bootstrap_ci(ndcg_per_mentee, n_boot=1000, seed=0)
    >>> round(low, 3), round(high, 3)
    (0.34, 0.76)
    >>> bootstrap_ci([0.5])
    ConfidenceInterval(low=0.5, high=0.5)
    """
    func = "bootstrap_ci"
    arr = _values(per_query_values, "per_query_values", func)
    if arr.ndim != 1:
        raise InvalidParameterError(
            f"The 'per_query_values' parameter of {func} must be 1-D. Got shape {arr.shape}."
        )
    check_int("n_boot", n_boot, func)
    alpha = _check_alpha(alpha, func)
    means = bootstrap_means(arr, n_boot=n_boot, seed=seed)
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return ConfidenceInterval(float(low), float(high))


def _paired(a, b, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Align two per-query series; Series are matched on their index (query ids)."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if not a.index.sort_values().equals(b.index.sort_values()):
            only_a = a.index.difference(b.index).size
            only_b = b.index.difference(a.index).size
            raise InvalidParameterError(
                f"{func} compares the same queries, but {only_a} are only in a and {only_b} only "
                "in b; score both models on the same held-out mentees."
            )
        b = b.reindex(a.index)
    x = _values(a, "a_per_query", func)
    y = _values(b, "b_per_query", func)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidParameterError(
            f"{func} needs two 1-D arrays of the same length (one value per query). "
            f"Got shapes {x.shape} and {y.shape}."
        )
    return x, y


def paired_comparison(
    a_per_query: Iterable[float] | np.ndarray | pd.Series,
    b_per_query: Iterable[float] | np.ndarray | pd.Series,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float]:
    """Compare model a with model b on the same queries: is a better, and by how much?

    Returns ``mean_diff`` (mean of a - b), ``ci_low``/``ci_high`` (paired percentile
    bootstrap over queries) and ``p_value`` (two-sided Wilcoxon signed-rank test,
    ``scipy.stats.wilcoxon`` with Pratt's handling of zero differences; 1.0 when a and b
    never differ). Pandas Series are aligned on their index (query ids).

    Model a is ahead on four of five mentees and level on one:

    >>> result = paired_comparison([0.9, 0.8, 0.7, 0.9, 0.6], [0.6, 0.8, 0.5, 0.7, 0.5], seed=0)
    >>> {name: round(value, 3) for name, value in result.items()}
    {'mean_diff': 0.16, 'ci_low': 0.08, 'ci_high': 0.24, 'p_value': 0.125}
    """
    func = "paired_comparison"
    a, b = _paired(a_per_query, b_per_query, func)
    check_int("n_boot", n_boot, func)
    alpha = _check_alpha(alpha, func)
    diff = a - b
    low, high = bootstrap_ci(diff, n_boot=n_boot, alpha=alpha, seed=seed)
    if np.all(diff == 0):
        p_value = 1.0
    else:
        p_value = float(wilcoxon(a, b, zero_method="pratt", alternative="two-sided").pvalue)
    return {"mean_diff": float(diff.mean()), "ci_low": low, "ci_high": high, "p_value": p_value}


def gini(counts: Iterable[float] | np.ndarray, *, catalogue_size: int | None = None) -> float:
    """Gini coefficient of recommendation counts over mentors: 0 = spread evenly, -> 1 = one mentor.

    Pass one count per mentor in the catalogue, zeros included; or pass the counts of the
    recommended mentors with ``catalogue_size`` and the missing mentors count as zeros.
    With n mentors, all recommendations on one gives (n - 1) / n.

    >>> gini([5, 5, 5, 5]), gini([0, 0, 0, 12]), gini([12], catalogue_size=4)
    (0.0, 0.75, 0.75)
    """
    func = "gini"
    x = _values(counts, "counts", func)
    if x.ndim != 1 or (x < 0).any():
        raise InvalidParameterError(
            f"The 'counts' parameter of {func} must be 1-D and non-negative."
        )
    catalogue_size = check_int("catalogue_size", catalogue_size, func, allow_none=True)
    if catalogue_size is not None:
        if catalogue_size < len(x):
            raise InvalidParameterError(
                f"The 'catalogue_size' parameter of {func} ({catalogue_size}) is smaller than the "
                f"number of counts ({len(x)}); pass the number of mentors in the catalogue."
            )
        x = np.concatenate([x, np.zeros(catalogue_size - len(x))])
    total = x.sum()
    if total == 0:
        return 0.0
    n = len(x)
    ranks = np.arange(1, n + 1)
    return float((2.0 * np.sum(ranks * np.sort(x))) / (n * total) - (n + 1.0) / n)


def coverage(recommended_ids: Iterable, catalogue_size: int) -> float:
    """Share of the catalogue that was recommended at least once.

    ``recommended_ids`` is a flat iterable of mentor ids or a 2-D array (one row per
    mentee's top-k list); duplicates count once.

    Two mentees' top 3 lists reach 4 of 10 mentors:

    >>> coverage([[1, 2, 3], [2, 3, 4]], catalogue_size=10)
    0.4
    """
    func = "coverage"
    catalogue_size = check_int("catalogue_size", catalogue_size, func)
    flat = [
        item
        for entry in recommended_ids
        for item in (entry if isinstance(entry, list | tuple | np.ndarray | pd.Series) else [entry])
    ]
    distinct = len(set(flat))
    if distinct > catalogue_size:
        raise InvalidParameterError(
            f"{func} found {distinct} distinct recommended ids but the catalogue has only "
            f"{catalogue_size}; pass the number of mentors in the catalogue."
        )
    return distinct / catalogue_size


def compare_to_reference(
    per_query_by_model: dict[str, pd.Series],
    *,
    reference: str = "xgboost_ranker",
    metric: str = "ndcg@10",
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> list[dict[str, float | str]]:
    """Paired comparison of ``reference`` against every other model, in the report's format.

    Each entry is ``{"a": reference, "b": other, "metric": metric}`` plus the keys of
    :func:`paired_comparison` (a - b); it is what ``report["comparisons"]`` holds.

    >>> per_query = {"xgboost_ranker": pd.Series([0.9, 0.8, 0.7]),
    ...              "random": pd.Series([0.2, 0.5, 0.1])}
    >>> [entry] = compare_to_reference(per_query, n_boot=200)
    >>> entry["a"], entry["b"], round(entry["mean_diff"], 3)
    ('xgboost_ranker', 'random', 0.533)
    """
    if reference not in per_query_by_model:
        raise InvalidParameterError(
            f"The reference model '{reference}' of compare_to_reference is not among "
            f"{sorted(per_query_by_model)}; name one of them."
        )
    return [
        {"a": reference, "b": other, "metric": metric}
        | paired_comparison(
            per_query_by_model[reference], values, n_boot=n_boot, alpha=alpha, seed=seed
        )
        for other, values in per_query_by_model.items()
        if other != reference
    ]
