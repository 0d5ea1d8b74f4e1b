"""One cohort round, judged against the truth: the batch assignment with the learned scores.

A programme that matches in cohorts assigns every seeker at once (:func:`retrieval.cohort.assign_cohort`:
each mentee's top candidates from the engine, scored by the reciprocal heads' P(match), the
expected successful matches maximised under the free seats). :func:`cohort_round` plays that
on the simulator's starting world (the state of week 1) and scores the proposal with the
hidden truth:

* ``expected``: the sum of the true ``p_match`` of the assigned pairs, at the week's loads;
* ``bound``: the capacity bound of the same seekers and seats (:func:`~eval.simulator.bound.capacity_bound`,
  the maximum of that sum over every assignment, solved on the truth itself);
* ``share_of_bound``: their ratio, the figure the market-aware issue targets (at least 80%);
* ``realised``: one draw of the proposals' outcomes (accept with the truth's ``p_accept``, then
  succeed with its ``p_success``), seeded;
* the assignment's own report: what the model expected, unmatched mentees, load Gini, blocking
  pairs (without its per-mentor loads and its list of unmatched mentees: their counts stay).

The market's weekly lists and this round use the same world, index, ranker and heads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eval.simulator.bound import capacity_bound
from synthetic.truth import true_match_probability

__all__ = ["cohort_round"]

COHORT_CANDIDATES = 200
"""Candidates per mentee the assignment chooses among (each mentee's best by the engine; the
engine's own default, ``retrieval.DEFAULT_CANDIDATES``)."""


def cohort_round(
    world, db_url: str, artifacts: Path, truth_pairs: pd.DataFrame, *, seed: int, encoder=None,
    candidates: int = COHORT_CANDIDATES,
) -> dict[str, Any]:
    """Assign the world's seekers (active mentees) to the free seats in one round with the
    learned scores, and judge it with the truth (module docstring). ``truth_pairs`` are each
    seeker's top pairs by true ``p_match`` (the simulator's candidates), from which the bound
    is solved."""
    from ranking.heads import ReciprocalModel
    from retrieval import Recommender
    from retrieval.cohort import assign_cohort

    started = time.perf_counter()
    mentees, mentors = world.with_truth()
    seekers = mentees.loc[mentees["active"].to_numpy(bool), "mentee_id"].to_numpy(np.int64)
    free = (mentors["max_mentees"] - mentors["current_mentees"]).clip(lower=0).where(mentors["active"], 0)
    seats = pd.Series(free.to_numpy(np.int64), index=mentors["mentor_id"].to_numpy(np.int64))
    contacted = set(zip(world.interactions["mentee_id"].astype(int), world.interactions["mentor_id"].astype(int),
                        strict=True))
    pairs = truth_pairs[truth_pairs["mentee_id"].isin(seekers) & truth_pairs["mentor_id"].map(seats).gt(0)]
    keep = [pair not in contacted for pair in zip(pairs["mentee_id"].astype(int), pairs["mentor_id"].astype(int),
                                                  strict=True)]
    pairs = pairs[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    bound = capacity_bound(pairs[["mentee_id", "mentor_id", "p_match"]], seats)

    recommender = Recommender.load(artifacts, db_url, encoder=encoder, log=False, refresh_interval=None)
    try:
        heads = ReciprocalModel.load(Path(artifacts) / "heads")
        assignment = assign_cohort(recommender, seekers.tolist(), heads=heads, candidates=candidates,
                                   reasons=False, progress=False)
    finally:
        recommender.close()
    table = assignment.table
    truth = true_match_probability(mentees, mentors, table[["mentee_id", "mentor_id"]])
    rng = np.random.default_rng([seed, 41])
    accepted = rng.random(len(table)) < truth["p_accept"].to_numpy(float)
    succeeded = accepted & (rng.random(len(table)) < truth["p_success"].to_numpy(float))
    expected = float(truth["p_match"].sum())
    return {
        "seed": seed,
        "seekers": int(len(seekers)),
        "free_seats": int(seats.sum()),
        "candidates": candidates,
        "assigned": int(len(table)),
        "expected": expected,
        "model_expected": float(table["expected_match"].sum()),
        "bound": bound.value,
        "share_of_bound": expected / bound.value if bound.value else float("nan"),
        "realised": int(succeeded.sum()),
        "accepted": int(accepted.sum()),
        "report": _brief(assignment.report),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    """The assignment's report without its long lists (per-mentor loads, unmatched mentees)."""
    brief = {key: value for key, value in report.items() if key != "loads"}
    unmatched = report.get("unmatched")
    if isinstance(unmatched, dict):
        brief["unmatched"] = {key: value for key, value in unmatched.items() if key != "mentees"}
    return brief
