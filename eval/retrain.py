"""Retraining as a job: train a candidate ranker, compare it with production, promote only if
it is not worse. The library side of ``scripts/retrain.py`` (docs/retraining.md).

:func:`retrain` runs four steps:

1. **Data as of now.** The database is read as the platform knew it at ``now``
   (:func:`dataset_as_of`): no request made after ``now``, no outcome learned after it (a
   mentorship completed later is still ``accepted``), the seats each mentor held then.
   Labelled pairs, point-in-time features and the time split are those of
   :mod:`ranking.training`.
2. **A candidate.** :func:`fit_ranker` (the pipeline's XGBoost ``rank:pairwise`` ranker,
   early-stopped on the validation mentees) or the caller's ``fit_candidate``: the hook for
   other learners, e.g. :func:`log_candidate`, which learns from the recommendation log's
   lists (``scripts/retrain.py --learn-from log --debias ...``).
3. **One comparison.** The candidate and the production ranker (the one ``artifacts/ranker``
   serves) score the *same* rows: the test part of the time split, i.e. the held-out mentees'
   requests of the latest period. Per-mentee NDCG@10 on the observed graded relevance
   (:func:`eval.metrics.ndcg_per_query`), then the paired bootstrap interval of the mean
   difference, candidate minus production (:func:`eval.stats.paired_comparison`).
4. **The guard.** The candidate is promoted (published, recorded in the registry,
   :mod:`ranking.registry`) only if the lower end of that 95% interval is at least
   ``-margin`` (:data:`DEFAULT_MARGIN`): "not worse", allowing a loss too small to matter,
   rather than "proven better", which a retrain on a little more data rarely is. With no
   production ranker yet, the first candidate is promoted. A refusal publishes nothing,
   is recorded too, and the result says why, with the numbers.

A production ranker trained on part of the test period (it was trained later, or with another
split seed) has an edge in this comparison; the bias favours keeping production, never a
false promotion.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from db.engine import get_engine
from db.fingerprint import training_fingerprints
from db.loading import Dataset, read_dataset
from db.log_reading import load_log
from eval.metrics import ndcg_per_query
from eval.stats import bootstrap_ci, paired_comparison
from mentor_match.errors import ArtifactError, InvalidParameterError, NotEnoughDataError
from mentor_match.validation import check_choice, check_int, check_number
from ranking.features import FEATURES
from ranking.history import mentor_state_at
from ranking.logged import (
    MIN_LISTS,
    examination_curve,
    fit_position_feature_ranker,
    fit_unbiased_lambdamart,
    fold_position,
    logged_training_groups,
)
from ranking.ranker import Ranker
from ranking.registry import DEFAULT_KEEP, live_version, promote, record_refusal
from ranking.snapshot import draw_training_sample
from ranking.splits import GroupedSplit
from ranking.training import (
    build_training_pairs,
    distil_preranker,
    make_pair_frame,
    make_ranker,
    split_pairs,
)
from retrieval.experiments import variant_folder

if TYPE_CHECKING:
    from embeddings import Encoder

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MARGIN",
    "METRIC",
    "CandidateFit",
    "RetrainResult",
    "TrainingSet",
    "DEBIAS",
    "LOG_LABEL",
    "LogFit",
    "dataset_as_of",
    "fit_ranker",
    "log_candidate",
    "log_ranker",
    "format_result",
    "retrain",
]

DEFAULT_MARGIN = 0.01
"""How much worse (NDCG@10, absolute) the candidate may plausibly be and still be promoted:
the lower end of the paired 95% interval of candidate - production must be >= -margin."""
METRIC, CUTOFF = "ndcg@10", 10
"""The guard's metric: per-mentee NDCG@10 on the observed graded relevance."""
N_BOOT, ALPHA = 1000, 0.05
"""Bootstrap resamples of the mentees, and 1 - the interval's coverage."""

RetrainResult = dict[str, Any]
"""A json-able dict; see :func:`retrain` for its keys."""


