"""Learning from the logged lists, with the position bias of the shown order corrected.

:func:`logged_training_groups` turns the recommendation log into query groups: one group
per served list, its slots in the order they were shown, the features the ranker scored
then (the slot's snapshot), and labels from the outcome events that followed.

Labels of a slot (one request per (mentee, mentor) pair, :mod:`db.outcomes`):

* ``requested``: the mentee requested the mentor; ``accepted``: the mentor accepted (an
  ``accepted``, ``started`` or ``ended`` event); ``success``: it ended with success.
* ``relevance``: 0 not requested, 1 requested (pending or declined), 2 accepted, 3 ended
  successfully.
* ``pending``: requested, no answer yet at the cut: ``accepted`` is 0 there but unknown, so
  an accept model drops these; ``ongoing``: accepted, not ended yet at the cut (``success``
  unknown).

How events become labels:

* Events are taken by *kind*, not by clock: a later kind implies the earlier ones (an
  ``ended`` pair was requested and accepted), so an ``accepted`` stamped before its
  ``requested`` (client clocks) counts the same as one stamped after. Contradictions
  (``accepted`` and ``declined``, or a pair's events naming two lists) are refused.
* A pair's events carry the list of its request. Where none of them names a list, the
  request is attributed to the latest list served to that mentee that showed that mentor,
  at or before the pair's first event; without such a list it was a contact outside the
  lists and labels nothing.
* ``until`` cuts in time: lists served after it and events that occurred after it are left
  out, so a model trained as of ``until`` sees nothing from after.

Slots whose snapshot is missing, or holds another feature set than
:data:`ranking.features.FEATURES` (a list served by another feature version), cannot be
scored the way they were: their whole *list* is dropped, because leaving out a slot would
shift the positions of the slots below it. The count is logged as a warning.

Position bias: a mentee sees the first slots more often than the last, so clicks (requests)
confound relevance with position. Two corrections, both trained on the groups:

1. :func:`fit_unbiased_lambdamart`: XGBoost's unbiased LambdaMART (``lambdarank_unbiased``)
   learns the examination ratio per position along with the ranker, reading the position of
   a row from its place in its query; :func:`examination_curve` reads the learned curve.
2. :func:`fit_position_feature_ranker`: the shown position as one more feature, held at
   position 1 when scoring (:class:`PositionFeatureRanker`).

docs/learning-from-the-log.md has the whole picture, and the choice of
``lambdarank_bias_norm``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, clone

from db.log_reading import LogFrames, validate_log
from mentor_match.errors import (
    ArtifactError,
    DataValidationError,
    InvalidParameterError,
    NotEnoughDataError,
    NotFittedError,
)
from mentor_match.validation import check_choice, check_int, check_number
from ranking.features import FEATURE_VERSION, FEATURES
from ranking.ranker import Ranker

logger = logging.getLogger(__name__)

__all__ = [
    "BIAS_NORM",
    "LABELS",
    "MIN_LISTS",
    "POSITION",
    "PositionFeatureRanker",
    "examination_curve",
    "fit_position_feature_ranker",
    "fit_unbiased_lambdamart",
    "fold_position",
    "logged_training_groups",
]

LABELS: tuple[str, ...] = ("requested", "accepted", "success", "relevance")
"""The label columns of :func:`logged_training_groups` a ranker can learn."""
FLAGS: tuple[str, ...] = ("pending", "ongoing")
UNRESOLVED: dict[str, tuple[str, ...]] = {"accepted": ("pending",), "success": ("pending", "ongoing")}
"""Rows whose label is not known yet at the cut, per label: their lists are left out of training."""
MIN_LISTS = 50
"""Logged lists with at least one positive label needed to train from the log."""
POSITION = "position"
"""The column of the shown position (1-based); the extra feature of :class:`PositionFeatureRanker`."""
BIAS_NORM = 0.0
"""``lambdarank_bias_norm`` of :func:`fit_unbiased_lambdamart`.

