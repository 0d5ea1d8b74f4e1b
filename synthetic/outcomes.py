"""Outcomes of served lists drawn from the ground truth, so an A/B test runs end to end.

Given the slots of logged lists (who was shown whom, at which position, when), this draws
what a generated world's mentees and mentors would have done, from the same hidden truth
the world's history came from (:func:`synthetic.truth.true_match_probability`):

1. **Examine**: the mentee looks at position ``r`` with probability ``r ** -position_bias``
   (position bias: the first slot is always seen, lower ones less often).
2. **Request**: an examined mentor is requested with probability
   ``sigmoid(request_intercept + request_slope * p_match)``, rising with the pair's true
   match probability (what a mentee reads in a good profile). A mentee requests a mentor
   at most once: a pair shown again in a later list is not requested again (the platform
   hides mentors a mentee already contacted).
3. **Answer**: the mentor accepts with the truth's ``p_accept`` (their acceptance rate,
   domain fit, lower when nearly full) or declines.
4. **Start, end**: an accepted pair starts, and ends with ``success`` drawn with the
   truth's ``p_success`` (the probability of success once accepted).

Each step happens after the one before (``requested < accepted|declined < started <
ended``, every gap at least a minute, all after the list was served), and every event
carries its list id. Capacity does not fill up as acceptances come in, and nobody reacts to
anyone else: a fuller platform simulator is a later issue. This is small on purpose.

The events are dicts with the keys :func:`db.outcomes.record_outcomes` takes
(``event_id``, ``kind``, ``list_id``, ``mentee_id``, ``mentor_id``, ``occurred_at``,
``success``). An ``event_id`` is a hash of (seed, list id, mentor id, kind), so drawing
again with the same seed gives the same ids and recording them twice is a no-op.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number
from synthetic.truth import true_match_probability

logger = logging.getLogger(__name__)

__all__ = ["SLOT_COLUMNS", "draw_outcomes"]

SLOT_COLUMNS: tuple[str, ...] = ("list_id", "mentee_id", "mentor_id", "recommended_rank", "created_at")
"""What :func:`draw_outcomes` needs of each slot (:func:`db.log_reading.served_slots` has them)."""

# Delays between the steps, in hours: (low, high) of a uniform draw.
_REQUEST_HOURS = (1 / 60, 48.0)  # after the list was served
_ANSWER_HOURS = (1.0, 72.0)  # the mentor answers
_START_HOURS = (24.0, 168.0)  # the first meeting
_END_HOURS = (30 * 24.0, 120 * 24.0)  # the mentorship ends


def draw_outcomes(
    slots: pd.DataFrame,
    mentees: pd.DataFrame,
    mentors: pd.DataFrame,
    *,
    seed: int,
    position_bias: float = 1.0,
    request_intercept: float = -2.0,
    request_slope: float = 3.0,
) -> list[dict]:
    """Outcome events of the served ``slots``, drawn from the ground truth (module doc).

    ``slots`` has the columns of :data:`SLOT_COLUMNS` (``recommended_rank`` is the
    1-based position); ``mentees``/``mentors`` carry the truth columns
    (``SyntheticWorld.with_truth()`` or :func:`synthetic.truth.load_truth`). The result is
    ordered by time; the same slots and seed give the same events, whatever the row order
    of ``slots``.

    >>> from synthetic import generate_world
    >>> world = generate_world(20, 10, 2, seed=1)
    >>> mentees, mentors = world.with_truth()
    >>> slots = pd.DataFrame({
    ...     "list_id": ["a" * 32] * 3, "mentee_id": [1, 1, 1], "mentor_id": [4, 7, 9],
    ...     "recommended_rank": [1, 2, 3], "created_at": pd.Timestamp("2026-01-05 09:00"),
    ... })
    >>> events = draw_outcomes(slots, mentees, mentors, seed=0, position_bias=0.0, request_intercept=9.0)
    >>> [(e["mentor_id"], e["kind"]) for e in events if e["mentor_id"] == 4]
    [(4, 'requested'), (4, 'accepted'), (4, 'started'), (4, 'ended')]
    >>> draw_outcomes(slots.iloc[::-1], mentees, mentors, seed=0, position_bias=0.0, request_intercept=9.0) == events
    True
    """
    func = "draw_outcomes"
    check_int("seed", seed, func, low=0)
    position_bias = check_number("position_bias", position_bias, func, low=0.0)
    request_intercept = check_number("request_intercept", request_intercept, func)
    request_slope = check_number("request_slope", request_slope, func)
    frame = _checked_slots(slots)
    if frame.empty:
        return []
    truth = true_match_probability(mentees, mentors, frame[["mentee_id", "mentor_id"]])
    rng = np.random.default_rng(seed)
    n = len(frame)
    rank = frame["recommended_rank"].to_numpy(dtype=float)
    examined = rng.random(n) < rank ** -position_bias
    p_request = 1.0 / (1.0 + np.exp(-(request_intercept + request_slope * truth["p_match"].to_numpy())))
    wants = examined & (rng.random(n) < p_request)
    accepts = rng.random(n) < truth["p_accept"].to_numpy()
    succeeds = rng.random(n) < truth["p_success"].to_numpy()
    delays = {
        kind: pd.to_timedelta(rng.uniform(low, high, n), unit="h").round("s")
        for kind, (low, high) in (
            ("requested", _REQUEST_HOURS), ("answered", _ANSWER_HOURS),
            ("started", _START_HOURS), ("ended", _END_HOURS),
        )
    }
    requested_at = frame["created_at"] + delays["requested"]
    # A pair is requested once: the first of its slots (in time) where the mentee wanted it.
    first = ~pd.DataFrame({
        "mentee_id": frame["mentee_id"], "mentor_id": frame["mentor_id"]
    })[wants].duplicated()
    requested = np.zeros(n, dtype=bool)
    requested[np.flatnonzero(wants)[first.to_numpy()]] = True
    answered_at = requested_at + delays["answered"]
    started_at = answered_at + delays["started"]
    ended_at = started_at + delays["ended"]
    events: list[dict] = []
    for row in np.flatnonzero(requested):
        list_id = str(frame["list_id"].iat[row])
        mentee_id = int(frame["mentee_id"].iat[row])
        mentor_id = int(frame["mentor_id"].iat[row])
        steps = [("requested", requested_at.iat[row], None)]
        if accepts[row]:
            steps += [
                ("accepted", answered_at.iat[row], None),
                ("started", started_at.iat[row], None),
                ("ended", ended_at.iat[row], bool(succeeds[row])),
            ]
        else:
            steps.append(("declined", answered_at.iat[row], None))
        for kind, when, success in steps:
            events.append({
                "event_id": _event_id(seed, list_id, mentor_id, kind),
                "kind": kind,
                "list_id": list_id,
                "mentee_id": mentee_id,
                "mentor_id": mentor_id,
                "occurred_at": when.to_pydatetime(),
                "success": success,
            })
    events.sort(key=lambda event: (event["occurred_at"], event["event_id"]))
    logger.debug("drew %d events for %d slots (%d requests)", len(events), n, int(requested.sum()))
    return events


def _checked_slots(slots: pd.DataFrame) -> pd.DataFrame:
    """The needed columns, ids as int64, sorted by (time, list, position): a fixed draw order."""
    missing = [column for column in SLOT_COLUMNS if column not in slots.columns]
    if missing:
        raise InvalidParameterError(
            f"The 'slots' frame of draw_outcomes lacks column(s) {', '.join(missing)}; pass "
            "db.log_reading.served_slots(load_log(...)) or a frame with those columns."
        )
    frame = pd.DataFrame({
        "list_id": slots["list_id"].astype(str),
        "mentee_id": slots["mentee_id"].astype("int64"),
        "mentor_id": slots["mentor_id"].astype("int64"),
        "recommended_rank": slots["recommended_rank"].astype("int64"),
        "created_at": pd.to_datetime(slots["created_at"]),
    })
    if (frame["recommended_rank"] < 1).any():
        raise InvalidParameterError(
            "The 'slots' frame of draw_outcomes has recommended_rank below 1; positions are 1-based."
        )
    repeated = frame.duplicated(["list_id", "recommended_rank"])
    if repeated.any():
        raise InvalidParameterError(
            f"The 'slots' frame of draw_outcomes has {int(repeated.sum())} repeated (list_id, "
            f"recommended_rank) pair(s), e.g. list {frame.loc[repeated, 'list_id'].iat[0]}; each "
            "position of a list holds one mentor."
        )
    return frame.sort_values(["created_at", "list_id", "recommended_rank"], kind="stable").reset_index(drop=True)


def _event_id(seed: int, list_id: str, mentor_id: int, kind: str) -> str:
    """32 hex digits, a pure function of (seed, list, mentor, kind)."""
    key = f"{seed}:{list_id}:{mentor_id}:{kind}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()
