"""eval.comparison: the four models judged, tuned and cross-validated on a small world."""

from __future__ import annotations

import numpy as np
import pytest

from db import Dataset
from eval.comparison import METRICS, TUNE_GRIDS, cross_validate, evaluate_models, tune_models
from eval.metrics import ndcg_at_k
from mentor_match.errors import NotEnoughDataError
from ranking.baselines import make_baselines
from ranking.features import FEATURES
from ranking.splits import grouped_split
from ranking.training import MODEL_NAMES, build_training_pairs, make_pair_frame, train_models

SMALL = {  # small models keep the suite fast
    "random_forest": {"n_estimators": 30},
    "xgboost_classifier": {"n_estimators": 30},
    "xgboost_ranker": {"n_estimators": 100},
}


@pytest.fixture(scope="module")
def world(training_world):
    return training_world


@pytest.fixture(scope="module")
def labelled(world):
    """Pairs and their features without an encoder (bio_goal_similarity NaN)."""
    dataset = Dataset(mentors=world.mentors, mentees=world.mentees, interactions=world.interactions)
    pairs = build_training_pairs(dataset)
    return dataset, pairs, make_pair_frame(dataset, pairs, None, None, False)


def test_every_model_gets_every_metric_and_one_class_is_refused(labelled):
    _, pairs, X = labelled
    split = grouped_split(pairs["mentee_id"].to_numpy(), seed=0)
    trained = train_models(X, pairs, split, seed=0, params=SMALL, n_jobs=1)
    metrics = evaluate_models(trained, X, pairs, split.test)
    assert list(metrics) == list(MODEL_NAMES)
    for name, values in metrics.items():
        assert list(values) == list(METRICS) and all(0 <= v <= 1 for v in values.values()), name
    losers = split.test[pairs["label"].to_numpy()[split.test] == 0]
    with pytest.raises(NotEnoughDataError, match="one class only"):
        evaluate_models(trained, X, pairs, losers)


def test_tuning_picks_from_each_grid_and_the_picks_fit(labelled):
    _, pairs, X = labelled
    split = grouped_split(pairs["mentee_id"].to_numpy(), seed=0)
    tuned = tune_models(X, pairs, split, seed=0, params=SMALL, n_jobs=1)
    assert set(tuned) == set(MODEL_NAMES)
    for name, entry in tuned.items():
        assert set(entry["params"]) == set(TUNE_GRIDS[name]), name
        assert all(entry["params"][k] in TUNE_GRIDS[name][k] for k in entry["params"]), name
        assert 0.5 < entry["score"] <= 1, name
    for name, model in make_baselines(0, n_jobs=1).items():
        model.set_params(**tuned[name]["params"])  # grid names are the scorers' own parameters


def test_cross_validation_reports_mean_and_two_std_per_metric(labelled):
    _, pairs, X = labelled
    report = cross_validate(X, pairs, 2, seed=0, params=SMALL, n_jobs=1)
    assert report["folds"] == 2 and list(report["models"]) == list(MODEL_NAMES)
    for metrics in report["models"].values():
        assert list(metrics) == list(METRICS)
        assert all(set(v) == {"mean", "std2"} and v["std2"] >= 0 for v in metrics.values())


@pytest.mark.slow
def test_ranker_beats_random_order_with_the_real_encoder(labelled, encoder, tmp_path_factory):
    dataset, pairs, bare = labelled
    X = make_pair_frame(dataset, pairs, encoder, tmp_path_factory.mktemp("cache"), False)
    assert X["bio_goal_similarity"].notna().all() and list(X.columns) == list(FEATURES)
    split = grouped_split(pairs["mentee_id"].to_numpy(), seed=0)
    params = {**SMALL, "xgboost_ranker": {"n_estimators": 300}}
    metrics = evaluate_models(train_models(X, pairs, split, seed=0, params=params, n_jobs=1), X, pairs, split.test)

    test = split.test
    relevance, mentee = pairs["relevance"].to_numpy()[test], pairs["mentee_id"].to_numpy()[test]
    rng = np.random.default_rng(0)
    random = np.mean([ndcg_at_k(relevance, rng.random(len(test)), 10, mentee) for _ in range(20)])
    assert metrics["xgboost_ranker"]["ndcg@10"] > random + 0.04, (metrics, random)
    assert metrics["xgboost_ranker"]["roc_auc"] > 0.62

    without = evaluate_models(train_models(bare, pairs, split, seed=0, params=params, n_jobs=1), bare, pairs, test)
    assert all(np.isfinite(without[name]["roc_auc"]) for name in MODEL_NAMES)