@dataclass(frozen=True)
class TrainingSet:
    """What a candidate learns from: the data as of ``as_of`` and its split.

    ``pairs`` are the labelled pairs (:func:`ranking.training.build_training_pairs`),
    ``features`` their model inputs (aligned rows), ``split`` the row positions of train,
    validation and test (:func:`ranking.training.split_pairs`, ``"time"``). A candidate must
    not learn from ``split.test`` (the guard judges it there) nor from anything after
    ``as_of``; ``db_url`` lets it read more (e.g. the recommendation log) up to ``as_of``.
    """

    dataset: Dataset
    pairs: pd.DataFrame
    features: pd.DataFrame
    split: GroupedSplit
    as_of: pd.Timestamp
    seed: int
    db_url: str | None


CandidateFit = Callable[[TrainingSet], Ranker]
"""Makes the candidate: a fitted :class:`ranking.ranker.Ranker` from a :class:`TrainingSet`."""


LOG_LABEL = "relevance"
"""The label a ranker learns from the log: 0 shown, 1 requested, 2 accepted, 3 ended with
success (:mod:`ranking.logged`). Graded rather than ``requested``: the market's goal is
successful matches, and the guard judges by the same graded outcome; ``requested`` alone would
teach the mentees' appeal (what a profile shows), which neither rewards."""
DEBIAS = ("none", "unbiased", "position")


def log_ranker(seed: int) -> Ranker:
    """The template every log-trained candidate uses (``ranking.logged``'s default learner,
    seeded): LambdaMART (``rank:ndcg``), 200 trees of depth 4, learning rate 0.1."""
    return Ranker("rank:ndcg", n_estimators=200, learning_rate=0.1, max_depth=4, random_state=seed)


@dataclass
class LogFit:
    """What a fit from the log saw and learned besides the ranker (for the report)."""

    lists: int = 0
    """Logged lists trained on."""
    held_out_lists: int = 0
    """Lists left out because their mentee is held out by the guard."""
    examination_curve: list[float] | None = None
    """The examination ratio per position that unbiased LambdaMART learned (position 1 = 1)."""


def log_candidate(debias: str, k: int, seed: int, note: LogFit) -> Callable[[TrainingSet], Ranker]:
    """A ``fit_candidate`` for :func:`eval.retrain.retrain` that learns from the logged lists
    of ``data.db_url`` up to ``data.as_of``, with ``debias`` (``none``: a plain LambdaMART; ``unbiased``:
    :func:`ranking.logged.fit_unbiased_lambdamart`; ``position``: the position as a feature, folded
    into a plain ranker at position 1 by :func:`ranking.logged.fold_position`). The lists of the
    mentees the guard holds out are left out: they are the rows it is judged on. ``note``
    receives the counts and, for ``"unbiased"``, the learned curve over ``k`` positions.

    >>> fit = log_candidate("unbiased", 10, 0, LogFit())
    >>> callable(fit)
    True
    >>> log_candidate("ips", 10, 0, LogFit())
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The 'debias' parameter of log_candidate must be one of ['none', 'unbiased', 'position']. Got 'ips'.
    """
    check_choice("debias", debias, "log_candidate", DEBIAS)
    check_int("k", k, "log_candidate")

    def fit(data: TrainingSet) -> Ranker:
        engine = get_engine(data.db_url)
        try:
            frames = load_log(engine)
        finally:
            engine.dispose()
        groups = logged_training_groups(frames, until=pd.Timestamp(data.as_of).to_pydatetime())
        held_out = np.unique(data.pairs["mentee_id"].to_numpy()[data.split.test])
        judged = groups["mentee_id"].isin(held_out)
        note.held_out_lists = int(groups.loc[judged, "list_id"].nunique())
        groups = groups[~judged].reset_index(drop=True)
        note.lists = int(groups["list_id"].nunique())
        template = log_ranker(seed)
        if debias == "unbiased":
            model = fit_unbiased_lambdamart(groups, label=LOG_LABEL, ranker=template)
            note.examination_curve = [float(v) for v in examination_curve(model)[:k]]
            return model
        if debias == "position":
            return fold_position(fit_position_feature_ranker(groups, label=LOG_LABEL, ranker=template))
        positive = int(groups.loc[groups[LOG_LABEL] > 0, "list_id"].nunique())
        if positive < MIN_LISTS:
            raise NotEnoughDataError(
                f"Learning from the log: only {positive} logged list(s) have a slot with {LOG_LABEL!r} > 0; "
                f"at least {MIN_LISTS} are needed. Retrain later (a larger retrain_every) or serve more lists."
            )
        return template.fit(groups[list(FEATURES)], groups[LOG_LABEL], groups["list_id"])

    return fit


