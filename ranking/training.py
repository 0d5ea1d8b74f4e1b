"""The training pipeline behind ``scripts/train.py``: data -> pairs -> features -> four models.

Pairs come from the interactions with a graded relevance and a binary success label
(:func:`ranking.features.interaction_labels`). Rows are split by mentee (train /
validation / test, no mentee in two parts); the validation part drives the ranker's
early stopping and the calibration of its score. The four models (three classifier
baselines as the original guide trains them, and the XGBoost ``rank:pairwise`` ranker) are
judged on the held-out mentees in two views: classification (accuracy, precision, recall,
F1, ROC-AUC, GAUC) and ranking (NDCG@5/10 per mentee over the mentee's observed
interactions with graded relevance; every test mentee counts, see :mod:`eval.metrics`).

The ranker has no probability. For its classification metrics its score is calibrated with
a one-feature logistic regression fitted on the validation split (Platt scaling), and
thresholded at 0.5 like the classifiers' probabilities; ROC-AUC, GAUC and NDCG use the raw
score. The published ranker is the one evaluated here (trained on the training split).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, ParameterGrid
from tqdm.auto import tqdm

from db.engine import get_engine
from db.fingerprint import data_fingerprint
from db.loading import load_dataset
from eval.metrics import classification_metrics, gauc, ndcg_at_k
from mentor_match.artifacts import publish_folder
from mentor_match.errors import InvalidParameterError, NotEnoughDataError
from ranking.features import interaction_labels, pair_features
from ranking.models import Ranker, make_baselines
from ranking.preranker import FIT_MENTEES, Preranker, fit_preranker, nearest_pairs
from ranking.splits import GroupedSplit, grouped_folds, grouped_split

logger = logging.getLogger(__name__)

TrainingReport = dict[str, Any]
"""A json-able dict; see :func:`run_training` for its keys."""

MIN_INTERACTIONS = 50
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
"""Shares of mentees held out for test and for the ranker's early stopping; evaluation
(:func:`eval.protocol.split_by_mentee`) splits with the same values."""
MODEL_NAMES = ("logistic_regression", "random_forest", "xgboost_classifier", "xgboost_ranker")
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "gauc", "ndcg@5", "ndcg@10")
RANKER_DEFAULTS: dict[str, Any] = {
    "objective": "rank:pairwise",
    "max_depth": 4,
    "learning_rate": 0.05,
    "n_estimators": 1000,  # an upper bound: early stopping on the validation mentees decides
}
"""Measured on the demo world (NDCG@10 on held-out training mentees): depth 4 at 0.05 beat
deeper trees, which overfit the small per-mentee groups within a few dozen rounds."""
TUNE_FOLDS = 3
TUNE_GRIDS: dict[str, dict[str, list]] = {
    "logistic_regression": {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
    "random_forest": {"max_depth": [None, 10], "min_samples_leaf": [1, 10]},
    "xgboost_classifier": {"max_depth": [3, 6], "learning_rate": [0.05, 0.1]},
    "xgboost_ranker": {"max_depth": [3, 4, 6], "learning_rate": [0.05, 0.1]},
}
"""A small search per model: classifiers scored by ROC-AUC, the ranker by NDCG@10."""
NOT_ENOUGH_FIX = (
    "Generate more data (python scripts/generate_synthetic_data.py with more mentees or "
    "interactions per mentee) or collect more interaction outcomes."
)


@dataclass
class TrainedModels:
    """The four fitted models of one split, plus the ranker's score calibration."""

    models: dict[str, Any]
    calibration: LogisticRegression

    def scores(self, name: str, X: pd.DataFrame) -> np.ndarray:
        """The model's score of each pair: a probability, or the ranker's raw score."""
        model = self.models[name]
        if isinstance(model, Ranker):
            return model.predict(X)
        return model.predict_proba(X)[:, 1]

    def predictions(self, name: str, X: pd.DataFrame, scores: np.ndarray) -> np.ndarray:
        """0/1 predictions: probability >= 0.5 (the ranker's through its calibration)."""
        if isinstance(self.models[name], Ranker):
            return (self.calibration.predict_proba(scores[:, None])[:, 1] >= 0.5).astype(int)
        return self.models[name].predict(X).astype(int)


