"""The platform simulator: weeks of a mentoring market played through the real engine.

:func:`simulate` generates a world per seed (it needs the hidden truth), builds its index and
trains its ranker as an operator would (for the model policies it also fits the offline
evaluation's baselines on the ranker's training pairs, :mod:`eval.simulator.models`), then
plays each policy in a market of its own (the same world, arrivals and seeds: the clean
comparison) and, with ``config.ab``, two policies in one shared market split by mentee (what
an A/B test would see). Each week of a market (:class:`Market`):

1. **Arrivals.** ``mentee_arrivals_per_week`` new mentees and ``mentor_arrivals_per_week``
   new (unrated) mentors sign up: written to the database with their truth rows.
2. **Endings.** Mentorships whose time is up end (an ``ended`` event with the success drawn
   when they started); their seats free.
3. **The operator's schedule.** The mentors' observed aggregates are updated (acceptance
   rate, total mentees; the truth keeps its own fixed quality terms, so the truth does not
   drift with them), the catalogue refreshes, the index is rebuilt every ``index_every``
   weeks when mentors joined, the ranker retrained every ``retrain_every`` weeks (0: never)
   through the promotion guard, from the interactions or from the logged lists
   (:mod:`eval.simulator.learning`).
4. **The bound.** The most expected matches this week's free seats and seekers allow
   (:func:`eval.simulator.bound.capacity_bound` over each seeker's top ``bound_top_n`` pairs
   by truth at the week's loads).
5. **Browsing.** Every active mentee without a mentorship gets a list of ``k`` from the
   policy (logged, stamped with the simulated time), examines rank ``r`` with the position
   bias of :func:`synthetic.appeal.examination_probability`, and would request an examined
   mentor with :func:`synthetic.appeal.request_probability` (what a profile shows, never the
   hidden success). Of those, the best-ranked ``requests_per_week`` are sent one after
   another, the next only after a decline. The served lists are scored against the truth
   (``ndcg_truth``).
6. **Answers.** Requests are answered in rounds (every mentee's first, then second, ...), in
   random order within a round. A mentor with no free seat declines; otherwise they accept
   with the truth's ``p_accept`` at their load with this round's pending requests included.
   An accepted pair starts at once, holds the seat for a drawn number of weeks, and its
   success is drawn then with the truth's ``p_success``.
7. **The platform writes** every event (requested, accepted / declined, started, ended) with
   :func:`db.outcomes.record_outcomes`, joined to its list, in one transaction per week; that
   updates ``interactions`` and ``current_mentees`` as production does.

With ``config.off_policy`` the logging policy's market also records what the off-policy
estimators need, and the check sets their estimates beside the target's own market
(:mod:`eval.simulator.offpolicy_check`).

A *successful match* is counted in the week the mentorship started (its success is drawn
then; the ``ended`` event reveals it later, and may fall after the horizon). The weekly bound
is for one accepted request per mentee and week; with ``requests_per_week`` > 1 a mentee has
several tries, so a policy could in principle pass it (none comes near).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, update
from tqdm.auto import tqdm

from db.connection import transaction
from db.engine import get_engine
from db.loading import validate_frame
from db.log import RecommendationLog
from db.log_reading import load_log
from db.outcomes import record_outcomes
from db.schema import mentees as mentees_table
from db.schema import mentors as mentors_table
from db.schema import synthetic_mentee_truth, synthetic_mentor_truth
from db.writing import frame_records
from eval.metrics import ndcg_per_query
from eval.offpolicy.estimators import MIN_LISTS
from eval.retrain import LOG_LABEL
from eval.simulator.bound import capacity_bound
from eval.simulator.cohort import cohort_round
from eval.simulator.config import MODEL_POLICIES, SimulationConfig
from eval.simulator.learning import retrain_step, true_examination
from eval.simulator.market import gini, mean_and_se
from eval.simulator.models import BASELINES_FOLDER, fit_baselines, load_baselines
from eval.simulator.offpolicy_check import (
    MARGINAL_SAMPLES,
    OffPolicyRecorder,
    check_against_truth,
    rewards_per_list,
    summarise_checks,
)
from eval.simulator.policies import NEEDS_RECOMMENDER, WeekView, make_policy, served_experiment
from eval.simulator.writing import SIMULATION_FORMAT
from mentor_match.errors import DataValidationError
from synthetic import generate_world, write_world
from synthetic.appeal import examination_probability, request_probability
from synthetic.profiles import REFERENCE_TIME, make_mentees, make_mentors
from synthetic.truth import attach_truth, true_match_probability, truth_frame

logger = logging.getLogger(__name__)

FORMAT = SIMULATION_FORMAT
START = REFERENCE_TIME.to_pydatetime()
"""Week 1 starts at the generated world's "now" (its history lies before)."""
PRIOR_ANSWERS = 10
"""The observed acceptance rate starts as this many answers at the world's stated rate."""
WEEK_METRICS = (
    "successful_matches", "mentorships_started", "expected_matches", "requests", "acceptance_rate",
    "requests_to_full", "bound", "share_of_bound", "utilisation", "coverage", "gini_requests",
    "gini_impressions", "seekers", "lists", "ndcg_truth", "new_mentor_impressions",
)
TOTAL_METRICS = WEEK_METRICS + (
    "matched_within_2_weeks", "matched_within_4_weeks", "still_waiting", "mean_weeks_to_match",
)
_KEY = 10_000_000  # pair key = mentee_id * _KEY + mentor_id (ids stay below ten million)


@dataclass
class _Mentorship:
    mentee_id: int
    mentor_id: int
    list_id: str
    end_week: int
    success: bool


