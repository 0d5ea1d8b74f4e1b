"""The reciprocal model: P(mentor accepts | requested) x P(success | accepted), two calibrated heads.

A match needs both sides: the mentor must accept the request, and the accepted mentorship
must succeed. Each :class:`Head` learns one of the two probabilities on the same pair
features (:func:`ranking.training.make_pair_frame`, point in time), from the rows where that
outcome is known:

* ``accept``: resolved requests (status declined, accepted or completed; pending ones have
  no answer yet), label 1 when the mentor accepted (status accepted or completed);
* ``success``: accepted requests that have ended (status completed), label
  ``successful_match``; accepted pairs still running (status accepted) have no outcome yet.

:class:`ReciprocalModel` holds both and multiplies them: P(match) = P(accept) x P(success).
When a pair was requested more than once, its latest resolved request counts, as in
:func:`ranking.features.interaction_labels`.

A head is an XGBoost ``binary:logistic`` classifier, early-stopped on the validation part,
whose margin is then calibrated on that same validation part by Platt scaling (a logistic
regression on the margin). Platt rather than isotonic: the validation parts are tens to a
few hundred rows, where isotonic regression's steps overfit, and two numbers save as JSON.

A saved head is a folder: XGBoost's JSON model, ``calibration.json`` (slope and intercept)
and a checked ``manifest.json``; a saved reciprocal model holds the two head folders and a
manifest over all their files. No pickle anywhere.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from mentor_match.artifacts import Manifest
from mentor_match.errors import (
    ArtifactError,
    DataValidationError,
    InvalidParameterError,
    NotEnoughDataError,
    NotFittedError,
)
from mentor_match.validation import check_choice, check_int, check_number
from ranking.features import FEATURE_VERSION, FEATURES
from ranking.scorer import as_matrix, feature_names, in_training_order, jsonable, library_versions
from ranking.splits import GroupedSplit
from ranking.training import NOT_ENOUGH_FIX, make_pair_frame, split_pairs

if TYPE_CHECKING:
    from db import Dataset
    from embeddings import Encoder

logger = logging.getLogger(__name__)

HEADS = ("accept", "success")
"""The two heads: P(mentor accepts | requested) and P(success | accepted)."""
HOWS = ("reciprocal",)
"""What :meth:`ReciprocalModel.score` can return: ``reciprocal`` is P(accept) x P(success)."""
PARTS = ("train", "validation", "test")
MIN_ROWS = 20
"""Fewest labelled rows a head trains on, and calibrates on (each part, both classes present)."""
ACCEPTED = ("accepted", "completed")
RESOLVED = ("declined", "accepted", "completed")
STATUSES = (*RESOLVED, "pending")
ENDED = "completed"
CALIBRATION = "platt"
"""How a head's margin becomes a probability (see the module docstring for why Platt)."""

HEAD_KIND, HEAD_VERSION = "head", 1
MODEL_KIND, MODEL_VERSION = "reciprocal", 1
MODEL_FILE, CALIBRATION_FILE, MANIFEST_FILE = "model.json", "calibration.json", "manifest.json"
REFIT = "Train the heads again (ranking.heads.train_heads) and save them with save(folder)."


