"""Policies: what turns the engine's state into one week's lists. One interface for all.

A policy is an object with a ``name`` and ``serve(week, mentee_ids, k) -> frame`` with one row
per slot (``list_id``, ``mentee_id``, ``rank``, ``mentor_id``), best first per mentee, and it
logs every list it serves (``recommendation_lists`` / ``recommendation_feedback``) with the
simulated time. :class:`WeekView` is what a policy may look at: the real
:class:`~retrieval.Recommender` over the market's database, the mentors that have a free
seat at the start of the week, who contacted whom, and (for the oracle only) the truth.

- ``random``: k eligible mentors drawn uniformly (active, a free seat, not contacted);
- ``similarity``: stage 1 alone, the k eligible mentors whose bios are nearest to the goals;
- ``ranker``: the two-stage engine as a mentee's query serves it (``Recommender.recommend``:
  stage-1 candidates, the ranker's scores, the top k), batched over the week's mentees; each
  slot is logged with its feature snapshot, so the log can train a ranker
  (:mod:`ranking.logged`);
- ``ranker_explore``: the same with exploration (:mod:`retrieval.exploration`): a share
  ``explore_epsilon`` of the lists is sampled by Plackett-Luce at ``explore_temperature`` over
  the ranker's scores, and every slot logs its propensity, so the log supports off-policy
  estimates (:mod:`eval.simulator.offpolicy_check`);
- ``reciprocal``: the same stage-1 candidates ranked by the reciprocal heads' P(match) =
  P(accept) x P(success) (:mod:`retrieval.scoring`), each mentee alone;
- ``market``, ``market_ratio``: capacity-aware lists (:mod:`retrieval.market`): P(match)
  priced by congestion, the week's mentees served one after another in a random order, each
  list priced by the pending requests and the slots of the lists before it (the prices are
  read from the database as of the week's start, then moved by every list served, as
  ``Recommender.recommend`` does); ``market`` prices by the Poisson chance of a free seat,
  ``market_ratio`` by the free seats per expected acceptance;
- ``market_assign``: the week's lists planned together: each seeker's mentor of the week's
  optimal seat-constrained assignment (the heads' P(match)) first, the priced best after it
  (:func:`retrieval.market.assigned_top_k`);
- ``oracle``: each mentee's k eligible mentors of highest true ``p_match``: perfect relevance,
  blind to what other mentees are shown (congestion);
- ``logistic_regression``, ``random_forest``, ``xgboost_classifier`` (:class:`ModelPolicy`):
  the offline evaluation's classifier baselines (:mod:`ranking.baselines`) served as the
  ranker is, the same stage-1 candidates and features, ordered by the model's probability
  instead of the ranker's score (fitted once per seed, :mod:`eval.simulator.models`).

Every policy also has ``lists(view, mentee_ids, k)``: the same lists without logging them, which
the off-policy check uses to ask what a target policy would have shown in the logging
policy's market.

A policy served by an arm of its own (``reciprocal``, ``market``, ``market_ratio``, ``market_assign``:
:data:`SCORED_POLICIES`) finds it by its name among the recommender's arms; the market
builds them (:func:`served_experiment`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
import pandas as pd

from db.log import RecommendationLog, ServedList, ServedSlot, new_list_id
from eval.simulator.config import MODEL_POLICIES, POLICIES
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_number
from ranking.baselines import ClassifierScorer

if TYPE_CHECKING:
    from retrieval.mentees import Mentees
    from retrieval.stages import Arm

SLOT_COLUMNS = ("list_id", "mentee_id", "rank", "mentor_id")
SCORED_POLICIES: dict[str, dict] = {
    "reciprocal": {"score": "reciprocal"},
    "market": {"score": "market", "price": {"kind": "poisson"}},
    "market_ratio": {"score": "market", "price": {"kind": "ratio"}},
    "market_assign": {"score": "market", "price": {"kind": "poisson"}},
}
"""Policies served by an arm of their own: the variant entry (score, price) of each."""
CANDIDATES = 200
"""Stage-1 candidates the ranker scores per mentee (``retrieval.DEFAULT_CANDIDATES``, as served)."""


CandidateScores = Callable[["Arm", "Mentees", pd.DataFrame], np.ndarray]
"""How a ranker policy scores a batch's stage-1 candidates: (the served arm, the batch's
mentees, their (mentee_id, mentor_id) pairs) -> one score per pair, higher first."""


def served_scores(arm: Arm, mentees: Mentees, pairs: pd.DataFrame) -> np.ndarray:
    """The served arm's scores of the candidates, as ``Recommender.recommend`` scores them
    (the ranker's, or what the arm's scoring says)."""
    return arm.reranker.score(mentees.prepared, mentees.vectors, pairs)


class ScoredList(NamedTuple):
    """What a ranker policy scored for one list: every candidate and its score, and the shown
    slots as positions into them (best first). The off-policy check's input."""

    list_id: str
    mentee_id: int
    mentor_ids: np.ndarray
    scores: np.ndarray
    order: np.ndarray