@dataclass
class _Week:
    """Counters of one week of one market."""

    week: int
    seekers: int = 0
    lists: int = 0
    requests: int = 0
    accepted: int = 0
    requests_to_full: int = 0
    started: int = 0
    successes: int = 0
    expected: float = 0.0
    bound: float = 0.0
    utilisation: float = 0.0
    coverage: float = 0.0
    gini_requests: float = 0.0
    gini_impressions: float = 0.0
    ndcg_sum: float = 0.0
    impressions: int = 0
    new_impressions: int = 0
    arm_successes: dict[str, int] = field(default_factory=dict)

    def row(self) -> dict[str, float]:
        return {
            "successful_matches": self.successes, "mentorships_started": self.started,
            "expected_matches": self.expected, "requests": self.requests,
            "acceptance_rate": self.accepted / self.requests if self.requests else float("nan"),
            "requests_to_full": self.requests_to_full, "bound": self.bound,
            "share_of_bound": self.successes / self.bound if self.bound else float("nan"),
            "utilisation": self.utilisation, "coverage": self.coverage,
            "gini_requests": self.gini_requests, "gini_impressions": self.gini_impressions,
            "seekers": self.seekers, "lists": self.lists,
            "ndcg_truth": self.ndcg_sum / self.lists if self.lists else float("nan"),
            "new_mentor_impressions": self.new_impressions / self.impressions if self.impressions else float("nan"),
        }


