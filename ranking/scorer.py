"""The one interface of every model that scores pairs, and the plumbing its models share.

The ranker (:class:`ranking.ranker.Ranker`) and the three classifier baselines
(:mod:`ranking.baselines`) all follow scikit-learn's estimator contract and one shape:

* the constructor only stores parameters (``get_params``/``set_params``/``clone`` work);
* ``fit(X, y, group=None)`` learns and returns self (``group``: the query of each row; the
  ranker needs it, a classifier scores each row alone and ignores it);
* ``predict(X)`` is the score of each row, higher is better: the ranker's raw score
  (comparable within a query), a classifier's probability of a successful match;
* using an unfitted model raises :class:`mentor_match.errors.NotFittedError`;
* ``save(folder)`` writes the model in its library's native format plus a checked
  ``manifest.json``; ``load(folder)`` reads it back and scores identically. No pickle.

>>> from ranking.ranker import Ranker
>>> isinstance(Ranker(), Scorer)
True
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import lightgbm as lgb
import numpy as np
import pandas as pd
import scipy.sparse as sp
import sklearn
import xgboost as xgb

from mentor_match.errors import InvalidParameterError


@runtime_checkable
class Scorer(Protocol):
    """What the training pipeline and evaluation rely on (see the module docstring)."""

    def fit(self, X: Any, y: Any, group: Any = None) -> Scorer: ...

    def predict(self, X: Any) -> np.ndarray: ...

    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path: ...

    @classmethod
    def load(cls, folder: str | Path) -> Scorer: ...


def as_matrix(X: Any) -> np.ndarray | sp.csr_matrix:
    """A DataFrame / array / sparse matrix as a 2-D float matrix (CSR kept sparse).

    >>> as_matrix([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InvalidParameterError(f"X must be 2-D (rows x features); got {X.ndim}-D.")
    return X


def feature_names(X: Any) -> list[str]:
    """The columns of a frame, or ``f0, f1, ...`` for an array.

    >>> feature_names(np.zeros((1, 2)))
    ['f0', 'f1']
    """
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"f{i}" for i in range(as_matrix(X).shape[1])]


def in_training_order(X: Any, names: list[str] | None, where: str) -> Any:
    """A frame's columns in training order (refusing missing ones); anything else as given."""
    if names is None or not isinstance(X, pd.DataFrame):
        return X
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise InvalidParameterError(
            f"{where}: X lacks feature column(s) {missing[:5]} the model was trained on. "
            "Build X with ranking.features.pair_features."
        )
    if list(X.columns) != list(names):  # copy only when the order differs
        X = X[names]
    return X


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on, for its manifest."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "xgboost": xgb.__version__,
        "lightgbm": lgb.__version__,
    }


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values; numpy scalars become Python numbers.

    >>> jsonable({"max_depth": np.int64(3), "seed": None})
    {'max_depth': 3, 'seed': None}
    """
    return json.loads(json.dumps(params, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
