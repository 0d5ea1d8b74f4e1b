"""The training run behind ``scripts/train.py``: load, train, compare, publish; its report.

:func:`run_training` loads the database, builds the labelled pairs and their features
(mentor aggregates as of each request), splits by mentee and time (by mentee only on
request), optionally tunes (:func:`eval.comparison.tune_models`), fits the four
models (:func:`ranking.training.train_models`), judges them on the held-out mentees
(:func:`eval.comparison.evaluate_models`, optionally cross-validated too), distils the
pre-ranker and publishes the ranker with its training snapshot (a seeded sample of 5,000
training feature rows and their scores, :mod:`ranking.snapshot`, which ``scripts/monitor.py``
compares with the features served). On the same features and split it trains the reciprocal
model's two heads (:mod:`ranking.heads`: P(accept | requested), P(success | accepted)),
judges each on its held-out requests (:func:`eval.heads.head_metrics`) and publishes them
beside the ranker as ``heads``, where an A/B variant scored by ``reciprocal`` or ``blend``
reads them (:mod:`retrieval.scoring`); too little data for a head skips the heads, not the
run. :func:`format_report` renders the report as the original guide's comparison table,
with GAUC and NDCG@5/10 added, and the heads' block.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from db.fingerprint import training_fingerprints
from db.loading import read_dataset
from eval.comparison import METRICS, cross_validate, evaluate_models, tune_models
from eval.heads import evaluate_heads, head_metrics
from mentor_match.artifacts import publish_folder
from mentor_match.errors import NotEnoughDataError
from mentor_match.text import format_table
from mentor_match.validation import check_int
from ranking.heads import (
    HEADS,
    PARTS,
    HeadsData,
    ReciprocalModel,
    build_heads_data,
    resolved_requests,
    train_heads,
)
from ranking.snapshot import draw_training_sample
from ranking.splits import GroupedSplit
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
    from db import Dataset
    from embeddings import Encoder

logger = logging.getLogger(__name__)

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
HEADS_FOLDER = "heads"
"""The heads' name beside the ranker: ``artifacts/heads``, ``artifacts/variants/<name>/heads``."""
HEAD_METRICS = ("n", "base_rate", "mean_predicted", "roc_auc", "average_precision", "log_loss", "ece")
"""What the report keeps of :func:`eval.heads.head_metrics` per head (its reliability curve is
:func:`eval.heads.evaluate_heads`' to draw)."""
HEADS_PART = "test"


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
    heads: bool = True,
) -> TrainingReport:
    """Load the data, train and evaluate the four models, publish the ranker (and the heads).

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

    With ``heads`` (the default) the reciprocal heads are trained on the same features and
    split and published beside the ranker (``artifacts/heads``, or
    ``artifacts/variants/<variant>/heads``); the report's ``heads`` key is {path (None when
    not published), skipped (why not, or None), part ("test"), rows {head: {part: rows}},
    metrics {head: {n, base_rate, mean_predicted, roc_auc, average_precision, log_loss, ece}
    on the held-out requests, or None where that part has no rows}}. Too little data for a
    head (:class:`NotEnoughDataError`) skips the heads with the reason in ``skipped``; the
    ranker is published all the same and heads published earlier stay in place.
    """
    check_int("cv", cv, "run_training", low=0)
    if cv == 1:  # 0 is off; one fold would have nothing to train on
        check_int("cv", cv, "run_training", low=2)
    started = time.perf_counter()
    artifacts = Path(artifacts)
    publish_to = artifacts if variant is None else variant_folder(artifacts, variant)
    dataset = read_dataset(db_url)
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
            **training_fingerprints(dataset),
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
    model, report["heads"] = None, _skipped("not asked for (heads=False; scripts/train.py --no-heads)")
    if heads:
        heads_data = _heads_data(dataset, pairs, X, split, how, seed, encoder, artifacts / "cache")
        model, report["heads"] = _train_heads(heads_data, seed, n_jobs)
    sample = draw_training_sample(X.iloc[split.train], ranker, seed=seed)
    report["ranker_path"] = str(
        publish_ranker(ranker, publish_to, metadata=metadata, importance=importance, sample=sample)
    )
    if model is not None:
        heads_metadata = {key: metadata[key] for key in ("encoder", "seed", "training_data", "variant")}
        heads_metadata["metrics"] = report["heads"]["metrics"]
        plot = all(report["heads"]["metrics"].values())  # every head has held-out rows to draw
        report["heads"]["path"] = str(_publish_heads(model, publish_to, heads_metadata, heads_data if plot else None))
    elif (publish_to / HEADS_FOLDER).exists():
        report["heads"]["skipped"] += (
            f" The heads already at {str(publish_to / HEADS_FOLDER)!r} stay in place (trained on earlier data)."
        )
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _skipped(reason: str) -> dict[str, Any]:
    """The report's ``heads`` entry of heads that were not trained."""
    return {"path": None, "skipped": reason, "part": HEADS_PART, "rows": None, "metrics": None}