def fit_ranker(data: TrainingSet, params: dict[str, Any] | None = None) -> Ranker:
    """The default candidate: the pipeline's ranker (:func:`ranking.training.make_ranker`,
    seeded with ``data.seed``, ``params`` overriding) fitted on ``split.train`` with graded
    relevance per mentee, early-stopped on ``split.validation``, as training does.

    >>> from functools import partial
    >>> fit_shallow = partial(fit_ranker, params={"max_depth": 2})  # a candidate factory
    """
    split, pairs, features = data.split, data.pairs, data.features
    ranker = make_ranker(data.seed, **(params or {}))
    eval_set = None
    if len(split.validation):
        rows = split.validation
        eval_set = (features.iloc[rows], pairs["relevance"].iloc[rows], pairs["mentee_id"].iloc[rows])
    rows = split.train
    return ranker.fit(
        features.iloc[rows], pairs["relevance"].iloc[rows], pairs["mentee_id"].iloc[rows], eval_set=eval_set
    )


def dataset_as_of(dataset: Dataset, at: datetime | str) -> Dataset:
    """``dataset`` as the platform knew it at ``at`` (naive UTC, like the database).

    Interactions requested after ``at`` are dropped; one completed after ``at`` reads as it
    stood then: ``accepted``, no completion, rating or success yet. Mentors and mentees
    created after ``at`` are dropped, and each mentor's ``current_mentees`` is the seats held
    at ``at`` (:func:`ranking.history.mentor_state_at`). Profile texts stay as they are now:
    the database keeps no earlier versions of a bio or of goals.

    >>> t = pd.to_datetime
    >>> inter = pd.DataFrame({"interaction_id": [1, 2, 3], "mentee_id": [1, 2, 3], "mentor_id": [10] * 3,
    ...     "status": ["completed", "completed", "declined"], "successful_match": [True, True, False],
    ...     "overall_rating": [5.0, 4.0, None], "created_at": t(["2026-01-01", "2026-02-01", "2026-04-01"]),
    ...     "completed_at": t(["2026-01-20", "2026-03-20", None])})
    >>> mentors = pd.DataFrame({"mentor_id": [10], "current_mentees": [0], "created_at": t(["2025-01-01"])})
    >>> mentees = pd.DataFrame({"mentee_id": [1, 2, 3], "created_at": t(["2025-06-01"] * 3)})
    >>> then = dataset_as_of(Dataset(mentors, mentees, inter), "2026-03-01")
    >>> then.interactions[["mentee_id", "status", "successful_match"]].to_dict("list")
    {'mentee_id': [1, 2], 'status': ['completed', 'accepted'], 'successful_match': [True, False]}
    >>> int(then.mentors["current_mentees"].iloc[0])  # mentee 2 held a seat on March 1
    1
    """
    at = _timestamp(at, "dataset_as_of")
    interactions = dataset.interactions
    known = interactions[interactions["created_at"] <= at].copy()
    if "completed_at" in known:
        later = known["completed_at"].notna() & (known["completed_at"] > at)
        known.loc[later, "status"] = "accepted"
        known.loc[later, "successful_match"] = False
        known.loc[later, "completed_at"] = pd.NaT
        if "overall_rating" in known:
            known.loc[later, "overall_rating"] = np.nan
    mentors, mentees = dataset.mentors, dataset.mentees
    if "created_at" in mentors:
        mentors = mentors[mentors["created_at"] <= at]
    if "created_at" in mentees:
        mentees = mentees[mentees["created_at"] <= at]
    asked = pd.DataFrame({"mentor_id": mentors["mentor_id"].to_numpy(), "at": at}, index=mentors.index)
    asked["at"] = asked["at"].astype(interactions["created_at"].dtype)
    seats = mentor_state_at(interactions, dataset.mentors, asked)["current_mentees"]
    mentors = mentors.assign(current_mentees=seats.round().astype(mentors["current_mentees"].dtype))
    return Dataset(mentors=mentors, mentees=mentees, interactions=known)


