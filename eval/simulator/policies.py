"""Policies: what turns the engine's state into one week's lists. One interface for all.

A policy is an object with a ``name`` and ``serve(week, mentee_ids, k) -> frame`` with one row
per slot (``list_id``, ``mentee_id``, ``rank``, ``mentor_id``), best first per mentee, and it
logs every list it serves (``recommendation_lists`` / ``recommendation_feedback``) with the
simulated time. :class:`WeekView` is what a policy may look at: the real
:class:`~retrieval.Recommender` over the market's database, the mentors that have a free
seat at the start of the week, who contacted whom, and (for the oracle only) the truth.

- ``random``: k eligible mentors drawn uniformly (active, a free seat, not contacted);
- ``similarity``: stage 1 alone, the k eligible mentors whose bios are nearest to the goals;
- ``ranker``: the two-stage engine (``Recommender.recommend_batch``), as production serves;
- ``oracle``: each mentee's k eligible mentors of highest true ``p_match``: perfect relevance,
  blind to what other mentees are shown (congestion).

Later policies (market-aware lists) implement the same ``serve``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd

from db.log import RecommendationLog, ServedList, ServedSlot, new_list_id

SLOT_COLUMNS = ("list_id", "mentee_id", "rank", "mentor_id")


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


class Policy(Protocol):
    name: str

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame: ...


def _log_lists(view: WeekView, lists: pd.DataFrame, policy: str, *, k: int) -> None:
    """Submit one logged list per mentee of ``lists`` (rows best first per mentee); its
    ``score`` and ``similarity`` columns are logged where present (NULL otherwise). Lists
    of a random policy log no propensity (None)."""
    created_at = view.clock()
    nan = np.full(len(lists), np.nan)
    score = lists["score"].to_numpy(float) if "score" in lists else nan
    similarity = lists["similarity"].to_numpy(float) if "similarity" in lists else nan
    propensity = None if policy == "random" else 1.0
    starts = np.flatnonzero(np.r_[True, lists["list_id"].to_numpy()[1:] != lists["list_id"].to_numpy()[:-1]])
    ends = np.r_[starts[1:], len(lists)]
    ranks, mentors, mentees = (lists[c].to_numpy() for c in ("rank", "mentor_id", "mentee_id"))
    list_ids = lists["list_id"].to_numpy()
    for start, end in zip(starts, ends, strict=True):
        view.log.submit(ServedList(
            list_id=str(list_ids[start]), mentee_id=int(mentees[start]), created_at=created_at,
            model_version=policy, index_version=view.index_version, experiment=view.experiment,
            variant=policy, policy=policy, policy_params={}, k=k, latency_ms=0.0,
            slots=tuple(ServedSlot(int(ranks[i]), int(mentors[i]), float(score[i]), float(similarity[i]),
                                   propensity, None) for i in range(start, end)),
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
        pool = view.eligible_mentors
        chosen = []
        for mentee in mentee_ids:
            # Draw a few more than k, then drop the contacted ones: contacts are few per mentee.
            draw = view.rng.choice(pool, size=min(len(pool), k + 20), replace=False)
            keep = draw[~view.contacted(np.full(len(draw), mentee), draw)][:k]
            chosen.append(keep)
        lists = _frame(mentee_ids, chosen)
        _log_lists(view, lists, self.name, k=k)
        return lists[list(SLOT_COLUMNS)]


class OraclePolicy:
    """Each mentee's k eligible mentors of highest true p_match (the week's candidates)."""

    name = "oracle"

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        pairs = view.candidates[view.candidates["mentee_id"].isin(mentee_ids)]
        lists = _best_first(pairs.assign(score=pairs["p_match"]), "score", k)
        _log_lists(view, lists, self.name, k=k)
        return lists[list(SLOT_COLUMNS)]


class SimilarityPolicy:
    """Stage 1 alone: the k eligible mentors nearest to the goals (``Recommender.retrieve``)."""

    name = "similarity"

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        found = view.recommender.retrieve([int(i) for i in mentee_ids], candidates=k, pool=k, progress=False)
        lists = _best_first(found.assign(score=found["similarity"]), "score", k)
        _log_lists(view, lists, self.name, k=k)
        return lists[list(SLOT_COLUMNS)]


class RankerPolicy:
    """The two-stage engine as production serves it; the Recommender logs its own lists."""

    name = "ranker"

    def serve(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> pd.DataFrame:
        batch = view.recommender.recommend_batch([int(i) for i in mentee_ids], k=k, progress=False)
        return batch[list(SLOT_COLUMNS)].reset_index(drop=True)


def make_policy(name: str) -> Policy:
    """The policy of a name of :data:`eval.simulator.config.POLICIES`."""
    return {"random": RandomPolicy, "similarity": SimilarityPolicy, "ranker": RankerPolicy,
            "oracle": OraclePolicy}[name]()


NEEDS_RECOMMENDER = frozenset({"similarity", "ranker"})
