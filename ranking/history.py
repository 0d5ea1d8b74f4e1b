"""Mentor aggregates as of a moment: what the platform knew then, from earlier outcomes only.

The mentors table's ``acceptance_rate``, ``rating``, ``total_mentees`` and ``current_mentees``
stand as they are *now*: computed over every interaction, the ones a model is tested on
included (in a generated world they are even the truth's own parameters). Training on them
scores a held-out pair with features that already contain its outcome. This module derives
the four from the interactions instead, at any moment ``t``:

* ``acceptance_rate``: accepted share of the mentor's requests decided before ``t``, shrunk
  toward :data:`ACCEPTANCE_PRIOR` with :data:`PRIOR_REQUESTS` pseudo-requests (a mentor with
  no decided request gets the prior);
* ``total_mentees``: requests the mentor accepted before ``t``;
* ``rating``: mean ``overall_rating`` of the mentor's mentorships completed before ``t``
  (NaN without one: the features impute it and flag it, as for a new mentor);
* ``current_mentees``: the seats held at ``t``, reconstructed from the count now by undoing
  what happened since: minus the mentorships accepted from ``t`` on and still held, plus
  those held at ``t`` and ended since (never below 0).

A request is decided when its ``accepted`` or ``declined`` event occurred (the events
table); without an event, at its ``created_at`` (the interactions table keeps no decision
time). "Before" is strict: a request never sees its own outcome.

:func:`mentors_as_of` gives one mentor frame as of one moment (serving: now);
:func:`mentor_state_at` gives the four per request row (training: each request's own time).
Both use the same counts, so training and serving agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mentor_match.errors import DataValidationError

ACCEPTANCE_PRIOR = 0.5
"""Acceptance rate of a mentor with no decided request (the middle: no prior knowledge)."""
PRIOR_REQUESTS = 2.0
"""Pseudo-requests at :data:`ACCEPTANCE_PRIOR` added to every mentor's decided requests."""
AGGREGATES = ("acceptance_rate", "total_mentees", "rating", "current_mentees")
"""The mentor columns this module computes as of a moment."""

_ACCEPTED = ("accepted", "completed")
_DECIDED = ("accepted", "completed", "declined")