# ---------------------------------------------------------------------------- labels
def resolved_requests(interactions: pd.DataFrame) -> pd.DataFrame:
    """One row per (mentee, mentor) with an answered request, with both heads' labels.

    Pending requests are left out; of a pair's several resolved requests the latest counts.
    Columns: mentee_id, mentor_id, created_at, status, ``accepted`` (0/1: the accept head's
    label), ``ended`` (status completed: the success head's rows) and ``successful`` (0/1:
    the success head's label, meaningful where ``ended``). Rows sorted by mentee, mentor.

    >>> interactions = pd.DataFrame({"mentee_id": [1, 1, 2, 2], "mentor_id": [10, 11, 10, 11],
    ...     "status": ["completed", "pending", "declined", "accepted"],
    ...     "successful_match": [True, False, False, False],
    ...     "created_at": pd.to_datetime(["2026-01-01"] * 4)})
    >>> resolved_requests(interactions)[["mentee_id", "mentor_id", "accepted", "ended", "successful"]]
       mentee_id  mentor_id  accepted  ended  successful
    0          1         10         1   True           1
    1          2         10         0  False           0
    2          2         11         1  False           0
    """
    needed = {"mentee_id", "mentor_id", "status", "successful_match", "created_at"}
    missing = needed - set(interactions.columns)
    if missing:
        raise DataValidationError(
            f"interactions lack column(s) {sorted(missing)}; load them with db.load_dataset."
        )
    status = interactions["status"].astype(object)
    unknown = set(status.dropna().unique()) - set(STATUSES)
    if unknown:
        raise DataValidationError(
            f"Unknown interaction status value(s) {sorted(map(str, unknown))[:5]}; use one of "
            f"{list(STATUSES)}."
        )
    done = interactions[status.isin(RESOLVED)]
    done = done.sort_values("created_at", kind="stable")
    done = done.drop_duplicates(["mentee_id", "mentor_id"], keep="last")
    done_status = done["status"].astype(object).to_numpy()
    ended = done_status == ENDED
    success = done["successful_match"].fillna(False).astype(bool).to_numpy() & ended
    out = pd.DataFrame({
        "mentee_id": done["mentee_id"].to_numpy(np.int64),
        "mentor_id": done["mentor_id"].to_numpy(np.int64),
        "created_at": done["created_at"].to_numpy(),
        "status": done_status,
        "accepted": np.isin(done_status, ACCEPTED).astype(np.int64),
        "ended": ended,
        "successful": success.astype(np.int64),
    })
    return out.sort_values(["mentee_id", "mentor_id"], kind="stable").reset_index(drop=True)


def head_rows(interactions: pd.DataFrame, head: str) -> pd.DataFrame:
    """The labelled rows of one head: columns mentee_id, mentor_id, created_at, label.

    ``accept``: every resolved request (pending ones excluded), label 1 when accepted or
    completed, 0 when declined. ``success``: the ended ones (status completed; accepted
    pairs still running excluded), label ``successful_match``.

    >>> interactions = pd.DataFrame({"mentee_id": [1, 2, 3, 4], "mentor_id": [10, 10, 10, 10],
    ...     "status": ["completed", "declined", "accepted", "pending"],
    ...     "successful_match": [True, False, False, False],
    ...     "created_at": pd.to_datetime(["2026-01-01"] * 4)})
    >>> head_rows(interactions, "accept")[["mentee_id", "label"]].to_dict("list")
    {'mentee_id': [1, 2, 3], 'label': [1, 0, 1]}
    >>> head_rows(interactions, "success")[["mentee_id", "label"]].to_dict("list")
    {'mentee_id': [1], 'label': [1]}
    """
    check_choice("head", head, "head_rows", HEADS)
    requests = resolved_requests(interactions)
    if head == "success":
        requests = requests[requests["ended"]].reset_index(drop=True)
    label = requests["accepted" if head == "accept" else "successful"]
    return requests[["mentee_id", "mentor_id", "created_at"]].assign(label=label.to_numpy())


@dataclass(frozen=True)
class HeadsData:
    """Resolved requests, their pair features (aligned rows) and one split shared by both heads.

    The split is made once over all resolved requests, so the success head's parts are the
    ended requests of the accept head's parts: the same mentees and the same time cut.
    """

    requests: pd.DataFrame
    features: pd.DataFrame
    split: GroupedSplit

    def rows(self, head: str, part: str) -> np.ndarray:
        """Positions (into ``requests`` and ``features``) of ``head``'s rows in ``part``."""
        check_choice("head", head, "HeadsData.rows", HEADS)
        check_choice("part", part, "HeadsData.rows", PARTS)
        positions = getattr(self.split, part)
        if head == "success":
            positions = positions[self.requests["ended"].to_numpy()[positions]]
        return positions

    def labelled(self, head: str, part: str) -> tuple[pd.DataFrame, np.ndarray]:
        """``(X, y)`` of ``head`` in ``part``: its feature rows and 0/1 labels."""
        positions = self.rows(head, part)
        column = "accepted" if head == "accept" else "successful"
        return self.features.iloc[positions], self.requests[column].to_numpy()[positions]