XGBoost estimates the examination ratio of position i as ``ti+ = (L_i / L_1) ** (1 / (1 + p))``
with ``p = lambdarank_bias_norm`` (``LambdaRankParam::Regularizer()`` in
``src/common/ranking_utils.h``), so p shrinks the curve towards flat (no correction) and p = 0
leaves the loss ratio as it is. Its default is not what the docs say: ``doc/parameter.rst``
gives 2.0 ("default is L2"), the code (``DMLC_DECLARE_FIELD(lambdarank_bias_norm)
.set_default(1.0)``, earlier 2.0) and the installed 3.2.0's ``save_config()`` give 1.0. We set
it explicitly: on a planted log with examination 1/r, p = 0 recovered the curve within 0.1 at
every position and ranked best, while p = 1 left it about twice too flat (under-corrected).
Raise it when few lists make the curve noisy."""
FEATURE_SET = frozenset(FEATURES)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_ACCEPTED_KINDS = ("accepted", "started", "ended")
_PAIR = ["mentee_id", "mentor_id"]
_LIST_COLUMNS = ["list_id", "mentee_id", "served_at", "model_version", "variant", "mentor_id", POSITION, "propensity"]


# ----------------------------------------------------------------------------- the groups
def logged_training_groups(frames: LogFrames, *, until: datetime | None = None) -> pd.DataFrame:
    """One query group per served list: its slots in shown order, their logged features, labels.

    ``frames`` is the log as :func:`db.log_reading.load_log` reads it (or built by hand with
    the schema's columns; it is validated here). ``until`` (naive UTC; an aware time is
    converted) leaves out lists served and events that occurred after it; None keeps all.

    Columns: ``list_id``, ``mentee_id`` (None for an ad-hoc profile), ``served_at``,
    ``model_version``, ``variant``, ``mentor_id``, ``position`` (1-based), ``propensity``,
    the :data:`~ranking.features.FEATURES` (a feature logged as null is NaN), then ``requested``,
    ``accepted``, ``success``, ``relevance`` (ints) and ``pending``, ``ongoing`` (bools); see
    the module docstring for what they mean. Rows sorted by (``served_at``, ``list_id``,
    ``position``), so each list's rows are contiguous and in shown order, as
    :func:`fit_unbiased_lambdamart` needs them.

    >>> from db.schema import LOG_TABLES
    >>> empty = LogFrames(*(pd.DataFrame({c.name: [] for c in t.columns}) for t in LOG_TABLES))
    >>> groups = logged_training_groups(empty)
    >>> len(groups), list(groups.columns[-6:])
    (0, ['requested', 'accepted', 'success', 'relevance', 'pending', 'ongoing'])
    """
    if not isinstance(frames, LogFrames):
        raise InvalidParameterError(
            "logged_training_groups takes the log as LogFrames (db.log_reading.load_log). "
            f"Got {type(frames).__name__}."
        )
    cut = _check_until(until)
    lists, slots, events = validate_log(frames)
    if cut is not None:
        lists = lists[lists["created_at"] <= cut]
        events = events[events["occurred_at"] <= cut]
    shown = slots.loc[slots["list_id"].isin(lists["list_id"]), ["list_id", "mentor_id", "recommended_rank", "propensity", "features"]]
    shown = shown.merge(
        lists[["list_id", "mentee_id", "created_at", "model_version", "variant"]],
        on="list_id", how="inner", validate="many_to_one",
    ).rename(columns={"recommended_rank": POSITION, "created_at": "served_at"})
    labels = _pair_labels(events, shown)  # attributed before dropping lists: see below
    shown = _with_features(shown)
    out = shown.merge(labels, on=["list_id", "mentor_id"], how="left", validate="one_to_one")
    for name in ("requested", "accepted", "success", *FLAGS):
        out[name] = out[name].eq(True)  # no attributed request: False
    out["relevance"] = out["requested"].astype(np.int64) + out["accepted"] + out["success"]
    for name in ("requested", "accepted", "success"):
        out[name] = out[name].astype(np.int64)
    out = out.sort_values(["served_at", "list_id", POSITION], kind="stable").reset_index(drop=True)
    return out[[*_LIST_COLUMNS, *FEATURES, *LABELS, *FLAGS]]


def _check_until(until: Any) -> pd.Timestamp | None:
    if until is None:
        return None
    if not isinstance(until, datetime):  # pd.Timestamp is a datetime
        raise InvalidParameterError(
            f"The 'until' parameter of logged_training_groups must be a datetime (naive UTC) or None. Got {until!r}."
        )
    if until.tzinfo is not None:
        until = until.astimezone(timezone.utc).replace(tzinfo=None)
    return pd.Timestamp(until)


def _pair_labels(events: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """The labels of each (list, mentor) that a request was attributed to.

    Attribution looks at every list served before the cut, those that will be dropped for
    their snapshot included: a request from such a list must not fall to an older list.
    """
    columns = ["list_id", "mentor_id", "requested", "accepted", "success", "pending", "ongoing"]
    if events.empty:
        return pd.DataFrame({name: pd.Series(dtype=object if name == "list_id" else np.int64) for name in columns})
    kind = events["kind"]
    marked = events.assign(
        _accepted=kind.isin(_ACCEPTED_KINDS),
        _declined=kind.eq("declined"),
        _ended=kind.eq("ended"),
        _success=kind.eq("ended") & events["success"].fillna(False).astype(bool),
    )
    pairs = marked.groupby(_PAIR, sort=True).agg(
        list_id=("list_id", "first"),  # the first non-null
        n_lists=("list_id", "nunique"),
        first_at=("occurred_at", "min"),
        accepted=("_accepted", "any"),
        declined=("_declined", "any"),
        ended=("_ended", "any"),
        success=("_success", "any"),
    ).reset_index()
    _refuse(pairs, pairs["n_lists"] > 1, "name more than one list", (
        "a pair's events describe one request, and the request came from one list; later events "
        "leave list_id out or repeat the request's"
    ))
    _refuse(pairs, pairs["accepted"] & pairs["declined"], "have both an acceptance and a decline", (
        "the mentor answers a request once (an 'accepted', 'started' or 'ended' event means "
        "accepted); remove the wrong answer"
    ))
    attributed = _attribute(pairs[pairs["list_id"].isna()], shown)
    pairs = pd.concat([pairs[pairs["list_id"].notna()], attributed], ignore_index=True)
    pairs["requested"] = True
    pairs["pending"] = ~pairs["accepted"] & ~pairs["declined"]
    pairs["ongoing"] = pairs["accepted"] & ~pairs["ended"]
    # One row per (list, mentor); two only for an ad-hoc list whose events name two mentees.
    return pairs[columns].groupby(["list_id", "mentor_id"], as_index=False).max()


def _attribute(listless: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """Pairs without a list, each given the latest list that showed the mentor to the mentee
    at or before the pair's first event; pairs with none are contacts outside the lists."""
    if listless.empty:
        return listless
    candidates = shown.loc[shown["mentee_id"].notna(), ["mentee_id", "mentor_id", "list_id", "served_at"]]
    candidates = candidates.astype({"mentee_id": np.int64, "mentor_id": np.int64}).sort_values("served_at", kind="stable")
    left = listless.drop(columns="list_id").astype({"mentee_id": np.int64, "mentor_id": np.int64})
    joined = pd.merge_asof(
        left.sort_values("first_at", kind="stable"),
        candidates,
        left_on="first_at",
        right_on="served_at",
        by=_PAIR,
        direction="backward",
    )
    outside = joined["list_id"].isna()
    if outside.any():
        logger.info(
            "%d request(s) without a list id match no list served before them that showed the "
            "mentor to the mentee: contacts outside the lists, left out", int(outside.sum()),
        )
    return joined[~outside].drop(columns="served_at")


