"""Off-policy estimates checked on the simulator, where the answer is known.

With ``SimulationConfig.off_policy = (logging, target)`` the simulator plays the logging policy
(``ranker_explore``: the ranker with exploration, each slot's propensity logged) and the target
in markets of their own on the same world and seeds, then:

1. **While the logging policy serves**, :class:`OffPolicyRecorder` keeps, for each list it
   shows, what the estimators need, computed from that list's scored candidates: the list the
   target would have shown the same mentee in the same state (the target's ``lists`` on the
   same week's view, nothing logged; for ``ranker``, the logging ranker's own order), each
   shown slot's target propensity (IPS, SNIPS: 1 while the shown list follows the target's,
   then 0), and both policies' marginal P(mentor at position) at the shown slots (IIPS).
   Because the simulator keeps every scored candidate at serve time, nothing is retrieved
   again afterwards, which the log alone would need (docs/off-policy.md, "Candidates are not
   logged").
2. **After the run**, the per-slot rewards come from the logging market's log
   (:func:`eval.offpolicy.slot_rewards`: requested, accepted, success) and
   :func:`~eval.offpolicy.ips`, :func:`~eval.offpolicy.snips` and :func:`~eval.offpolicy.iips`
   estimate the target's expected count per list.
3. **The truth**: the target's own market gives its actual count per list, read from its log
   the same way, with a normal 95% interval over its lists.

Two scopes: ``all_weeks`` and ``first_week``. In the first week both markets serve the same
mentees in the same state, so only the estimators' assumptions separate estimate from truth;
later, each policy's past matches change who is still looking and which seats are free, and
the estimate (the target on the logging market's mentees) and the truth (on its own) are of
different populations.

Where the model does not hold, and the gap shows it:

* **IIPS assumes a slot's reward depends on its mentor and position only.** The simulated
  mentee browses sequentially: they request the best-ranked mentors they want, one after
  another, and stop when one accepts; and a mentor's answer depends on the other requests of
  the round (seats). A request in slot 5 therefore depends on slots 1 to 4.
* **Support.** A deterministic target gets weight only where the logged slot equals its
  choice; its mentors outside the logging policy's 200 candidates (``support`` below 1) can
  never be shown by it, and that part of the target's value is missing from every estimate.
* **IPS and SNIPS** need the whole logged list to equal the target's (``lists_equal``): for
  the ranker's own order most unexplored lists do, for another policy almost none, and SNIPS
  is then undefined.
* **Marginals** of the Plackett-Luce part are Monte Carlo (:func:`eval.offpolicy.plackett_luce_marginals`),
  with a small error of their own.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from db.log_reading import LogFrames
from eval.offpolicy import (
    iips,
    ips,
    plackett_luce_marginals,
    slot_propensities,
    slot_rewards,
    snips,
)
from eval.offpolicy.estimators import MIN_LISTS
from eval.simulator.market import mean_and_se
from eval.simulator.policies import Policy, ScoredList, WeekView
from mentor_match.errors import DataValidationError, NotEnoughDataError
from mentor_match.validation import check_int, check_number

logger = logging.getLogger(__name__)

__all__ = [
    "ESTIMATORS",
    "MARGINAL_SAMPLES",
    "REWARDS",
    "SCOPES",
    "OffPolicyRecorder",
    "check_against_truth",
    "rewards_per_list",
    "summarise_checks",
]

REWARDS: tuple[str, ...] = ("requested", "accepted", "success")
"""Per-slot rewards estimated (:func:`eval.offpolicy.slot_rewards`); each estimate is a count per list."""
SCOPES: tuple[str, ...] = ("all_weeks", "first_week")
"""The lists compared: every week's, or the first week's (both markets in the same state)."""
ESTIMATORS = {"ips": ips, "snips": snips, "iips": iips}
MARGINAL_SAMPLES = 500
"""Plackett-Luce prefixes drawn per list for the marginals of positions after the first (the
conditional average of :func:`eval.offpolicy.plackett_luce_marginals` needs far fewer than a count would)."""
_Z = NormalDist().inv_cdf(0.975)


class OffPolicyRecorder:
    """Kept by the logging policy's market: per shown slot, the target's propensity and both
    policies' marginals (module doc, step 1).

    Hand :meth:`scored` to the week's view (``WeekView.on_scored``), then call :meth:`record`
    after the logging policy served. ``target`` is the target's policy (its ``lists`` are
    asked, nothing is logged), or None when the target is the logging policy itself.
    """

    def __init__(
        self, target_name: str, target: Policy | None, *, epsilon: float, temperature: float, seed: int,
        samples: int = MARGINAL_SAMPLES,
    ) -> None:
        self.target_name = target_name
        self.target = target
        self.epsilon = check_number("epsilon", epsilon, "OffPolicyRecorder", low=0.0, high=1.0, low_open=True)
        self.temperature = check_number("temperature", temperature, "OffPolicyRecorder", low=0.0, low_open=True)
        self.samples = check_int("samples", samples, "OffPolicyRecorder")
        self.rng = np.random.default_rng([seed, 31])
        self._pending: list[ScoredList] = []
        self._slots: list[pd.DataFrame] = []
        self.target_slots = 0
        self.supported_slots = 0
        self.lists = 0
        self.lists_equal = 0

    def scored(self, item: ScoredList) -> None:
        """One list the logging policy just scored and showed."""
        self._pending.append(item)

    def record(self, view: WeekView, mentee_ids: np.ndarray, k: int) -> None:
        """The target's lists for the week's ``mentee_ids`` and the numbers of every list
        scored since the last call."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        targets = self._target_lists(view, mentee_ids, k, pending)
        empty = np.empty(0, np.int64)
        for item in pending:
            self._record_list(item, None if targets is None else targets.get(item.mentee_id, empty), k)

    def slots(self) -> pd.DataFrame:
        """One row per shown slot: ``list_id``, ``position``, ``target_propensity``,
        ``logging_marginal`` and ``target_marginal``."""
        columns = ["list_id", "position", "target_propensity", "logging_marginal", "target_marginal"]
        if not self._slots:
            return pd.DataFrame({name: [] for name in columns})
        return pd.concat(self._slots, ignore_index=True)[columns]

    def diagnostics(self) -> dict[str, Any]:
        """``lists`` recorded; ``support``: share of the target's slots whose mentor was among
        the logging policy's candidates (None when the target is the logging policy);
        ``lists_equal``: share of logged lists equal to the target's whole list."""
        same = self.target is None
        return {
            "lists": self.lists,
            "support": None if same or not self.target_slots else self.supported_slots / self.target_slots,
            "lists_equal": None if same or not self.lists else self.lists_equal / self.lists,
        }

    def _target_lists(self, view: WeekView, mentee_ids: np.ndarray, k: int,
                      pending: list[ScoredList]) -> dict[int, np.ndarray] | None:
        if self.target is None:
            return None
        if self.target_name == "ranker":  # the logging ranker's own order: RankerPolicy().lists, without rescoring
            return {item.mentee_id: item.mentor_ids[np.argsort(-item.scores, kind="stable")[:k]] for item in pending}
        shadow = replace(view, on_scored=None, rng=np.random.default_rng(0), explore_rng=None)
        lists = self.target.lists(shadow, mentee_ids, k).sort_values(["mentee_id", "rank"], kind="stable")
        return {int(mentee): rows["mentor_id"].to_numpy(np.int64) for mentee, rows in lists.groupby("mentee_id")}

    def _record_list(self, item: ScoredList, target: np.ndarray | None, k: int) -> None:
        shown = item.mentor_ids[item.order]
        positions = np.arange(1, len(shown) + 1)
        logging_marginal = self._logging_marginals(item, k)
        if target is None:
            target_marginal = logging_marginal
            target_propensity = slot_propensities(item.scores, item.order, epsilon=self.epsilon,
                                                  temperature=self.temperature)
        else:
            match = np.array([j < len(target) and shown[j] == target[j] for j in range(len(shown))], dtype=bool)
            target_marginal = match.astype(float)
            target_propensity = np.cumprod(match).astype(float)
            self.target_slots += len(target)
            self.supported_slots += int(np.isin(target, item.mentor_ids).sum())
            self.lists_equal += int(len(target) == len(shown) and bool(match.all()))
        self.lists += 1
        self._slots.append(pd.DataFrame({
            "list_id": item.list_id, "position": positions, "target_propensity": target_propensity,
            "logging_marginal": logging_marginal, "target_marginal": target_marginal,
        }))

    def _logging_marginals(self, item: ScoredList, k: int) -> np.ndarray:
        """The exploring ranker's P(shown mentor at its position) of every shown slot:
        ``(1 - epsilon) [the ranker's order puts it there] + epsilon PL_j(mentor)``."""
        greedy = np.argsort(-item.scores, kind="stable")[:k]  # as long as the shown list: min(k, candidates)
        positions = np.arange(1, len(item.order) + 1)
        pl = plackett_luce_marginals(item.scores, item.order, positions, temperature=self.temperature,
                                     samples=self.samples, rng=self.rng)
        return (1.0 - self.epsilon) * (greedy == item.order) + self.epsilon * pl