@dataclass
class WeekView:
    """The state a policy serves from, at the start of one week."""

    recommender: object | None  # retrieval.Recommender (None when no policy of the market needs it)
    log: RecommendationLog
    clock: Callable[[], datetime]
    experiment: str
    eligible_mentors: np.ndarray  # active, with a free seat now
    contacted: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (mentees, mentors) -> bool per pair
    candidates: pd.DataFrame  # (mentee_id, mentor_id, p_match): the truth's top pairs, eligible, this week
    rng: np.random.Generator
    index_version: str
    explore_rng: np.random.Generator | None = None
    """Seeds of the exploring policy's lists: a stream of its own, so exploring does not move
    the browsing draws of ``rng``."""
    on_scored: Callable[[ScoredList], None] | None = None
    """Called by a ranker policy with each list's scored candidates (the off-policy check)."""


class Policy(Protocol):
    name: str

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame: ...

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame: ...


def _log_lists(
    view: WeekView, lists: pd.DataFrame, name: str, *, k: int, model_version: str | None = None,
    policy: str | None = None, params: dict | None = None,
) -> None:
    """Submit one logged list per mentee of ``lists`` (rows best first per mentee); its
    ``score``, ``similarity``, ``propensity`` and ``features`` columns are logged where
    present (NULL otherwise; without a ``propensity`` column a slot logs 1, and a random
    policy's none). ``name`` is the variant; ``model_version`` and ``policy`` default to it."""
    created_at = view.clock()
    nan = np.full(len(lists), np.nan)
    score = lists["score"].to_numpy(float) if "score" in lists else nan
    similarity = lists["similarity"].to_numpy(float) if "similarity" in lists else nan
    default = None if name == "random" else 1.0
    propensity = lists["propensity"].to_numpy(float) if "propensity" in lists else np.full(len(lists), default)
    features = lists["features"].to_numpy() if "features" in lists else np.full(len(lists), None)
    starts = np.flatnonzero(np.r_[True, lists["list_id"].to_numpy()[1:] != lists["list_id"].to_numpy()[:-1]])
    ends = np.r_[starts[1:], len(lists)]
    ranks, mentors, mentees = (lists[c].to_numpy() for c in ("rank", "mentor_id", "mentee_id"))
    list_ids = lists["list_id"].to_numpy()
    for start, end in zip(starts, ends, strict=True):
        view.log.submit(ServedList(
            list_id=str(list_ids[start]), mentee_id=int(mentees[start]), created_at=created_at,
            model_version=model_version or name, index_version=view.index_version, experiment=view.experiment,
            variant=name, policy=policy or name, policy_params=params or {}, k=k, latency_ms=0.0,
            slots=tuple(ServedSlot(int(ranks[i]), int(mentors[i]), float(score[i]), float(similarity[i]),
                                   None if propensity[i] is None else float(propensity[i]), features[i])
                        for i in range(start, end)),
        ))


def _frame(mentee_ids: np.ndarray, mentors: list[np.ndarray], scores: list[np.ndarray] | None = None) -> pd.DataFrame:
    """The slot frame of per-mentee mentor lists (best first)."""
    sizes = np.array([len(m) for m in mentors], dtype=np.int64)
    ids = [new_list_id() for _ in mentors]
    frame = pd.DataFrame({
        "list_id": np.repeat(np.array(ids, dtype=object), sizes),
        "mentee_id": np.repeat(np.asarray(mentee_ids, dtype=np.int64), sizes),
        "rank": np.concatenate([np.arange(1, n + 1) for n in sizes]) if len(sizes) else np.empty(0, np.int64),
        "mentor_id": np.concatenate(mentors).astype(np.int64) if len(mentors) else np.empty(0, np.int64),
    })
    if scores is not None:
        frame["score"] = np.concatenate(scores) if scores else np.empty(0)
    return frame