# ---------------------------------------------------------------------------- data
def build_training_pairs(dataset) -> pd.DataFrame:
    """Labelled pairs of a dataset (anything with an ``interactions`` frame).

    Columns mentee_id, mentor_id, relevance (0-3), label (0/1), created_at. Raises
    :class:`NotEnoughDataError` below :data:`MIN_INTERACTIONS` labelled pairs or with one class.
    """
    pairs = interaction_labels(dataset.interactions)
    check_enough_data(pairs)
    return pairs


def check_enough_data(pairs: pd.DataFrame, where: str = "training") -> None:
    """Refuse to train or evaluate on too few labelled pairs or on a single class."""
    n = len(pairs)
    if n < MIN_INTERACTIONS:
        raise NotEnoughDataError(
            f"Not enough data for {where}: {n} labelled interactions (pending ones do not "
            f"count), at least {MIN_INTERACTIONS} are needed. {NOT_ENOUGH_FIX}"
        )
    classes = np.unique(pairs["label"])
    if len(classes) < 2:
        kind = "successful" if classes[0] == 1 else "unsuccessful"
        raise NotEnoughDataError(
            f"Not enough data for {where}: all {n} labelled interactions are {kind} matches, "
            f"so there is nothing to tell apart. {NOT_ENOUGH_FIX}"
        )


def usable_groups(labels: Iterable, groups: Iterable) -> int:
    """Ranking groups that can teach something: at least 2 rows and 2 distinct labels."""
    frame = pd.DataFrame({"g": np.asarray(groups), "y": np.asarray(labels)})
    stats = frame.groupby("g")["y"].agg(["size", "nunique"])
    return int(((stats["size"] >= 2) & (stats["nunique"] >= 2)).sum())


def embed_profiles(dataset, pairs: pd.DataFrame, encoder, cache_dir: Path, progress: bool):
    """Profiles in the pairs and their embeddings (bios, goals), through the on-disk cache."""
    from embeddings import EmbeddingCache

    mentors = dataset.mentors[dataset.mentors["mentor_id"].isin(pairs["mentor_id"])]
    mentees = dataset.mentees[dataset.mentees["mentee_id"].isin(pairs["mentee_id"])]
    cache = EmbeddingCache(cache_dir)
    mentor_vectors = cache.get_or_encode(encoder, mentors["bio"].tolist(), progress=progress)
    mentee_vectors = cache.get_or_encode(encoder, mentees["goals"].tolist(), progress=progress)
    return mentees, mentors, mentee_vectors.vectors, mentor_vectors.vectors


def make_pair_frame(dataset, pairs: pd.DataFrame, encoder, cache_dir: Path, progress: bool):
    """Features of the labelled pairs (columns :data:`FEATURES`, aligned with ``pairs``).

    Without an ``encoder`` ``bio_goal_similarity`` is NaN (the models cope with it).
    """
    if encoder is None:
        return pair_features(dataset.mentees, dataset.mentors, pairs[["mentee_id", "mentor_id"]])
    mentees, mentors, tee_vectors, tor_vectors = embed_profiles(
        dataset, pairs, encoder, cache_dir, progress
    )
    return pair_features(
        mentees,
        mentors,
        pairs[["mentee_id", "mentor_id"]],
        mentee_vectors=tee_vectors,
        mentor_vectors=tor_vectors,
        vectors_per="profile",
    )


def distil_preranker(
    ranker: Ranker, dataset, mentee_ids: np.ndarray, encoder, cache_dir: Path, seed: int = 42
) -> Preranker:
    """Fit :class:`ranking.preranker.Preranker` to ``ranker`` on the pools of nearest eligible
    mentors (active, not full) of up to 200 of ``mentee_ids``, as a query would see them."""
    from embeddings import EmbeddingCache

    chosen = np.random.default_rng(seed).choice(
        mentee_ids, min(FIT_MENTEES, len(mentee_ids)), replace=False
    )
    m = dataset.mentors
    mentors = m[m["active"] & (m["current_mentees"] < m["max_mentees"])]
    mentees = dataset.mentees[dataset.mentees["mentee_id"].isin(chosen)]
    cache = EmbeddingCache(cache_dir)
    bios = cache.get_or_encode(encoder, mentors["bio"].tolist(), progress=False).vectors
    goals = cache.get_or_encode(encoder, mentees["goals"].tolist(), progress=False).vectors
    pairs = nearest_pairs(mentees["mentee_id"].to_numpy(), goals, mentors["mentor_id"].to_numpy(), bios)
    features = pair_features(
        mentees, mentors, pairs, mentee_vectors=goals, mentor_vectors=bios, vectors_per="profile"
    )
    return fit_preranker(ranker, features, pairs["mentee_id"].to_numpy())


