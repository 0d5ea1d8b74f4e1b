"""eval.training_run: the whole training run on a small SQLite world, with the real MiniLM."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from db import get_engine, load_dataset
from eval.comparison import METRICS
from eval.training_run import HEADERS, LABELS, format_report, run_training
from mentor_match.errors import InvalidParameterError, NotEnoughDataError
from ranking.features import FEATURES
from ranking.heads import ReciprocalModel
from ranking.ranker import Ranker
from ranking.training import MODEL_NAMES, build_training_pairs, make_pair_frame
from synthetic import generate_world, write_world

SMALL = {  # small models keep the suite fast
    "random_forest": {"n_estimators": 60},
    "xgboost_classifier": {"n_estimators": 60},
    "xgboost_ranker": {"n_estimators": 300},
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """One artifacts folder per module, so the embedding cache is shared by the tests."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def world_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('world') / 'world.db'}"
    engine = get_engine(url, check=False)
    world = generate_world(n_mentors=80, n_mentees=250, interactions_per_mentee=8, seed=3)
    write_world(engine, world, reset=True, progress=False)
    engine.dispose()
    return url


def test_run_training_refuses_a_tiny_database(sqlite_url):
    engine = get_engine(sqlite_url, check=False)
    write_world(engine, generate_world(5, 6, 2, seed=0), reset=True, progress=False)
    engine.dispose()
    with pytest.raises(NotEnoughDataError, match="at least 50"):
        run_training(db_url=sqlite_url, artifacts="unused", progress=False)


@pytest.mark.parametrize("cv", [1, -1, 2.0, True])
def test_run_training_refuses_a_fold_count_that_cannot_work(cv):
    with pytest.raises(InvalidParameterError, match=r"The 'cv' parameter of run_training must be an int >= [02]\. Got"):
        run_training(db_url="sqlite:///unused.db", artifacts="unused", cv=cv, progress=False)


def test_format_report_lays_out_every_model_and_metric():
    models = {name: {m: 0.1 * i + 0.001 * j for j, m in enumerate(METRICS)} for i, name in enumerate(MODEL_NAMES)}
    cv = {name: {m: {"mean": 0.5, "std2": 0.02} for m in METRICS} for name in MODEL_NAMES}
    report = {
        "train_pairs": 80, "train_mentees": 10, "validation_pairs": 8, "test_pairs": 20,
        "test_mentees": 3, "usable_groups": {"train": 9, "validation": 1, "test": 3},
        "models": models, "best_model": "random_forest", "cv": {"folds": 2, "models": cv},
        "tuned": {"logistic_regression": {"params": {"C": 0.1}, "score": 0.75}},
        "feature_importance": {"domain_overlap": 0.4, "mentor_rating": 0.2},
        "ranker_path": "artifacts/ranker", "seconds": 3.25,
    }
    lines = format_report(report | {"test_base_rate": 0.25}).splitlines()
    title = lines.index("MODEL COMPARISON (held-out mentees, latest period)")
    assert lines[title + 1].startswith("Base rate 25.0% successful: predicting no for every pair has accuracy 0.7500.")
    header = title + 2
    assert lines[header].split()[1:] == list(HEADERS)
    for i, name in enumerate(MODEL_NAMES):
        row = lines[header + 2 + i]
        assert row.startswith(LABELS[name])
        assert row[len(LABELS[name]):].split() == [f"{0.1 * i + 0.001 * j:.4f}" for j in range(len(METRICS))]
    assert "Best model (by NDCG@10): Random Forest" in lines
    assert "2-FOLD GROUPED CROSS-VALIDATION (mean +/- 2 std)" in lines
    assert lines[lines.index("2-FOLD GROUPED CROSS-VALIDATION (mean +/- 2 std)") + 3].startswith(
        "Logistic Regression  0.5000 +/-0.020"
    )
    assert "  Logistic Regression   {'C': 0.1}  (ROC-AUC 0.7500)" in lines
    assert lines[-1] == "Ranker saved to artifacts/ranker (3.2 s)"