def _best_first(pairs: pd.DataFrame, column: str, k: int) -> pd.DataFrame:
    """Each mentee's ``k`` pairs of highest ``column`` as ranked slots with a list id each."""
    pairs = pairs.sort_values(["mentee_id", column], ascending=[True, False], kind="stable")
    pairs = pairs.assign(rank=pairs.groupby("mentee_id").cumcount() + 1)
    pairs = pairs[pairs["rank"] <= k]
    first = pairs["mentee_id"].ne(pairs["mentee_id"].shift()).to_numpy()
    ids = np.array([new_list_id() for _ in range(int(first.sum()))], dtype=object)
    return pairs.assign(list_id=ids[np.cumsum(first) - 1] if len(pairs) else ids).reset_index(drop=True)


class RandomPolicy:
    """k eligible mentors, uniformly at random (without replacement), per mentee."""

    name = "random"

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        lists = self.lists(view, mentee_ids, k)
        _log_lists(view, lists, self.name, k=k)
        return lists[list(SLOT_COLUMNS)]

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        pool = view.eligible_mentors
        chosen = []
        for mentee in mentee_ids:
            # Draw a few more than k, then drop the contacted ones: contacts are few per mentee.
            draw = view.rng.choice(pool, size=min(len(pool), k + 20), replace=False)
            keep = draw[~view.contacted(np.full(len(draw), mentee), draw)][:k]
            chosen.append(keep)
        return _frame(mentee_ids, chosen)


class OraclePolicy:
    """Each mentee's k eligible mentors of highest true p_match (the week's candidates)."""

    name = "oracle"

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        lists = self.lists(view, mentee_ids, k)
        _log_lists(view, lists, self.name, k=k)
        return lists[list(SLOT_COLUMNS)]

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        pairs = view.candidates[view.candidates["mentee_id"].isin(mentee_ids)]
        return _best_first(pairs.assign(score=pairs["p_match"]), "score", k)


class SimilarityPolicy:
    """Stage 1 alone: the k eligible mentors nearest to the goals (``Recommender.retrieve``)."""

    name = "similarity"

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        lists = self.lists(view, mentee_ids, k)
        _log_lists(view, lists, self.name, k=k)
        return lists[list(SLOT_COLUMNS)]

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        found = view.recommender.retrieve([int(i) for i in mentee_ids], candidates=k, pool=k, progress=False)
        return _best_first(found.assign(score=found["similarity"]), "score", k)