def build_heads_data(
    dataset: Dataset,
    *,
    encoder: Encoder | None = None,
    cache_dir: str | Path | None = None,
    split: str = "time",
    seed: int = 42,
    progress: bool = False,
) -> HeadsData:
    """The resolved requests of ``dataset``, their features and the split (``split_pairs``).

    Features come from :func:`ranking.training.make_pair_frame` (mentor aggregates as of
    each request); without an ``encoder`` ``bio_goal_similarity`` is NaN. ``cache_dir`` is
    the embedding cache, needed with an encoder. ``split`` is ``"time"`` (train and
    validation before a cut, test after) or ``"mentee"``, with :func:`split_pairs`' shares.

    Too few resolved requests are refused before any work (pending ones do not count):

    >>> from db import Dataset
    >>> interactions = pd.DataFrame({"mentee_id": [1, 2, 3], "mentor_id": [10, 10, 10],
    ...     "status": ["completed", "declined", "pending"], "successful_match": [True, False, False],
    ...     "created_at": pd.to_datetime(["2026-01-01"] * 3)})
    >>> build_heads_data(Dataset(pd.DataFrame(), pd.DataFrame(), interactions))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.NotEnoughDataError: Not enough data for the reciprocal heads: 2 resolved requests (pending ones do not count), at least 20 are needed. ...
    """
    if encoder is not None and cache_dir is None:
        raise InvalidParameterError(
            "build_heads_data needs cache_dir (the embedding cache folder) with an encoder."
        )
    requests = resolved_requests(dataset.interactions)
    if len(requests) < MIN_ROWS:
        raise NotEnoughDataError(
            f"Not enough data for the reciprocal heads: {len(requests)} resolved requests "
            f"(pending ones do not count), at least {MIN_ROWS} are needed. {NOT_ENOUGH_FIX}"
        )
    parts = split_pairs(requests, split, seed)
    # Without an encoder make_pair_frame reads no cache; the folder is then never touched.
    cache = Path(cache_dir) if cache_dir is not None else Path(".")
    features = make_pair_frame(dataset, requests, encoder, cache, progress)
    return HeadsData(requests, features.reset_index(drop=True), parts)


