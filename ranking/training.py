"""Training data and model fitting behind ``scripts/train.py``: pairs -> features -> models.

Pairs come from the interactions with a graded relevance and a binary success label
(:func:`ranking.features.interaction_labels`), with each mentor's aggregates as of the
request (:mod:`ranking.history`). Rows are split by mentee and time (:func:`split_pairs`:
train and validation before a cut, test after it, no mentee in two parts; by mentee only
on request); the validation part drives the ranker's
early stopping and the calibration of its score. The four models are three classifier
baselines as the original guide trains them (:mod:`ranking.baselines`) and the XGBoost
``rank:pairwise`` ranker (:class:`ranking.ranker.Ranker`), all scorers of one interface
(:mod:`ranking.scorer`).

The ranker has no probability. For a 0/1 decision its score is calibrated with a
one-feature logistic regression fitted on the validation split (Platt scaling). Every
model's probability is then cut at the threshold that maximises F1 on the validation split
(:func:`choose_threshold`), not at 0.5, which at a low base rate predicts no positive at
all. Judging the models (comparison
on held-out mentees, tuning, cross-validation) belongs to evaluation
(:mod:`eval.comparison`); the whole run, from the database to the published ranker, is
:func:`eval.training_run.run_training`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from tqdm.auto import tqdm

from mentor_match.artifacts import publish_folder
from mentor_match.errors import NotEnoughDataError
from mentor_match.validation import check_choice
from ranking.baselines import make_baselines
from ranking.features import interaction_labels, pair_features
from ranking.history import mentor_state_at, mentors_as_of
from ranking.preranker import FIT_MENTEES, Preranker, fit_preranker, nearest_pairs
from ranking.ranker import Ranker
from ranking.scorer import Scorer
from ranking.snapshot import (
    SAMPLE_FOLDER,
    TrainingSample,
    load_training_sample,
    save_training_sample,
)
from ranking.splits import GroupedSplit, grouped_split, time_split

if TYPE_CHECKING:
    from db import Dataset
    from embeddings import Encoder

logger = logging.getLogger(__name__)

MIN_INTERACTIONS = 50
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
"""Shares of mentees held out for test and for the ranker's early stopping; evaluation
(:func:`eval.protocol.split_by_mentee`) splits with the same values."""
TEST_PERIOD = 0.3
"""With the time split, the share of the requests (the latest) the test period holds."""
SPLITS = ("time", "mentee")
"""``time``: by mentee and by time (:func:`ranking.splits.time_split`), the default;
``mentee``: by mentee only (:func:`ranking.splits.grouped_split`)."""
MODEL_NAMES = ("logistic_regression", "random_forest", "xgboost_classifier", "xgboost_ranker")
RANKER_DEFAULTS: dict[str, Any] = {
    "objective": "rank:pairwise",
    "max_depth": 4,
    "learning_rate": 0.05,
    "n_estimators": 1000,  # an upper bound: early stopping on the validation mentees decides
}
"""Shallow trees at a small step: deeper ones overfit the small per-mentee groups (the
measurements are in docs/decisions.md)."""
DEFAULT_THRESHOLD = 0.5
"""The decision threshold where validation cannot choose one (a single class there)."""
NOT_ENOUGH_FIX = (
    "Generate more data (python scripts/generate_synthetic_data.py with more mentees or "
    "interactions per mentee) or collect more interaction outcomes."
)


@dataclass
class TrainedModels:
    """The four fitted models of one split, the ranker's score calibration, and each model's
    decision threshold on its probability (:func:`choose_threshold`, on validation)."""

    models: dict[str, Scorer]
    calibration: LogisticRegression
    thresholds: dict[str, float] = field(default_factory=dict)

    def scores(self, name: str, X: pd.DataFrame) -> np.ndarray:
        """The model's score of each pair: a probability, or the ranker's raw score."""
        return self.models[name].predict(X)

    def probabilities(self, name: str, scores: np.ndarray) -> np.ndarray:
        """P(successful match) from the model's ``scores``: the classifiers' own, the
        ranker's through its calibration."""
        if isinstance(self.models[name], Ranker):
            return self.calibration.predict_proba(np.asarray(scores)[:, None])[:, 1]
        return np.asarray(scores, dtype=np.float64)

    def predictions(self, name: str, scores: np.ndarray) -> np.ndarray:
        """0/1 predictions: probability >= the model's threshold (0.5 where none was chosen)."""
        threshold = self.thresholds.get(name, DEFAULT_THRESHOLD)
        return (self.probabilities(name, scores) >= threshold).astype(int)