def retrain(
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    *,
    now: datetime | str | None = None,
    seed: int = 42,
    margin: float = DEFAULT_MARGIN,
    keep: int = DEFAULT_KEEP,
    variant: str | None = None,
    encoder: Encoder | None = None,
    fit_candidate: CandidateFit | None = None,
    progress: bool = False,
) -> RetrainResult:
    """Train a candidate on the data up to ``now``, compare it with production on the same
    held-out mentees, promote it only if it is not worse (see the module docstring).

    ``now``: the moment the data is read as of (naive UTC or tz-aware; None: everything in
    the database). ``seed``: the split, the model and the bootstrap. ``margin`` (>= 0): the
    guard admits a candidate whose paired 95% interval of NDCG@10 difference starts at
    ``-margin`` or above. ``keep``: versions kept for rollback. ``variant``: judge and publish
    an A/B variant's ranker (``artifacts/variants/<variant>/ranker``) instead of the control's.
    ``encoder`` defaults to the shipped MiniLM; embeddings are cached under
    ``artifacts/cache``. ``fit_candidate`` makes the candidate from the :class:`TrainingSet`
    (default :func:`fit_ranker`): the hook for another learner (e.g. from the logged lists).

    Returns a json-able dict: ``promoted`` (bool), ``reason`` (one sentence with the numbers),
    ``metric``, ``margin``, ``mentees`` (compared), ``test_pairs``, ``train_pairs``,
    ``validation_pairs``, ``as_of``, ``test_from`` (the held-out period's first request),
    ``candidate`` and ``production`` (``mean``, ``ci`` [low, high], ``version``,
    ``model_version``; production also ``trained_until``; production None when there was
    none), ``difference`` (``mean_diff``, ``ci_low``, ``ci_high``, ``p_value`` of candidate -
    production; None without production), ``registry`` (the folder of the link and of
    ``registry.json``), ``seed``, ``seconds``. A refusal is a result, not an error: nothing
    is published and the refusal is recorded in the registry.
    """
    where = "retrain"
    seed = check_int("seed", seed, where, low=0)
    margin = check_number("margin", margin, where, low=0.0)
    keep = check_int("keep", keep, where)
    as_of = None if now is None else _timestamp(now, where)
    started = time.perf_counter()
    artifacts = Path(artifacts)
    folder = artifacts if variant is None else variant_folder(artifacts, variant)

    dataset = read_dataset(db_url)
    if as_of is not None:
        dataset = dataset_as_of(dataset, as_of)
    else:
        as_of = _latest(dataset)
    pairs = build_training_pairs(dataset)
    if encoder is None:
        from embeddings import Encoder

        encoder = Encoder()
    features = make_pair_frame(dataset, pairs, encoder, artifacts / "cache", progress)
    split = split_pairs(pairs, "time", seed)
    data = TrainingSet(dataset, pairs, features, split, as_of, seed, db_url)
    candidate = (fit_candidate or fit_ranker)(data)
    if not isinstance(candidate, Ranker) or not hasattr(candidate, "booster_"):
        raise InvalidParameterError(
            f"The 'fit_candidate' parameter of {where} must return a fitted ranking.Ranker. "
            f"Got {type(candidate).__name__}."
        )

    test = split.test
    relevance, mentees = pairs["relevance"].to_numpy()[test], pairs["mentee_id"].to_numpy()[test]
    held_out = features.iloc[test]
    ours = ndcg_per_query(relevance, candidate.predict(held_out), CUTOFF, mentees)
    production = _production(folder)
    theirs = None if production is None else ndcg_per_query(relevance, production.predict(held_out), CUTOFF, mentees)

    result: RetrainResult = {
        "promoted": False,
        "reason": "",
        "metric": METRIC,
        "margin": margin,
        "mentees": int(len(ours)),
        "test_pairs": int(len(test)),
        "train_pairs": int(len(split.train)),
        "validation_pairs": int(len(split.validation)),
        "as_of": as_of.isoformat(),
        "test_from": pd.Timestamp(pairs["created_at"].to_numpy()[test].min()).isoformat(),
        "candidate": _summary(ours, seed),
        "production": None,
        "difference": None,
        "registry": str(folder),
        "seed": seed,
    }
    if theirs is None:
        promoted = True
        result["reason"] = (
            f"Promoted: there is no production ranker in {str(folder)!r} yet, so the first candidate "
            f"({METRIC} {ours.mean():.4f} on {len(ours)} held-out mentees) goes live."
        )
    else:
        difference = paired_comparison(ours, theirs, n_boot=N_BOOT, alpha=ALPHA, seed=seed)
        promoted = difference["ci_low"] >= -margin
        result["production"] = {
            **_summary(theirs, seed),
            "version": live_version(folder),
            "model_version": production.manifest.version,
            "trained_until": production.manifest.get("training_data", {}).get("trained_until"),
        }
        result["difference"] = difference
        result["reason"] = _reason(promoted, ours, theirs, difference, margin)
    result["promoted"] = bool(promoted)
    numbers = _numbers(result)

    if promoted:
        record = promote(
            candidate, folder, numbers=numbers, metadata=_metadata(data, candidate, encoder, artifacts, variant, numbers),
            importance=candidate.feature_importance("gain"), keep=keep,
            sample=draw_training_sample(features.iloc[split.train], candidate, seed=seed),
        )
        result["candidate"].update(version=record.version, model_version=record.model_version)
    else:
        record_refusal(folder, numbers)
    result["seconds"] = round(time.perf_counter() - started, 2)
    logger.info("%s", result["reason"])
    return result


