"""Real learning-to-rank data: LightGBM's lambdarank example, vendored in tests/data (see
its SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_svmlight_file
from sklearn.metrics import ndcg_score

from ranking.models import Ranker

DATA = Path(__file__).resolve().parents[1] / "data" / "lightgbm-lambdarank"


def _load(name: str):
    X, y = load_svmlight_file(str(DATA / f"rank.{name}"), n_features=300)
    sizes = np.loadtxt(DATA / f"rank.{name}.query", dtype=np.int64)
    return X, y, np.repeat(np.arange(len(sizes)), sizes)


@pytest.fixture(scope="module")
def lambdarank_data():
    return _load("train"), _load("test")


def _mean_ndcg(y, scores, group, k: int) -> float:
    """Mean of sklearn's ndcg_score per test query with at least 2 rows (as SOURCE.md)."""
    values = [
        ndcg_score([y[group == g]], [scores[group == g]], k=k)
        for g in np.unique(group)
        if (group == g).sum() >= 2
    ]
    return float(np.mean(values))


def test_pairwise_ranker_reaches_the_reference_ndcg(lambdarank_data):
    (X, y, group), (Xt, yt, gt) = lambdarank_data
    ranker = Ranker(
        "rank:pairwise", n_estimators=100, learning_rate=0.1, max_depth=6,
        lambdarank_pair_method="topk", lambdarank_num_pair_per_sample=32, n_jobs=1,
    ).fit(X, y, group)
    scores = ranker.predict(Xt)
    random = _mean_ndcg(yt, np.random.default_rng(0).random(len(yt)), gt, k=5)
    assert _mean_ndcg(yt, scores, gt, k=5) >= 0.76
    assert _mean_ndcg(yt, scores, gt, k=10) >= 0.78
    assert random < 0.6


@pytest.mark.parametrize(("objective", "params", "bar"), [
    ("lambdarank", {"max_depth": -1, "min_child_samples": 50}, 0.70),
    ("rank:ndcg", {"max_depth": 6}, 0.68),
])
def test_other_objectives_clearly_beat_random_order(lambdarank_data, objective, params, bar):
    (X, y, group), (Xt, yt, gt) = lambdarank_data
    ranker = Ranker(objective, n_estimators=100, learning_rate=0.1, n_jobs=1, **params)
    scores = ranker.fit(X, y, group).predict(Xt)
    assert _mean_ndcg(yt, scores, gt, k=5) >= bar  # random order: 0.536 (SOURCE.md)