class RankerPolicy:
    """The two-stage engine as a mentee's query serves it, batched: stage-1 candidates
    (:data:`CANDIDATES` per mentee, ``Recommender.retrieve``'s), the served ranker's scores,
    then the top ``k``, or with ``epsilon`` > 0 a list drawn by
    :func:`retrieval.exploration.explore` (seeded from ``view.explore_rng``).

    With ``epsilon`` 0 the lists are ``Recommender.recommend_batch``'s. Unlike that batch
    path, which logs no feature snapshot, every slot is logged as ``Recommender.recommend``
    logs it: score, similarity, propensity and the features the ranker scored, so the log can
    train the next ranker. ``view.on_scored``, when set, receives each list's scored candidates.

    ``score`` orders the candidates (default :func:`served_scores`, the served ranker's);
    :class:`ModelPolicy` passes a baseline's probability and keeps everything else.
    """

    def __init__(
        self, name: str = "ranker", *, epsilon: float = 0.0, temperature: float = 1.0,
        score: CandidateScores = served_scores, arm: str | None = None,
    ) -> None:
        self.name = name
        self.arm = arm  # the recommender's arm that serves (None: the control, the ranker)
        self.epsilon = check_number("epsilon", epsilon, f"the {name} policy", low=0.0, high=1.0)
        self.temperature = check_number("temperature", temperature, f"the {name} policy", low=0.0, low_open=True)
        self.score = score

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        lists = self.lists(view, mentee_ids, k)
        exploring = self.epsilon > 0
        params = {"epsilon": self.epsilon, "temperature": self.temperature} if exploring else {}
        _log_lists(view, lists, self.name, k=k, model_version=self.model_version(view),
                   policy="plackett-luce" if exploring else "ranker", params=params)
        return lists[list(SLOT_COLUMNS)]

    def model_version(self, view: WeekView) -> str:
        """What scores the served arm's lists, as the Recommender logs it (the ranker's short build name)."""
        return view.recommender.stages.arm(self.arm).model_version

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        if self.epsilon > 0 and view.explore_rng is None:
            raise InvalidParameterError(
                f"The {self.name} policy explores (epsilon {self.epsilon}) and draws each list's seed from "
                "WeekView.explore_rng, which is None; give the view a seeded generator."
            )
        stages = view.recommender.stages
        arm = stages.arm(self.arm)
        frames = []
        for mentees, pairs in stages.candidate_batches([int(i) for i in self.serving_order(view, mentee_ids)],
                                                        max(k, CANDIDATES), progress=False, arm=self.arm):
            pairs = pairs.reset_index(drop=True)
            pairs["score"] = self.score(arm, mentees, pairs)
            batch, scored = self.select(view, pairs, k)
            if batch is not None:
                frames.append(self._finish(view, arm, mentees, batch, scored))
        return _slot_frame(frames)

    @staticmethod
    def _finish(view: WeekView, arm: Arm, mentees: Mentees, batch: pd.DataFrame, scored: list[tuple]) -> pd.DataFrame:
        """A batch's chosen slots with their feature snapshots and a list id per mentee."""
        features = arm.reranker.features(mentees.prepared, mentees.vectors, batch[["mentee_id", "mentor_id"]])
        batch["features"] = [dict(zip(features.columns, row, strict=True)) for row in features.to_numpy(float).tolist()]
        first = batch["mentee_id"].ne(batch["mentee_id"].shift()).to_numpy()
        ids = np.array([new_list_id() for _ in range(int(first.sum()))], dtype=object)
        batch["list_id"] = ids[np.cumsum(first) - 1]
        if view.on_scored is not None:
            for list_id, (mentee_id, mentor_ids, scores, order) in zip(ids, scored, strict=True):
                view.on_scored(ScoredList(str(list_id), mentee_id, mentor_ids, scores, order))
        return batch

    def serving_order(self, view: WeekView, mentee_ids: np.ndarray) -> np.ndarray:
        """The order the week's mentees are served in (as given: each list is on its own)."""
        return np.asarray(mentee_ids)

    def select(self, view: WeekView, pairs: pd.DataFrame, k: int) -> tuple[pd.DataFrame | None, list[tuple]]:
        """Each mentee's shown slots of a batch's scored candidates (rank, propensity added),
        and per list (mentee_id, candidate ids, scores, shown positions) for ``view.on_scored``."""
        from retrieval.exploration import explore

        pairs = pairs.sort_values("mentee_id", kind="stable")  # as recommend_batch orders them
        chosen, scored = [], []
        for mentee_id, rows in pairs.groupby("mentee_id", sort=False):
            scores = rows["score"].to_numpy(float)
            if self.epsilon > 0:
                seed = int(view.explore_rng.integers(2**63))
                shown = explore(scores, k, epsilon=self.epsilon, temperature=self.temperature, seed=seed)
                order, propensity = shown.order, shown.propensity
            else:
                order = np.argsort(-scores, kind="stable")[:k]
                propensity = np.ones(len(order))
            chosen.append(rows.iloc[order].assign(rank=np.arange(1, len(order) + 1), propensity=propensity))
            scored.append((int(mentee_id), rows["mentor_id"].to_numpy(np.int64), scores, order))
        return (pd.concat(chosen, ignore_index=True) if chosen else None), scored


