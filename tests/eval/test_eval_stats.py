"""eval.stats: bootstrap intervals (against scipy), paired comparison, Gini, coverage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import bootstrap, wilcoxon

from eval.stats import (
    bootstrap_ci,
    bootstrap_means,
    compare_to_reference,
    coverage,
    gini,
    paired_comparison,
)
from mentor_match.errors import InvalidParameterError


def ndcg_like(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).beta(4, 2, n)


def test_bootstrap_ci_contains_the_mean_and_narrows_with_more_queries():
    small, large = ndcg_like(50, 1), ndcg_like(5000, 1)
    low_s, high_s = bootstrap_ci(small)
    low_l, high_l = bootstrap_ci(large)
    assert low_s < small.mean() < high_s
    assert low_l < large.mean() < high_l
    assert (high_l - low_l) < (high_s - low_s) / 5  # width shrinks ~ 1 / sqrt(n)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    values = ndcg_like(400, 2)
    ours = bootstrap_ci(values, n_boot=2000, seed=3)
    ref = bootstrap(
        (values,), np.mean, n_resamples=2000, method="percentile", rng=3
    ).confidence_interval
    width = ref.high - ref.low
    assert abs(ours.low - ref.low) < 0.1 * width
    assert abs(ours.high - ref.high) < 0.1 * width


def test_bootstrap_ci_is_seeded_and_serialises_as_a_pair():
    values = ndcg_like(100, 4)
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    assert bootstrap_ci(values, seed=5) != bootstrap_ci(values, seed=6)
    low, high = bootstrap_ci(values)
    assert json.loads(json.dumps({"ci": bootstrap_ci(values)})) == {"ci": [low, high]}


def test_bootstrap_ci_alpha_and_single_query():
    values = ndcg_like(200, 7)
    wide, narrow = bootstrap_ci(values, alpha=0.01), bootstrap_ci(values, alpha=0.2)
    assert wide.low < narrow.low < narrow.high < wide.high
    assert bootstrap_ci([0.4]) == (0.4, 0.4)


def test_bootstrap_means_share_resamples_across_columns():
    values = np.column_stack([ndcg_like(300, 8), ndcg_like(300, 9)])
    joint = bootstrap_means(values, n_boot=500, seed=1)
    assert joint.shape == (500, 2)
    np.testing.assert_allclose(joint[:, 1], bootstrap_means(values[:, 1], n_boot=500, seed=1))
    # Large n is resampled in batches; the result is the plain resample-and-average.
    big = ndcg_like(30_000, 10)
    draws = np.random.default_rng(2).integers(0, len(big), (150, len(big)))
    np.testing.assert_allclose(bootstrap_means(big, n_boot=150, seed=2), big[draws].mean(axis=1))


def test_paired_comparison_detects_a_real_difference():
    rng = np.random.default_rng(11)
    b = ndcg_like(300, 12)
    a = np.clip(b + 0.05 + rng.normal(0, 0.05, 300), 0, 1)
    result = paired_comparison(a, b)
    assert result["mean_diff"] == pytest.approx((a - b).mean())
    assert 0 < result["ci_low"] < result["mean_diff"] < result["ci_high"]
    assert result["p_value"] == pytest.approx(wilcoxon(a, b, zero_method="pratt").pvalue)
    assert result["p_value"] < 1e-6


def test_paired_comparison_of_equal_and_of_noise_only_models():
    b = ndcg_like(200, 13)
    assert paired_comparison(b, b) == {
        "mean_diff": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.0,
        "p_value": 1.0,
    }
    noise = np.random.default_rng(14).normal(0, 0.05, 200)
    result = paired_comparison(b + noise - noise.mean(), b)  # no difference on average
    assert result["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert result["ci_low"] < 0 < result["ci_high"]
    assert result["p_value"] > 0.05


def test_paired_comparison_aligns_series_on_query_ids():
    a = pd.Series(ndcg_like(50, 15), index=range(100, 150))
    b = pd.Series(ndcg_like(50, 16), index=range(100, 150))
    shuffled = b.sample(frac=1, random_state=0)
    assert paired_comparison(a, shuffled) == paired_comparison(a, b)
    with pytest.raises(InvalidParameterError, match="same held-out mentees"):
        paired_comparison(a, b.iloc[:-1])


def test_compare_to_reference_gives_one_entry_per_baseline():
    per_query = {
        "xgboost_ranker": pd.Series(ndcg_like(80, 17)),
        "logistic_regression": pd.Series(ndcg_like(80, 18)),
        "random_forest": pd.Series(ndcg_like(80, 19)),
    }
    rows = compare_to_reference(per_query)
    assert [(r["a"], r["b"]) for r in rows] == [
        ("xgboost_ranker", "logistic_regression"),
        ("xgboost_ranker", "random_forest"),
    ]
    assert rows[0]["mean_diff"] == pytest.approx(
        (per_query["xgboost_ranker"] - per_query["logistic_regression"]).mean()
    )
    with pytest.raises(InvalidParameterError, match="reference model 'lightgbm'"):
        compare_to_reference(per_query, reference="lightgbm")


def test_gini_bounds_and_reference_formula():
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 12]) == pytest.approx(3 / 4)  # all on one of n: (n - 1) / n
    assert gini([12], catalogue_size=4) == pytest.approx(3 / 4)
    assert gini([0, 0]) == 0.0
    counts = np.random.default_rng(20).poisson(3, 200).astype(float)
    # Mean absolute difference definition: sum |xi - xj| / (2 n^2 mean).
    reference = np.abs(counts[:, None] - counts[None, :]).sum() / (
        2 * len(counts) ** 2 * counts.mean()
    )
    assert gini(counts) == pytest.approx(reference, abs=1e-12)


def test_coverage_counts_distinct_recommended_mentors():
    assert coverage([[1, 2, 3], [2, 3, 4]], 10) == pytest.approx(0.4)
    assert coverage(np.array([[1, 2], [2, 1]]), 4) == pytest.approx(0.5)
    assert coverage([7, 7, 8], 2) == 1.0
    with pytest.raises(InvalidParameterError, match="catalogue has only 2"):
        coverage([1, 2, 3], 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bootstrap_ci([]), "at least one per-query value"),
        (lambda: bootstrap_ci([0.1, np.nan]), "1 NaN or infinite"),
        (lambda: bootstrap_ci([0.1, 0.2], n_boot=0), "'n_boot' parameter of bootstrap_ci"),
        (lambda: bootstrap_ci([0.1, 0.2], alpha=1.5), "'alpha' parameter"),
        (lambda: paired_comparison([0.1, 0.2], [0.1]), "same length"),
        (lambda: gini([1, -1]), "non-negative"),
        (lambda: gini([1, 2, 3], catalogue_size=2), "smaller than the number of counts"),
        (lambda: coverage([1], 0), "'catalogue_size' parameter of coverage"),
        (
            lambda: gini([1, 2], catalogue_size=2.5),
            "'catalogue_size' parameter of gini must be an int >= 1 or None. Got 2.5.",
        ),
        (
            lambda: bootstrap_ci([0.1, 0.2], alpha="0.05"),
            "'alpha' parameter of bootstrap_ci must be a finite number > 0.0 and < 1.0",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()