class Market:
    """One market: a database holding a generated world, the engine over it, and the
    simulator's mirror of who is seeking, who holds which seat, and who contacted whom."""

    def __init__(
        self, config: SimulationConfig, seed: int, world, db_url: str, artifacts: Path, *,
        policies: list[str], assign: Callable[[int], str], experiment: str, encoder, candidates: pd.DataFrame,
    ) -> None:
        self.config, self.seed, self.db_url, self.artifacts = config, seed, db_url, artifacts
        models = load_baselines(artifacts, [name for name in policies if name in MODEL_POLICIES])
        self.policies = {name: make_policy(name, explore_epsilon=config.explore_epsilon,
                                           explore_temperature=config.explore_temperature, scorer=models.get(name))
                         for name in policies}
        self.assign = assign  # mentee id -> policy (one policy, or the A/B arms)
        self.experiment = experiment
        self.encoder = encoder
        self.engine = get_engine(db_url)
        self.mentees, self.mentors = (frame.reset_index(drop=True) for frame in world.with_truth())
        self.first_max_mentor = int(self.mentors["mentor_id"].max())  # a larger id joined during the run
        self.truth_mentors = self.mentors.copy()  # quality terms fixed; only the load moves
        self._mentee_index = pd.Index(self.mentees["mentee_id"])  # id -> row, kept with the arrivals
        self.observed_rate = self.mentors["acceptance_rate"].to_numpy(float).copy()
        self.answers = np.full(len(self.mentors), PRIOR_ANSWERS, dtype=float)
        self.total = self.mentors["total_mentees"].to_numpy(int).copy()
        self.contacts = set((world.interactions["mentee_id"].to_numpy(np.int64) * _KEY
                             + world.interactions["mentor_id"].to_numpy(np.int64)).tolist())
        self.seeking = self.mentees["active"].to_numpy(bool).copy()
        self.entered = np.where(self.seeking, 1, 0)
        self.matched_week = np.full(len(self.mentees), np.nan)
        self.candidates = candidates
        self.mentorships: list[_Mentorship] = []
        self.weeks: list[_Week] = []
        self.requests_per_mentor: dict[int, int] = {}
        self.shown: set[int] = set()
        self.arm_of: dict[int, str] = {}
        self.now = START
        self._new_mentors = False  # mentors joined since the last index build
        self.retrains: list[dict[str, Any]] = []  # the scheduled retrainings' events
        self.recorder: OffPolicyRecorder | None = None  # set when this market logs for the off-policy check
        self.rewards: dict[str, pd.DataFrame] | None = None  # its per-slot rewards, read after the run
        self.log = RecommendationLog(self.engine, flush_interval=0.5)
        self.recommender = None
        if NEEDS_RECOMMENDER & set(self.policies):
            from retrieval import Recommender
            from retrieval.experiments import Experiment

            served = Experiment.from_dict(served_experiment(experiment, policies, price_weight=config.price_weight,
                                                           price_floor=config.price_floor))
            self.recommender = Recommender.load(
                artifacts, db_url, encoder=encoder, refresh_interval=None, experiment=served,
                log=self.log, clock=lambda: self.now,
            )

    # -- the weekly steps ------------------------------------------------------------
    def play(self, week: int) -> _Week:
        counters = _Week(week)
        week_start = START + timedelta(weeks=week - 1)
        rng = np.random.default_rng([self.seed, week, 11])
        if week > 1:
            self._arrive(week, np.random.default_rng([self.seed, week, 1]))
        self._end(week, week_start)
        self._operate(week, week_start)
        seekers = np.flatnonzero(self.seeking)
        counters.seekers = len(seekers)
        free = self._free_seats()
        candidates = self._week_candidates(seekers, free)
        if len(candidates):
            counters.bound = capacity_bound(candidates, pd.Series(free, index=self.mentors["mentor_id"])).value
        self.now = week_start + timedelta(minutes=1)
        lists = self._serve(seekers, free, candidates, rng, week)
        counters.lists = int(lists["list_id"].nunique()) if len(lists) else 0
        counters.ndcg_sum = self._truth_ndcg(lists, candidates)
        self.shown.update(lists["mentor_id"].tolist())
        counters.impressions = len(lists)
        counters.new_impressions = int((lists["mentor_id"].to_numpy(np.int64) > self.first_max_mentor).sum())
        impressions = lists["mentor_id"].value_counts()
        requests = self._browse(lists, rng)
        events = self._answer(requests, week, week_start, rng, counters)
        self._flush_log()
        record_outcomes(self.engine, events)
        seats = self.mentors["max_mentees"].to_numpy(float)
        live = self.mentors["active"].to_numpy(bool)
        counters.utilisation = float(self.mentors["current_mentees"].to_numpy(float)[live].sum() / seats[live].sum())
        counters.coverage = float(len(set(impressions.index)) / max(int(live.sum()), 1))
        ids = self.mentors["mentor_id"].to_numpy()[live]
        week_requests = requests["mentor_id"].value_counts() if len(requests) else pd.Series(dtype=int)
        counters.gini_requests = float(gini(week_requests.reindex(ids, fill_value=0).to_numpy()))
        counters.gini_impressions = float(gini(impressions.reindex(ids, fill_value=0).to_numpy()))
        self.weeks.append(counters)
        return counters

    def _flush_log(self) -> None:
        """Wait until the week's lists are in the database, so that events can join them."""
        if not self.log.flush(timeout=300):
            raise DataValidationError(
                f"The recommendation log could not write the week's lists to {self.db_url} within 300 s "
                f"({self.log.stats}); check that the database is up."
            )

    def _arrive(self, week: int, rng: np.random.Generator) -> None:
        """New mentees and mentors, written with their truth rows in one transaction."""
        cfg = self.config
        when = pd.Timestamp(START + timedelta(weeks=week - 1))
        frames = []
        if cfg.mentee_arrivals_per_week:
            ids = np.arange(1, cfg.mentee_arrivals_per_week + 1) + int(self.mentees["mentee_id"].max())
            rows, truth = make_mentees(rng, ids)
            rows = rows.assign(active=True, created_at=when, updated_at=when)
            frames += [(mentees_table, rows, truth, synthetic_mentee_truth)]
        if cfg.mentor_arrivals_per_week:
            ids = np.arange(1, cfg.mentor_arrivals_per_week + 1) + int(self.mentors["mentor_id"].max())
            rows, truth = make_mentors(rng, ids, new_share=1.0, created=(when, when), new_created=(when, when))
            rows = rows.assign(updated_at=pd.Timestamp(_wall_now()))  # the live catalogue's clock
            frames += [(mentors_table, rows, truth, synthetic_mentor_truth)]
        with transaction(self.engine) as conn:
            for table, rows, truth, truth_table in frames:
                conn.execute(table.insert(), frame_records(validate_frame(table, rows)))
                conn.execute(truth_table.insert(), frame_records(truth))
        for table, rows, truth, _ in frames:
            key = "mentee_id" if table is mentees_table else "mentor_id"
            joined = attach_truth(validate_frame(table, rows), truth_frame(truth, key), key, table.name)
            if table is mentees_table:
                self.mentees = pd.concat([self.mentees, joined], ignore_index=True)
                self._mentee_index = pd.Index(self.mentees["mentee_id"])
                self.seeking = np.r_[self.seeking, np.ones(len(rows), bool)]
                self.entered = np.r_[self.entered, np.full(len(rows), week)]
                self.matched_week = np.r_[self.matched_week, np.full(len(rows), np.nan)]
                self._extend_candidates(joined, self.mentors, cut=True)
            else:
                self.mentors = pd.concat([self.mentors, joined], ignore_index=True)
                self.truth_mentors = pd.concat([self.truth_mentors, joined], ignore_index=True)
                self.observed_rate = np.r_[self.observed_rate, joined["acceptance_rate"].to_numpy(float)]
                self.answers = np.r_[self.answers, np.full(len(rows), PRIOR_ANSWERS, float)]
                self.total = np.r_[self.total, np.zeros(len(rows), int)]
                self._extend_candidates(self.mentees.loc[self.seeking], joined, cut=False)
        self._new_mentors = bool(cfg.mentor_arrivals_per_week)

    def _extend_candidates(self, mentees: pd.DataFrame, mentors: pd.DataFrame, *, cut: bool) -> None:
        """Add the pairs of new people: a new mentee's top pairs by truth (``cut``), or every
        pair with a new mentor (not cut: they would otherwise never enter a top N)."""
        pairs = _all_pairs(mentees, mentors)
        pairs["p_match"] = true_match_probability(mentees, mentors, pairs)["p_match"].to_numpy()
        if cut:
            pairs = _top_n(pairs, self.config.bound_top_n)
        self.candidates = pd.concat([self.candidates, pairs], ignore_index=True)

    def _end(self, week: int, week_start: datetime) -> None:
        """End the mentorships whose time is up: an ``ended`` event each; their seats free."""
        ending = [m for m in self.mentorships if m.end_week == week]
        if not ending:
            return
        self.mentorships = [m for m in self.mentorships if m.end_week != week]
        events = [{
            "event_id": f"{self.experiment}-{self.seed}-{m.mentee_id}-{m.mentor_id}-ended",
            "kind": "ended", "list_id": m.list_id, "mentee_id": m.mentee_id, "mentor_id": m.mentor_id,
            "occurred_at": week_start, "success": m.success,
        } for m in ending]
        record_outcomes(self.engine, events)
        position = self._mentor_positions(np.array([m.mentor_id for m in ending]))
        current = self.mentors["current_mentees"].to_numpy().copy()
        np.subtract.at(current, position, 1)
        self.mentors["current_mentees"] = np.maximum(current, 0)

    def _operate(self, week: int, week_start: datetime) -> None:
        """The operator's week: observed aggregates, refresh, index rebuild, retraining."""
        ids = self.mentors["mentor_id"].to_numpy()
        with transaction(self.engine) as conn:
            conn.execute(
                update(mentors_table).where(mentors_table.c.mentor_id == bindparam("m"))
                .values(acceptance_rate=bindparam("rate"), total_mentees=bindparam("total"),
                        updated_at=bindparam("stamp")),
                [{"m": int(m), "rate": round(float(r), 4), "total": int(t), "stamp": _wall_now()}
                 for m, r, t in zip(ids, self.observed_rate, self.total, strict=True)],
            )
        if self.recommender is None:
            return
        cfg = self.config
        if cfg.retrain_every and week > 1 and (week - 1) % cfg.retrain_every == 0:
            event = retrain_step(
                db_url=self.db_url, artifacts=self.artifacts, now=week_start, week=week, seed=self.seed,
                learn_from=cfg.learn_from, debias=cfg.debias, k=cfg.k, margin=cfg.retrain_margin,
                encoder=self.encoder,
            )
            self.retrains.append(event)
            if event["outcome"] == "promoted":
                self.recommender.reload()
        if cfg.index_every and week > 1 and (week - 1) % cfg.index_every == 0 and self._new_mentors:
            from index import build_index_from_db

            build_index_from_db(self.db_url, self.artifacts, progress=False, encoder=self.encoder)
            self.recommender.reload()
            self._new_mentors = False
        self.recommender.refresh()

    def _free_seats(self) -> np.ndarray:
        m = self.mentors
        free = (m["max_mentees"].to_numpy(int) - m["current_mentees"].to_numpy(int)).clip(min=0)
        return np.where(m["active"].to_numpy(bool), free, 0)

    def _week_candidates(self, seekers: np.ndarray, free: np.ndarray) -> pd.DataFrame:
        """The seekers' top pairs by truth with an eligible mentor, at this week's loads."""
        ids = self.mentees["mentee_id"].to_numpy()[seekers]
        open_mentors = self.mentors["mentor_id"].to_numpy()[free > 0]
        pairs = self.candidates[self.candidates["mentee_id"].isin(ids) & self.candidates["mentor_id"].isin(open_mentors)]
        pairs = pairs[~self._contacted(pairs["mentee_id"].to_numpy(), pairs["mentor_id"].to_numpy())]
        pairs = pairs[["mentee_id", "mentor_id"]].reset_index(drop=True)
        pairs["p_match"] = true_match_probability(self.mentees, self._loaded(self.truth_mentors), pairs)["p_match"].to_numpy()
        return pairs

    def _loaded(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The truth's mentors (fixed quality terms) at the seats held now."""
        return frame.assign(current_mentees=self.mentors["current_mentees"].to_numpy(int))

    def _contacted(self, mentee_ids: np.ndarray, mentor_ids: np.ndarray) -> np.ndarray:
        keys = np.asarray(mentee_ids, np.int64) * _KEY + np.asarray(mentor_ids, np.int64)
        return np.fromiter((key in self.contacts for key in keys.tolist()), bool, len(keys))

    def _mentor_positions(self, mentor_ids: np.ndarray) -> np.ndarray:
        return pd.Index(self.mentors["mentor_id"]).get_indexer(mentor_ids)

    def _serve(self, seekers: np.ndarray, free: np.ndarray, candidates: pd.DataFrame,
               rng: np.random.Generator, week: int) -> pd.DataFrame:
        ids = self.mentees["mentee_id"].to_numpy()[seekers]
        frames = []
        for name, policy in self.policies.items():
            mine = np.array([i for i in ids if self._arm(int(i)) == name], dtype=np.int64)
            if not len(mine):
                continue
            view = WeekView(
                recommender=self.recommender, log=self.log, clock=lambda: self.now, experiment=self.experiment,
                eligible_mentors=self.mentors["mentor_id"].to_numpy()[free > 0], contacted=self._contacted,
                candidates=candidates, rng=rng, index_version=self._index_version(),
                explore_rng=np.random.default_rng([self.seed, week, 23]),
                on_scored=None if self.recorder is None else self.recorder.scored,
            )
            frames.append(policy.serve(view, mine, self.config.k).assign(policy=name))
            if self.recorder is not None:
                self.recorder.record(view, mine, self.config.k)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"list_id": [], "mentee_id": [], "rank": [], "mentor_id": [], "policy": []})

    def _truth_ndcg(self, lists: pd.DataFrame, candidates: pd.DataFrame) -> float:
        """The sum over the week's lists of NDCG@k against the truth: gain ``p_match`` at the
        week's loads, over each mentee's eligible candidates (the week's top pairs by truth) and
        the mentors shown, so the ideal is the best k the mentee could have been shown."""
        if not len(lists):
            return 0.0
        pair = ["mentee_id", "mentor_id"]
        shown = lists[[*pair, "rank"]].astype({"mentee_id": np.int64, "mentor_id": np.int64})
        pool = candidates.loc[candidates["mentee_id"].isin(shown["mentee_id"]), [*pair, "p_match"]]
        rows = shown.merge(pool, on=pair, how="left")
        outside = rows["p_match"].isna().to_numpy()
        if outside.any():  # shown beyond the top pairs by truth
            rows.loc[outside, "p_match"] = true_match_probability(
                self.mentees, self._loaded(self.truth_mentors), rows.loc[outside, pair])["p_match"].to_numpy()
        unshown = pool.merge(shown[pair], on=pair, how="left", indicator=True)
        unshown = unshown[unshown["_merge"] == "left_only"].drop(columns="_merge")
        rows = pd.concat([rows.assign(score=-rows["rank"].astype(float)),
                          unshown.assign(score=-float(self.config.k + 1))], ignore_index=True)
        per_list = ndcg_per_query(rows["p_match"].to_numpy(float), rows["score"].to_numpy(float), self.config.k,
                                  rows["mentee_id"].to_numpy())
        return float(per_list.sum())

    def _arm(self, mentee_id: int) -> str:
        arm = self.arm_of.get(mentee_id)
        if arm is None:
            arm = self.arm_of[mentee_id] = self.assign(mentee_id)
        return arm

    def _index_version(self) -> str:
        if self.recommender is None:
            return "none"
        return str(getattr(self.recommender.stages.index.main.manifest, "version", "unpublished"))

    def _browse(self, lists: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """The requests each mentee would send this week, best-ranked first, at most r."""
        if not len(lists):
            return lists.assign(order=[])
        cfg = self.config
        examined = rng.random(len(lists)) < examination_probability(
            lists["rank"].to_numpy(), cfg.position_curve, strength=cfg.position_strength)
        appeal = request_probability(self.mentees, self.truth_mentors, lists[["mentee_id", "mentor_id"]])
        wants = examined & (rng.random(len(lists)) < appeal)
        requests = lists[wants].sort_values(["mentee_id", "rank"], kind="stable")
        requests = requests.assign(order=requests.groupby("mentee_id").cumcount())
        return requests[requests["order"] < cfg.requests_per_week].reset_index(drop=True)

    def _answer(self, requests: pd.DataFrame, week: int, week_start: datetime,
                rng: np.random.Generator, counters: _Week) -> list[dict]:
        """Rounds of requests and answers; returns the week's events in time order."""
        cfg = self.config
        events: list[dict] = []
        matched: set[int] = set()
        current = self.mentors["current_mentees"].to_numpy(int).copy()
        seats = self.mentors["max_mentees"].to_numpy(int)
        accepted_by = np.zeros(len(self.mentors), int)
        answered_by = np.zeros(len(self.mentors), int)
        low, high = cfg.duration_weeks
        for round_ in range(cfg.requests_per_week):
            batch = requests[(requests["order"] == round_) & ~requests["mentee_id"].isin(matched)]
            if not len(batch):
                break
            batch = batch.iloc[rng.permutation(len(batch))].reset_index(drop=True)
            pending = batch["mentor_id"].value_counts().reindex(self.mentors["mentor_id"], fill_value=0)
            loaded = self.truth_mentors.assign(current_mentees=current + pending.to_numpy(int))
            truth = true_match_probability(self.mentees, loaded, batch[["mentee_id", "mentor_id"]])
            start_truth = true_match_probability(self.mentees, self._loaded(self.truth_mentors),
                                                 batch[["mentee_id", "mentor_id"]])
            draws, success_draws = rng.random(len(batch)), rng.random(len(batch))
            durations = rng.integers(low, high + 1, len(batch))
            asked = week_start + timedelta(hours=1 + 24 * round_)
            positions = self._mentor_positions(batch["mentor_id"].to_numpy())
            for i, row in enumerate(batch.itertuples(index=False)):
                mentee, mentor, where = int(row.mentee_id), int(row.mentor_id), positions[i]
                self.contacts.add(mentee * _KEY + mentor)
                self.requests_per_mentor[mentor] = self.requests_per_mentor.get(mentor, 0) + 1
                counters.requests += 1
                base = f"{self.experiment}-{self.seed}-{mentee}-{mentor}"
                events.append({"event_id": f"{base}-requested", "kind": "requested", "list_id": row.list_id,
                               "mentor_id": mentor, "occurred_at": asked + timedelta(seconds=i)})
                answered_by[where] += 1
                full = current[where] >= seats[where]
                counters.requests_to_full += int(full)
                accept = not full and draws[i] < truth["p_accept"].iat[i]
                answer_at = asked + timedelta(hours=6, seconds=i)
                if not accept:
                    events.append({"event_id": f"{base}-declined", "kind": "declined", "list_id": row.list_id,
                                   "mentor_id": mentor, "occurred_at": answer_at})
                    continue
                current[where] += 1
                accepted_by[where] += 1
                matched.add(mentee)
                success = bool(success_draws[i] < truth["p_success"].iat[i])
                self.mentorships.append(_Mentorship(mentee, mentor, row.list_id, week + int(durations[i]), success))
                self.matched_week[self._mentee_position(mentee)] = week
                self.seeking[self._mentee_position(mentee)] = False
                counters.accepted += 1
                counters.started += 1
                counters.successes += int(success)
                counters.expected += float(start_truth["p_match"].iat[i])
                arm = self._arm(mentee)
                counters.arm_successes[arm] = counters.arm_successes.get(arm, 0) + int(success)
                events.append({"event_id": f"{base}-accepted", "kind": "accepted", "list_id": row.list_id,
                               "mentor_id": mentor, "occurred_at": answer_at})
                events.append({"event_id": f"{base}-started", "kind": "started", "list_id": row.list_id,
                               "mentor_id": mentor, "occurred_at": answer_at + timedelta(days=1)})
        self.mentors["current_mentees"] = current
        self.total = self.total + accepted_by
        rate = self.observed_rate * self.answers + accepted_by
        self.answers = self.answers + answered_by
        self.observed_rate = rate / self.answers
        events.sort(key=lambda e: e["occurred_at"])
        return events

    def _mentee_position(self, mentee_id: int) -> int:
        return int(self._mentee_index.get_loc(mentee_id))

    def close(self) -> None:
        if self.recommender is not None:
            self.recommender.close()
        else:
            self.log.close()
        self.engine.dispose()

    # -- results ---------------------------------------------------------------------
    def totals(self) -> dict[str, float]:
        weeks = [w.row() for w in self.weeks]
        sums = {name: float(sum(w[name] for w in weeks)) for name in
                ("successful_matches", "mentorships_started", "expected_matches", "requests",
                 "requests_to_full", "bound", "lists")}
        accepted = sum(w.accepted for w in self.weeks)
        horizon = self.config.weeks
        wait = self.matched_week - self.entered
        ever = self.entered > 0

        def within(n: int) -> float:
            eligible = ever & (self.entered <= horizon - n + 1)
            return float(np.mean(wait[eligible] < n)) if eligible.any() else float("nan")

        ids = self.mentors["mentor_id"].to_numpy()[self.mentors["active"].to_numpy(bool)]
        return sums | {
            "acceptance_rate": accepted / sums["requests"] if sums["requests"] else float("nan"),
            "share_of_bound": sums["successful_matches"] / sums["bound"] if sums["bound"] else float("nan"),
            "utilisation": float(np.mean([w.utilisation for w in self.weeks])),
            "coverage": float(len(self.shown & set(ids.tolist())) / max(len(ids), 1)),
            "gini_requests": float(gini(np.asarray(self.requests_counts()))),
            "gini_impressions": float(np.mean([w.gini_impressions for w in self.weeks])),
            "seekers": float(np.mean([w.seekers for w in self.weeks])),
            "matched_within_2_weeks": within(2),
            "matched_within_4_weeks": within(4),
            "still_waiting": float(self.seeking.sum()),
            "mean_weeks_to_match": float(np.nanmean(wait[ever] + 1)) if np.isfinite(wait[ever]).any() else float("nan"),
            "ndcg_truth": sum(w.ndcg_sum for w in self.weeks) / sums["lists"] if sums["lists"] else float("nan"),
            "new_mentor_impressions": (sum(w.new_impressions for w in self.weeks)
                                       / max(sum(w.impressions for w in self.weeks), 1)),
        }

    def requests_counts(self) -> list[int]:
        """Requests over the run to each active mentor (zeros included), in catalogue order."""
        ids = self.mentors["mentor_id"].to_numpy()[self.mentors["active"].to_numpy(bool)]
        return [int(c) for c in pd.Series(self.requests_per_mentor).reindex(ids, fill_value=0)]

    def arm_rates(self) -> dict[str, float]:
        """Successful matches per mentee of each arm (every mentee who ever sought, by arm)."""
        ids = self.mentees["mentee_id"].to_numpy()[self.entered > 0]
        arms = pd.Series([self._arm(int(i)) for i in ids])
        successes: dict[str, int] = {}
        for w in self.weeks:
            for arm, n in w.arm_successes.items():
                successes[arm] = successes.get(arm, 0) + n
        return {arm: successes.get(arm, 0) / int((arms == arm).sum()) for arm in sorted(set(arms))}


def simulate(
    config: SimulationConfig | None = None, *, db_url: str | None = None, work: str | Path | None = None,
    encoder=None, progress: bool = True,
) -> dict[str, Any]:
    """Run every market of ``config`` (module doc) and return the ``simulation.json`` dict.

    ``db_url``: play the markets in that database, which is reset for each (it must be one
    made for simulations: everything in it is replaced); default: SQLite files under
    ``work`` (a temporary folder by default). ``encoder`` defaults to the shipped MiniLM.
    """
    config = (SimulationConfig() if config is None else config).checked()
    started = time.perf_counter()
    if encoder is None:
        from embeddings import Encoder

        encoder = Encoder()
    given = None if db_url is None else read_world(db_url)  # refused before anything is written
    temporary = tempfile.TemporaryDirectory(prefix="mm-sim-") if work is None else None
    work = Path(temporary.name if temporary else work)
    work.mkdir(parents=True, exist_ok=True)
    per_seed: dict[str, list[dict]] = {name: [] for name in config.policies}
    ab_rows: list[dict] = []
    checks: list[dict] = []
    cohorts: list[dict] = []
    off = config.off_policy
    seconds: dict[str, float] = {}
    try:
        total_steps = len(config.seeds) * (len(config.policies) + (1 if config.ab else 0)) * config.weeks
        with tqdm(total=total_steps, desc="simulating", unit="week", disable=not progress) as bar:
            for seed in config.seeds:
                t = time.perf_counter()
                world, base_url, artifacts, candidates = _prepare(config, seed, work, encoder, given)
                seconds[f"prepare_seed_{seed}"] = round(time.perf_counter() - t, 2)
                if config.cohort:
                    bar.set_postfix_str(f"seed {seed}, cohort round")
                    cohorts.append(cohort_round(world, base_url, artifacts, candidates, seed=seed, encoder=encoder,
                                                candidates=config.cohort_candidates))
                    seconds[f"seed_{seed}_cohort"] = cohorts[-1]["seconds"]
                rewards: dict[str, dict[str, pd.DataFrame]] = {}
                recorder = None if off is None else OffPolicyRecorder(
                    off[1], None if off[1] == off[0] else make_policy(off[1]), epsilon=config.explore_epsilon,
                    temperature=config.explore_temperature, seed=seed)
                for name in config.policies:
                    bar.set_postfix_str(f"seed {seed}, {name}")
                    t = time.perf_counter()
                    market = _play(config, seed, world, base_url, db_url, work, artifacts, [name],
                                   lambda _, n=name: n, f"sim-{name}", encoder, candidates, bar,
                                   recorder=recorder if off and name == off[0] else None,
                                   read_rewards=bool(off) and name in off)
                    seconds[f"seed_{seed}_{name}"] = round(time.perf_counter() - t, 2)
                    if market.rewards is not None:
                        rewards[name] = market.rewards
                    per_seed[name].append({
                        "seed": seed, "total": market.totals(), "weeks": [w.row() | {"week": w.week} for w in market.weeks],
                        "requests_per_mentor": market.requests_counts(), "retraining": market.retrains,
                    })
                if off is not None:
                    t = time.perf_counter()
                    checks.append({"seed": seed, **recorder.diagnostics(), "scopes": check_against_truth(
                        recorder.slots(), rewards[off[0]], rewards[off[1]])})
                    seconds[f"seed_{seed}_off_policy"] = round(time.perf_counter() - t, 2)
                if config.ab:
                    bar.set_postfix_str(f"seed {seed}, A/B {' vs '.join(config.ab)}")
                    ab_rows.append(_play_ab(config, seed, world, base_url, db_url, work, artifacts, encoder,
                                            candidates, bar, per_seed))
    finally:
        if temporary is not None:
            temporary.cleanup()
    seconds["total"] = round(time.perf_counter() - started, 2)
    return {
        "format": FORMAT,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": _settings(config, db_url, given),
        "metrics": list(TOTAL_METRICS),
        "policies": {name: _summarise(rows, config.weeks) for name, rows in per_seed.items()},
        "ab": _summarise_ab(config, ab_rows) if config.ab else None,
        "notes": _notes(config),
        "seconds": seconds,
        "retraining": _summarise_retraining(config, per_seed) if config.retrain_every else None,
        "off_policy": _summarise_off_policy(config, checks) if off else None,
        "cohort": _summarise_cohort(cohorts) if config.cohort else None,
    }


def _settings(config: SimulationConfig, db_url: str | None, given) -> dict[str, Any]:
    """The settings block; with a database, its world's sizes replace the generated world's."""
    settings = config.settings() | {"db_url": _safe_url(db_url) if db_url else "sqlite (a file per market)"}
    if given is not None:
        settings["world"] = {"mentors": len(given.mentors), "mentees": len(given.mentees),
                             "interactions": len(given.interactions), "from": "the database"}
    return settings


def _safe_url(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)


def _prepare(config: SimulationConfig, seed: int, work: Path, encoder, given=None):
    """The seed's world (``given``, else generated) in a base SQLite database, its index and
    ranker as an operator would build them (and the baselines the model policies serve, fitted
    on the ranker's training pairs), and each mentee's top pairs by truth."""
    from eval.training_run import run_training
    from index import build_index_from_db

    folder = work / f"seed-{seed}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    world = given if given is not None else generate_world(
        config.mentors, config.mentees, config.interactions_per_mentee, seed=seed)
    base_url = f"sqlite:///{folder / 'base.db'}"
    engine = get_engine(base_url)
    try:
        write_world(engine, world, progress=False)
    finally:
        engine.dispose()
    artifacts = folder / "artifacts"
    served = config.policies + (config.ab or ())
    if NEEDS_RECOMMENDER & set(served) or config.cohort:  # the engine is served: build it
        build_index_from_db(base_url, artifacts, progress=False, encoder=encoder)
        run_training(base_url, artifacts, seed=seed, encoder=encoder, progress=False)
        models = [name for name in dict.fromkeys(served) if name in MODEL_POLICIES]
        if models:
            fit_baselines(base_url, artifacts, models, seed=seed, encoder=encoder)
    else:
        artifacts.mkdir()
    mentees, mentors = world.with_truth()
    seekers = mentees[mentees["active"]]
    chunks = []
    for start in range(0, len(seekers), 500):  # all pairs of 500 mentees at a time, then their top N
        part = seekers.iloc[start:start + 500]
        pairs = _all_pairs(part, mentors)
        pairs["p_match"] = true_match_probability(part, mentors, pairs)["p_match"].to_numpy()
        chunks.append(_top_n(pairs, config.bound_top_n))
    return world, base_url, artifacts, pd.concat(chunks, ignore_index=True)


