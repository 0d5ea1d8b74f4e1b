"""The original guide's three classifier baselines, as scorers of pairs.

Each wraps a library classifier, configured as the guide trains it, in the one scorer shape
of :mod:`ranking.scorer`: the constructor stores parameters, ``fit(X, y, group=None)``
returns self (``group`` is ignored: a classifier scores each row alone), ``predict(X)`` is
the probability of a successful match (``predict_proba(X)[:, 1]`` of the library), and
``predict_label(X)`` the library's own 0/1 decision. The logistic regression imputes
(median, plus missing-value indicators) and scales; the forest and XGBoost take NaN natively.

A saved scorer is a folder with ``manifest.json`` (kind ``scorer``) and the model in a
native, pickle-free form: XGBoost's own JSON (``save_model``), the logistic-regression
pipeline's fitted arrays as JSON, and the forest's tree arrays in ``forest.npz``. Loading
rebuilds the library objects, so a loaded scorer runs the library's own prediction code.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
>>> scorer = LogisticRegressionScorer(random_state=0).fit(X, y)
>>> bool(((scorer.predict(X) > 0.5) == y).mean() > 0.9)
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree

from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError, NotFittedError
from ranking.scorer import in_training_order, jsonable, library_versions

KIND, VERSION = "scorer", 1
REFIT = "Fit the scorer again and save it with save(folder)."


class ClassifierScorer(BaseEstimator):
    """What the three baselines share: fitting, scoring, the manifest; subclasses make,
    write and read their library model."""

    name: ClassVar[str]
    """The model's name in the training pipeline and in the manifest."""

    def fit(self, X: Any, y: Any, group: Any = None) -> ClassifierScorer:
        """Fit the library classifier on rows ``X`` with 0/1 labels ``y``; returns self."""
        classifier = self._make()
        classifier.fit(X, y)
        self.classifier_ = classifier
        self.feature_names_ = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
        self.n_features_in_ = int(classifier.n_features_in_)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Probability of a successful match for each row (higher is better), as float64."""
        probability = self._fitted().predict_proba(self._columns(X, "predict"))[:, 1]
        return np.asarray(probability, dtype=np.float64)  # XGBoost's float32 widened exactly

    def predict_label(self, X: Any) -> np.ndarray:
        """The library's own 0/1 decision for each row (probability above one half)."""
        return self._fitted().predict(self._columns(X, "predict_label")).astype(int)

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The manifest this scorer was loaded from or last saved with ({} otherwise)."""
        return getattr(self, "manifest_", {})

    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write the model and ``manifest.json`` into ``folder`` (created if needed)."""
        classifier = self._fitted()
        folder = Path(folder)
        fields = {
            **(metadata or {}),
            "scorer": self.name,
            "params": jsonable(self.get_params()),
            "feature_names": self.feature_names_,
            "n_features": self.n_features_in_,
            "versions": library_versions(),
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            files = self._write(classifier, folder)
            self.manifest_ = Manifest.write(folder, KIND, VERSION, fields, files=files)
        except (OSError, ValueError, xgb.core.XGBoostError) as exc:
            raise ArtifactError(f"Cannot write the {self.name} scorer into {str(folder)!r}: {exc}") from None
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ClassifierScorer:
        """A scorer saved by :meth:`save`; refuses a missing, damaged or other model's folder."""
        folder = Path(folder)
        manifest = Manifest.read(folder, KIND, VERSION, fix=REFIT)
        if manifest.get("scorer") != cls.name:
            raise ArtifactError(
                f"The scorer in {str(folder)!r} is a {manifest.get('scorer')!r} model, not "
                f"{cls.name!r}. Load it with its own class."
            )
        scorer = cls(**manifest.get("params", {}))
        names = manifest.get("feature_names")
        try:
            scorer.classifier_ = scorer._read(folder, int(manifest["n_features"]), names)
        except (OSError, ValueError, KeyError, TypeError, xgb.core.XGBoostError) as exc:
            raise ArtifactError(
                f"Cannot read the {cls.name} scorer in {str(folder)!r} (saved with "
                f"{manifest.get('versions')}): {exc}. {REFIT}"
            ) from None
        scorer.feature_names_ = None if names is None else list(names)
        scorer.n_features_in_ = int(manifest["n_features"])
        scorer.manifest_ = manifest
        return scorer

    # ------------------------------------------------------------- subclasses
    def _make(self) -> Any:
        raise NotImplementedError

    def _write(self, classifier: Any, folder: Path) -> list[str]:
        raise NotImplementedError

    def _read(self, folder: Path, n_features: int, names: list[str] | None) -> Any:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    def _fitted(self) -> Any:
        if not hasattr(self, "classifier_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call fit(X, y) or "
                f"{type(self).__name__}.load(folder) first."
            )
        return self.classifier_

    def _columns(self, X: Any, method: str) -> Any:
        return in_training_order(X, self.feature_names_, f"{type(self).__name__}.{method}")


class LogisticRegressionScorer(ClassifierScorer):
    """Median imputation with missing-value indicators, standard scaling, logistic regression."""

    name = "logistic_regression"
    MODEL_FILE = "model.json"

    def __init__(self, C: float = 1.0, *, max_iter: int = 2000, random_state: int | None = None) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def _make(self) -> Pipeline:
        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            self._regression(),
        )

    def _regression(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)

    def _write(self, classifier: Pipeline, folder: Path) -> list[str]:
        imputer, scaler, regression = (step for _, step in classifier.steps)
        arrays = {
            "imputer_statistics": imputer.statistics_.tolist(),
            "indicator_features": imputer.indicator_.features_.tolist(),
            "scaler_mean": scaler.mean_.tolist(),
            "scaler_scale": scaler.scale_.tolist(),
            "scaler_var": scaler.var_.tolist(),
            "scaler_samples_seen": np.asarray(scaler.n_samples_seen_).tolist(),
            "coef": regression.coef_.tolist(),
            "intercept": regression.intercept_.tolist(),
            "classes": regression.classes_.tolist(),
            "n_iter": regression.n_iter_.tolist(),
        }
        (folder / self.MODEL_FILE).write_text(json.dumps(arrays) + "\n")  # floats round-trip exactly
        return [self.MODEL_FILE]

    def _read(self, folder: Path, n_features: int, names: list[str] | None) -> Pipeline:
        arrays = json.loads((folder / self.MODEL_FILE).read_text())
        statistics = np.asarray(arrays["imputer_statistics"], dtype=np.float64)
        # The imputer is refitted on two rows that have exactly these medians and NaN in
        # exactly the indicator columns: its own fit sets its state, no private attribute.
        rows = np.vstack([statistics, statistics])
        rows[1, np.asarray(arrays["indicator_features"], dtype=np.int64)] = np.nan
        imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        imputer.fit(rows if names is None else pd.DataFrame(rows, columns=names))
        scaler = StandardScaler()
        scaler.mean_ = np.asarray(arrays["scaler_mean"], dtype=np.float64)
        scaler.scale_ = np.asarray(arrays["scaler_scale"], dtype=np.float64)
        scaler.var_ = np.asarray(arrays["scaler_var"], dtype=np.float64)
        scaler.n_samples_seen_ = np.asarray(arrays["scaler_samples_seen"])
        scaler.n_features_in_ = len(scaler.mean_)
        regression = self._regression()
        regression.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        regression.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        regression.classes_ = np.asarray(arrays["classes"])
        regression.n_iter_ = np.asarray(arrays["n_iter"], dtype=np.int32)
        regression.n_features_in_ = regression.coef_.shape[1]
        return Pipeline([("simpleimputer", imputer), ("standardscaler", scaler),
                         ("logisticregression", regression)])