def format_result(result: RetrainResult) -> str:
    """The result as a few lines of text: the decision and why, the two rankers, the data.

    >>> print(format_result({"promoted": False, "reason": "Refused: worse.", "metric": "ndcg@10",
    ...     "candidate": {"mean": 0.5, "ci": [0.4, 0.6], "version": None}, "production": {"mean": 0.7,
    ...     "ci": [0.6, 0.8], "version": ".ranker-x"}, "mentees": 30, "test_pairs": 60, "train_pairs": 500,
    ...     "as_of": "2026-01-01T00:00:00", "registry": "artifacts", "seconds": 3.0}))
    Refused: worse.
      candidate   ndcg@10 0.5000  95% CI [0.4000, 0.6000]  (not published)
      production  ndcg@10 0.7000  95% CI [0.6000, 0.8000]  .ranker-x
      data as of 2026-01-01T00:00:00: 500 training pairs; 60 held-out pairs of 30 mentees (3.0 s)
    """
    metric = result["metric"]
    lines = [result["reason"]]
    for role in ("candidate", "production"):
        entry = result.get(role)
        if entry is None:
            continue
        low, high = entry["ci"]
        lines.append(
            f"  {role:<10}  {metric} {entry['mean']:.4f}  95% CI [{low:.4f}, {high:.4f}]  "
            f"{entry.get('version') or '(not published)'}"
        )
    lines.append(
        f"  data as of {result['as_of']}: {result['train_pairs']} training pairs; {result['test_pairs']} "
        f"held-out pairs of {result['mentees']} mentees ({result['seconds']:.1f} s)"
    )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- helpers
