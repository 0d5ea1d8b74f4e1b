"""The training run behind ``scripts/train.py``: load, train, compare, publish; its report.

:func:`run_training` loads the database, builds the labelled pairs and their features
(mentor aggregates as of each request), splits by mentee and time (by mentee only on
request), optionally tunes (:func:`eval.comparison.tune_models`), fits the four
models (:func:`ranking.training.train_models`), judges them on the held-out mentees
(:func:`eval.comparison.evaluate_models`, optionally cross-validated too), distils the
pre-ranker and publishes the ranker. :func:`format_report` renders the report as the
original guide's comparison table, with GAUC and NDCG@5/10 added.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from db.engine import get_engine
from db.fingerprint import data_fingerprint
from db.loading import load_dataset
from eval.comparison import METRICS, cross_validate, evaluate_models, tune_models
from mentor_match.text import format_table
from mentor_match.validation import check_int
from ranking.training import (
    DEFAULT_THRESHOLD,
    MODEL_NAMES,
    build_training_pairs,
    distil_preranker,
    make_pair_frame,
    publish_ranker,
    split_pairs,
    train_models,
    usable_groups,
)
from retrieval.experiments import variant_folder

if TYPE_CHECKING:
    from embeddings import Encoder

__all__ = ["HEADERS", "LABELS", "TrainingReport", "format_report", "run_training"]

TrainingReport = dict[str, Any]
"""A json-able dict; see :func:`run_training` for its keys."""

LABELS = {
    "logistic_regression": "Logistic Regression",
    "random_forest": "Random Forest",
    "xgboost_classifier": "XGBoost Classifier",
    "xgboost_ranker": "XGBoost Ranker",
}
HEADERS = ("Accuracy", "Precision", "Recall", "F1", "Threshold", "ROC-AUC", "AP", "GAUC", "NDCG@5", "NDCG@10")
"""Column titles of :data:`eval.comparison.METRICS`, in its order."""


def run_training(
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    seed: int = 42,
    cv: int = 0,
    tune: bool = False,
    encoder: Encoder | None = None,
    progress: bool = True,
    n_jobs: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    variant: str | None = None,
    split: str = "time",
    point_in_time: bool = True,
) -> TrainingReport:
    """Load the data, train and evaluate the four models, publish the ranker.

    Returns a json-able dict: train_pairs, validation_pairs, test_pairs, train_mentees,
    test_mentees, test_base_rate (share of successful test pairs), usable_groups {train,
    validation, test}, models {name: METRICS}, split, point_in_time,
    best_model (by NDCG@10), feature_importance {feature: share of total gain},
    ranker_path, seed, seconds, preranker (its weights and fit, see
    :mod:`ranking.preranker`); ``tuned`` with ``tune``; ``cv`` with ``cv >= 2`` (0: off).
    ``encoder`` defaults to the shipped MiniLM; embeddings are cached under
    ``artifacts/cache``. ``params`` sets base parameters per model name (e.g.
    ``{"random_forest": {"n_estimators": 100}}``); tuned values override them. ``variant``
    publishes the ranker as that A/B variant (``artifacts/variants/<variant>/ranker``, see
    :mod:`retrieval.experiments`) instead of the control's ``artifacts/ranker``. ``split``
    is ``time`` (train and validation before a cut, test after it) or ``mentee``
    (:func:`ranking.training.split_pairs`); ``point_in_time=False`` reads the mentor
    aggregates as the table holds them now (leaky; to measure the leak only).
    """
    check_int("cv", cv, "run_training", low=0)
    if cv == 1:  # 0 is off; one fold would have nothing to train on
        check_int("cv", cv, "run_training", low=2)
    started = time.perf_counter()
    artifacts = Path(artifacts)
    publish_to = artifacts if variant is None else variant_folder(artifacts, variant)
    engine = get_engine(db_url)
    try:
        dataset = load_dataset(engine)
    finally:
        engine.dispose()
    pairs = build_training_pairs(dataset)
    if encoder is None:
        from embeddings import Encoder

        encoder = Encoder()
    X = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", progress, point_in_time=point_in_time)
    groups = pairs["mentee_id"].to_numpy()
    how = split
    split = split_pairs(pairs, how, seed)

    report: TrainingReport = {
        "train_pairs": len(split.train),
        "validation_pairs": len(split.validation),
        "test_pairs": len(split.test),
        "train_mentees": int(len(np.unique(groups[split.train]))),
        "test_mentees": int(len(np.unique(groups[split.test]))),
        "usable_groups": {
            part: usable_groups(pairs["relevance"].to_numpy()[rows], groups[rows])
            for part, rows in (("train", split.train), ("validation", split.validation), ("test", split.test))
        },
        "test_base_rate": float(pairs["label"].to_numpy()[split.test].mean()),
        "seed": seed,
        "split": how,
        "point_in_time": point_in_time,
    }
    base = params or {}
    params = {name: dict(base.get(name, {})) for name in MODEL_NAMES}
    if tune:
        report["tuned"] = tune_models(
            X, pairs, split, seed=seed, params=base, n_jobs=n_jobs, progress=progress
        )
        for name, entry in report["tuned"].items():
            params[name].update(entry["params"])
    trained = train_models(X, pairs, split, seed=seed, params=params, n_jobs=n_jobs, progress=progress)
    report["models"] = evaluate_models(trained, X, pairs, split.test)
    report["best_model"] = max(MODEL_NAMES, key=lambda n: report["models"][n]["ndcg@10"])
    if cv:
        report["cv"] = cross_validate(X, pairs, cv, seed=seed, params=params, n_jobs=n_jobs, progress=progress)

    ranker = trained.models["xgboost_ranker"]
    preranker = distil_preranker(
        ranker, dataset, np.unique(groups[split.train]), encoder, artifacts / "cache", seed
    )
    report["preranker"] = preranker.to_dict()
    importance = ranker.feature_importance("gain")
    total = importance.sum()
    shares = importance / total if total > 0 else importance
    report["feature_importance"] = {k: float(v) for k, v in shares.items()}
    metadata = {
        "encoder": encoder.identity,
        "seed": seed,
        "training_data": {
            "mentors": data_fingerprint(dataset.mentors, "mentor_id", ["bio", "updated_at"]),
            "mentees": data_fingerprint(dataset.mentees, "mentee_id", ["goals", "updated_at"]),
            "interactions": data_fingerprint(
                dataset.interactions, "interaction_id", ["status", "successful_match"]
            ),
            "pairs": {part: report[f"{part}_pairs"] for part in ("train", "validation", "test")},
            "split": how,
            "point_in_time": point_in_time,
            "trained_until": str(pairs["created_at"].to_numpy()[split.train].max()),
        },
        "tuned_params": report.get("tuned", {}).get("xgboost_ranker", {}).get("params", {}),
        "calibration": {
            "coef": float(trained.calibration.coef_[0, 0]),
            "intercept": float(trained.calibration.intercept_[0]),
            "threshold": trained.thresholds.get("xgboost_ranker", DEFAULT_THRESHOLD),
        },
        "metrics": report["models"]["xgboost_ranker"],
        "preranker": preranker.to_dict(),
        "variant": variant,
    }
    report["ranker_path"] = str(publish_ranker(ranker, publish_to, metadata=metadata, importance=importance))
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _base_rate_line(base_rate: float | None) -> str:
    """What accuracy is worth here: the test pairs' base rate and the always-no accuracy."""
    if base_rate is None:
        return "Decision thresholds: F1-optimal on validation; AP is average precision (PR-AUC)."
    return (f"Base rate {base_rate:.1%} successful: predicting no for every pair has accuracy "
            f"{1 - base_rate:.4f}. Thresholds: F1-optimal on validation; AP: average precision.")


