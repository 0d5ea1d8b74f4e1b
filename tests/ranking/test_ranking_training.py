"""The training pipeline on a small synthetic world, with the real MiniLM encoder."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from db import Dataset, get_engine, load_dataset
from eval.metrics import ndcg_at_k
from mentor_match.errors import NotEnoughDataError
from ranking.features import FEATURES
from ranking.models import Ranker
from ranking.splits import grouped_split
from ranking.training import (
    METRICS,
    MODEL_NAMES,
    build_training_pairs,
    evaluate_models,
    format_report,
    make_pair_frame,
    run_training,
    train_models,
    usable_groups,
)
from synthetic import generate_world, write_world

SMALL = {  # small models keep the suite fast; the defaults are measured on the demo world
    "random_forest": {"n_estimators": 60},
    "xgboost_classifier": {"n_estimators": 60},
    "xgboost_ranker": {"n_estimators": 300},
}


@pytest.fixture(scope="module")
def world():
    return generate_world(n_mentors=80, n_mentees=250, interactions_per_mentee=8, seed=3)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """One artifacts folder per module, so the embedding cache is shared by the tests."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def world_url(world, tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('world') / 'world.db'}"
    engine = get_engine(url, check=False)
    write_world(engine, world, reset=True, progress=False)
    engine.dispose()
    return url


def _dataset(interactions: pd.DataFrame, world) -> Dataset:
    return Dataset(mentors=world.mentors, mentees=world.mentees, interactions=interactions)


def test_too_few_or_one_class_interactions_stop_with_a_how_to(world):
    done = world.interactions[world.interactions["status"] != "pending"]
    with pytest.raises(NotEnoughDataError, match=r"49 labelled interactions.*Generate more data"):
        build_training_pairs(_dataset(done.head(49), world))
    failures = done[~done["successful_match"].astype(bool)].head(200)
    with pytest.raises(NotEnoughDataError, match="all 200 labelled interactions are unsuccessful"):
        build_training_pairs(_dataset(failures, world))
    pairs = build_training_pairs(_dataset(done, world))
    assert set(pairs["relevance"]) == {0, 1, 2, 3} and set(pairs["label"]) == {0, 1}


def test_run_training_refuses_a_tiny_database(sqlite_url):
    engine = get_engine(sqlite_url, check=False)
    write_world(engine, generate_world(5, 6, 2, seed=0), reset=True, progress=False)
    engine.dispose()
    with pytest.raises(NotEnoughDataError, match="at least 50"):
        run_training(db_url=sqlite_url, artifacts="unused", progress=False)


def test_usable_groups_need_two_rows_and_two_labels():
    groups = [1, 1, 2, 2, 3, 4, 4, 4]
    labels = [0, 1, 1, 1, 0, 0, 2, 3]
    assert usable_groups(labels, groups) == 2  # 1 and 4; 2 has one label, 3 one row


@pytest.mark.slow
def test_ranker_beats_random_order_and_nan_similarity_does_not_crash(world, encoder, artifacts):
    dataset = _dataset(world.interactions, world)
    pairs = build_training_pairs(dataset)
    X = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", False)
    assert X["bio_goal_similarity"].notna().all() and list(X.columns) == list(FEATURES)
    split = grouped_split(pairs["mentee_id"].to_numpy(), seed=0)
    trained = train_models(X, pairs, split, seed=0, params=SMALL, n_jobs=1)
    metrics = evaluate_models(trained, X, pairs, split.test)
    assert set(metrics) == set(MODEL_NAMES)

    test = split.test
    relevance, mentee = pairs["relevance"].to_numpy()[test], pairs["mentee_id"].to_numpy()[test]
    rng = np.random.default_rng(0)
    random = np.mean([ndcg_at_k(relevance, rng.random(len(test)), 10, mentee) for _ in range(20)])
    assert metrics["xgboost_ranker"]["ndcg@10"] > random + 0.04, (metrics, random)  # ~0.08 measured
    assert metrics["xgboost_ranker"]["roc_auc"] > 0.62  # 0.68-0.74 over seeds

    bare = make_pair_frame(dataset, pairs, None, artifacts / "unused", False)
    assert bare["bio_goal_similarity"].isna().all()
    trained = train_models(bare, pairs, split, seed=0, params=SMALL, n_jobs=1)
    without = evaluate_models(trained, bare, pairs, test)
    assert all(np.isfinite(without[name]["roc_auc"]) for name in MODEL_NAMES)


@pytest.mark.slow
def test_run_training_reports_publishes_and_reloads(world_url, encoder, artifacts):
    report = run_training(
        db_url=world_url, artifacts=artifacts, seed=1, cv=2, tune=True, encoder=encoder,
        progress=False, n_jobs=1, params=SMALL,
    )
    json.dumps(report)  # json-able as promised
    assert set(report["models"]) == set(MODEL_NAMES)
    for metrics in report["models"].values():
        assert set(metrics) == set(METRICS) and all(0 <= v <= 1 for v in metrics.values())
    assert report["best_model"] in MODEL_NAMES
    assert report["usable_groups"]["test"] <= report["test_mentees"]
    assert set(report["tuned"]) == set(MODEL_NAMES)
    assert set(report["cv"]["models"]["xgboost_ranker"]["ndcg@10"]) == {"mean", "std2"}
    assert "MODEL COMPARISON" in format_report(report)

    folder = artifacts / "ranker"
    ranker = Ranker.load(folder)
    manifest = ranker.manifest
    assert manifest["encoder"] == encoder.identity
    assert manifest["tuned_params"] == report["tuned"]["xgboost_ranker"]["params"]
    assert manifest["params"]["n_estimators"] == 300
    assert manifest["training_data"]["pairs"]["test"] == report["test_pairs"]
    importance = json.loads((folder / "feature_importance.json").read_text())
    assert {row["feature"] for row in importance} == set(FEATURES)

    engine = get_engine(world_url)
    dataset = load_dataset(engine)
    engine.dispose()
    pairs = build_training_pairs(dataset).head(50)
    X = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", False)
    assert np.isfinite(ranker.predict(X)).all()

    first = os.readlink(folder)
    second = run_training(db_url=world_url, artifacts=artifacts, seed=2, encoder=encoder,
                          progress=False, n_jobs=1, params=SMALL)
    assert os.readlink(folder) != first and (artifacts / first).is_dir()  # previous kept
    assert Ranker.load(folder).manifest["seed"] == 2 and "tuned" not in second