def _timestamp(value: datetime | str, where: str) -> pd.Timestamp:
    """``value`` as a naive UTC timestamp (the database's convention)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise InvalidParameterError(
            f"The 'now' parameter of {where} must be a datetime or an ISO 8601 string such as "
            f"'2026-01-31T00:00:00'. Got {value!r}."
        )
    return stamp.tz_convert(timezone.utc).tz_localize(None) if stamp.tzinfo is not None else stamp


def _latest(dataset: Dataset) -> pd.Timestamp:
    """The last moment the data knows of: its latest request or completion."""
    interactions = dataset.interactions
    times = [interactions[column].max() for column in ("created_at", "completed_at") if column in interactions]
    known = [pd.Timestamp(t) for t in times if pd.notna(t)]
    return max(known) if known else pd.Timestamp("1970-01-01")


def _production(folder: Path) -> Ranker | None:
    """The ranker ``folder/ranker`` serves now; None when nothing is published there yet."""
    link = folder / "ranker"
    if not link.exists() and not link.is_symlink():
        return None
    try:
        return Ranker.load(link)
    except ArtifactError as exc:
        raise ArtifactError(
            f"The production ranker cannot be read, so there is nothing to compare the candidate "
            f"with: {exc} Roll back to a version that loads (scripts/retrain.py --list, --rollback), "
            "or publish without the guard (scripts/train.py)."
        ) from None


def _summary(per_mentee: pd.Series, seed: int) -> dict[str, Any]:
    """Mean and percentile bootstrap interval of a per-mentee series (same resamples per seed)."""
    low, high = bootstrap_ci(per_mentee, n_boot=N_BOOT, alpha=ALPHA, seed=seed)
    return {"mean": float(per_mentee.mean()), "ci": [low, high], "version": None, "model_version": None}


def _reason(promoted: bool, ours: pd.Series, theirs: pd.Series, difference: dict[str, float], margin: float) -> str:
    numbers = (
        f"candidate {METRIC} {ours.mean():.4f} vs production {theirs.mean():.4f} on the same "
        f"{len(ours)} held-out mentees; difference {difference['mean_diff']:+.4f}, 95% CI "
        f"[{difference['ci_low']:+.4f}, {difference['ci_high']:+.4f}]"
    )
    if promoted:
        return f"Promoted: {numbers}, whose lower end is not below -{margin:.4f} (the margin)."
    return (
        f"Refused: {numbers}, whose lower end is below -{margin:.4f} (the margin): the candidate "
        "may be worse. The production ranker stays."
    )


def _numbers(result: RetrainResult) -> dict[str, Any]:
    """What the registry records about the decision."""
    difference = result["difference"] or {}
    production = result["production"] or {}
    return {
        "metric": result["metric"],
        "candidate_mean": result["candidate"]["mean"],
        "production_mean": production.get("mean"),
        "production_version": production.get("version"),
        "mean_diff": difference.get("mean_diff"),
        "ci_low": difference.get("ci_low"),
        "ci_high": difference.get("ci_high"),
        "p_value": difference.get("p_value"),
        "margin": result["margin"],
        "mentees": result["mentees"],
        "as_of": result["as_of"],
        "seed": result["seed"],
        "reason": result["reason"],
    }


def _metadata(
    data: TrainingSet, candidate: Ranker, encoder: Encoder, artifacts: Path, variant: str | None,
    numbers: dict[str, Any],
) -> dict[str, Any]:
    """The candidate's manifest fields, as :func:`eval.training_run.run_training` writes them
    (encoder, seed, training data, metrics, pre-ranker, variant), plus the promotion."""
    dataset, pairs, split = data.dataset, data.pairs, data.split
    train_mentees = np.unique(pairs["mentee_id"].to_numpy()[split.train])
    preranker = distil_preranker(candidate, dataset, train_mentees, encoder, artifacts / "cache", data.seed)
    return {
        "encoder": encoder.identity,
        "seed": data.seed,
        "training_data": {
            **training_fingerprints(dataset),
            "pairs": {"train": len(split.train), "validation": len(split.validation), "test": len(split.test)},
            "split": "time",
            "point_in_time": True,
            "as_of": data.as_of.isoformat(),
            "trained_until": str(pairs["created_at"].to_numpy()[split.train].max()),
        },
        "metrics": {METRIC: numbers["candidate_mean"]},
        "promotion": numbers,
        "preranker": preranker.to_dict(),
        "variant": variant,
    }