def _refuse(pairs: pd.DataFrame, mask: pd.Series, problem: str, rule: str) -> None:
    if not mask.any():
        return
    bad = pairs.loc[mask, _PAIR].head(5)
    named = ", ".join(f"(mentee {a}, mentor {b})" for a, b in bad.itertuples(index=False))
    raise DataValidationError(
        f"Table 'recommendation_events': the events of {int(mask.sum())} pair(s) {problem}, "
        f"e.g. {named}; {rule}."
    )


def _with_features(shown: pd.DataFrame) -> pd.DataFrame:
    """The slots with one column per feature; lists with a slot that lacks a usable snapshot dropped."""
    snapshots = shown["features"]
    usable = snapshots.map(lambda f: isinstance(f, dict) and f.keys() == FEATURE_SET).astype(bool)
    bad_lists = shown.loc[~usable, "list_id"].unique()
    if len(bad_lists):
        dropped = shown["list_id"].isin(bad_lists)
        versions = sorted(shown.loc[dropped, "model_version"].astype(str).unique())
        logger.warning(
            "dropped %d logged list(s) (%d slots) with a slot whose feature snapshot is missing or "
            "holds another feature set than ranking.features.FEATURES (version %s); model versions "
            "%s. Their positions cannot be kept without every slot.",
            len(bad_lists), int(dropped.sum()), FEATURE_VERSION, versions[:5],
        )
        shown = shown[~dropped]
    values = np.array(
        [[snapshot[name] for name in FEATURES] for snapshot in shown["features"]], dtype=np.float64
    ).reshape(len(shown), len(FEATURES))  # a JSON null (a missing value) becomes NaN
    features = pd.DataFrame(values, columns=list(FEATURES), index=shown.index)
    return pd.concat([shown.drop(columns="features"), features], axis=1)