def _play(config, seed, world, base_url, db_url, work, artifacts, policies, assign, experiment, encoder,
          candidates, bar, *, recorder: OffPolicyRecorder | None = None, read_rewards: bool = False) -> Market:
    url = _market_database(world, base_url, db_url, work / f"seed-{seed}" / f"{experiment}.db")
    # Each market gets its own copy of the artifacts: index rebuilds and retraining change them.
    # Of the baselines, only those the market serves are copied.
    served = work / f"seed-{seed}" / f"{experiment}-artifacts"
    if served.exists():
        shutil.rmtree(served)
    baselines = artifacts / BASELINES_FOLDER

    def others(folder: str, names: list[str]) -> list[str]:
        return [name for name in names if name not in policies] if Path(folder) == baselines else []

    shutil.copytree(artifacts, served, symlinks=True, ignore=others)
    market = Market(config, seed, world, url, served, policies=policies, assign=assign, experiment=experiment,
                    encoder=encoder, candidates=candidates.copy())
    market.recorder = recorder
    try:
        for week in range(1, config.weeks + 1):
            market.play(week)
            bar.update(1)
        if read_rewards:  # before the database is replaced by the next market
            market.rewards = rewards_per_list(load_log(market.engine, experiment=experiment))
    finally:
        market.close()
    return market