def decision_times(interactions: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.Series:
    """When each interaction's request was decided: its first ``accepted`` or ``declined``
    event, else its ``created_at`` (aligned with ``interactions``).

    >>> inter = pd.DataFrame({"mentee_id": [1, 2], "mentor_id": [10, 10],
    ...     "created_at": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    >>> events = pd.DataFrame({"mentee_id": [1], "mentor_id": [10], "kind": ["accepted"],
    ...     "occurred_at": pd.to_datetime(["2026-01-05"])})
    >>> decision_times(inter, events).dt.day.tolist()
    [5, 2]
    """
    decided = interactions["created_at"]
    if events is None or not len(events):
        return decided
    answers = events[events["kind"].isin(("accepted", "declined"))]
    first = answers.groupby(["mentee_id", "mentor_id"])["occurred_at"].min().rename("_decided")
    joined = interactions[["mentee_id", "mentor_id"]].join(first, on=["mentee_id", "mentor_id"])
    return joined["_decided"].fillna(decided).astype(decided.dtype)


def mentor_state_at(
    interactions: pd.DataFrame,
    mentors: pd.DataFrame,
    requests: pd.DataFrame,
    *,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The four :data:`AGGREGATES` of each ``requests`` row's mentor as of its ``at`` time.

    ``requests`` has columns mentor_id and at; ``interactions`` is the interactions table
    (status, created_at, completed_at, overall_rating, mentor_id); ``mentors`` gives the
    ``current_mentees`` now (the reconstruction's starting point). The result has the index
    of ``requests``.

    >>> t = pd.to_datetime
    >>> inter = pd.DataFrame({"mentee_id": [1, 2, 3], "mentor_id": [10, 10, 10],
    ...     "status": ["completed", "declined", "accepted"], "overall_rating": [5.0, None, None],
    ...     "created_at": t(["2026-01-01", "2026-02-01", "2026-03-01"]),
    ...     "completed_at": t(["2026-01-20", None, None])})
    >>> mentors = pd.DataFrame({"mentor_id": [10], "current_mentees": [1]})
    >>> asked = pd.DataFrame({"mentor_id": [10, 10], "at": t(["2026-01-01", "2026-03-15"])})
    >>> mentor_state_at(inter, mentors, asked).round(3).to_dict("list")
    {'acceptance_rate': [0.5, 0.6], 'total_mentees': [0.0, 2.0], 'rating': [nan, 5.0], 'current_mentees': [0.0, 1.0]}
    """
    _check(interactions, {"mentee_id", "mentor_id", "status", "created_at"}, "interactions")
    _check(requests, {"mentor_id", "at"}, "requests")
    status = interactions["status"].astype(object)
    created = interactions["created_at"]
    completed = interactions["completed_at"] if "completed_at" in interactions else pd.Series(pd.NaT, index=interactions.index)
    rating = interactions["overall_rating"] if "overall_rating" in interactions else pd.Series(np.nan, index=interactions.index)
    decided_at = decision_times(interactions, events)
    mentor = interactions["mentor_id"]
    accepted = status.isin(_ACCEPTED)
    ended = status.eq("completed") & completed.notna()
    rated = ended & rating.notna()
    holding_now = accepted & ~ended

    asked = requests[["mentor_id", "at"]].reset_index(drop=True)
    count = lambda mask, times, weights=None: _before(  # noqa: E731 - one line per aggregate below
        asked, mentor[mask], times[mask], None if weights is None else weights[mask]
    )
    decided = count(status.isin(_DECIDED), decided_at)
    yes = count(accepted, decided_at)
    rated_n = count(rated, completed)
    rated_sum = count(rated, completed, rating.astype(float))
    # Seats held at t = held now - joined from t on and still held + held at t and ended since.
    joined_and_held = _total(asked, mentor[holding_now]) - count(holding_now, created)
    ended_since = count(ended, created) - count(ended, completed)
    now = mentors.set_index("mentor_id")["current_mentees"].reindex(asked["mentor_id"]).fillna(0).to_numpy(float)
    state = pd.DataFrame({
        "acceptance_rate": (yes + ACCEPTANCE_PRIOR * PRIOR_REQUESTS) / (decided + PRIOR_REQUESTS),
        "total_mentees": yes,
        "rating": np.divide(rated_sum, rated_n, out=np.full(len(asked), np.nan), where=rated_n > 0),
        "current_mentees": np.maximum(now - joined_and_held + ended_since, 0.0),
    })
    state.index = requests.index
    return state


def mentors_as_of(
    mentors: pd.DataFrame,
    interactions: pd.DataFrame,
    at: pd.Timestamp | None = None,
    *,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``mentors`` with ``acceptance_rate``, ``total_mentees`` and ``rating`` as of ``at``
    (None: after every interaction, i.e. now). ``current_mentees`` is kept as it is: the
    live seat count, which the catalogue reads from the table."""
    if at is None:
        latest = [interactions["created_at"].max()]
        for column in ("completed_at",):
            if column in interactions:
                latest.append(interactions[column].max())
        if events is not None and len(events):
            latest.append(events["occurred_at"].max())
        known = [t for t in latest if pd.notna(t)]
        at = (max(known) if known else pd.Timestamp("1970-01-01")) + pd.Timedelta(seconds=1)
    asked = pd.DataFrame({"mentor_id": mentors["mentor_id"].to_numpy(), "at": at})
    asked["at"] = asked["at"].astype(interactions["created_at"].dtype) if len(interactions) else asked["at"]
    state = mentor_state_at(interactions, mentors, asked, events=events)
    out = mentors.copy()
    for column in ("acceptance_rate", "total_mentees", "rating"):
        out[column] = state[column].to_numpy()
    return out


def with_aggregates(mentors: pd.DataFrame, aggregates: pd.DataFrame) -> pd.DataFrame:
    """``mentors`` with ``acceptance_rate``, ``total_mentees`` and ``rating`` taken from
    ``aggregates`` (a :func:`mentors_as_of` frame) by ``mentor_id``; a mentor it does not hold
    (added since) gets the values of no history: the prior rate, 0 mentees, no rating.

    >>> table = pd.DataFrame({"mentor_id": [1, 2], "acceptance_rate": [0.9, 0.9],
    ...     "total_mentees": [50, 50], "rating": [4.9, 4.9]})
    >>> known = pd.DataFrame({"mentor_id": [1], "acceptance_rate": [0.6], "total_mentees": [3],
    ...     "rating": [4.0]})
    >>> with_aggregates(table, known)[["acceptance_rate", "total_mentees", "rating"]].to_dict("list")
    {'acceptance_rate': [0.6, 0.5], 'total_mentees': [3, 0], 'rating': [4.0, nan]}
    """
    held = aggregates.set_index("mentor_id")
    ids = mentors["mentor_id"]
    fresh = {"acceptance_rate": ACCEPTANCE_PRIOR}
    out = mentors.copy()
    out["acceptance_rate"] = held["acceptance_rate"].reindex(ids).fillna(fresh["acceptance_rate"]).to_numpy(float)
    out["total_mentees"] = held["total_mentees"].reindex(ids).fillna(0).to_numpy(np.int64)
    out["rating"] = held["rating"].reindex(ids).to_numpy(float)
    return out


def _before(
    asked: pd.DataFrame, mentor: pd.Series, times: pd.Series, weights: pd.Series | None
) -> np.ndarray:
    """Per ``asked`` row: the number (or weight sum) of the events of its mentor strictly
    before its ``at`` (pandas ``merge_asof`` on per-mentor cumulative sums)."""
    out = np.zeros(len(asked))
    if not len(mentor) or not len(asked):
        return out
    happened = pd.DataFrame({
        "mentor_id": mentor.to_numpy(np.int64),
        "at": times.to_numpy(),
        "_w": 1.0 if weights is None else weights.to_numpy(float),
    }).dropna(subset=["at"])
    if not len(happened):
        return out
    happened = happened.sort_values("at", kind="stable")
    happened["_cum"] = happened.groupby("mentor_id")["_w"].cumsum()
    # Several events at one instant: the last row carries the total, merge_asof takes it.
    happened = happened.drop_duplicates(["mentor_id", "at"], keep="last")
    query = asked.assign(_row=np.arange(len(asked)), mentor_id=asked["mentor_id"].astype(np.int64))
    query["at"] = query["at"].astype(happened["at"].dtype)
    query = query.sort_values("at", kind="stable")
    merged = pd.merge_asof(query, happened[["mentor_id", "at", "_cum"]], on="at", by="mentor_id",
                           allow_exact_matches=False)
    out[merged["_row"].to_numpy()] = merged["_cum"].fillna(0.0).to_numpy()
    return out


def _total(asked: pd.DataFrame, mentor: pd.Series) -> np.ndarray:
    """Per ``asked`` row: how many of ``mentor`` are its mentor."""
    counts = mentor.value_counts()
    return counts.reindex(asked["mentor_id"]).fillna(0).to_numpy(float)


def _check(frame: pd.DataFrame, needed: set[str], name: str) -> None:
    missing = needed - set(frame.columns)
    if missing:
        raise DataValidationError(
            f"The {name} frame lacks column(s) {sorted(missing)}; load it with db.load_dataset."
        )