# ---------------------------------------------------------------------------- data
def build_training_pairs(dataset: Dataset) -> pd.DataFrame:
    """Labelled pairs of a dataset (anything with an ``interactions`` frame).

    Columns mentee_id, mentor_id, relevance (0-3), label (0/1), created_at. Raises
    :class:`NotEnoughDataError` below :data:`MIN_INTERACTIONS` labelled pairs or with one class.
    """
    pairs = interaction_labels(dataset.interactions)
    check_enough_data(pairs)
    return pairs


def split_pairs(pairs: pd.DataFrame, how: str = "time", seed: int = 42) -> GroupedSplit:
    """The train / validation / test split of training and evaluation (one of :data:`SPLITS`).

    ``time``: train and validation mentees' requests before the cut, test mentees' requests
    from the cut on (the latest :data:`TEST_PERIOD` of the requests); ``mentee``: all of a
    mentee's pairs in one part. Either way no mentee is in two parts.
    """
    check_choice("split", how, "split_pairs", SPLITS)
    groups = pairs["mentee_id"].to_numpy()
    if how == "mentee":
        return grouped_split(groups, test_size=TEST_SIZE, validation_size=VALIDATION_SIZE, seed=seed)
    return time_split(
        pairs["created_at"].to_numpy(), groups, test_size=TEST_SIZE,
        validation_size=VALIDATION_SIZE, test_period=TEST_PERIOD, seed=seed,
    )


def check_enough_data(pairs: pd.DataFrame, where: str = "training") -> None:
    """Refuse to train or evaluate on too few labelled pairs or on a single class.

    >>> check_enough_data(pd.DataFrame({"label": [0, 1] * 30}))
    >>> check_enough_data(pd.DataFrame({"label": [1] * 60}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.NotEnoughDataError: Not enough data for training: all 60 labelled interactions are successful matches, ...
    """
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
    """Ranking groups that can teach something: at least 2 rows and 2 distinct labels.

    >>> usable_groups([0, 1, 1, 1, 0], [1, 1, 2, 2, 3])  # group 2 has one label, 3 one row
    1
    """
    frame = pd.DataFrame({"g": np.asarray(groups), "y": np.asarray(labels)})
    stats = frame.groupby("g")["y"].agg(["size", "nunique"])
    return int(((stats["size"] >= 2) & (stats["nunique"] >= 2)).sum())