# ---------------------------------------------------------------------------- one head
class Head(BaseEstimator):
    """One calibrated probability: an XGBoost binary classifier plus Platt scaling.

    ``fit(X, y, eval_set=(X_val, y_val))`` grows trees on ``X`` (early stopping on the
    validation rows' log-loss when ``early_stopping_rounds`` is set) and fits the
    calibration on the validation rows: trees are sure of the rows they learned from, so
    calibrating there would keep their overconfidence. ``predict`` is the calibrated
    probability, ``decision_function`` the trees' raw margin (log-odds before calibration).
    ``name`` (``accept`` or ``success``) names the head in messages and manifests.
    ``n_jobs`` threads train (None: all cores) and predict (None: one thread, as the
    :class:`ranking.ranker.Ranker` does: serving batches are small).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (rng.random(400) < expit(2 * X[:, 0])).astype(int)
    >>> head = Head("accept", n_estimators=50, n_jobs=1).fit(X[:300], y[:300], eval_set=(X[300:], y[300:]))
    >>> p = head.predict(X[:5]); bool(((p > 0) & (p < 1)).all()), p.shape
    (True, (5,))
    >>> Head("success").predict(X)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.NotFittedError: This success Head is not fitted yet. ...
    """

    def __init__(
        self,
        name: str = "accept",
        *,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        scale_pos_weight: float = 1.0,
        early_stopping_rounds: int | None = 30,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.name = name
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.scale_pos_weight = scale_pos_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The manifest this head was loaded from or last saved with ({} otherwise)."""
        return getattr(self, "manifest_", {})

    # --------------------------------------------------------------- training
    def fit(self, X: Any, y: Any, group: Any = None, *, eval_set: tuple | None = None) -> Head:
        """Learn from rows ``X`` with 0/1 labels ``y``; ``eval_set=(X_val, y_val)`` is required.

        ``group`` is ignored (each row is scored alone, as the classifier baselines do).
        Raises :class:`NotEnoughDataError` when either part has fewer than :data:`MIN_ROWS`
        rows or one class only. Returns self.
        """
        self._check_params()
        if eval_set is None or len(eval_set) != 2:
            raise InvalidParameterError(
                f"Head.fit ({self.name}) needs eval_set=(X_val, y_val): the calibration is fitted "
                "there, on rows the trees did not learn from."
            )
        names = feature_names(X)
        X_val_given = eval_set[0]
        if isinstance(X, pd.DataFrame) and isinstance(X_val_given, pd.DataFrame):
            X_val_given = in_training_order(X_val_given, names, "Head.fit (eval_set)")
        X_train, y_train = self._checked_rows(X, y, "training")
        X_valid, y_valid = self._checked_rows(X_val_given, eval_set[1], "validation")
        if X_valid.shape[1] != X_train.shape[1]:
            raise InvalidParameterError(
                f"Head.fit ({self.name}): the validation rows have {X_valid.shape[1]} features, "
                f"the training rows {X_train.shape[1]}."
            )
        stopping = self.early_stopping_rounds
        classifier = xgb.XGBClassifier(
            objective="binary:logistic",
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_child_weight=self.min_child_weight,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            scale_pos_weight=self.scale_pos_weight,
            tree_method="hist",
            eval_metric="logloss",
            early_stopping_rounds=stopping,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            verbosity=0,
        )
        classifier.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
        booster = classifier.get_booster()
        n_trees = classifier.best_iteration + 1 if stopping else booster.num_boosted_rounds()
        # Keep exactly the trees used, so that saved and in-memory heads predict alike.
        self.booster_ = booster[:n_trees]
        self.booster_.set_param({"nthread": self._predict_threads})
        self.n_trees_ = int(n_trees)
        self.feature_names_ = names
        self.n_features_in_ = len(names)
        self.n_train_, self.n_validation_ = len(y_train), len(y_valid)
        margin = self._margin(X_valid)
        platt = LogisticRegression().fit(margin[:, None], y_valid)
        self.slope_ = float(platt.coef_[0, 0])
        self.intercept_ = float(platt.intercept_[0])
        return self

    def _check_params(self) -> None:
        where = "Head"
        check_choice("name", self.name, where, HEADS)
        check_int("n_estimators", self.n_estimators, where)
        check_int("max_depth", self.max_depth, where)
        check_int("early_stopping_rounds", self.early_stopping_rounds, where, allow_none=True)
        check_int("random_state", self.random_state, where, low=0)
        check_int("n_jobs", self.n_jobs, where, allow_none=True)
        check_number("learning_rate", self.learning_rate, where, low=0, low_open=True)
        check_number("min_child_weight", self.min_child_weight, where, low=0)
        check_number("reg_lambda", self.reg_lambda, where, low=0)
        check_number("scale_pos_weight", self.scale_pos_weight, where, low=0, low_open=True)
        for name in ("subsample", "colsample_bytree"):
            check_number(name, getattr(self, name), where, low=0, high=1, low_open=True)

    def _checked_rows(self, X: Any, y: Any, part: str) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as a matrix and ``y`` as 0/1 ints, of one length, enough of both classes."""
        matrix = as_matrix(X)
        labels = np.asarray(y, dtype=np.float64).ravel()
        if matrix.shape[0] != len(labels):
            raise InvalidParameterError(
                f"Head.fit ({self.name}, {part}) needs X and y of one length; got "
                f"{matrix.shape[0]} and {len(labels)} rows."
            )
        if not np.isin(labels, (0.0, 1.0)).all():
            raise InvalidParameterError(
                f"Head.fit ({self.name}, {part}) needs 0/1 labels y; got values "
                f"{sorted(set(np.unique(labels).tolist()) - {0.0, 1.0})[:5]}."
            )
        n_positive = int(labels.sum())
        if len(labels) < MIN_ROWS:
            raise NotEnoughDataError(
                f"Not enough data for the {self.name} head: {len(labels)} {part} rows, at least "
                f"{MIN_ROWS} are needed. {NOT_ENOUGH_FIX}"
            )
        if n_positive in (0, len(labels)):
            kind = "positive" if n_positive else "negative"
            raise NotEnoughDataError(
                f"Not enough data for the {self.name} head: all {len(labels)} {part} rows are "
                f"{kind} (at least {MIN_ROWS} rows with both classes are needed), so there is "
                f"nothing to tell apart or calibrate. {NOT_ENOUGH_FIX}"
            )
        return matrix, labels.astype(np.int64)

    # ---------------------------------------------------------------- scoring
    @property
    def _predict_threads(self) -> int:
        return 1 if self.n_jobs is None else int(self.n_jobs)

    def _margin(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.inplace_predict(matrix, predict_type="margin"), dtype=np.float64)

    def decision_function(self, X: Any) -> np.ndarray:
        """The trees' margin of each row (log-odds before calibration), as float64."""
        self._check_fitted()
        return self._margin(self._check_columns(X, "decision_function"))

    def predict(self, X: Any) -> np.ndarray:
        """The calibrated probability of each row, ``expit(slope * margin + intercept)``."""
        margin = self.decision_function(X)
        return expit(self.slope_ * margin + self.intercept_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError(
                f"This {self.name} Head is not fitted yet. Call fit(X, y, eval_set=(X_val, y_val)) "
                "or Head.load(folder) first."
            )

    def _check_columns(self, X: Any, where: str) -> np.ndarray:
        matrix = as_matrix(in_training_order(X, self.feature_names_, f"Head.{where}"))
        if matrix.shape[1] != self.n_features_in_:
            raise InvalidParameterError(
                f"Head.{where} ({self.name}): X has {matrix.shape[1]} features but the head "
                f"expects {self.n_features_in_}."
            )
        return matrix

    # -------------------------------------------------------------- artifacts
    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write ``model.json`` (XGBoost), ``calibration.json`` and ``manifest.json`` into ``folder``.

        ``metadata`` (json-able) is merged into the manifest's top level.
        """
        self._check_fitted()
        folder = Path(folder)
        calibration = {"method": CALIBRATION, "input": "margin", "slope": self.slope_,
                       "intercept": self.intercept_}
        fields = {
            **(metadata or {}),
            "head": self.name,
            "params": jsonable(self.get_params()),
            "calibration": CALIBRATION,
            "feature_names": list(self.feature_names_),
            "feature_version": FEATURE_VERSION if tuple(self.feature_names_) == FEATURES else None,
            "n_features": self.n_features_in_,
            "n_trees": self.n_trees_,
            "n_train": self.n_train_,
            "n_validation": self.n_validation_,
            "versions": library_versions(),
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.booster_.save_model(str(folder / MODEL_FILE))
            (folder / CALIBRATION_FILE).write_text(json.dumps(calibration, indent=2) + "\n")
            self.manifest_ = Manifest.write(
                folder, HEAD_KIND, HEAD_VERSION, fields, files=[MODEL_FILE, CALIBRATION_FILE]
            )
        except (OSError, xgb.core.XGBoostError) as exc:
            raise ArtifactError(f"Cannot write the {self.name} head into {str(folder)!r}: {exc}") from None
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Head:
        """A head saved by :meth:`save`; refuses a missing, damaged or stale folder."""
        folder = Path(folder)
        manifest = Manifest.read(
            folder, HEAD_KIND, HEAD_VERSION, fix=REFIT, required=(MODEL_FILE, CALIBRATION_FILE)
        )
        names = list(manifest.get("feature_names") or [])
        if tuple(names) == FEATURES and manifest.get("feature_version") != FEATURE_VERSION:
            raise ArtifactError(
                f"The head in {str(folder)!r} was trained on feature version "
                f"{manifest.get('feature_version')!r}; this code makes version {FEATURE_VERSION!r}. "
                f"{REFIT}"
            )
        try:
            head = cls(**manifest.get("params", {}))
            booster = xgb.Booster()
            booster.load_model(str(folder / MODEL_FILE))
            calibration = json.loads((folder / CALIBRATION_FILE).read_text())
            slope, intercept = float(calibration["slope"]), float(calibration["intercept"])
        except (OSError, ValueError, KeyError, TypeError, xgb.core.XGBoostError) as exc:
            raise ArtifactError(
                f"Cannot read the head in {str(folder)!r} (saved with {manifest.get('versions')}): "
                f"{exc}. {REFIT}"
            ) from None
        booster.set_param({"nthread": head._predict_threads})
        head.booster_ = booster
        head.slope_, head.intercept_ = slope, intercept
        head.feature_names_, head.n_features_in_ = names, len(names)
        head.n_trees_ = int(manifest.get("n_trees", booster.num_boosted_rounds()))
        head.n_train_ = int(manifest.get("n_train", 0))
        head.n_validation_ = int(manifest.get("n_validation", 0))
        head.manifest_ = manifest
        return head


# ---------------------------------------------------------------------------- both heads
class ReciprocalModel:
    """P(mentor accepts), P(success | accepted) and their product, from two fitted heads.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> accept, success = ((rng.random(300) < expit(s * X[:, 0])).astype(int) for s in (2, -1))
    >>> heads = {name: Head(name, n_estimators=30, n_jobs=1).fit(X[:200], y[:200], eval_set=(X[200:], y[200:]))
    ...          for name, y in (("accept", accept), ("success", success))}
    >>> model = ReciprocalModel(heads["accept"], heads["success"])
    >>> bool(np.allclose(model.predict_match(X[:3]), model.predict_accept(X[:3]) * model.predict_success(X[:3])))
    True
    """

    def __init__(self, accept: Head, success: Head) -> None:
        for name, head in (("accept", accept), ("success", success)):
            if not isinstance(head, Head) or head.name != name:
                raise InvalidParameterError(
                    f"The {name!r} parameter of ReciprocalModel must be a Head named {name!r}. "
                    f"Got {type(head).__name__}{f' named {head.name!r}' if isinstance(head, Head) else ''}."
                )
        self.accept = accept
        self.success = success

    def predict_accept(self, X: Any) -> np.ndarray:
        """P(mentor accepts | requested) of each pair."""
        return self.accept.predict(X)

    def predict_success(self, X: Any) -> np.ndarray:
        """P(success | accepted) of each pair."""
        return self.success.predict(X)

    def predict_match(self, X: Any) -> np.ndarray:
        """P(match) = P(accept) x P(success | accepted) of each pair."""
        return self.predict_accept(X) * self.predict_success(X)

    def score(self, X: Any, how: str = "reciprocal") -> np.ndarray:
        """The score to rank pairs by; ``reciprocal`` (the only one so far) is P(match)."""
        check_choice("how", how, "ReciprocalModel.score", HOWS)
        return self.predict_match(X)

    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write ``accept/`` and ``success/`` (each a head folder) and a manifest over both."""
        folder = Path(folder)
        files = []
        for name, head in (("accept", self.accept), ("success", self.success)):
            head.save(folder / name, metadata=metadata)
            files += [f"{name}/{file}" for file in (MODEL_FILE, CALIBRATION_FILE, MANIFEST_FILE)]
        fields = {**(metadata or {}), "heads": list(HEADS), "versions": library_versions()}
        try:
            Manifest.write(folder, MODEL_KIND, MODEL_VERSION, fields, files=files)
        except OSError as exc:
            raise ArtifactError(f"Cannot write the reciprocal model into {str(folder)!r}: {exc}") from None
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ReciprocalModel:
        """A model saved by :meth:`save`; every file is checked against the manifests."""
        folder = Path(folder)
        Manifest.read(folder, MODEL_KIND, MODEL_VERSION, fix=REFIT,
                      required=[f"{name}/{MANIFEST_FILE}" for name in HEADS])
        return cls(Head.load(folder / "accept"), Head.load(folder / "success"))


# ---------------------------------------------------------------------------- training
def train_heads(
    data: HeadsData,
    *,
    seed: int = 42,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    n_jobs: int | None = None,
) -> ReciprocalModel:
    """Fit both heads on ``data``'s train part, early-stopped and calibrated on its validation part.

    ``params`` overrides :class:`Head` parameters per head name, e.g.
    ``{"success": {"max_depth": 2}}``. Raises :class:`NotEnoughDataError` naming the head
    when a part has too few rows or one class.
    """
    params = dict(params or {})
    unknown = set(params) - set(HEADS)
    if unknown:
        raise InvalidParameterError(
            f"The 'params' parameter of train_heads takes the head names {list(HEADS)} as keys. "
            f"Got {sorted(unknown)}."
        )
    heads = {}
    for name in HEADS:
        X_train, y_train = data.labelled(name, "train")
        X_valid, y_valid = data.labelled(name, "validation")
        head = Head(name, random_state=seed, n_jobs=n_jobs, **params.get(name, {}))
        heads[name] = head.fit(X_train, y_train, eval_set=(X_valid, y_valid))
        logger.info("%s head: %d trees on %d rows, calibrated on %d", name, head.n_trees_,
                    head.n_train_, head.n_validation_)
    return ReciprocalModel(heads["accept"], heads["success"])