# ---------------------------------------------------------------------------- models
def train_models(
    X: pd.DataFrame,
    pairs: pd.DataFrame,
    split: GroupedSplit,
    *,
    seed: int = 42,
    params: dict[str, dict[str, Any]] | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> TrainedModels:
    """Fit the three baselines and the ranker on ``split.train``.

    The ranker early-stops on ``split.validation`` (groups = mentees, relevance graded),
    and its score is calibrated there. ``params`` overrides parameters per model name
    (e.g. the output of :func:`tune_models`).
    """
    params = params or {}
    train, valid = split.train, split.validation
    y = pairs["label"].to_numpy()
    models: dict[str, Any] = make_baselines(seed, n_jobs=n_jobs)
    for name in models:
        models[name].set_params(**params.get(name, {}))
    models["xgboost_ranker"] = make_ranker(seed, n_jobs=n_jobs, **params.get("xgboost_ranker", {}))
    for name in tqdm(MODEL_NAMES, desc="training", disable=not progress, leave=False):
        model = models[name]
        if isinstance(model, Ranker):
            eval_set = None
            if len(valid):
                eval_set = (X.iloc[valid], pairs["relevance"].iloc[valid], pairs["mentee_id"].iloc[valid])
            model.fit(
                X.iloc[train], pairs["relevance"].iloc[train], pairs["mentee_id"].iloc[train],
                eval_set=eval_set,
            )
        else:
            model.fit(X.iloc[train], y[train])
    calibration = _calibrate(models["xgboost_ranker"], X, y, valid if _two_classes(y[valid]) else train)
    return TrainedModels(models, calibration)


def make_ranker(seed: int = 42, *, n_jobs: int | None = None, **params: Any) -> Ranker:
    """The pipeline's ranker: XGBoost rank:pairwise with the project defaults."""
    return Ranker(**{**RANKER_DEFAULTS, "random_state": seed, "n_jobs": n_jobs, **params})


def evaluate_models(
    trained: TrainedModels, X: pd.DataFrame, pairs: pd.DataFrame, rows: np.ndarray
) -> dict[str, dict[str, float]]:
    """The metrics of :data:`METRICS` for every model on ``rows`` (held-out mentees)."""
    Xt = X.iloc[rows]
    label = pairs["label"].to_numpy()[rows]
    relevance = pairs["relevance"].to_numpy()[rows]
    mentee = pairs["mentee_id"].to_numpy()[rows]
    if not _two_classes(label):
        raise NotEnoughDataError(
            f"The held-out mentees' {len(rows)} pairs hold one class only, so they cannot be "
            f"evaluated. {NOT_ENOUGH_FIX}"
        )
    out = {}
    for name in MODEL_NAMES:
        scores = trained.scores(name, Xt)
        metrics = classification_metrics(label, trained.predictions(name, Xt, scores), scores)
        try:
            metrics["gauc"] = gauc(label, scores, mentee)
        except InvalidParameterError:  # no held-out mentee with both outcomes
            metrics["gauc"] = float("nan")
        metrics["ndcg@5"] = ndcg_at_k(relevance, scores, 5, groups=mentee)
        metrics["ndcg@10"] = ndcg_at_k(relevance, scores, 10, groups=mentee)
        out[name] = {k: float(metrics[k]) for k in METRICS}
    return out


def tune_models(
    X: pd.DataFrame,
    pairs: pd.DataFrame,
    split: GroupedSplit,
    *,
    seed: int = 42,
    params: dict[str, dict[str, Any]] | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """A small grid search per model (:data:`TUNE_GRIDS`) on the training split only.

    Folds group by mentee. Classifiers are scored by ROC-AUC; the ranker by mean NDCG@10
    per mentee, early-stopping on the validation split (disjoint from every fold).
    ``params`` are fixed base parameters per model that the grid varies around. Returns
    ``{model: {"params": best, "score": its mean CV score}}``.
    """
    params = params or {}
    train = split.train
    Xt, yt = X.iloc[train], pairs["label"].to_numpy()[train]
    groups = pairs["mentee_id"].to_numpy()[train]
    folds = list(grouped_folds(groups, TUNE_FOLDS, seed=seed))
    out: dict[str, dict[str, Any]] = {}
    baselines = make_baselines(seed, n_jobs=n_jobs)
    for name, model in baselines.items():
        model.set_params(**params.get(name, {}))
    for name in tqdm(("logistic_regression", "random_forest", "xgboost_classifier"),
                     desc="tuning classifiers", disable=not progress, leave=False):
        search = GridSearchCV(
            baselines[name], TUNE_GRIDS[name], scoring="roc_auc", cv=folds, error_score="raise"
        )
        search.fit(Xt, yt)
        out[name] = {"params": _plain(search.best_params_), "score": float(search.best_score_)}

    valid = split.validation
    eval_set = None
    if len(valid):
        eval_set = (X.iloc[valid], pairs["relevance"].iloc[valid], pairs["mentee_id"].iloc[valid])
    relevance = pairs["relevance"].to_numpy()[train]
    best: tuple[float, dict] | None = None
    grid = list(ParameterGrid(TUNE_GRIDS["xgboost_ranker"]))
    for candidate in tqdm(grid, desc="tuning ranker", disable=not progress, leave=False):
        fold_scores = []
        for fit_rows, score_rows in folds:
            ranker = make_ranker(seed, n_jobs=n_jobs, **{**params.get("xgboost_ranker", {}), **candidate})
            ranker.fit(Xt.iloc[fit_rows], relevance[fit_rows], groups[fit_rows], eval_set=eval_set)
            scores = ranker.predict(Xt.iloc[score_rows])
            fold_scores.append(ndcg_at_k(relevance[score_rows], scores, 10, groups=groups[score_rows]))
        mean = float(np.mean(fold_scores))
        if best is None or mean > best[0]:
            best = (mean, candidate)
    out["xgboost_ranker"] = {"params": _plain(best[1]), "score": best[0]}
    return out


def cross_validate(
    X: pd.DataFrame,
    pairs: pd.DataFrame,
    n_splits: int,
    *,
    seed: int = 42,
    params: dict[str, dict[str, Any]] | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Grouped k-fold: every model trained and evaluated per fold; mean and 2 x std.

    Inside each fold's training part a validation share (by mentee) is held out for the
    ranker's early stopping and calibration, as in the main split.
    """
    groups = pairs["mentee_id"].to_numpy()
    per_fold: dict[str, list[dict[str, float]]] = {name: [] for name in MODEL_NAMES}
    folds = list(grouped_folds(groups, n_splits, seed=seed))
    for fold, (rest, test) in enumerate(tqdm(folds, desc="cross-validation", disable=not progress)):
        inner = grouped_split(groups[rest], test_size=0.15, validation_size=0.0, seed=seed + fold)
        split = GroupedSplit(rest[inner.train], rest[inner.test], test)
        trained = train_models(X, pairs, split, seed=seed, params=params, n_jobs=n_jobs)
        for name, metrics in evaluate_models(trained, X, pairs, test).items():
            per_fold[name].append(metrics)
    summary = {
        name: {
            metric: {
                "mean": float(np.nanmean([f[metric] for f in folds_])),
                "std2": float(2 * np.nanstd([f[metric] for f in folds_])),
            }
            for metric in METRICS
        }
        for name, folds_ in per_fold.items()
    }
    return {"folds": n_splits, "models": summary}


# ---------------------------------------------------------------------------- pipeline
def run_training(
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    seed: int = 42,
    cv: int = 0,
    tune: bool = False,
    encoder=None,
    progress: bool = True,
    n_jobs: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> TrainingReport:
    """Load the data, train and evaluate the four models, publish the ranker.

    Returns a json-able dict: train_pairs, validation_pairs, test_pairs, train_mentees,
    test_mentees, usable_groups {train, validation, test}, models {name: METRICS},
    best_model (by NDCG@10), feature_importance {feature: share of total gain},
    ranker_path, seed, seconds, preranker (its weights and fit, see
    :mod:`ranking.preranker`); ``tuned`` with ``tune``; ``cv`` with ``cv >= 2``.
    ``encoder`` defaults to the shipped MiniLM; embeddings are cached under
    ``artifacts/cache``. ``params`` sets base parameters per model name (e.g.
    ``{"random_forest": {"n_estimators": 100}}``); tuned values override them.
    """
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 0 or cv == 1:
        raise InvalidParameterError(f"The 'cv' parameter of run_training must be 0 (off) or an int >= 2. Got {cv!r}.")
    started = time.perf_counter()
    artifacts = Path(artifacts)
    engine = get_engine(db_url)
    try:
        dataset = load_dataset(engine)
    finally:
        engine.dispose()
    pairs = build_training_pairs(dataset)
    if encoder is None:
        from embeddings import Encoder

        encoder = Encoder()
    X = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", progress)
    groups = pairs["mentee_id"].to_numpy()
    split = grouped_split(groups, test_size=TEST_SIZE, validation_size=VALIDATION_SIZE, seed=seed)

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
        "seed": seed,
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
        },
        "tuned_params": report.get("tuned", {}).get("xgboost_ranker", {}).get("params", {}),
        "calibration": {
            "coef": float(trained.calibration.coef_[0, 0]),
            "intercept": float(trained.calibration.intercept_[0]),
        },
        "metrics": report["models"]["xgboost_ranker"],
        "preranker": preranker.to_dict(),
    }
    report["ranker_path"] = str(publish_ranker(ranker, artifacts, metadata=metadata, importance=importance))
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def publish_ranker(
    ranker: Ranker,
    artifacts: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    importance: pd.Series | None = None,
) -> Path:
    """Save ``ranker`` (and its gain table) as ``artifacts/ranker``, atomically.

    The folder is written under a temporary name, read back, renamed to a versioned name,
    and ``artifacts/ranker`` (a symbolic link) is swapped to it in one rename; a reader
    never sees half a ranker and a failure leaves the previous one in place. The previous
    version is kept for rollback; older ones are removed.
    """

    def write(folder: Path) -> None:
        ranker.save(folder, metadata=metadata)
        if importance is not None:
            _write_importance(folder, importance)
        Ranker.load(folder)  # what was written reads back, checksums and all

    return publish_folder(artifacts, "ranker", write)


# ---------------------------------------------------------------------------- helpers
def _write_importance(folder: Path, importance: pd.Series) -> None:
    total = importance.sum()
    table = pd.DataFrame({
        "feature": importance.index,
        "gain": importance.to_numpy(),
        "share": importance.to_numpy() / total if total > 0 else 0.0,
    })
    (folder / "feature_importance.json").write_text(
        json.dumps(table.to_dict(orient="records"), indent=2) + "\n"
    )
    table.to_csv(folder / "feature_importance.csv", index=False)


def _calibrate(ranker: Ranker, X: pd.DataFrame, y: np.ndarray, rows: np.ndarray) -> LogisticRegression:
    """Platt scaling of the ranker's score on ``rows`` (score -> P(successful match))."""
    scores = ranker.predict(X.iloc[rows])
    return LogisticRegression().fit(scores[:, None], y[rows])


def _two_classes(labels: np.ndarray) -> bool:
    return len(np.unique(labels)) >= 2


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}


LABELS = {
    "logistic_regression": "Logistic Regression",
    "random_forest": "Random Forest",
    "xgboost_classifier": "XGBoost Classifier",
    "xgboost_ranker": "XGBoost Ranker",
}
HEADERS = ("Accuracy", "Precision", "Recall", "F1", "ROC-AUC", "GAUC", "NDCG@5", "NDCG@10")


def format_report(report: TrainingReport) -> str:
    """The original guide's comparison table, with GAUC and NDCG@5/10 added, as text."""
    lines = [
        f"Training set: {report['train_pairs']} pairs ({report['train_mentees']} mentees), "
        f"validation: {report['validation_pairs']} pairs",
        f"Test set: {report['test_pairs']} pairs ({report['test_mentees']} mentees, none seen in training)",
        "Usable ranking groups (>= 2 pairs, >= 2 outcomes): "
        + ", ".join(f"{k} {v}" for k, v in report["usable_groups"].items()),
        "",
        "MODEL COMPARISON (held-out mentees)",
        f"{'Model':<21}" + "".join(f"{h:>10}" for h in HEADERS),
    ]
    for name in MODEL_NAMES:
        row = report["models"][name]
        lines.append(f"{LABELS[name]:<21}" + "".join(f"{row[m]:>10.4f}" for m in METRICS))
    lines += ["", f"Best model (by NDCG@10): {LABELS[report['best_model']]}"]
    if "cv" in report:
        lines += ["", f"{report['cv']['folds']}-FOLD GROUPED CROSS-VALIDATION (mean +/- 2 std)",
                  f"{'Model':<21}" + "".join(f"{h:>16}" for h in HEADERS)]
        for name in MODEL_NAMES:
            row = report["cv"]["models"][name]
            cells = "".join(f"{row[m]['mean']:.4f} +/-{row[m]['std2']:.3f}".rjust(16) for m in METRICS)
            lines.append(f"{LABELS[name]:<21}" + cells)
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