def _heads_data(
    dataset: Dataset, pairs: pd.DataFrame, X: pd.DataFrame, split: GroupedSplit, how: str, seed: int,
    encoder: Encoder, cache: Path,
) -> HeadsData:
    """The heads' rows over the ranker's features and split when they are the same requests
    (they are: both keep the latest resolved request of each pair); else built afresh."""
    requests = resolved_requests(dataset.interactions)
    keys = ["mentee_id", "mentor_id", "created_at"]
    if len(requests) == len(pairs) and requests[keys].reset_index(drop=True).equals(pairs[keys].reset_index(drop=True)):
        return HeadsData(requests, X.reset_index(drop=True), split)
    logger.info("The resolved requests differ from the ranker's pairs: building the heads' features afresh.")
    return build_heads_data(dataset, encoder=encoder, cache_dir=cache, split=how, seed=seed)


def _train_heads(data: HeadsData, seed: int, n_jobs: int | None) -> tuple[ReciprocalModel | None, dict[str, Any]]:
    """The fitted heads (None when a head lacks data) and the report's ``heads`` entry."""
    rows = {head: {part: len(data.rows(head, part)) for part in PARTS} for head in HEADS}
    try:
        model = train_heads(data, seed=seed, n_jobs=n_jobs)
    except NotEnoughDataError as exc:
        logger.info("The reciprocal heads were not trained: %s", exc)
        return None, {**_skipped(str(exc)), "rows": rows}
    metrics: dict[str, dict[str, Any] | None] = {}
    for head in HEADS:
        X, y = data.labelled(head, HEADS_PART)
        if not len(y):
            metrics[head] = None
            continue
        probability = model.predict_accept(X) if head == "accept" else model.predict_success(X)
        measured = head_metrics(y, probability)
        metrics[head] = {key: measured[key] for key in HEAD_METRICS}
    return model, {"path": None, "skipped": None, "part": HEADS_PART, "rows": rows, "metrics": metrics}


def _publish_heads(
    model: ReciprocalModel, publish_to: Path, metadata: dict[str, Any], data: HeadsData | None
) -> Path:
    """Save the heads as ``publish_to/heads`` atomically (written, read back, link swapped),
    with their reliability plot on the held-out requests (:data:`eval.heads.PLOT_FILE`) when
    ``data`` is given."""

    def write(folder: Path) -> None:
        model.save(folder, metadata=metadata)
        ReciprocalModel.load(folder)  # what was written reads back, checksums and all
        if data is not None:
            evaluate_heads(model, data, folder, part=HEADS_PART)

    return publish_folder(publish_to, HEADS_FOLDER, write)


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
    lines += _heads_lines(report.get("heads"))
    top = list(report["feature_importance"].items())[:5]
    lines += ["", "Top ranker features (share of gain): "
              + ", ".join(f"{k} {v:.2f}" for k, v in top),
              f"Ranker saved to {report['ranker_path']} ({report['seconds']:.1f} s)"]
    return "\n".join(lines)


def _heads_lines(heads: dict[str, Any] | None) -> list[str]:
    """The report's block on the reciprocal heads (nothing for a report without them).

    >>> metrics = {"n": 40, "base_rate": 0.25, "roc_auc": 0.75, "log_loss": 0.5, "ece": 0.0625}
    >>> print("\\n".join(_heads_lines({"path": "artifacts/heads", "skipped": None, "part": "test",
    ...     "metrics": {"accept": metrics, "success": None}})))
    <BLANKLINE>
    RECIPROCAL HEADS (held-out test requests)
    Head     Rows  Base rate  ROC-AUC  Log-loss     ECE
    -------  ----  ---------  -------  --------  ------
    accept     40     0.2500   0.7500    0.5000  0.0625
    success     0          -        -         -       -
    Heads saved to artifacts/heads
    >>> _heads_lines({"path": None, "skipped": "Not enough data.", "part": "test"})[1]
    'Reciprocal heads skipped: Not enough data.'
    """
    if not heads:
        return []
    if heads.get("skipped"):
        return ["", f"Reciprocal heads skipped: {heads['skipped']}"]

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    rows = []
    for head in HEADS:
        measured = (heads.get("metrics") or {}).get(head)
        if measured is None:
            rows.append([head, "0", "-", "-", "-", "-"])
        else:
            rows.append([head, str(measured["n"]), *(number(measured[key]) for key in ("base_rate", "roc_auc", "log_loss", "ece"))])
    return [
        "",
        f"RECIPROCAL HEADS (held-out {heads.get('part', HEADS_PART)} requests)",
        format_table(["Head", "Rows", "Base rate", "ROC-AUC", "Log-loss", "ECE"], rows),
        f"Heads saved to {heads['path']}",
    ]
