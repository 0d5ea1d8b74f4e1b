"""The statistics of an A/B test over mentees: bootstrap intervals, permutation p-values, SRM.

Each metric is a ratio of per-mentee sums (numerator over denominator, :data:`METRICS`),
so both the interval and the test resample whole mentees, the unit of randomisation, and
recompute the ratio from the resampled sums (not an average of per-mentee ratios):

* **interval**: a percentile bootstrap, mentees resampled with replacement *within each
  arm* (the arms are independent samples), the difference (and the relative lift) taken
  between the two arms' resampled metrics. Agrees with ``scipy.stats.bootstrap(...,
  method="percentile")`` on a mean metric up to Monte Carlo error (tested). Resamples in
  which a ratio is undefined (no request in a resampled arm) are left out of its quantiles;
* **p-value**: a two-sided permutation test of the arm labels over the mentees of the two
  arms (``scipy.stats.permutation_test``, independent samples): under the null that the
  variant changes no mentee's outcome, every split of the pooled mentees into arms of the
  observed sizes is equally likely;
* **sample-ratio mismatch**: ``scipy.stats.chisquare`` of the mentees per arm against the
  configured shares. A failure (p below alpha, 0.001 by default) means assignment or
  logging lost or added mentees unevenly, so no comparison of the arms can be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import chisquare, permutation_test

from eval.stats import bootstrap_means
from mentor_match.errors import InvalidParameterError

__all__ = [
    "METRICS",
    "SUM_COLUMNS",
    "bootstrap_sums",
    "interval",
    "metric_values",
    "permutation_p_value",
    "sample_ratio_check",
]

SUM_COLUMNS: tuple[str, ...] = ("mentees", "lists", "requests", "accepted", "successes")
"""The per-mentee columns the metrics are ratios of (``mentees`` is 1 for every mentee)."""

METRICS: dict[str, tuple[str, str]] = {
    "requests_per_list": ("requests", "lists"),
    "acceptance_rate": ("accepted", "requests"),
    "successes_per_mentee": ("successes", "mentees"),
}
"""Metric name -> (numerator, denominator) among :data:`SUM_COLUMNS`."""

_PERMUTATION_CELLS = 4_000_000  # gathered cells per batch of permutations: bounds the memory


def metric_values(sums: np.ndarray, metric: str) -> np.ndarray:
    """``metric`` from sums (or means) in :data:`SUM_COLUMNS` order, last axis; NaN where undefined.

    >>> metric_values(np.array([[10, 12, 6, 3, 2]]), "acceptance_rate")
    array([0.5])
    """
    numerator, denominator = (SUM_COLUMNS.index(c) for c in METRICS[metric])
    sums = np.asarray(sums, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sums[..., denominator] > 0, sums[..., numerator] / sums[..., denominator], np.nan)


def bootstrap_sums(per_mentee: np.ndarray, *, n_boot: int, seed: int) -> np.ndarray:
    """Mean per mentee of each column over ``n_boot`` resamples of one arm's mentees.

    ``per_mentee`` is (mentees, :data:`SUM_COLUMNS`); the result (n_boot, columns), all NaN
    for an arm without mentees. A ratio of two columns' means is the ratio of their sums.
    """
    per_mentee = np.asarray(per_mentee, dtype=float)
    if len(per_mentee) == 0:
        return np.full((n_boot, per_mentee.shape[1]), np.nan)
    return bootstrap_means(per_mentee, n_boot=n_boot, seed=seed)


def interval(samples: np.ndarray, *, alpha: float) -> tuple[float, float] | None:
    """The (alpha/2, 1 - alpha/2) quantiles of the defined samples; None if none is defined.

    >>> interval(np.array([1.0, 2.0, 3.0, np.nan]), alpha=0.5)
    (1.5, 2.5)
    """
    defined = samples[np.isfinite(samples)]
    if defined.size == 0:
        return None
    low, high = np.quantile(defined, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def permutation_p_value(
    variant: np.ndarray, control: np.ndarray, metric: str, *, n_resamples: int, seed: int
) -> float | None:
    """Two-sided permutation p-value of ``metric(variant) - metric(control)``.

    ``variant`` and ``control`` are per-mentee rows in :data:`SUM_COLUMNS` order. None
    when the difference is undefined on the data (e.g. no request in an arm) or an arm
    has fewer than two mentees.

    A planted difference in successes per mentee, three mentees an arm:

    >>> one = lambda successes: [1, 1, 2, 1, successes]
    >>> variant, control = np.array([one(1)] * 3), np.array([one(0)] * 3)
    >>> round(permutation_p_value(variant, control, "successes_per_mentee", n_resamples=100, seed=0), 3)
    0.1
    """
    variant = np.asarray(variant, dtype=float)
    control = np.asarray(control, dtype=float)
    if len(variant) < 2 or len(control) < 2:
        return None
    numerator, denominator = (SUM_COLUMNS.index(c) for c in METRICS[metric])
    pooled = np.concatenate([variant, control])[:, [numerator, denominator]]
    total = pooled.sum(axis=0)

    def statistic(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        # x, y hold positions in ``pooled`` (as floats). Gather only the smaller sample's rows
        # and take the other's sums as the total minus them: the arms split the same mentees.
        smaller = x if x.shape[-1] <= y.shape[-1] else y
        sums = pooled[smaller.astype(np.intp)].sum(axis=-2)
        sums_x, sums_y = (sums, total - sums) if smaller is x else (total - sums, sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            return sums_x[..., 0] / sums_x[..., 1] - sums_y[..., 0] / sums_y[..., 1]

    positions = np.arange(len(pooled), dtype=float)
    observed = statistic(positions[: len(variant)], positions[len(variant):], -1)
    if not np.isfinite(observed):
        return None
    result = permutation_test(
        (positions[: len(variant)], positions[len(variant):]),
        statistic,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        batch=max(1, _PERMUTATION_CELLS // (min(len(variant), len(control)) * 2)),
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def sample_ratio_check(
    observed: Mapping[str, int], shares: Mapping[str, float], *, alpha: float
) -> dict:
    """Chi-square test of mentees per arm against the configured shares.

    Returns ``{"statistic", "p_value", "alpha", "passed", "observed", "expected"}``
    (expected mentees per arm). An arm with share 0 takes part only if it has mentees (and
    then the check fails: nobody should be there).

    A 45/55 split of 10,000 mentees against a 50/50 config fails; 5,010/4,990 passes:

    >>> sample_ratio_check({"a": 4500, "b": 5500}, {"a": 0.5, "b": 0.5}, alpha=0.001)["passed"]
    False
    >>> sample_ratio_check({"a": 5010, "b": 4990}, {"a": 0.5, "b": 0.5}, alpha=0.001)["passed"]
    True
    """
    names = list(shares)
    counts = np.array([observed.get(name, 0) for name in names], dtype=float)
    total_share = float(sum(shares.values()))
    expected = np.array([shares[name] for name in names], dtype=float) / total_share * counts.sum()
    if counts.sum() == 0:
        raise InvalidParameterError("sample_ratio_check needs at least one mentee in some arm.")
    empty_share = expected == 0
    if (counts[empty_share] > 0).any():
        statistic, p_value = float("inf"), 0.0
    else:
        keep = ~empty_share
        if keep.sum() < 2:
            statistic, p_value = 0.0, 1.0
        else:
            result = chisquare(counts[keep], expected[keep])
            statistic, p_value = float(result.statistic), float(result.pvalue)
    return {
        "statistic": statistic,
        "p_value": p_value,
        "alpha": alpha,
        "passed": bool(p_value >= alpha),
        "observed": {name: int(count) for name, count in zip(names, counts, strict=True)},
        "expected": {name: float(value) for name, value in zip(names, expected, strict=True)},
    }