def format_report(report: TrainingReport) -> str:
    """The original guide's comparison table, with GAUC and NDCG@5/10 added, as text.

    >>> row = dict.fromkeys(METRICS, 0.5)
    >>> report = {"train_pairs": 80, "train_mentees": 10, "validation_pairs": 8,
    ...     "test_pairs": 20, "test_mentees": 3, "usable_groups": {"train": 9, "test": 3},
    ...     "models": dict.fromkeys(MODEL_NAMES, row), "best_model": "xgboost_ranker",
    ...     "feature_importance": {"domain_overlap": 0.4}, "ranker_path": "artifacts/ranker",
    ...     "seconds": 1.0}
    >>> print(format_report(report).splitlines()[6])
    Model                Accuracy  Precision  Recall      F1  Threshold  ROC-AUC      AP    GAUC  NDCG@5  NDCG@10
    """
    lines = [
        f"Training set: {report['train_pairs']} pairs ({report['train_mentees']} mentees), "
        f"validation: {report['validation_pairs']} pairs",
        f"Test set: {report['test_pairs']} pairs ({report['test_mentees']} mentees, none seen in training"
        + ("; requested after every training pair)" if report.get("split", "time") == "time" else ")"),
        "Usable ranking groups (>= 2 pairs, >= 2 outcomes): "
        + ", ".join(f"{k} {v}" for k, v in report["usable_groups"].items()),
        "",
        "MODEL COMPARISON (held-out mentees" + (", latest period)" if report.get("split", "time") == "time" else ")"),
        _base_rate_line(report.get("test_base_rate")),
        format_table(
            ["Model", *HEADERS],
            [[LABELS[name], *(f"{report['models'][name][m]:.4f}" for m in METRICS)] for name in MODEL_NAMES],
        ),
        "",
        f"Best model (by NDCG@10): {LABELS[report['best_model']]}",
    ]
    if "cv" in report:
        cv = report["cv"]["models"]
        lines += [
            "",
            f"{report['cv']['folds']}-FOLD GROUPED CROSS-VALIDATION (mean +/- 2 std)",
            format_table(
                ["Model", *HEADERS],
                [
                    [LABELS[name], *(f"{cv[name][m]['mean']:.4f} +/-{cv[name][m]['std2']:.3f}" for m in METRICS)]
                    for name in MODEL_NAMES
                ],
            ),
        ]
    if "tuned" in report:
        lines += ["", "Tuned parameters (grouped 3-fold search on the training mentees):"]
        for name, entry in report["tuned"].items():
            metric = "NDCG@10" if name == "xgboost_ranker" else "ROC-AUC"
            lines.append(f"  {LABELS[name]:<21} {entry['params']}  ({metric} {entry['score']:.4f})")
    top = list(report["feature_importance"].items())[:5]
    lines += ["", "Top ranker features (share of gain): "
              + ", ".join(f"{k} {v:.2f}" for k, v in top),
              f"Ranker saved to {report['ranker_path']} ({report['seconds']:.1f} s)"]
    return "\n".join(lines)
