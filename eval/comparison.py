"""Model comparison behind ``scripts/train.py``: the four models judged, tuned, cross-validated.

The models are fitted by :mod:`ranking.training`; here they are judged on held-out mentees
in two views: classification (accuracy, precision, recall, F1 at each model's threshold,
ROC-AUC, average precision, GAUC) and ranking (NDCG@5/10 per mentee over the mentee's
observed interactions with graded relevance; every test mentee counts, see
:mod:`eval.metrics`). A 0/1 decision is a probability (the ranker's calibrated score) at or
above the model's F1-optimal threshold on validation (:class:`ranking.training.TrainedModels`);
ROC-AUC, average precision, GAUC and NDCG use the raw score. Tuning is a small grid search per model on the training mentees, folds grouped by
mentee; cross-validation refits everything per fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, ParameterGrid
from tqdm.auto import tqdm

from eval.metrics import classification_metrics, gauc, ndcg_at_k
from mentor_match.errors import InvalidParameterError, NotEnoughDataError
from ranking.baselines import make_baselines
from ranking.scorer import Scorer
from ranking.splits import GroupedSplit, grouped_folds, grouped_split
from ranking.training import (
    DEFAULT_THRESHOLD,
    MODEL_NAMES,
    NOT_ENOUGH_FIX,
    TrainedModels,
    make_ranker,
    train_models,
)

__all__ = ["METRICS", "TUNE_FOLDS", "TUNE_GRIDS", "cross_validate", "evaluate_models", "tune_models"]

METRICS = ("accuracy", "precision", "recall", "f1", "threshold", "roc_auc", "average_precision", "gauc",
           "ndcg@5", "ndcg@10")
TUNE_FOLDS = 3
TUNE_GRIDS: dict[str, dict[str, list]] = {
    "logistic_regression": {"C": [0.01, 0.1, 1.0, 10.0]},
    "random_forest": {"max_depth": [None, 10], "min_samples_leaf": [1, 10]},
    "xgboost_classifier": {"max_depth": [3, 6], "learning_rate": [0.05, 0.1]},
    "xgboost_ranker": {"max_depth": [3, 4, 6], "learning_rate": [0.05, 0.1]},
}
"""A small search per model: classifiers scored by ROC-AUC, the ranker by NDCG@10."""
CLASSIFIERS = ("logistic_regression", "random_forest", "xgboost_classifier")


def evaluate_models(
    trained: TrainedModels, X: pd.DataFrame, pairs: pd.DataFrame, rows: np.ndarray
) -> dict[str, dict[str, float]]:
    """The metrics of :data:`METRICS` for every model on ``rows`` (held-out mentees).

    ``pairs`` has the columns of :func:`ranking.training.build_training_pairs`, aligned
    with the features ``X``. A held-out part with one class only is refused.
    """
    Xt = X.iloc[rows]
    label = pairs["label"].to_numpy()[rows]
    relevance = pairs["relevance"].to_numpy()[rows]
    mentee = pairs["mentee_id"].to_numpy()[rows]
    if len(np.unique(label)) < 2:
        raise NotEnoughDataError(
            f"The held-out mentees' {len(rows)} pairs hold one class only, so they cannot be "
            f"evaluated. {NOT_ENOUGH_FIX}"
        )
    out = {}
    for name in MODEL_NAMES:
        scores = trained.scores(name, Xt)
        metrics = classification_metrics(label, trained.predictions(name, scores), scores)
        metrics["threshold"] = trained.thresholds.get(name, DEFAULT_THRESHOLD)
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
    for name in tqdm(CLASSIFIERS, desc="tuning classifiers", disable=not progress, leave=False):
        search = GridSearchCV(
            baselines[name], TUNE_GRIDS[name], scoring=_roc_auc, cv=folds, error_score="raise"
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
                "mean": float(np.nanmean([f[metric] for f in fold_metrics])),
                "std2": float(2 * np.nanstd([f[metric] for f in fold_metrics])),
            }
            for metric in METRICS
        }
        for name, fold_metrics in per_fold.items()
    }
    return {"folds": n_splits, "models": summary}


def _roc_auc(scorer: Scorer, X: pd.DataFrame, y: np.ndarray) -> float:
    """Grid-search score of a classifier scorer: ROC-AUC of its probabilities."""
    return float(roc_auc_score(y, scorer.predict(X)))


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
