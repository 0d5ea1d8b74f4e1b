"""Who was in which arm, and which outcomes count for it: per-mentee sums of one experiment.

The unit of randomisation is the mentee (assignment hashes the mentee id), so everything
is summed per mentee first and the arm metrics are ratios of those sums:

* a mentee is in the arm whose variant served their lists (``lists.variant``);
* a list-tied event counts for its list's mentee; a list-less event (``list_id`` NULL,
  e.g. a mentor's answer recorded by (mentee, mentor) only) counts for its mentee if it
  happened at or after the mentee's first list in the experiment (intention to treat:
  what the mentee did once exposed, through the list or not). Earlier ones are left out
  and counted;
* data errors are counted, reported and left out of every metric: a mentee served from
  two arms (assignment should make that impossible), and lists of an ad-hoc profile
  (``mentee_id`` NULL), which no mentee's outcomes can join.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from db.log_reading import LogFrames
from mentor_match.errors import DataValidationError, InvalidParameterError, NotEnoughDataError

logger = logging.getLogger(__name__)

__all__ = ["COUNT_COLUMNS", "Attribution", "attribute"]

COUNT_COLUMNS: tuple[str, ...] = (
    "lists", "requests", "accepted", "declined", "started", "ended", "successes",
)
"""The per-mentee sums, in this order (``successes``: ended with success true)."""

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Attribution:
    """One experiment's log, attributed to arms.

    ``per_mentee``: one row per mentee of exactly one arm, columns ``mentee_id``,
    ``variant`` and :data:`COUNT_COLUMNS`. ``requests``: the attributed ``requested``
    events (``mentee_id``, ``mentor_id``, ``variant``), for the interference check.
    The rest count what was left out.
    """

    experiment: str
    per_mentee: pd.DataFrame
    requests: pd.DataFrame
    mentees_in_several_arms: list[int]
    ad_hoc_lists: int
    events_before_exposure: int
    events_counted: int


def attribute(frames: LogFrames, shares: Mapping[str, float]) -> Attribution:
    """Per-mentee sums of one experiment's log (see the module doc).

    ``frames`` must hold one experiment's lists (``db.log_reading.load_log(bind,
    experiment=...)``); every variant in them must be one of ``shares``.

    >>> from db.schema import LOG_TABLES
    >>> empty = LogFrames(*(pd.DataFrame({c.name: [] for c in t.columns}) for t in LOG_TABLES))
    >>> lists = pd.DataFrame({"list_id": ["l1", "l2"], "mentee_id": [7, 8], "experiment": "exp",
    ...                       "variant": ["a", "b"], "created_at": pd.Timestamp("2026-01-01")})
    >>> events = pd.DataFrame({"event_id": ["e1"], "list_id": ["l1"], "mentee_id": [7], "mentor_id": [3],
    ...                        "kind": ["requested"], "success": [None],
    ...                        "occurred_at": pd.Timestamp("2026-01-02")})
    >>> result = attribute(empty._replace(lists=lists, events=events), {"a": 0.5, "b": 0.5})
    >>> result.per_mentee[["mentee_id", "variant", "lists", "requests"]].to_dict("records")
    [{'mentee_id': 7, 'variant': 'a', 'lists': 1, 'requests': 1}, {'mentee_id': 8, 'variant': 'b', 'lists': 1, 'requests': 0}]
    """
    lists, events = frames.lists, frames.events
    if lists.empty:
        raise NotEnoughDataError(
            "The log holds no recommendation list, so there is no experiment to analyse; serve "
            "lists with the experiment configured and record their outcomes first."
        )
    experiment = _one_experiment(lists)
    unknown = sorted(set(lists["variant"]) - set(shares))
    if unknown:
        counts = lists["variant"].value_counts()
        named = ", ".join(f"{v!r} ({int(counts[v])} lists)" for v in unknown)
        raise DataValidationError(
            f"Lists of experiment {experiment!r} were served from variant(s) {named} that the "
            f"shares do not name ({', '.join(repr(v) for v in shares)}); pass the experiment's "
            "own config, or shares that name every variant it served."
        )
    ad_hoc = lists["mentee_id"].isna()
    served = lists.loc[~ad_hoc, ["list_id", "mentee_id", "variant", "created_at"]].astype({"mentee_id": "int64"})
    arms_per_mentee = served.groupby("mentee_id")["variant"].nunique()
    several = arms_per_mentee.index[arms_per_mentee > 1]
    if len(several):
        logger.warning(
            "experiment %r: %d mentee(s) were served from more than one arm (e.g. %s); they are "
            "left out", experiment, len(several), ", ".join(str(i) for i in several[:5]),
        )
    clean = served[~served["mentee_id"].isin(several)]
    mentee_arm = clean.groupby("mentee_id").agg(variant=("variant", "first"), exposed_at=("created_at", "min"))

    list_mentee = clean.set_index("list_id")["mentee_id"]
    tied = events["list_id"].notna()
    tied_events = events[tied & events["list_id"].isin(list_mentee.index)]
    tied_events = tied_events.assign(mentee_id=tied_events["list_id"].map(list_mentee).astype("int64"))
    loose = events[~tied & events["mentee_id"].isin(mentee_arm.index)]
    exposed_at = loose["mentee_id"].map(mentee_arm["exposed_at"])
    early = loose["occurred_at"] < exposed_at
    counted = pd.concat([tied_events, loose[~early]], ignore_index=True)
    counted = counted.assign(variant=counted["mentee_id"].map(mentee_arm["variant"]))

    per_mentee = pd.DataFrame(index=mentee_arm.index)
    per_mentee["variant"] = mentee_arm["variant"]
    per_mentee["lists"] = clean.groupby("mentee_id").size()
    kinds = {
        "requests": counted["kind"].eq("requested"),
        "accepted": counted["kind"].eq("accepted"),
        "declined": counted["kind"].eq("declined"),
        "started": counted["kind"].eq("started"),
        "ended": counted["kind"].eq("ended"),
        "successes": counted["kind"].eq("ended") & counted["success"].astype("boolean").fillna(False).astype(bool),
    }
    for column, mask in kinds.items():
        per_mentee[column] = counted.loc[mask.to_numpy()].groupby("mentee_id").size()
    per_mentee[list(COUNT_COLUMNS)] = per_mentee[list(COUNT_COLUMNS)].fillna(0).astype("int64")
    requests = counted.loc[kinds["requests"].to_numpy(), ["mentee_id", "mentor_id", "variant"]]
    return Attribution(
        experiment=experiment,
        per_mentee=per_mentee.reset_index()[["mentee_id", "variant", *COUNT_COLUMNS]],
        requests=requests.reset_index(drop=True),
        mentees_in_several_arms=[int(i) for i in np.sort(several.to_numpy())],
        ad_hoc_lists=int(ad_hoc.sum()),
        events_before_exposure=int(early.sum()),
        events_counted=len(counted),
    )


def _one_experiment(lists: pd.DataFrame) -> str:
    names = lists["experiment"].dropna().unique()
    if len(names) != 1 or lists["experiment"].isna().any():
        shown = ", ".join(repr(n) for n in sorted(names)) or "none"
        raise InvalidParameterError(
            "The A/B analysis reads the lists of one experiment; these lists name "
            f"{len(names)} experiment(s) ({shown})"
            + (" and some none" if lists["experiment"].isna().any() else "")
            + ". Load them with db.log_reading.load_log(bind, experiment=NAME)."
        )
    return str(names[0])
