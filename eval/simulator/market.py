"""Market metrics of a simulated platform, pure functions over arrays of counts.

- :func:`gini` and :func:`lorenz_curve`: how concentrated requests or impressions are over
  mentors (the Gini is :func:`eval.stats.gini`, re-exported so there is one definition);
- :func:`coverage`: the share of mentors that got any;
- :func:`share_matched_within`: the share of mentees matched within a number of weeks;
- :func:`mean_and_se`: the mean of a figure over seeds, with its standard error.

Pass one count per mentor, zeros included: a mentor nobody saw is part of the market.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from eval.stats import gini
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int

__all__ = ["MeanSE", "coverage", "gini", "lorenz_curve", "mean_and_se", "share_matched_within"]


class MeanSE(NamedTuple):
    """A mean over seeds and its standard error (NaN with one seed); unpacks as a pair."""

    mean: float
    se: float


def _counts(counts: Iterable[float] | np.ndarray, func: str) -> np.ndarray:
    values = np.asarray(counts, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise InvalidParameterError(
            f"The 'counts' parameter of {func} must be a 1-D array with one count per item "
            f"(zeros included). Got shape {values.shape}."
        )
    if not np.isfinite(values).all() or (values < 0).any():
        raise InvalidParameterError(
            f"The 'counts' parameter of {func} must hold finite counts >= 0."
        )
    return values


def lorenz_curve(counts: Iterable[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(population_share, value_share) of the Lorenz curve of ``counts``, n + 1 points.

    Items are sorted from least to most; point i says the ``i / n`` least-served items hold
    ``value_share[i]`` of the total. It runs from (0, 0) to (1, 1); all-zero counts give the
    line of equality (as their Gini is 0).

    >>> population, value = lorenz_curve([0, 0, 0, 12])
    >>> population.tolist(), value.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0])
    """
    values = np.sort(_counts(counts, "lorenz_curve"))
    population = np.arange(len(values) + 1) / len(values)
    total = values.sum()
    if total == 0:
        return population, population.copy()
    value = np.concatenate([[0.0], np.cumsum(values) / total])
    value[-1] = 1.0  # exact end despite rounding in the cumulative sum
    return population, value


def coverage(counts: Iterable[float] | np.ndarray, n_items: int) -> float:
    """Share of ``n_items`` with a count above zero.

    ``counts`` may list only some items (at most ``n_items``); the others count as zero.
    (:func:`eval.stats.coverage` is the same share from a list of recommended ids.)

    >>> coverage([3, 0, 1], n_items=4)
    0.5
    """
    func = "coverage"
    n_items = check_int("n_items", n_items, func)
    values = _counts(counts, func)
    if len(values) > n_items:
        raise InvalidParameterError(
            f"The 'counts' parameter of {func} has {len(values)} counts but 'n_items' is "
            f"{n_items}; pass one count per item and the number of items in the market."
        )
    return int(np.count_nonzero(values)) / n_items


def share_matched_within(wait_weeks: Iterable[float] | np.ndarray, weeks: int) -> float:
    """Share of mentees matched at most ``weeks`` weeks after they started looking.

    ``wait_weeks`` has one entry per mentee: the weeks until their first mentorship, NaN if
    never matched (they count in the denominator, unmatched).

    >>> share_matched_within([0, 1, 3, np.nan], weeks=2)
    0.5
    """
    func = "share_matched_within"
    weeks = check_int("weeks", weeks, func, low=0)
    waits = np.asarray(wait_weeks, dtype=float)
    if waits.ndim != 1 or waits.size == 0:
        raise InvalidParameterError(
            f"The 'wait_weeks' parameter of {func} must be a 1-D array with one entry per "
            f"mentee (NaN if never matched). Got shape {waits.shape}."
        )
    matched = ~np.isnan(waits)
    if np.isinf(waits).any() or (waits[matched] < 0).any():
        raise InvalidParameterError(
            f"The 'wait_weeks' parameter of {func} must hold waits >= 0 or NaN for mentees "
            "never matched; found infinite or negative waits."
        )
    return float(np.count_nonzero(waits[matched] <= weeks) / waits.size)


def mean_and_se(values: Sequence[float] | np.ndarray) -> MeanSE:
    """Mean over seeds and its standard error, ``std(ddof=1) / sqrt(n)`` (as scipy's ``sem``).

    With one seed there is no spread to measure: the SE is NaN, not 0.

    >>> mean, se = mean_and_se([10.0, 12.0, 14.0])
    >>> mean, round(se, 4)
    (12.0, 1.1547)
    >>> mean_and_se([7.0]).se
    nan
    """
    func = "mean_and_se"
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidParameterError(
            f"The 'values' parameter of {func} must be a 1-D sequence with one value per seed. "
            f"Got shape {arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise InvalidParameterError(
            f"The 'values' parameter of {func} has NaN or infinite values; compute the figure "
            "for every seed before aggregating."
        )
    if arr.size == 1:
        return MeanSE(float(arr[0]), math.nan)
    return MeanSE(float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size)))
