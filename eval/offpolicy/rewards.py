"""Per-slot rewards of logged lists, from the recommendation log's frames.

A candidate ranker's request, acceptance and match rates are all per-slot rewards: a shown
slot scores 1 when its mentor was requested (``requested``), accepted (``accepted``) or
went on to a successful mentorship (``success``: an ``ended`` event with success true),
else 0. The estimators then give the expected number per list; divide by the list length
for a rate per shown slot, and take a ratio of two estimates for acceptance per request.

How an event finds its slot:

* an event tied to a list (``list_id`` set) rewards that list's slot of its mentor; an
  event of a mentor the list did not show rewards nothing;
* a list-less event (``list_id`` NULL, e.g. an answer recorded by (mentee, mentor) only)
  rewards the slot of its mentor in the latest list served to its mentee, at or before the
  event, that showed that mentor; an event before any such list rewards nothing, and lists
  of an ad-hoc profile (no mentee) get no list-less events.

A slot has reward 1 however many events of the kind it got.
"""

from __future__ import annotations

import logging

import pandas as pd

from db.log_reading import LogFrames
from mentor_match.validation import check_choice

logger = logging.getLogger(__name__)

__all__ = ["REWARDS", "REWARD_COLUMNS", "slot_rewards"]

REWARDS: tuple[str, ...] = ("requested", "accepted", "success")
"""The per-slot rewards :func:`slot_rewards` builds."""

REWARD_COLUMNS: tuple[str, ...] = (
    "list_id", "mentee_id", "mentor_id", "position", "created_at", "logging_propensity", "reward",
)
"""The columns of :func:`slot_rewards`' frame, in this order."""


def slot_rewards(frames: LogFrames, reward: str) -> pd.DataFrame:
    """One row per shown slot of a logged list, with its 0/1 ``reward`` (see the module doc).

    ``frames`` is :func:`db.log_reading.load_log`'s (one experiment's, or the whole log).
    Columns :data:`REWARD_COLUMNS`: ``position`` is the slot's ``recommended_rank``,
    ``created_at`` the list's time and ``logging_propensity`` the slot's logged
    ``propensity`` (P(mentor at position | the slots above); NaN where the policy logged
    none), ordered by list time, list and position. Slots without a list (rows from before
    the log) are left out. Add ``target_propensity`` and pass it to
    :func:`eval.offpolicy.ips`.

    >>> from db.schema import LOG_TABLES
    >>> empty = LogFrames(*(pd.DataFrame({c.name: [] for c in t.columns}) for t in LOG_TABLES))
    >>> served = pd.Timestamp("2026-01-01")
    >>> lists = pd.DataFrame({"list_id": ["l1"], "mentee_id": [7], "created_at": [served]})
    >>> slots = pd.DataFrame({"list_id": ["l1", "l1"], "mentor_id": [3, 4], "recommended_rank": [1, 2],
    ...                       "propensity": [0.9, 0.8]})
    >>> events = pd.DataFrame({"list_id": [None, None], "mentee_id": [7, 7], "mentor_id": [4, 5],
    ...                        "kind": ["requested", "requested"], "success": [None, None],
    ...                        "occurred_at": [served + pd.Timedelta(days=1)] * 2})
    >>> log = empty._replace(lists=lists, slots=slots, events=events)
    >>> slot_rewards(log, "requested")[["mentor_id", "position", "reward"]].to_dict("list")
    {'mentor_id': [3, 4], 'position': [1, 2], 'reward': [0.0, 1.0]}
    """
    check_choice("reward", reward, "slot_rewards", REWARDS)
    lists = frames.lists[["list_id", "mentee_id", "created_at"]]
    slots = frames.slots.loc[
        frames.slots["list_id"].notna(), ["list_id", "mentor_id", "recommended_rank", "propensity"]
    ]
    shown = slots.merge(lists, on="list_id", how="inner", validate="many_to_one")
    shown = shown.rename(columns={"recommended_rank": "position", "propensity": "logging_propensity"})
    shown = shown.astype({"mentor_id": "int64", "position": "int64"})
    shown["logging_propensity"] = pd.to_numeric(shown["logging_propensity"]).astype("float64")

    events = frames.events
    hit = events["kind"].eq("ended" if reward == "success" else reward).to_numpy(dtype=bool, copy=True)
    if reward == "success":
        hit &= events["success"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    events = events.loc[hit]
    tied = events.loc[events["list_id"].notna(), ["list_id", "mentor_id"]]
    loose = events.loc[events["list_id"].isna(), ["mentee_id", "mentor_id", "occurred_at"]]
    rewarded = [tied.astype({"mentor_id": "int64"})]
    if len(loose):
        rewarded.append(_latest_lists(shown, loose))
    keys = pd.concat(rewarded, ignore_index=True).drop_duplicates()
    keys["reward"] = 1.0
    out = shown.merge(keys, on=["list_id", "mentor_id"], how="left", validate="one_to_one")
    out["reward"] = out["reward"].fillna(0.0)
    logger.debug(
        "%s: %d of %d events reward a shown slot; %d slots of %d lists",
        reward, int(out["reward"].sum()), len(events), len(out), out["list_id"].nunique(),
    )
    out = out.sort_values(["created_at", "list_id", "position"], kind="stable").reset_index(drop=True)
    return out[list(REWARD_COLUMNS)]


def _latest_lists(shown: pd.DataFrame, loose: pd.DataFrame) -> pd.DataFrame:
    """(list_id, mentor_id) of each list-less event: the mentee's latest list showing the
    mentor at or before the event (none: the event is dropped)."""
    known = shown.loc[shown["mentee_id"].notna(), ["list_id", "mentee_id", "mentor_id", "created_at"]]
    known = known.astype({"mentee_id": "int64", "created_at": "datetime64[ns]"})
    loose = loose.astype({"mentee_id": "int64", "mentor_id": "int64", "occurred_at": "datetime64[ns]"})
    known = known.sort_values("created_at", kind="stable")
    loose = loose.sort_values("occurred_at", kind="stable")
    matched = pd.merge_asof(
        loose, known, left_on="occurred_at", right_on="created_at", by=["mentee_id", "mentor_id"],
        direction="backward", allow_exact_matches=True,
    )
    matched = matched.loc[matched["list_id"].notna(), ["list_id", "mentor_id"]]
    return matched.reset_index(drop=True)