class MarketPolicy(RankerPolicy):
    """Capacity-aware lists (:mod:`retrieval.market`) served by the recommender's arm ``name``
    (a ``market`` score): the prices are read from the database as of the week's start
    (``Recommender.refresh_prices``), the week's mentees are served one after another in a
    random order (drawn from ``view.explore_rng``: this policy does not explore), and each list
    is priced by the lists before it (:func:`retrieval.market.priced_top_k`), as consecutive
    ``Recommender.recommend`` calls would price them. The logged score is the priced one."""

    def __init__(self, name: str) -> None:
        super().__init__(name, arm=name)

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        if view.recommender.refresh_prices() is None:
            raise InvalidParameterError(
                f"The {self.name} policy serves the recommender's arm {self.name!r}, which is not priced; "
                "build the market's experiment with eval.simulator.policies.served_experiment."
            )
        return super().lists(view, mentee_ids, k)

    def serving_order(self, view: WeekView, mentee_ids: np.ndarray) -> np.ndarray:
        return np.asarray(mentee_ids)[view.explore_rng.permutation(len(mentee_ids))]

    def select(self, view: WeekView, pairs: pd.DataFrame, k: int) -> tuple[pd.DataFrame | None, list[tuple]]:
        from retrieval.market import priced_top_k

        recommender = view.recommender
        arm = recommender.stages.arm(self.arm)
        pairs = pairs.iloc[np.argsort(pd.factorize(pairs["mentee_id"])[0], kind="stable")].reset_index(drop=True)
        chosen, served = priced_top_k(
            pairs["mentee_id"].to_numpy(), recommender.stages.catalogue.rows_of(pairs["mentor_id"].to_numpy()),
            pairs["score"].to_numpy(float), k, recommender.market, arm.scoring.price,
        )
        if not len(chosen):
            return None, []
        batch = pairs.iloc[chosen].assign(score=served).reset_index(drop=True)
        batch["rank"] = batch.groupby("mentee_id", sort=False).cumcount() + 1
        batch["propensity"] = 1.0
        return batch, []