def _play_ab(config, seed, world, base_url, db_url, work, artifacts, encoder, candidates, bar, per_seed) -> dict:
    from retrieval.experiments import Experiment

    variant, control = config.ab
    experiment = Experiment.from_dict({
        "name": "sim-ab", "salt": f"sim-ab-{seed}", "control": control,
        "variants": [{"name": control, "share": 0.5}, {"name": variant, "share": 0.5}],
    })
    market = _play(config, seed, world, base_url, db_url, work, artifacts, [control, variant], experiment.assign,
                   "sim-ab", encoder, candidates, bar)
    rates = market.arm_rates()
    separate = {name: next(r for r in per_seed[name] if r["seed"] == seed)["total"] for name in (variant, control)}
    mentees_in_market = int((market.entered > 0).sum())
    report = None
    if seed == config.seeds[0]:
        from eval.ab.analysis import analyze_experiment

        engine = get_engine(market.db_url)
        try:
            report = analyze_experiment(load_log(engine, experiment="sim-ab"), experiment.shares,
                                        control=control, n_boot=500, seed=seed)
        finally:
            engine.dispose()
    return {
        "seed": seed,
        "ab_difference": rates.get(variant, 0.0) - rates.get(control, 0.0),
        "separate_difference": (separate[variant]["successful_matches"] - separate[control]["successful_matches"])
        / mentees_in_market,
        "arm_rates": rates,
        "report": report,
    }


