"""The learning-to-rank model (:class:`Ranker`) and the guide's classifier baselines.

Everything here follows scikit-learn's estimator contract: the constructor only stores
parameters, ``fit`` returns self, learned state ends in ``_``, using an unfitted model
raises :class:`mentor_match.errors.NotFittedError`, and ``clone``/``get_params`` work.

A saved ranker is a folder: the booster in its library's own format (XGBoost
``model.json``, LightGBM ``model.txt``) plus ``manifest.json`` (objective, parameters,
feature list, :data:`ranking.features.FEATURE_VERSION`, library versions, checksums,
time and whatever the trainer adds, e.g. the data fingerprint). No pickle anywhere.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp
import sklearn
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError, InvalidParameterError, NotFittedError
from ranking.features import FEATURE_VERSION, FEATURES

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
    arguments go to the library unchanged. ``early_stopping_rounds`` only applies when
    ``fit`` gets an ``eval_set``; it watches NDCG@``eval_at`` there.

    ``n_jobs`` threads train (None: all cores) and predict (None: one thread, because
    serving batches are small and OpenMP threads contending on a busy machine made 200
    rows take 15 ms instead of 0.7 ms in our measurements).
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
        X,
        y,
        group,
        *,
        eval_set: tuple | None = None,
    ) -> Ranker:
        """Learn from rows ``X`` with graded relevance ``y`` (ints >= 0); ``group`` is the
        query id of each row (any order: rows are stably sorted by it inside).

        ``eval_set=(X_val, y_val, group_val)`` enables early stopping; the kept model has
        exactly the best number of trees. Returns self.
        """
        library = self.library
        Xs, ys, sizes, qid = self._grouped(X, y, group, "fit")
        self.feature_names_ = _feature_names(X)
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
        if library == "xgboost":
            self.booster_, self.best_iteration_ = self._fit_xgboost(Xs, ys, qid, valid)
            self.booster_.set_param({"nthread": self._predict_threads})
        else:
            self.booster_, self.best_iteration_ = self._fit_lightgbm(Xs, ys, sizes, valid)
        return self

    def _grouped(self, X, y, group, where: str):
        """Rows sorted stably by query, with labels, group sizes and sorted query codes."""
        X = _as_matrix(X)
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

    def _fit_xgboost(self, X, y, qid, valid):
        params = {
            "objective": self.objective,
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "lambdarank_pair_method": self.lambdarank_pair_method,
            "lambdarank_num_pair_per_sample": self.lambdarank_num_pair_per_sample,
            "eval_metric": f"ndcg@{self.eval_at}",
            "tree_method": "hist",
            "seed": self.random_state,
            "verbosity": 0,
        }
        if self.n_jobs is not None:
            params["nthread"] = self.n_jobs
        params.update(self.kwargs)
        train = xgb.DMatrix(X, label=y, qid=qid)
        evals, stopping = [], None
        if valid is not None:
            Xv, yv, _, qv = valid
            evals = [(xgb.DMatrix(Xv, label=yv, qid=qv), "validation")]
            stopping = self.early_stopping_rounds
        booster = xgb.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            evals=evals,
            early_stopping_rounds=stopping,
            verbose_eval=False,
        )
        best = booster.best_iteration + 1 if stopping else booster.num_boosted_rounds()
        # Keep exactly the trees used, so that saved and in-memory models predict alike.
        return booster[:best], best

    def _fit_lightgbm(self, X, y, sizes, valid):
        params = {
            "objective": "lambdarank",
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "num_leaves": min(31, 2 ** max(int(self.max_depth), 1)) if self.max_depth > 0 else 31,
            "min_sum_hessian_in_leaf": self.min_child_weight,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "metric": "ndcg",
            "eval_at": [self.eval_at],
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }
        if self.n_jobs is not None:
            params["num_threads"] = self.n_jobs
        params.update(self.kwargs)
        train = lgb.Dataset(X, label=y, group=sizes, free_raw_data=False)
        valid_sets, callbacks = [], []
        if valid is not None:
            Xv, yv, sv, _ = valid
            valid_sets = [lgb.Dataset(Xv, label=yv, group=sv, reference=train)]
            if self.early_stopping_rounds:
                callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        booster = lgb.train(
            params, train, num_boost_round=self.n_estimators, valid_sets=valid_sets,
            callbacks=callbacks,
        )
        best = booster.best_iteration if booster.best_iteration > 0 else booster.num_trees()
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best

    # ---------------------------------------------------------------- scoring
    @property
    def _predict_threads(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    def predict(self, X) -> np.ndarray:
        """Ranking scores (higher is better); comparable within a query, not across."""
        self._check_fitted()
        X = self._check_columns(X, "predict")
        if self.library == "xgboost":
            return np.asarray(self.booster_.inplace_predict(X), dtype=np.float64)
        return np.asarray(self.booster_.predict(X, num_threads=self._predict_threads), dtype=np.float64)

    def contributions(self, X, *, approximate: bool = False) -> np.ndarray:
        """Per-feature contributions to each score, ``(n, n_features)``, bias left out.

        XGBoost's ``pred_contribs`` / LightGBM's ``pred_contrib`` (SHAP values of the trees):
        a row's contributions plus the bias add up to its score. ``approximate`` uses
        XGBoost's path attribution (Saabas), which also adds up and is far faster than exact
        TreeSHAP (about 1 ms vs 15-30 ms for 200 rows of the demo ranker); LightGBM is
        always exact.
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
        if hasattr(self, "feature_names_") and isinstance(X, pd.DataFrame):
            missing = [c for c in self.feature_names_ if c not in X.columns]
            if missing:
                raise InvalidParameterError(
                    f"Ranker.{where}: X lacks feature column(s) {missing[:5]} the model was "
                    "trained on. Build X with ranking.features.pair_features."
                )
            if list(X.columns) != list(self.feature_names_):  # a column copy costs ~1 ms per query
                X = X[self.feature_names_]
        X = _as_matrix(X)
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
            "params": _jsonable(self.get_params()),
            "feature_names": list(self.feature_names_),
            "feature_version": FEATURE_VERSION if tuple(self.feature_names_) == FEATURES else None,
            "n_features": self.n_features_in_,
            "n_groups": self.n_groups_,
            "best_iteration": int(self.best_iteration_),
            "versions": _versions(),
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