# -------------------------------------------------------------------------- training rows
def _training_rows(groups: Any, label: str, where: str, min_lists: int, *, shown_order: bool) -> pd.DataFrame:
    """The groups a fit uses: checked, lists with unknown labels left out, enough of them."""
    if not isinstance(groups, pd.DataFrame):
        raise InvalidParameterError(
            f"{where} takes the frame of logged_training_groups. Got {type(groups).__name__}."
        )
    label = check_choice("label", label, where, LABELS)
    min_lists = check_int("min_lists", min_lists, where)
    needed = ["list_id", POSITION, *FEATURES, label, *UNRESOLVED.get(label, ())]
    missing = [name for name in needed if name not in groups.columns]
    if missing:
        raise InvalidParameterError(
            f"{where}: the groups lack column(s) {missing[:5]}. Build them with "
            "ranking.logged.logged_training_groups."
        )
    if shown_order:
        _check_shown_order(groups, where)
    unresolved = groups[list(UNRESOLVED.get(label, ()))].any(axis=1)
    if unresolved.any():
        left_out = groups.loc[unresolved, "list_id"].unique()
        logger.info(
            "%s: %d list(s) with a %r label not known yet (%s) left out",
            where, len(left_out), label, " or ".join(UNRESOLVED[label]),
        )
        groups = groups[~groups["list_id"].isin(left_out)]
    positive = groups.loc[groups[label] > 0, "list_id"].nunique()
    if positive < min_lists:
        raise NotEnoughDataError(
            f"{where}: only {positive} logged list(s) have a slot with {label!r} > 0 (with its "
            f"label known); learning from the log needs at least {min_lists} (min_lists). Serve "
            "and log more lists, wait for their outcomes, or move the 'until' cut later."
        )
    return groups


def _check_shown_order(groups: pd.DataFrame, where: str) -> None:
    """Each list's rows contiguous, at positions 1, 2, ... in row order (XGBoost reads the
    position of a row from its place in its query)."""
    codes, _ = pd.factorize(groups["list_id"])
    contiguous = len(codes) == 0 or (np.diff(codes) != 0).sum() + 1 == codes.max() + 1
    expected = groups.groupby(codes, sort=False).cumcount().to_numpy() + 1
    if not contiguous or not np.array_equal(groups[POSITION].to_numpy(), expected):
        raise InvalidParameterError(
            f"{where} needs each list's rows together and in shown order, at positions 1, 2, ... "
            "without gaps: the unbiased objective reads a row's position from its place in its "
            "list. Pass the frame of logged_training_groups as it comes (sorted by list and position)."
        )


def _default_ranker() -> Ranker:
    return Ranker("rank:ndcg", n_estimators=200, learning_rate=0.1, max_depth=4)


def _template(ranker: Ranker | None, where: str) -> Ranker:
    if ranker is None:
        return _default_ranker()
    if not isinstance(ranker, Ranker):
        raise InvalidParameterError(
            f"The 'ranker' parameter of {where} must be a ranking.ranker.Ranker (its parameters are "
            f"used, it is not fitted) or None. Got {type(ranker).__name__}."
        )
    return clone(ranker)