class RandomForestScorer(ClassifierScorer):
    """scikit-learn's random forest; ``feature_importances_`` is its impurity importance."""

    name = "random_forest"
    MODEL_FILE = "forest.npz"

    def __init__(
        self,
        n_estimators: int = 300,
        *,
        max_depth: int | None = None,
        min_samples_split: int = 2,
        min_samples_leaf: int = 5,
        max_features: str | int | float | None = "sqrt",
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    @property
    def feature_importances_(self) -> np.ndarray:
        return self._fitted().feature_importances_

    def _make(self) -> RandomForestClassifier:
        return RandomForestClassifier(**self.get_params())

    def _tree(self) -> DecisionTreeClassifier:
        return DecisionTreeClassifier(
            max_depth=self.max_depth, min_samples_split=self.min_samples_split,
            min_samples_leaf=self.min_samples_leaf, max_features=self.max_features,
        )

    def _write(self, classifier: RandomForestClassifier, folder: Path) -> list[str]:
        # scikit-learn has no format without pickle, so each tree is stored as the arrays
        # of its own state (Tree.__getstate__) and rebuilt through Tree.__setstate__.
        states = [tree.tree_.__getstate__() for tree in classifier.estimators_]
        np.savez(
            folder / self.MODEL_FILE,
            nodes=np.concatenate([state["nodes"] for state in states]),
            values=np.concatenate([state["values"] for state in states]),
            node_counts=np.array([state["node_count"] for state in states], dtype=np.int64),
            max_depths=np.array([state["max_depth"] for state in states], dtype=np.int64),
            classes=classifier.classes_,
        )
        return [self.MODEL_FILE]

    def _read(self, folder: Path, n_features: int, names: list[str] | None) -> RandomForestClassifier:
        with np.load(folder / self.MODEL_FILE, allow_pickle=False) as stored:
            nodes, values, classes = stored["nodes"], stored["values"], stored["classes"]
            counts, depths = stored["node_counts"], stored["max_depths"]
        ends = np.cumsum(counts)
        trees = []
        for end, count, depth in zip(ends, counts, depths, strict=True):
            state = {"max_depth": int(depth), "node_count": int(count),
                     "nodes": nodes[end - count : end], "values": values[end - count : end]}
            tree = self._tree()
            tree.tree_ = Tree(n_features, np.array([len(classes)], dtype=np.intp), 1)
            tree.tree_.__setstate__(state)
            tree.classes_, tree.n_classes_, tree.n_outputs_ = classes, len(classes), 1
            tree.n_features_in_ = n_features
            trees.append(tree)
        forest = self._make()
        forest.estimators_, forest.estimator_ = trees, self._tree()
        forest.classes_, forest.n_classes_, forest.n_outputs_ = classes, len(classes), 1
        forest.n_features_in_ = n_features
        if names is not None:
            forest.feature_names_in_ = np.asarray(names, dtype=object)
        return forest


class XGBoostClassifierScorer(ClassifierScorer):
    """XGBoost's gradient-boosted classifier (``binary:logistic``, histogram trees)."""

    name = "xgboost_classifier"
    MODEL_FILE = "model.json"

    def __init__(
        self,
        n_estimators: int = 300,
        *,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _make(self) -> xgb.XGBClassifier:
        return xgb.XGBClassifier(**self.get_params(), eval_metric="logloss", tree_method="hist")

    def _write(self, classifier: xgb.XGBClassifier, folder: Path) -> list[str]:
        classifier.save_model(str(folder / self.MODEL_FILE))
        return [self.MODEL_FILE]

    def _read(self, folder: Path, n_features: int, names: list[str] | None) -> xgb.XGBClassifier:
        classifier = self._make()
        classifier.load_model(str(folder / self.MODEL_FILE))
        return classifier


BASELINES: dict[str, type[ClassifierScorer]] = {
    scorer.name: scorer
    for scorer in (LogisticRegressionScorer, RandomForestScorer, XGBoostClassifierScorer)
}


def make_baselines(seed: int = 42, *, n_jobs: int | None = None) -> dict[str, ClassifierScorer]:
    """The guide's three classifiers, as it trains them, on the same pair features.

    >>> sorted(make_baselines(seed=0))
    ['logistic_regression', 'random_forest', 'xgboost_classifier']
    """
    return {
        "logistic_regression": LogisticRegressionScorer(random_state=seed),
        "random_forest": RandomForestScorer(random_state=seed, n_jobs=n_jobs),
        "xgboost_classifier": XGBoostClassifierScorer(random_state=seed, n_jobs=n_jobs),
    }