def embed_profiles(
    dataset: Dataset, pairs: pd.DataFrame, encoder: Encoder, cache_dir: Path, progress: bool
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Profiles in the pairs and their embeddings (bios, goals), through the on-disk cache."""
    from embeddings import EmbeddingCache

    mentors = dataset.mentors[dataset.mentors["mentor_id"].isin(pairs["mentor_id"])]
    mentees = dataset.mentees[dataset.mentees["mentee_id"].isin(pairs["mentee_id"])]
    cache = EmbeddingCache(cache_dir)
    mentor_vectors = cache.get_or_encode(encoder, mentors["bio"].tolist(), progress=progress)
    mentee_vectors = cache.get_or_encode(encoder, mentees["goals"].tolist(), progress=progress)
    return mentees, mentors, mentee_vectors.vectors, mentor_vectors.vectors


def make_pair_frame(
    dataset: Dataset,
    pairs: pd.DataFrame,
    encoder: Encoder | None,
    cache_dir: Path,
    progress: bool,
    *,
    point_in_time: bool = True,
) -> pd.DataFrame:
    """Features of the labelled pairs (columns :data:`FEATURES`, aligned with ``pairs``).

    With ``point_in_time`` (the default) each pair's mentor aggregates are the ones known
    at its request (``pairs.created_at``, :func:`ranking.history.mentor_state_at`), so no
    feature sees the pair's own outcome or a later one; ``False`` reads them as the mentors
    table holds them now (the leaky view, kept to measure the leak). Without an
    ``encoder`` ``bio_goal_similarity`` is NaN (the models cope with it).
    """
    state = None
    if point_in_time:
        asked = pd.DataFrame({"mentor_id": pairs["mentor_id"].to_numpy(), "at": pairs["created_at"].to_numpy()},
                             index=pairs.index)
        state = mentor_state_at(dataset.interactions, dataset.mentors, asked)
    ids = pairs[["mentee_id", "mentor_id"]]
    if encoder is None:
        return pair_features(dataset.mentees, dataset.mentors, ids, mentor_state=state)
    mentees, mentors, mentee_vectors, mentor_vectors = embed_profiles(
        dataset, pairs, encoder, cache_dir, progress
    )
    return pair_features(
        mentees,
        mentors,
        ids,
        mentee_vectors=mentee_vectors,
        mentor_vectors=mentor_vectors,
        vectors_per="profile",
        mentor_state=state,
    )


def serving_mentors(dataset: Dataset) -> pd.DataFrame:
    """The mentors as a query sees them after every interaction: aggregates as of now
    (:func:`ranking.history.mentors_as_of`), the same definition training uses per request."""
    return mentors_as_of(dataset.mentors, dataset.interactions)


def distil_preranker(
    ranker: Ranker,
    dataset: Dataset,
    mentee_ids: np.ndarray,
    encoder: Encoder,
    cache_dir: Path,
    seed: int = 42,
) -> Preranker:
    """Fit :class:`ranking.preranker.Preranker` to ``ranker`` on the pools of nearest eligible
    mentors (active, not full) of up to 200 of ``mentee_ids``, as a query would see them."""
    from embeddings import EmbeddingCache

    chosen = np.random.default_rng(seed).choice(
        mentee_ids, min(FIT_MENTEES, len(mentee_ids)), replace=False
    )
    catalogue = serving_mentors(dataset)
    mentors = catalogue[catalogue["active"] & (catalogue["current_mentees"] < catalogue["max_mentees"])]
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
    (e.g. the tuned ones of :func:`eval.comparison.tune_models`).
    """
    params = params or {}
    train, valid = split.train, split.validation
    y = pairs["label"].to_numpy()
    models: dict[str, Scorer] = dict(make_baselines(seed, n_jobs=n_jobs))
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
    trained = TrainedModels(models, calibration)
    if _two_classes(y[valid]):
        X_valid = X.iloc[valid]
        trained.thresholds = {
            name: choose_threshold(y[valid], trained.probabilities(name, trained.scores(name, X_valid)))
            for name in MODEL_NAMES
        }
    else:
        logger.warning("The validation pairs hold one class: every decision threshold stays at %s.",
                       DEFAULT_THRESHOLD)
    return trained


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The F1-optimal decision threshold: the probability at which predicting "successful"
    for every pair at or above it gives the best F1 on these (validation) pairs.

    A fixed 0.5 means nothing at a low base rate: a calibrated model then rarely reaches
    0.5 and predicts no positive at all. Ties in F1 take the highest threshold (fewer
    positives); the candidates are scikit-learn's ``precision_recall_curve`` thresholds.

    >>> choose_threshold(np.array([0, 0, 1, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4, 0.35]))
    0.3
    """
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    # The last (precision 1, recall 0) point has no threshold.
    f1 = np.divide(2 * precision[:-1] * recall[:-1], precision[:-1] + recall[:-1],
                   out=np.zeros(len(thresholds)), where=(precision[:-1] + recall[:-1]) > 0)
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(thresholds[best])


def make_ranker(seed: int = 42, *, n_jobs: int | None = None, **params: Any) -> Ranker:
    """The pipeline's ranker: XGBoost rank:pairwise with the project defaults.

    >>> ranker = make_ranker(7, max_depth=3)
    >>> ranker.objective, ranker.max_depth, ranker.random_state, ranker.n_estimators
    ('rank:pairwise', 3, 7, 1000)
    """
    return Ranker(**{**RANKER_DEFAULTS, "random_state": seed, "n_jobs": n_jobs, **params})


def publish_ranker(
    ranker: Ranker,
    artifacts: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    importance: pd.Series | None = None,
    keep: int = 2,
    sample: TrainingSample | None = None,
) -> Path:
    """Save ``ranker`` (and its gain table) as ``artifacts/ranker``, atomically.

    ``sample`` (:func:`ranking.snapshot.draw_training_sample`) is published inside the
    folder as its training snapshot (``training_sample/``), which monitoring compares with
    the features served.

    The folder is written under a temporary name, read back, renamed to a versioned name,
    and ``artifacts/ranker`` (a symbolic link) is swapped to it in one rename; a reader
    never sees half a ranker and a failure leaves the previous one in place. ``keep``
    versions are kept (the new one and the previous one by default, for rollback; see
    :func:`mentor_match.artifacts.publish_folder`); older ones are removed.
    """

    def write(folder: Path) -> None:
        ranker.save(folder, metadata=metadata)
        if importance is not None:
            _write_importance(folder, importance)
        if sample is not None:
            save_training_sample(folder / SAMPLE_FOLDER, sample)
            load_training_sample(folder)  # checksums and shapes read back
        Ranker.load(folder)  # what was written reads back, checksums and all

    return publish_folder(artifacts, "ranker", write, keep=keep)


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