# ------------------------------------------------------------- method 1: unbiased LambdaMART
def fit_unbiased_lambdamart(
    groups: pd.DataFrame,
    *,
    label: str = "requested",
    bias_norm: float = BIAS_NORM,
    ranker: Ranker | None = None,
    min_lists: int = MIN_LISTS,
) -> Ranker:
    """A :class:`~ranking.ranker.Ranker` on :data:`FEATURES`, trained with XGBoost's unbiased
    LambdaMART, which learns the examination of each shown position along with the ranker.

    ``groups`` is :func:`logged_training_groups`' frame, rows in shown order (checked): XGBoost
    takes a row's place in its query as its position. ``label`` is one of :data:`LABELS`; for
    ``accepted`` and ``success`` the lists with a label not known yet (``pending``, ``ongoing``)
    are left out whole, since a dropped row would shift the positions below it. ``ranker``
    gives the parameters (an XGBoost ``rank:ndcg`` or ``rank:pairwise`` Ranker, not fitted;
    default: ``rank:ndcg``, 200 trees of depth 4, learning rate 0.1);
    ``lambdarank_unbiased=True`` and ``lambdarank_bias_norm=bias_norm`` are set here
    (:data:`BIAS_NORM` says why 0). Fewer than ``min_lists`` lists with a positive label is a
    :class:`~mentor_match.errors.NotEnoughDataError`. Read the curve with :func:`examination_curve`.

    >>> rng = np.random.default_rng(0)
    >>> groups = pd.DataFrame(rng.uniform(size=(300, len(FEATURES))), columns=list(FEATURES))
    >>> groups = groups.assign(list_id=np.repeat(np.arange(60), 5), position=np.tile(np.arange(1, 6), 60),
    ...                        requested=(groups["domain_overlap"] > 0.5).astype(int))
    >>> model = fit_unbiased_lambdamart(groups, ranker=Ranker("rank:ndcg", n_estimators=20, n_jobs=1))
    >>> model.predict(groups[list(FEATURES)]).shape, examination_curve(model).shape
    ((300,), (5,))
    """
    where = "fit_unbiased_lambdamart"
    bias_norm = check_number("bias_norm", bias_norm, where, low=0.0)
    template = _template(ranker, where)
    if template.objective not in ("rank:ndcg", "rank:pairwise"):
        raise InvalidParameterError(
            f"{where} trains XGBoost's unbiased LambdaMART: the ranker's objective must be "
            f"'rank:ndcg' or 'rank:pairwise'. Got {template.objective!r}."
        )
    rows = _training_rows(groups, label, where, min_lists, shown_order=True)
    template.set_params(lambdarank_unbiased=True, lambdarank_bias_norm=bias_norm)
    return template.fit(rows[list(FEATURES)], rows[label], rows["list_id"])


def examination_curve(ranker: Ranker, n_positions: int | None = None) -> np.ndarray:
    """The examination ratio of each position that unbiased LambdaMART learned, position 1 = 1.

    XGBoost keeps it in the objective's configuration (``learner.objective["ti+"]`` of
    ``Booster.save_config()``, 32 positions; ``"tj-"`` is the matching ratio for non-clicks)
    and in the saved model. ``ti+`` is a ratio, not a probability: it need not decrease, and
    on few lists it is noisy. ``n_positions`` (default: up to the last position with a
    non-zero value, i.e. the longest list trained on) cuts it. A ranker trained without
    ``lambdarank_unbiased`` is refused.

    >>> rng = np.random.default_rng(1)
    >>> groups = pd.DataFrame(rng.uniform(size=(300, len(FEATURES))), columns=list(FEATURES))
    >>> groups = groups.assign(list_id=np.repeat(np.arange(60), 5), position=np.tile(np.arange(1, 6), 60),
    ...                        requested=(groups["domain_overlap"] > 0.5).astype(int))
    >>> model = fit_unbiased_lambdamart(groups, ranker=Ranker("rank:ndcg", n_estimators=20, n_jobs=1))
    >>> float(examination_curve(model, 3)[0])
    1.0
    """
    if not isinstance(ranker, Ranker):
        raise InvalidParameterError(
            f"examination_curve takes the Ranker of fit_unbiased_lambdamart. Got {type(ranker).__name__}."
        )
    n_positions = check_int("n_positions", n_positions, "examination_curve", allow_none=True)
    if not hasattr(ranker, "booster_"):
        raise NotFittedError("This Ranker is not fitted yet; train it with fit_unbiased_lambdamart first.")
    if ranker.library != "xgboost":
        raise InvalidParameterError("examination_curve reads XGBoost's unbiased LambdaMART; this ranker is LightGBM.")
    objective = json.loads(ranker.booster_.save_config())["learner"]["objective"]
    if "ti+" not in objective:
        raise InvalidParameterError(
            "This ranker was trained without lambdarank_unbiased, so it learned no examination "
            "curve. Train it with fit_unbiased_lambdamart."
        )
    ratios = np.asarray(objective["ti+"], dtype=np.float64)
    if n_positions is None:
        nonzero = np.flatnonzero(ratios)
        n_positions = int(nonzero[-1]) + 1 if len(nonzero) else 0
    elif n_positions > len(ratios):
        raise InvalidParameterError(
            f"XGBoost tracks the examination of the first {len(ratios)} positions; "
            f"n_positions must be at most that. Got {n_positions}."
        )
    curve = ratios[:n_positions]
    return curve / curve[0] if len(curve) and curve[0] > 0 else curve