def test_format_report_shows_each_heads_metrics_or_why_they_were_skipped():
    models = {name: dict.fromkeys(METRICS, 0.5) for name in MODEL_NAMES}
    report = {
        "train_pairs": 80, "train_mentees": 10, "validation_pairs": 8, "test_pairs": 20,
        "test_mentees": 3, "usable_groups": {"train": 9}, "models": models, "best_model": "xgboost_ranker",
        "feature_importance": {"domain_overlap": 0.4}, "ranker_path": "artifacts/ranker", "seconds": 1.0,
    }
    accept = {"n": 40, "base_rate": 0.6, "roc_auc": 0.71, "log_loss": 0.58, "ece": 0.09}
    heads = {"path": "artifacts/heads", "skipped": None, "part": "test",
             "metrics": {"accept": accept, "success": accept | {"n": 12, "roc_auc": None}}}
    lines = format_report(report | {"heads": heads}).splitlines()
    title = lines.index("RECIPROCAL HEADS (held-out test requests)")
    assert lines[title + 1].split() == ["Head", "Rows", "Base", "rate", "ROC-AUC", "Log-loss", "ECE"]
    assert lines[title + 3].split() == ["accept", "40", "0.6000", "0.7100", "0.5800", "0.0900"]
    assert lines[title + 4].split() == ["success", "12", "0.6000", "-", "0.5800", "0.0900"]
    assert lines[title + 5] == "Heads saved to artifacts/heads"
    assert lines[-1] == "Ranker saved to artifacts/ranker (1.0 s)"
    skipped = format_report(report | {"heads": {"path": None, "skipped": "Not enough data for the accept head."}})
    assert "Reciprocal heads skipped: Not enough data for the accept head." in skipped.splitlines()


def test_too_little_data_for_the_heads_skips_them_and_still_publishes_the_ranker(sqlite_url, tmp_path, encoder):
    engine = get_engine(sqlite_url, check=False)
    write_world(engine, generate_world(30, 40, 3, seed=0), reset=True, progress=False)
    engine.dispose()
    artifacts = tmp_path / "artifacts"
    unasked = run_training(sqlite_url, artifacts, seed=0, encoder=encoder, progress=False, n_jobs=1,
                           params=SMALL, heads=False)
    assert unasked["heads"]["path"] is None and unasked["heads"]["skipped"].startswith("not asked for")
    report = run_training(sqlite_url, artifacts, seed=0, encoder=encoder, progress=False, n_jobs=1, params=SMALL)
    json.dumps(report)
    heads = report["heads"]
    assert heads["path"] is None and heads["metrics"] is None
    assert heads["skipped"].startswith("Not enough data for the accept head: ")
    assert heads["rows"]["accept"]["validation"] < 20  # the reason, in numbers
    assert Ranker.load(artifacts / "ranker").manifest["seed"] == 0
    assert not (artifacts / "heads").exists()
    assert f"Reciprocal heads skipped: {heads['skipped']}" in format_report(report)


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
    text = format_report(report)
    assert f"{report['models']['xgboost_ranker']['ndcg@10']:.4f}" in text

    folder = artifacts / "ranker"
    ranker = Ranker.load(folder)
    manifest = ranker.manifest
    assert manifest["encoder"] == encoder.identity
    assert manifest["tuned_params"] == report["tuned"]["xgboost_ranker"]["params"]
    assert manifest["params"]["n_estimators"] == 300
    assert manifest["training_data"]["pairs"]["test"] == report["test_pairs"]
    importance = json.loads((folder / "feature_importance.json").read_text())
    assert {row["feature"] for row in importance} == set(FEATURES)
    # The heads were trained on the same pairs and split and published beside the ranker.
    assert report["heads"]["path"] == str(artifacts / "heads")
    assert (artifacts / "heads" / "reliability.png").read_bytes()[1:4] == b"PNG"  # the heads' reliability plot
    heads = ReciprocalModel.load(artifacts / "heads")
    assert heads.accept.manifest["training_data"] == manifest["training_data"]
    assert report["heads"]["rows"]["accept"] == {part: report[f"{part}_pairs"] for part in ("train", "validation", "test")}

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