def rewards_per_list(frames: LogFrames) -> dict[str, pd.DataFrame]:
    """Each reward of :data:`REWARDS` per shown slot (:func:`eval.offpolicy.slot_rewards`), with
    a ``first_week`` flag (the list was served at the market's first serving time)."""
    out = {}
    for reward in REWARDS:
        slots = slot_rewards(frames, reward)
        first = slots["created_at"].min() if len(slots) else None
        out[reward] = slots.assign(first_week=slots["created_at"].eq(first))
    return out


def _mean_interval(per_list: pd.Series) -> dict[str, Any]:
    n = len(per_list)
    mean = float(per_list.mean()) if n else float("nan")
    se = float(per_list.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return {"mean": mean, "standard_error": se, "interval": [mean - _Z * se, mean + _Z * se], "lists": n}


def check_against_truth(
    recorded: pd.DataFrame, logging_rewards: dict[str, pd.DataFrame], target_rewards: dict[str, pd.DataFrame],
    *, min_lists: int = MIN_LISTS,
) -> dict[str, Any]:
    """Every estimator's estimate of the target's count per list beside the target's actual
    one, per scope of :data:`SCOPES` and reward of :data:`REWARDS` (module doc).

    ``recorded`` is :meth:`OffPolicyRecorder.slots`; the rewards are :func:`rewards_per_list`
    of the logging and the target market. Returns ``{scope: {reward: {"actual",
    "logging_actual", "ips", "snips", "iips"}}}``: ``actual`` and ``logging_actual`` (each
    market's own mean per list) as ``{"mean", "standard_error", "interval", "lists"}``, each
    estimator as ``{"estimate", "standard_error", "interval", "lists",
    "effective_sample_size", "difference" (estimate - actual), "covers_actual" (the 95%
    interval holds the actual mean), "z" (difference over the two standard errors combined)}``,
    or ``{"problem": why}`` when it cannot estimate (no support, too few lists).
    """
    out: dict[str, Any] = {}
    for scope in SCOPES:
        out[scope] = {}
        for reward in REWARDS:
            logged = logging_rewards[reward]
            truth = target_rewards[reward]
            if scope == "first_week":
                logged, truth = logged[logged["first_week"]], truth[truth["first_week"]]
            actual = _mean_interval(truth.groupby("list_id")["reward"].sum())
            entry: dict[str, Any] = {
                "actual": actual,
                "logging_actual": _mean_interval(logged.groupby("list_id")["reward"].sum()),
            }
            slots = logged.merge(recorded, on=["list_id", "position"], how="inner", validate="one_to_one")
            for name, estimator in ESTIMATORS.items():
                try:
                    result = estimator(slots, min_lists=min_lists)
                except (NotEnoughDataError, DataValidationError) as exc:
                    entry[name] = {"problem": str(exc)}
                    continue
                low, high = float(result.interval[0]), float(result.interval[1])
                combined = float(np.hypot(result.standard_error, actual["standard_error"]))
                difference = result.estimate - actual["mean"]
                entry[name] = {
                    "estimate": result.estimate, "standard_error": result.standard_error,
                    "interval": [low, high], "lists": result.lists,
                    "effective_sample_size": result.effective_sample_size,
                    "difference": difference, "covers_actual": bool(low <= actual["mean"] <= high),
                    "z": difference / combined if combined > 0 else None,
                }
            out[scope][reward] = entry
    return out


def summarise_checks(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Over seeds: per scope, reward and estimator the mean and SE over seeds of the estimate,
    the actual and their difference, and in how many seeds the interval covered the actual.

    >>> row = {"actual": {"mean": 1.0}, "logging_actual": {"mean": 1.2},
    ...        "ips": {"estimate": 1.1, "difference": 0.1, "covers_actual": True}, "snips": {"problem": "x"},
    ...        "iips": {"estimate": 0.9, "difference": -0.1, "covers_actual": False}}
    >>> seeds = [{"seed": s, "scopes": {"all_weeks": {"requested": row}}} for s in (0, 1)]
    >>> summary = summarise_checks(seeds)["all_weeks"]["requested"]
    >>> summary["ips"]["difference"], summary["iips"]["covered"], summary["snips"]["estimate"]
    ({'mean': 0.1, 'se': 0.0}, '0 of 2', {'mean': None, 'se': None})
    """
    def stat(values: list[float | None]) -> dict[str, float | None]:
        clean = [float(v) for v in values if v is not None and v == v]
        if not clean:
            return {"mean": None, "se": None}
        mean, se = mean_and_se(clean)
        return {"mean": mean, "se": None if se != se else se}

    summary: dict[str, Any] = {}
    scopes = per_seed[0]["scopes"] if per_seed else {}
    for scope, rewards in scopes.items():
        summary[scope] = {}
        for reward in rewards:
            rows = [seed["scopes"][scope][reward] for seed in per_seed]
            entry: dict[str, Any] = {
                "actual": stat([row["actual"]["mean"] for row in rows]),
                "logging_actual": stat([row["logging_actual"]["mean"] for row in rows]),
            }
            for name in ESTIMATORS:
                results = [row[name] for row in rows]
                entry[name] = {
                    "estimate": stat([r.get("estimate") for r in results]),
                    "difference": stat([r.get("difference") for r in results]),
                    "covered": f"{sum(bool(r.get('covers_actual')) for r in results)} of {len(results)}",
                    "problems": sum("problem" in r for r in results),
                }
            summary[scope][reward] = entry
    return summary