def make_baselines(seed: int = 42, *, n_jobs: int | None = None) -> dict[str, ClassifierMixin]:
    """The guide's three classifiers, as it trains them, on the same pair features.

    Each scores a pair by ``predict_proba(X)[:, 1]``, so it can also be judged as a ranker.
    The logistic regression imputes (median, plus missing-value indicators) and scales;
    the forest and XGBoost take NaN natively.
    """
    return {
        "logistic_regression": make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000, random_state=seed),
        ),
        "random_forest": RandomForestClassifier(
            n_estimators=300, min_samples_leaf=5, random_state=seed, n_jobs=n_jobs
        ),
        "xgboost_classifier": xgb.XGBClassifier(
            n_estimators=300,
            learning_rate=0.05,
            max_depth=4,
            subsample=0.8,
            colsample_bytree=0.8,
            eval_metric="logloss",
            tree_method="hist",
            random_state=seed,
            n_jobs=n_jobs,
        ),
    }


# ------------------------------------------------------------------------ helpers
def _as_matrix(X):
    """A DataFrame / array / sparse matrix as a 2-D float matrix (CSR kept sparse)."""
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InvalidParameterError(f"X must be 2-D (rows x features); got {X.ndim}-D.")
    return X


def _feature_names(X) -> list[str]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"f{i}" for i in range(_as_matrix(X).shape[1])]


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "xgboost": xgb.__version__,
        "lightgbm": lgb.__version__,
    }


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values; numpy scalars become Python numbers."""
    return json.loads(json.dumps(params, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
