"""Hand-made experiment logs for the A/B tests: full schema frames with a planted effect.

Fixtures ``log_frames`` (rows -> validated frames) and ``planted_experiment`` (a whole
experiment with known arms and success rates) hand out the builders below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from db.log_reading import LogFrames, validate_log
from db.schema import recommendation_events, recommendation_feedback, recommendation_lists

START = pd.Timestamp("2026-03-02 09:00")


def log_frames(lists: list[dict], events: list[dict], slots: list[dict] | None = None) -> LogFrames:
    """Validated frames from rows that give only what matters; the rest gets plain defaults."""
    list_defaults = {
        "created_at": START, "model_version": "m1", "index_version": "i1", "experiment": "exp",
        "policy": "greedy", "policy_params": {}, "k": 10, "latency_ms": 1.0,
    }
    event_defaults = {"success": None, "occurred_at": START + pd.Timedelta(hours=1), "recorded_at": START}
    slot_defaults = {"was_accepted": None, "feedback_date": START, "model_version": "m1", "score": 0.5,
                     "similarity": 0.5, "propensity": 1.0, "features": {}}
    frames = LogFrames(
        _frame(recommendation_lists, lists, list_defaults),
        _frame(recommendation_feedback, [
            {"feedback_id": i + 1, **slot_defaults, **row} for i, row in enumerate(slots or [])
        ], {}),
        _frame(recommendation_events, events, event_defaults),
    )
    return validate_log(frames)


def _frame(table, rows: list[dict], defaults: dict) -> pd.DataFrame:
    columns = [column.name for column in table.columns]
    filled = [{**defaults, **row} for row in rows]
    return pd.DataFrame({name: [row.get(name) for row in filled] for name in columns})


def planted_experiment(
    n_mentees: int,
    *,
    success_rate: dict[str, float],
    shares: dict[str, float],
    seed: int,
    request_rate: float = 1.5,
    accept_rate: float = 0.6,
    n_mentors: int = 200,
    exact_split: bool = False,
) -> LogFrames:
    """Mentees split by ``shares``, one or two lists each, Poisson requests, Bernoulli answers,
    and per accepted request success with the arm's ``success_rate``: a known effect."""
    rng = np.random.default_rng(seed)
    names = list(shares)
    if exact_split:
        counts = np.round(np.array([shares[n] for n in names]) * n_mentees).astype(int)
        arms = np.repeat(names, counts)[:n_mentees]
        rng.shuffle(arms)
    else:
        arms = rng.choice(names, size=n_mentees, p=[shares[n] for n in names])
    lists, events = [], []
    for mentee, arm in enumerate(arms, start=1):
        for n in range(int(rng.integers(1, 3))):
            list_id = f"{mentee:016x}{n:016x}"
            lists.append({"list_id": list_id, "mentee_id": mentee, "variant": str(arm),
                          "created_at": START + pd.Timedelta(minutes=mentee)})
            for r in range(rng.poisson(request_rate)):
                mentor = int(rng.integers(1, n_mentors + 1))
                base = {"list_id": list_id, "mentee_id": mentee, "mentor_id": mentor}
                key = f"{list_id}-{r}"
                events.append({**base, "event_id": f"{key}-q", "kind": "requested"})
                if rng.random() < accept_rate:
                    events.append({**base, "event_id": f"{key}-a", "kind": "accepted"})
                    events.append({**base, "event_id": f"{key}-e", "kind": "ended",
                                   "success": bool(rng.random() < success_rate[str(arm)])})
                else:
                    events.append({**base, "event_id": f"{key}-d", "kind": "declined"})
    return log_frames(lists, events)


@pytest.fixture(scope="session")
def log_frames_builder():
    """``make(lists, events, slots=None)``: validated LogFrames from the rows that matter."""
    return log_frames


@pytest.fixture(scope="session")
def planted_experiment_builder():
    """``make(n_mentees, success_rate=..., shares=..., seed=...)``: an experiment's log with a
    planted success rate per arm (see :func:`planted_experiment`)."""
    return planted_experiment
