"""Market metrics against brute-force definitions, scipy and known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import sem

from eval.simulator.market import (
    MeanSE,
    coverage,
    gini,
    lorenz_curve,
    mean_and_se,
    share_matched_within,
)
from mentor_match.errors import InvalidParameterError


def _gini_by_mean_absolute_difference(counts: np.ndarray) -> float:
    """sum_i sum_j |x_i - x_j| / (2 n^2 mean), by brute force over all pairs."""
    n = len(counts)
    total = sum(abs(a - b) for a in counts for b in counts)
    return total / (2 * n * n * counts.mean()) if counts.sum() else 0.0


@pytest.mark.parametrize("seed", range(5))
def test_gini_equals_the_mean_absolute_difference_definition(seed):
    counts = np.random.default_rng(seed).poisson(3.0, size=40).astype(float)
    counts[:5] = 0  # zeros are part of the market
    assert gini(counts) == pytest.approx(_gini_by_mean_absolute_difference(counts), abs=1e-12)


def test_gini_known_values():
    assert gini([4, 4, 4]) == 0.0
    assert gini([0, 0, 0]) == 0.0
    assert gini([0, 0, 0, 0, 9]) == pytest.approx(4 / 5)  # all on one of n: (n - 1) / n
    assert gini([0, 1]) == pytest.approx(1 / 2)
    assert gini([1, 2, 3]) == pytest.approx(2 / 9)


def test_lorenz_curve_runs_from_origin_to_one_and_matches_the_gini():
    counts = np.random.default_rng(1).poisson(2.0, size=50)
    population, value = lorenz_curve(counts)
    assert (population[0], value[0], population[-1], value[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert len(population) == len(value) == 51
    assert np.all(np.diff(value) >= 0) and np.all(value <= population + 1e-12)  # below equality
    # The Gini is one minus twice the area under the Lorenz curve (trapezoids are exact here).
    area = np.sum((value[1:] + value[:-1]) / 2 * np.diff(population))
    assert 1 - 2 * area == pytest.approx(gini(counts), abs=1e-12)


def test_lorenz_curve_of_equal_and_all_zero_counts_is_the_line_of_equality():
    for counts in ([3, 3, 3, 3], [0, 0, 0, 0]):
        population, value = lorenz_curve(counts)
        np.testing.assert_allclose(value, population)
        np.testing.assert_allclose(population, [0, 0.25, 0.5, 0.75, 1.0])


def test_coverage_counts_items_with_any():
    assert coverage([0, 2, 0, 1], 4) == 0.5
    assert coverage([5], 10) == 0.1  # items not listed count as zero
    assert coverage([0, 0], 2) == 0.0


def test_share_matched_within_counts_the_never_matched_as_waiting():
    waits = np.array([0, 1, 2, 2, 3, 5, np.nan, np.nan])
    assert share_matched_within(waits, 2) == pytest.approx(4 / 8)
    assert share_matched_within(waits, 4) == pytest.approx(5 / 8)
    assert share_matched_within(waits, 0) == pytest.approx(1 / 8)
    assert share_matched_within([np.nan, np.nan], 4) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_mean_and_se_agrees_with_scipy_sem(seed):
    values = np.random.default_rng(seed).normal(100, 15, size=seed + 2)
    result = mean_and_se(values)
    assert isinstance(result, MeanSE)
    assert result.mean == pytest.approx(values.mean())
    assert result.se == pytest.approx(sem(values))


def test_mean_and_se_with_one_seed_has_no_se():
    mean, se = mean_and_se([3.5])
    assert mean == 3.5 and math.isnan(se)
    assert mean_and_se([2.0, 2.0]) == (2.0, 0.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lorenz_curve([]), "1-D array with one count per item"),
        (lambda: lorenz_curve([1, -1]), "finite counts >= 0"),
        (lambda: coverage([1, 2, 3], 2), "has 3 counts but 'n_items' is 2"),
        (lambda: coverage([1], 0), "'n_items' parameter of coverage"),
        (lambda: share_matched_within([1, -1], 2), "waits >= 0 or NaN"),
        (lambda: share_matched_within([], 2), "one entry per mentee"),
        (lambda: share_matched_within([1], -1), "'weeks' parameter"),
        (lambda: mean_and_se([]), "one value per seed"),
        (lambda: mean_and_se([1.0, np.nan]), "NaN or infinite"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()