# ------------------------------------------------------------- method 2: position as a feature
class PositionFeatureRanker(BaseEstimator):
    """A :class:`~ranking.ranker.Ranker` trained with the shown position as one more feature,
    scoring every row as if shown at ``serving_position``.

    The model learns how much being shown higher adds; holding the position constant when
    scoring takes that out, and what is left ranks by the other features. It follows the
    scorer interface of :mod:`ranking.scorer` with one asymmetry: ``fit`` takes X *with* a
    ``position`` column, ``predict`` takes X without it (e.g. ``pair_features``' frame) and
    adds the constant column. ``ranker`` gives the parameters (not fitted; default as in
    :func:`fit_unbiased_lambdamart`).

    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.uniform(size=(40, 2)), columns=["a", "b"])
    >>> y, group = (X["a"] > 0.5).astype(int), np.repeat(np.arange(8), 5)
    >>> model = PositionFeatureRanker(Ranker(n_estimators=5, n_jobs=1))
    >>> model.fit(X.assign(position=np.tile(np.arange(1, 6), 8)), y, group).predict(X).shape
    (40,)
    """

    def __init__(self, ranker: Ranker | None = None, *, serving_position: int = 1) -> None:
        self.ranker = ranker
        self.serving_position = serving_position

    def fit(self, X: pd.DataFrame, y: Any, group: Any) -> PositionFeatureRanker:
        """Learn from rows ``X`` (a frame with a ``position`` column) with labels ``y`` per
        query ``group``; returns self."""
        where = "PositionFeatureRanker.fit"
        check_int("serving_position", self.serving_position, "PositionFeatureRanker")
        if not isinstance(X, pd.DataFrame) or POSITION not in X.columns:
            raise InvalidParameterError(
                f"{where} needs X as a frame with a {POSITION!r} column (the shown position, from 1)."
            )
        columns = [c for c in X.columns if c != POSITION] + [POSITION]
        self.ranker_ = _template(self.ranker, "PositionFeatureRanker").fit(X[columns], y, group)
        self.feature_names_ = columns[:-1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Scores of rows ``X`` (the features without ``position``), all at ``serving_position``."""
        self._check_fitted()
        if isinstance(X, pd.DataFrame):
            if POSITION in X.columns:
                raise InvalidParameterError(
                    f"PositionFeatureRanker.predict adds the {POSITION!r} column itself (at "
                    f"{self.serving_position}); pass X without it."
                )
            return self.ranker_.predict(X.assign(**{POSITION: float(self.serving_position)}))
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidParameterError(f"X must be 2-D (rows x features); got {X.ndim}-D.")
        return self.ranker_.predict(np.column_stack([X, np.full(len(X), float(self.serving_position))]))

    def save(self, folder: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """The inner ranker's folder (:meth:`Ranker.save`), its manifest naming the position
        feature and the serving position."""
        self._check_fitted()
        extra = {**(metadata or {}), "position_feature": POSITION, "serving_position": int(self.serving_position)}
        return self.ranker_.save(folder, metadata=extra)

    @classmethod
    def load(cls, folder: str | Path) -> PositionFeatureRanker:
        """A model saved by :meth:`save`; a ranker folder without the position feature is refused."""
        inner = Ranker.load(folder)
        manifest = inner.manifest
        if manifest.get("position_feature") != POSITION or inner.feature_names_[-1:] != [POSITION]:
            raise ArtifactError(
                f"The ranker in {str(folder)!r} was not trained with the position as a feature "
                "(its manifest has no 'position_feature'). Load it with Ranker.load, or retrain "
                "with ranking.logged.fit_position_feature_ranker."
            )
        model = cls(serving_position=int(manifest.get("serving_position", 1)))
        model.ranker_ = inner
        model.feature_names_ = inner.feature_names_[:-1]
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "ranker_"):
            raise NotFittedError(
                "This PositionFeatureRanker is not fitted yet. Call fit(X, y, group) or "
                "PositionFeatureRanker.load(folder) first."
            )


def fit_position_feature_ranker(
    groups: pd.DataFrame,
    *,
    label: str = "requested",
    ranker: Ranker | None = None,
    serving_position: int = 1,
    min_lists: int = MIN_LISTS,
) -> PositionFeatureRanker:
    """A :class:`PositionFeatureRanker` on :data:`FEATURES` plus the shown position, trained on
    :func:`logged_training_groups`' frame; it scores on :data:`FEATURES` alone.

    ``label``, ``ranker`` and ``min_lists`` as in :func:`fit_unbiased_lambdamart` (row order
    does not matter here: the position is a column).

    >>> rng = np.random.default_rng(0)
    >>> groups = pd.DataFrame(rng.uniform(size=(300, len(FEATURES))), columns=list(FEATURES))
    >>> groups = groups.assign(list_id=np.repeat(np.arange(60), 5), position=np.tile(np.arange(1, 6), 60),
    ...                        requested=(groups["domain_overlap"] > 0.5).astype(int))
    >>> model = fit_position_feature_ranker(groups, ranker=Ranker("rank:ndcg", n_estimators=20, n_jobs=1))
    >>> model.predict(groups[list(FEATURES)]).shape
    (300,)
    """
    where = "fit_position_feature_ranker"
    rows = _training_rows(groups, label, where, min_lists, shown_order=False)
    model = PositionFeatureRanker(_template(ranker, where), serving_position=serving_position)
    return model.fit(rows[[*FEATURES, POSITION]], rows[label], rows["list_id"])


def fold_position(model: PositionFeatureRanker) -> Ranker:
    """A plain :class:`~ranking.ranker.Ranker` on :data:`~ranking.features.FEATURES` whose
    scores are ``model``'s at its serving position, exactly: the position is folded into the
    trees.

    Why: the Recommender serves a ``Ranker`` over ``FEATURES`` (``Ranker.load``, and the stages
    refuse other features), and the guard takes a ``Ranker``. A tree that splits on the
    position sends every row the same way once the position is a constant, so each such split
    is rewritten as a split on the first feature that always goes that way (threshold at
    +-float32 max, missing values the same way), and the position column is dropped. The
    result scores every row as ``model.predict`` does (tested); rows with an infinite first
    feature, which pair features never hold, would not.

    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.uniform(size=(60, 3)), columns=["a", "b", "c"])
    >>> model = PositionFeatureRanker(Ranker("rank:ndcg", n_estimators=5, n_jobs=1)).fit(
    ...     X.assign(position=np.tile(np.arange(1, 7), 10)), (X["a"] > 0.5).astype(int), np.repeat(np.arange(10), 6))
    >>> bool(np.allclose(fold_position(model).predict(X), model.predict(X)))
    True
    """
    if not isinstance(model, PositionFeatureRanker) or not hasattr(model, "ranker_"):
        raise InvalidParameterError(
            f"fold_position takes a fitted ranking.logged.PositionFeatureRanker. Got {type(model).__name__}."
        )
    inner = model.ranker_
    if inner.library != "xgboost" or list(inner.feature_names_)[-1:] != [POSITION]:
        raise InvalidParameterError(
            "fold_position folds XGBoost trees whose last feature is the position; this model is "
            f"{inner.library} with features ending {list(inner.feature_names_)[-1:]}."
        )
    position = len(inner.feature_names_) - 1
    value = float(model.serving_position)
    raw = json.loads(bytes(inner.booster_.save_raw("json")))
    learner = raw["learner"]
    learner["learner_model_param"]["num_feature"] = str(position)
    learner["feature_names"], learner["feature_types"] = [], []
    for tree in learner["gradient_booster"]["model"]["trees"]:
        tree["tree_param"]["num_feature"] = str(position)
        for node, feature in enumerate(tree["split_indices"]):
            if feature != position or tree["left_children"][node] == -1:
                continue
            left = value < tree["split_conditions"][node]  # XGBoost goes left when x < threshold
            tree["split_indices"][node] = 0
            tree["split_conditions"][node] = _FLOAT32_MAX if left else -_FLOAT32_MAX
            tree["default_left"][node] = int(left)
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(raw).encode()))
    folded = Ranker(**inner.get_params())
    booster.set_param({"nthread": 1 if folded.n_jobs is None else int(folded.n_jobs)})
    folded.booster_ = booster
    folded.best_iteration_ = inner.best_iteration_
    folded.feature_names_ = list(inner.feature_names_[:-1])
    folded.n_features_in_ = position
    folded.n_groups_ = inner.n_groups_
    return folded