def _market_database(world, base_url: str, db_url: str | None, path: Path) -> str:
    """A fresh copy of the seed's world: a copied SQLite file, or ``db_url`` reset and rewritten."""
    if db_url is None:
        shutil.copyfile(base_url.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    engine = get_engine(db_url)
    try:
        write_world(engine, world, reset=True, progress=False)
    finally:
        engine.dispose()
    return db_url


def _all_pairs(mentees: pd.DataFrame, mentors: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "mentee_id": np.repeat(mentees["mentee_id"].to_numpy(np.int64), len(mentors)),
        "mentor_id": np.tile(mentors["mentor_id"].to_numpy(np.int64), len(mentees)),
    })


def _top_n(pairs: pd.DataFrame, n: int | None) -> pd.DataFrame:
    if n is None:
        return pairs
    pairs = pairs.sort_values(["mentee_id", "p_match"], ascending=[True, False], kind="stable")
    return pairs[pairs.groupby("mentee_id").cumcount() < n].reset_index(drop=True)


def _stat(values: list[float]) -> dict[str, float | None]:
    """``{"mean", "se"}`` over seeds; NaN values (an undefined share) are left out, and the
    standard error is None with one seed."""
    clean = [v for v in values if v == v]
    if not clean:
        return {"mean": None, "se": None}
    mean, se = mean_and_se(clean)
    return {"mean": float(mean), "se": None if se != se else float(se)}