class AssignedMarketPolicy(MarketPolicy):
    """The week's lists planned together (:func:`retrieval.market.assigned_top_k`): every
    seeker's mentor of the week's optimal seat-constrained assignment on the heads' P(match)
    at position 1, the priced best of the rest after it. Served by the recommender's priced arm
    ``name``, like :class:`MarketPolicy`; one plan over all the week's mentees."""

    def lists(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        from retrieval.market import assigned_top_k

        recommender = view.recommender
        if recommender.refresh_prices() is None:
            return super().lists(view, mentee_ids, k)  # refused there, with the fix
        stages = recommender.stages
        arm = stages.arm(self.arm)
        batches = []
        for mentees, pairs in stages.candidate_batches([int(i) for i in self.serving_order(view, mentee_ids)],
                                                        max(k, CANDIDATES), progress=False, arm=self.arm):
            pairs = pairs.iloc[np.argsort(pd.factorize(pairs["mentee_id"])[0], kind="stable")].reset_index(drop=True)
            pairs["score"] = self.score(arm, mentees, pairs)
            batches.append((mentees, pairs.assign(batch=len(batches))))
        if not batches:
            return _slot_frame([])
        pairs = pd.concat([p for _, p in batches], ignore_index=True)
        chosen, served = assigned_top_k(
            pairs["mentee_id"].to_numpy(), stages.catalogue.rows_of(pairs["mentor_id"].to_numpy()),
            pairs["score"].to_numpy(float), k, recommender.market, arm.scoring.price,
        )
        shown = pairs.iloc[chosen].assign(score=served).reset_index(drop=True)
        shown["rank"] = shown.groupby("mentee_id", sort=False).cumcount() + 1
        shown["propensity"] = 1.0
        frames = [self._finish(view, arm, mentees, shown[shown["batch"] == i].drop(columns="batch").reset_index(drop=True), [])
                  for i, (mentees, _) in enumerate(batches) if (shown["batch"] == i).any()]
        return _slot_frame(frames)


def _slot_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The served slots of a ranker-like policy's batches, in one frame (empty: the columns only)."""
    if not frames:
        return pd.DataFrame({"list_id": pd.Series(dtype=object), "mentee_id": pd.Series(dtype=np.int64),
                             "rank": pd.Series(dtype=np.int64), "mentor_id": pd.Series(dtype=np.int64)})
    columns = ["list_id", "mentee_id", "rank", "mentor_id", "score", "similarity", "propensity", "features"]
    return pd.concat(frames, ignore_index=True)[columns]


def served_experiment(name: str, policies: list[str], *, price_weight: float = 1.0, price_floor: float = 0.0) -> dict:
    """The experiment config a market's recommender serves: the ranker as the control
    (``ranker``) and an arm per scored policy among ``policies`` (:data:`SCORED_POLICIES`),
    over the same ranker and heads; the shares do not matter (the simulator assigns)."""
    arms = [{"name": "ranker", "share": 1.0}]
    for policy in dict.fromkeys(policies):
        if policy in SCORED_POLICIES:
            entry = dict(SCORED_POLICIES[policy])
            if "price" in entry:
                entry["price"] = {**entry["price"], "weight": price_weight, "floor": price_floor}
            arms.append({"name": policy, "share": 1.0, "ranker": "ranker", "heads": "heads", **entry})
    for arm in arms:
        arm["share"] = 1.0 / len(arms)
    return {"name": name, "salt": name, "control": "ranker", "variants": arms}


class ModelPolicy(RankerPolicy):
    """A classifier baseline of the offline evaluation served as the ranker is: the same
    stage-1 candidates (the served arm's retriever and pre-ranker), the same features
    (:func:`ranking.features.pair_features` through the arm's reranker), ordered by the
    model's probability of a successful match (``scorer.predict``) instead of the ranker's
    score. Lists are logged like the ranker policy's (score: the probability; the features
    snapshot), with variant ``name`` and model version ``name@<the scorer's build>``.

    ``name`` is one of :data:`eval.simulator.config.MODEL_POLICIES` and ``scorer`` a fitted
    :class:`~ranking.baselines.ClassifierScorer` of that model
    (:func:`eval.simulator.models.load_baselines`).
    """

    def __init__(self, name: str, scorer: ClassifierScorer) -> None:
        if name not in MODEL_POLICIES:
            raise InvalidParameterError(
                f"Unknown model policy {name!r}: the model policies serve the offline evaluation's "
                f"baselines, {', '.join(MODEL_POLICIES)} (ranking.baselines.BASELINES). Use one of those names."
            )
        if not isinstance(scorer, ClassifierScorer) or scorer.name != name:
            got = scorer.name if isinstance(scorer, ClassifierScorer) else type(scorer).__name__
            raise InvalidParameterError(
                f"The model policy {name!r} serves a {name} scorer (ranking.baselines), but got {got!r}. "
                f"Pass the {name} model fitted for this seed (eval.simulator.models.load_baselines)."
            )
        super().__init__(name, score=self._probabilities)
        self.scorer = scorer

    def _probabilities(self, arm: Arm, mentees: Mentees, pairs: pd.DataFrame) -> np.ndarray:
        """The model's P(successful match) of each candidate, from the features the ranker scores."""
        return self.scorer.predict(arm.reranker.features(mentees.prepared, mentees.vectors, pairs))

    def model_version(self, view: WeekView) -> str:
        """The model and its saved build's short name (``unpublished`` for one never saved)."""
        return f"{self.name}@{getattr(self.scorer.manifest, 'version', 'unpublished')}"


def make_policy(
    name: str, *, explore_epsilon: float = 0.2, explore_temperature: float = 1.0,
    scorer: ClassifierScorer | None = None,
) -> Policy:
    """The policy of a name of :data:`eval.simulator.config.POLICIES`; ``ranker_explore``
    explores with ``explore_epsilon`` and ``explore_temperature``; a model policy (one of
    :data:`~eval.simulator.config.MODEL_POLICIES`) serves ``scorer``, its fitted model.

    >>> make_policy("svm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: Unknown policy 'svm': the simulator's policies are random, ...
    """
    if name in MODEL_POLICIES:
        if scorer is None:
            raise InvalidParameterError(
                f"The policy {name!r} serves a fitted {name} model, and no scorer was given. Pass "
                f"scorer= (eval.simulator.models.load_baselines(artifacts, [{name!r}]))."
            )
        return ModelPolicy(name, scorer)
    if scorer is not None:
        raise InvalidParameterError(
            f"The policy {name!r} serves no fitted model, but a scorer was given; only the model policies "
            f"({', '.join(MODEL_POLICIES)}) take one."
        )
    if name == "ranker":
        return RankerPolicy()
    if name == "ranker_explore":
        return RankerPolicy(name, epsilon=explore_epsilon, temperature=explore_temperature)
    if name == "reciprocal":
        return RankerPolicy(name, arm=name)
    if name == "market_assign":
        return AssignedMarketPolicy(name)
    if name in SCORED_POLICIES:
        return MarketPolicy(name)
    simple = {"random": RandomPolicy, "similarity": SimilarityPolicy, "oracle": OraclePolicy}
    if name not in simple:
        raise InvalidParameterError(
            f"Unknown policy {name!r}: the simulator's policies are {', '.join(POLICIES)}. Use one of those names."
        )
    return simple[name]()


NEEDS_RECOMMENDER = frozenset({"similarity", "ranker", "ranker_explore", *SCORED_POLICIES, *MODEL_POLICIES})
