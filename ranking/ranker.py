"""The learning-to-rank model: :class:`Ranker`, XGBoost or LightGBM on query-grouped rows.

It follows the scorer interface of :mod:`ranking.scorer` (scikit-learn's estimator
contract: the constructor only stores parameters, ``fit`` returns self, learned state ends
in ``_``, an unfitted ranker raises :class:`mentor_match.errors.NotFittedError`, ``clone``
and ``get_params`` work). Extra keyword arguments go to the library, after a check that the
library knows their names (:mod:`ranking.boosting`).

A saved ranker is a folder: the booster in its library's own format (XGBoost
``model.json``, LightGBM ``model.txt``) plus ``manifest.json`` (objective, parameters,
feature list, :data:`ranking.features.FEATURE_VERSION`, library versions, checksums,
time and whatever the trainer adds, e.g. the data fingerprint). No pickle anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp
import xgboost as xgb
from sklearn.base import BaseEstimator

from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError, InvalidParameterError, NotFittedError
from mentor_match.validation import check_int
from ranking.boosting import (
    check_library_params,
    lightgbm_parameters,
    lightgbm_params,
    train_lightgbm,
    train_xgboost,
    xgboost_parameters,
    xgboost_params,
)
from ranking.features import FEATURE_VERSION, FEATURES
from ranking.scorer import as_matrix, feature_names, in_training_order, jsonable, library_versions

logger = logging.getLogger(__name__)

OBJECTIVES: dict[str, str] = {
    "rank:pairwise": "xgboost",
    "rank:ndcg": "xgboost",
    "lambdarank": "lightgbm",
}
KIND, VERSION = "ranker", 2  # version 1 had its own manifest layout, without a self-checksum
RETRAIN = "Retrain with scripts/train.py to write a fresh ranker folder."
MODEL_FILES = {"xgboost": "model.json", "lightgbm": "model.txt"}


class Ranker(BaseEstimator):
    """Gradient-boosted learning-to-rank model: XGBoost (``rank:pairwise``, ``rank:ndcg``)
    or LightGBM (``lambdarank``), on any query-grouped data.

    The named parameters mean the same for both libraries (translated to each one's
    names); ``lambdarank_pair_method`` and ``lambdarank_num_pair_per_sample`` are set
    explicitly for XGBoost, whose defaults changed between releases (LightGBM has no such
    knob; pass e.g. ``lambdarank_truncation_level`` as an extra parameter). Extra keyword
    arguments go to the library unchanged; ``fit`` refuses a name the library does not
    know (``max_dept=2`` is an error, not the default depth). ``early_stopping_rounds``
    only applies when ``fit`` gets an ``eval_set``; it watches NDCG@``eval_at`` there.

    ``n_jobs`` threads train (None: all cores) and predict (None: one thread: serving
    batches are small, and OpenMP threads contend on a busy machine).

    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, size=40)
    >>> group = np.repeat(np.arange(8), 5)
    >>> ranker = Ranker(n_estimators=5, n_jobs=1).fit(X, y, group)
    >>> ranker.predict(X[:5]).shape, ranker.n_groups_
    ((5,), 8)
    >>> Ranker(max_dept=2).fit(X, y, group)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: Ranker got the parameter 'max_dept' (did you mean 'max_depth'?), ...
    """

    def __init__(
        self,
        objective: str = "rank:pairwise",
        *,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 1.0,
        lambdarank_pair_method: str = "topk",
        lambdarank_num_pair_per_sample: int = 32,
        early_stopping_rounds: int | None = 50,
        eval_at: int = 10,
        random_state: int = 0,
        n_jobs: int | None = None,
        **params: Any,
    ) -> None:
        self.objective = objective
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.lambdarank_pair_method = lambdarank_pair_method
        self.lambdarank_num_pair_per_sample = lambdarank_num_pair_per_sample
        self.early_stopping_rounds = early_stopping_rounds
        self.eval_at = eval_at
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.kwargs = params

    # --------------------------------------------------- scikit-learn plumbing
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Named parameters plus the extra library parameters (so ``clone`` keeps them)."""
        out = super().get_params(deep=deep)
        out.update(self.kwargs)
        return out

    def set_params(self, **params: Any) -> Ranker:
        named = set(self._get_param_names())
        for key, value in params.items():
            if key in named:
                setattr(self, key, value)
            else:
                self.kwargs[key] = value
        return self

    @property
    def library(self) -> str:
        """``"xgboost"`` or ``"lightgbm"``, from the objective."""
        try:
            return OBJECTIVES[self.objective]
        except KeyError:
            raise InvalidParameterError(
                f"The 'objective' parameter of Ranker must be one of {list(OBJECTIVES)}. "
                f"Got {self.objective!r}."
            ) from None

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The manifest this ranker was loaded from or last saved with ({} otherwise)."""
        return getattr(self, "manifest_", {})

    # --------------------------------------------------------------- training
    def fit(
        self,
        X: Any,
        y: Any,
        group: Any = None,
        *,
        eval_set: tuple | None = None,
    ) -> Ranker:
        """Learn from rows ``X`` with graded relevance ``y`` (ints >= 0); ``group`` is the
        query id of each row (any order: rows are stably sorted by it inside), required.

        ``eval_set=(X_val, y_val, group_val)`` enables early stopping; the kept model has
        exactly the best number of trees. Returns self.
        """
        library = self.library
        if group is None:
            raise InvalidParameterError(
                "Ranker.fit needs `group`, the query (e.g. mentee id) of each row: a ranker "
                "learns the order within each query."
            )
        Xs, ys, sizes, qid = self._grouped(X, y, group, "fit")
        self._check_params(Xs.shape[1])
        self.feature_names_ = feature_names(X)
        self.n_features_in_ = len(self.feature_names_)
        self.n_groups_ = len(sizes)
        valid = None
        if eval_set is not None:
            if len(eval_set) != 3:
                raise InvalidParameterError(
                    "eval_set must be a tuple (X_val, y_val, group_val) of one validation set."
                )
            self._check_columns(eval_set[0], "fit (eval_set)")
            valid = self._grouped(*eval_set, "fit (eval_set)")
        params, stopping = self._library_params(), self.early_stopping_rounds
        if library == "xgboost":
            self.booster_, self.best_iteration_ = train_xgboost(
                params, Xs, ys, qid, valid, self.n_estimators, stopping
            )
            self.booster_.set_param({"nthread": self._predict_threads})
        else:
            self.booster_, self.best_iteration_ = train_lightgbm(
                params, Xs, ys, sizes, valid, self.n_estimators, stopping
            )
        return self

    def training_params(self, n_features: int) -> dict[str, Any]:
        """The library's parameters :meth:`fit` trains with, checked for ``n_features``
        columns (for a booster trained elsewhere, e.g. :func:`ranking.distributed.fit_on_dask`)."""
        self._check_params(n_features)
        return self._library_params()

    def adopt(self, booster: Any, best_iteration: int, feature_names: list[str], n_groups: int) -> Ranker:
        """Take ``booster``, trained elsewhere with :meth:`training_params` and trimmed to its
        best trees, as this ranker's fitted model (as :meth:`fit` leaves it); returns self."""
        self.booster_, self.best_iteration_ = booster, int(best_iteration)
        self.feature_names_, self.n_features_in_ = list(feature_names), len(feature_names)
        self.n_groups_ = int(n_groups)
        if self.library == "xgboost":
            self.booster_.set_param({"nthread": self._predict_threads})
        return self

    def _library_params(self) -> dict[str, Any]:
        """The parameters in the library's words: the named ones translated, then the extras."""
        named = {name: getattr(self, name) for name in self._get_param_names()}
        translate = xgboost_params if self.library == "xgboost" else lightgbm_params
        return translate(named, self.kwargs)

    def _check_params(self, n_features: int) -> None:
        """The named counts in range, and every extra parameter known to the library."""
        check_int("n_estimators", self.n_estimators, "Ranker")
        check_int("eval_at", self.eval_at, "Ranker")
        check_int("early_stopping_rounds", self.early_stopping_rounds, "Ranker", allow_none=True)
        if self.library == "xgboost":
            known = xgboost_parameters(self._library_params(), n_features)
        else:
            known = lightgbm_parameters()
        check_library_params(self.library, self.kwargs, known, self._get_param_names())

    def _grouped(self, X, y, group, where: str):
        """Rows sorted stably by query, with labels, group sizes and sorted query codes."""
        X = as_matrix(X)
        y = np.asarray(y, dtype=np.float64)
        group = np.asarray(group)
        if X.shape[0] != len(y) or len(y) != len(group):
            raise InvalidParameterError(
                f"Ranker.{where} needs X, y and group of one length; got {X.shape[0]}, "
                f"{len(y)} and {len(group)} rows."
            )
        if len(y) == 0:
            raise InvalidParameterError(f"Ranker.{where} got no rows.")
        if not np.isfinite(y).all() or (y < 0).any() or (y != np.round(y)).any():
            raise InvalidParameterError(
                f"Ranker.{where} needs relevance labels y that are whole numbers >= 0 "
                "(e.g. 0 declined ... 3 successful)."
            )
        codes, _ = pd.factorize(group, use_na_sentinel=False)
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes)
        return X[order], y[order], sizes, codes[order]

    # ---------------------------------------------------------------- scoring
    @property
    def _predict_threads(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    def predict(self, X: Any) -> np.ndarray:
        """Ranking scores (higher is better); comparable within a query, not across."""
        self._check_fitted()
        X = self._check_columns(X, "predict")
        if self.library == "xgboost":
            return np.asarray(self.booster_.inplace_predict(X), dtype=np.float64)
        return np.asarray(self.booster_.predict(X, num_threads=self._predict_threads), dtype=np.float64)

    def contributions(self, X: Any, *, approximate: bool = False) -> np.ndarray:
        """Per-feature contributions to each score, ``(n, n_features)``, bias left out.

        XGBoost's ``pred_contribs`` / LightGBM's ``pred_contrib`` (SHAP values of the trees):
        a row's contributions plus the bias add up to its score. ``approximate`` uses
        XGBoost's path attribution (Saabas), which also adds up and is an order of magnitude
        faster than exact TreeSHAP; LightGBM is always exact.
        """
        self._check_fitted()
        X = self._check_columns(X, "contributions")
        if self.library == "xgboost":
            out = self.booster_.predict(
                xgb.DMatrix(X, nthread=self._predict_threads),
                pred_contribs=True,
                approx_contribs=bool(approximate),
            )
        else:
            out = self.booster_.predict(X, pred_contrib=True, num_threads=self._predict_threads)
            if sp.issparse(out):
                out = out.toarray()
        return np.asarray(out, dtype=np.float64)[:, :-1]

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Total gain (or ``"split"`` counts) per feature, unused features at 0, largest first."""
        self._check_fitted()
        if kind not in ("gain", "split"):
            raise InvalidParameterError(
                f"The 'kind' parameter of feature_importance must be 'gain' or 'split'. Got {kind!r}."
            )
        if self.library == "xgboost":
            scores = self.booster_.get_score(importance_type="total_gain" if kind == "gain" else "weight")
            values = [scores.get(f"f{i}", 0.0) for i in range(self.n_features_in_)]
        else:
            values = self.booster_.feature_importance(importance_type=kind)
        series = pd.Series(np.asarray(values, dtype=np.float64), index=self.feature_names_, name=kind)
        return series.sort_values(ascending=False, kind="stable")

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError(
                "This Ranker is not fitted yet. Call fit(X, y, group) or Ranker.load(folder) first."
            )

    def _check_columns(self, X, where: str):
        """X as a matrix in training column order; refuses missing or extra features."""
        X = as_matrix(in_training_order(X, getattr(self, "feature_names_", None), f"Ranker.{where}"))
        n_expected = getattr(self, "n_features_in_", X.shape[1])
        if X.shape[1] != n_expected:
            raise InvalidParameterError(
                f"Ranker.{where}: X has {X.shape[1]} features but the model expects {n_expected}."
            )
        return X

    # -------------------------------------------------------------- artifacts
    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write the model file and ``manifest.json`` into ``folder`` (created if needed).

        ``metadata`` (json-able: data fingerprint, encoder, tuned parameters, metrics...)
        is merged into the manifest's top level. Publishing atomically is the caller's job.
        """
        self._check_fitted()
        folder = Path(folder)
        model_name = MODEL_FILES[self.library]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.booster_.save_model(str(folder / model_name))
        except (OSError, xgb.core.XGBoostError, lgb.basic.LightGBMError) as exc:
            raise ArtifactError(f"Cannot write the ranker into {str(folder)!r}: {exc}") from None
        fields = {
            **(metadata or {}),
            "objective": self.objective,
            "library": self.library,
            "model_file": model_name,
            "params": jsonable(self.get_params()),
            "feature_names": list(self.feature_names_),
            "feature_version": FEATURE_VERSION if tuple(self.feature_names_) == FEATURES else None,
            "n_features": self.n_features_in_,
            "n_groups": self.n_groups_,
            "best_iteration": int(self.best_iteration_),
            "versions": library_versions(),
        }
        try:
            manifest = Manifest.write(folder, KIND, VERSION, fields, files=[model_name])
        except OSError as exc:
            raise ArtifactError(f"Cannot write the ranker into {str(folder)!r}: {exc}") from None
        self.manifest_ = manifest
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Ranker:
        """A ranker saved by :meth:`save`; refuses a missing, truncated or mismatched folder."""
        folder = Path(folder)
        manifest = Manifest.read(folder, KIND, VERSION, fix=RETRAIN)
        library = OBJECTIVES.get(manifest.get("objective"))
        model_name = manifest.get("model_file")
        if library is None or model_name != MODEL_FILES[library] or model_name not in manifest.files:
            raise ArtifactError(
                f"The ranker manifest in {str(folder)!r} names objective "
                f"{manifest.get('objective')!r} and file {model_name!r}, which do not fit. {RETRAIN}"
            )
        model_path = folder / model_name
        names = manifest.get("feature_names")
        if tuple(names or ()) == FEATURES and manifest.get("feature_version") != FEATURE_VERSION:
            raise ArtifactError(
                f"The ranker in {str(folder)!r} was trained on feature version "
                f"{manifest.get('feature_version')!r}; this code makes version "
                f"{FEATURE_VERSION!r}. {RETRAIN}"
            )
        try:
            if library == "xgboost":
                booster = xgb.Booster()
                booster.load_model(str(model_path))
            else:
                booster = lgb.Booster(model_file=str(model_path))
        except (xgb.core.XGBoostError, lgb.basic.LightGBMError, ValueError) as exc:
            raise ArtifactError(f"Cannot read the ranker model {str(model_path)!r}: {exc}. {RETRAIN}") from None
        params = dict(manifest.get("params", {}))
        ranker = cls(**params)
        if library == "xgboost":
            booster.set_param({"nthread": ranker._predict_threads})
        ranker.booster_ = booster
        ranker.best_iteration_ = int(manifest.get("best_iteration", 0))
        ranker.feature_names_ = list(names)
        ranker.n_features_in_ = len(names)
        ranker.n_groups_ = int(manifest.get("n_groups", 0))
        ranker.manifest_ = manifest
        return ranker