def _summarise(rows: list[dict], weeks: int) -> dict[str, Any]:
    total = {name: _stat([r["total"][name] for r in rows]) for name in TOTAL_METRICS}
    by_week = [
        {"week": w} | {name: _stat([r["weeks"][w - 1][name] for r in rows]) for name in WEEK_METRICS}
        for w in range(1, weeks + 1)
    ]
    return {"total": total, "weeks": by_week, "per_seed": rows}


def _summarise_ab(config: SimulationConfig, rows: list[dict]) -> dict[str, Any]:
    variant, control = config.ab
    return {
        "policies": [variant, control],
        "shares": {control: 0.5, variant: 0.5},
        "metric": "successful matches per mentee",
        "ab_difference": _stat([r["ab_difference"] for r in rows]),
        "separate_markets_difference": _stat([r["separate_difference"] for r in rows]),
        "per_seed": [{k: v for k, v in r.items() if k != "report"} for r in rows],
        "report": rows[0]["report"],
    }


def _summarise_retraining(config: SimulationConfig, per_seed: dict[str, list[dict]]) -> dict[str, Any]:
    """The ``retraining`` block: how each policy's market retrained, over seeds."""
    policies = {}
    for name, rows in per_seed.items():
        counts = {outcome: _stat([sum(e["outcome"] == outcome for e in r["retraining"]) for r in rows])
                  for outcome in ("promoted", "refused", "skipped")}
        curves = [next((e["examination_curve"] for e in reversed(r["retraining"]) if e["examination_curve"]), None)
                  for r in rows]
        learned = None
        if any(curve is not None for curve in curves):
            found = [curve for curve in curves if curve is not None]
            width = min(len(curve) for curve in found)
            learned = [_stat([curve[i] for curve in found]) for i in range(width)]
        policies[name] = counts | {"learned_examination": learned}
    return {
        "learn_from": config.learn_from,
        "debias": config.debias,
        "label": LOG_LABEL if config.learn_from == "log" else "graded relevance of the interactions",
        "every": config.retrain_every,
        "margin": config.retrain_margin,
        "true_examination": true_examination(config.k, config.position_curve, config.position_strength),
        "policies": policies,
    }


def _summarise_off_policy(config: SimulationConfig, checks: list[dict]) -> dict[str, Any]:
    """The ``off_policy`` block: the check per seed and its summary over seeds."""
    logging_policy, target = config.off_policy
    return {
        "logging": logging_policy,
        "target": target,
        "epsilon": config.explore_epsilon,
        "temperature": config.explore_temperature,
        "marginal_samples": MARGINAL_SAMPLES,
        "min_lists": MIN_LISTS,
        "unit": "expected count per list (a rate per list); the first week's lists are served in the same "
                "state in both markets",
        "summary": summarise_checks(checks),
        "per_seed": checks,
    }


def _summarise_cohort(rows: list[dict]) -> dict[str, Any]:
    """The ``cohort`` block: one assignment round per seed, judged with the truth."""
    figures = ("expected", "model_expected", "bound", "share_of_bound", "realised", "assigned", "seekers",
               "free_seats")
    return {
        "unit": "expected successful matches of one round that assigns every seeker of week 1 at once "
                "(retrieval.cohort.assign_cohort with the heads' P(match)), by the truth; the bound is "
                "capacity_bound on the truth for the same seekers and seats",
        "summary": {name: _stat([float(r[name]) for r in rows]) for name in figures},
        "per_seed": rows,
    }


def _notes(config: SimulationConfig) -> list[str]:
    notes = [
        "A successful match is counted in the week its mentorship started (success is drawn then; "
        "the 'ended' event that reveals it may fall after the horizon).",
        "The weekly bound allows one accepted request per mentee and week; a policy's mentees may try "
        f"up to {config.requests_per_week} mentors a week.",
        "Mentors' seats held at the start (the world's current_mentees) stay held: only the simulated "
        "mentorships end.",
    ]
    if config.bound_top_n is not None:
        notes.append(
            f"The bound and the oracle consider each mentee's top {config.bound_top_n} mentors by truth "
            "(plus every pair with a mentor who joined), so the bound is a lower bound of the unrestricted one."
        )
    if len(config.seeds) == 1:
        notes.append("One seed: no standard errors.")
    models = [name for name in dict.fromkeys(config.policies + (config.ab or ())) if name in MODEL_POLICIES]
    if models:
        notes.append(
            f"The model policies ({', '.join(models)}) serve the offline evaluation's baselines, fitted once per seed on "
            "the ranker's training pairs and never retrained: the ranker's stage-1 candidates ordered by the model's "
            "probability of a successful match.")
    if config.retrain_every:
        source = (f"the logged lists (label {LOG_LABEL!r}, debias {config.debias!r})" if config.learn_from == "log"
                  else "the interactions")
        notes.append(
            f"The ranker is retrained every {config.retrain_every} week(s) from {source}, through the promotion "
            f"guard (margin {config.retrain_margin:g} NDCG@10); a refused candidate leaves the ranker in place.")
    if config.off_policy:
        notes.append(
            "The off-policy check's IIPS assumes a slot's reward depends on its mentor and position only; the "
            "simulated mentees browse sequentially and stop at an accepted request, so it need not hold.")
    return notes


def _wall_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def read_world(db_url: str):
    """The generated world a database holds (profiles, interactions, hidden truth), or an
    error that says the simulator needs one."""
    from db.loading import load_interactions, load_mentees, load_mentors
    from mentor_match.errors import MentorMatchError, SchemaError
    from synthetic.generator import SyntheticWorld
    from synthetic.truth import read_truth

    engine = get_engine(db_url)
    try:
        with engine.connect() as conn:
            try:
                mentor_truth = read_truth(conn, synthetic_mentor_truth)
                mentee_truth = read_truth(conn, synthetic_mentee_truth)
            except SchemaError:
                mentor_truth = mentee_truth = None
            if mentor_truth is None or not len(mentor_truth) or not len(mentee_truth):
                raise DataValidationError(
                    f"The database {db_url} holds no synthetic ground truth (tables synthetic_mentor_truth "
                    "and synthetic_mentee_truth are missing or empty). The simulator needs a generated world: "
                    "run scripts/simulate.py without --db-url (it generates one per seed), or write one "
                    "there with scripts/generate_synthetic_data.py first."
                )
            world = SyntheticWorld(load_mentors(conn), load_mentees(conn), load_interactions(conn),
                                   mentor_truth, mentee_truth)
    except MentorMatchError:
        raise
    finally:
        engine.dispose()
    world.with_truth()  # every row has its truth, or a DataValidationError naming the rows
    return world


__all__ = ["FORMAT", "Market", "read_world", "simulate"]
