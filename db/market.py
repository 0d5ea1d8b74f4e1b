"""What the market's congestion prices are computed from, read from the log in three queries.

:func:`read_demand` returns, as of a time ``now``:

* ``pending``: each mentor's requests that wait for an answer (``interactions`` with status
  ``pending`` created at or before ``now``);
* ``exposure``: each mentor's shown slots, by position, of the lists served in the last
  ``window`` (``now - window < created_at <= now``) that have not (yet) turned into a request:
  a slot that did is counted once, as a pending request or as an answered one, not twice;
* ``position_rates``: per position, the shown slots and the requests they led to, over the
  *matured* lists, served between ``now - history`` and ``now - window``: a list younger
  than the window may still be acted on, so its rate would read low.

:mod:`retrieval.market` turns them into prices. The queries group in the database, so what
comes back is one row per mentor and position, whatever the size of the log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import pandas as pd
from sqlalchemy import Engine, and_, case, func, select

from db.connection import connect
from db.schema import interactions, recommendation_feedback, recommendation_lists
from mentor_match.errors import InvalidParameterError

__all__ = ["Demand", "read_demand"]


class Demand(NamedTuple):
    """The inputs of the congestion prices (see the module docstring)."""

    pending: pd.Series  # mentor_id -> requests waiting for an answer
    exposure: pd.DataFrame  # mentor_id, position, slots: recent shown slots not yet requested
    position_rates: pd.DataFrame  # position, slots, requests: over matured lists


def read_demand(engine: Engine, *, now: datetime, window: timedelta, history: timedelta) -> Demand:
    """The pending requests, the recent exposure and the request rate per position, as of ``now``.

    ``window`` is how long a shown list keeps drawing requests; ``history`` how far back
    the request rates per position are learned (it must be longer than ``window``).
    """
    if window <= timedelta(0) or history <= window:
        raise InvalidParameterError(
            f"read_demand needs 0 < window < history; got window {window} and history {history}. "
            "The rates per position are learned on lists older than the window."
        )
    lists, slots = recommendation_lists, recommendation_feedback
    requested = (
        select(interactions.c.interaction_id)
        .where(and_(interactions.c.list_id == slots.c.list_id, interactions.c.mentor_id == slots.c.mentor_id,
                    interactions.c.created_at <= now))
        .exists()
    )
    since, matured = now - window, now - history
    with connect(engine) as conn:
        pending = conn.execute(
            select(interactions.c.mentor_id, func.count().label("n"))
            .where(interactions.c.status == "pending", interactions.c.created_at <= now)
            .group_by(interactions.c.mentor_id)
        ).all()
        exposure = conn.execute(
            select(slots.c.mentor_id, slots.c.recommended_rank, func.count().label("n"))
            .join(lists, lists.c.list_id == slots.c.list_id)
            .where(lists.c.created_at > since, lists.c.created_at <= now, ~requested)
            .group_by(slots.c.mentor_id, slots.c.recommended_rank)
        ).all()
        request = func.sum(case((requested, 1), else_=0))
        rates = conn.execute(
            select(slots.c.recommended_rank, func.count().label("n"), request.label("requests"))
            .join(lists, lists.c.list_id == slots.c.list_id)
            .where(lists.c.created_at > matured, lists.c.created_at <= since)
            .group_by(slots.c.recommended_rank)
        ).all()
    return Demand(
        pending=pd.Series({int(m): int(n) for m, n in pending}, dtype="int64").rename_axis("mentor_id"),
        exposure=pd.DataFrame(
            [(int(m), int(p), int(n)) for m, p, n in exposure], columns=["mentor_id", "position", "slots"]
        ).astype("int64"),
        position_rates=pd.DataFrame(
            [(int(p), int(n), int(r or 0)) for p, n, r in rates], columns=["position", "slots", "requests"]
        ).astype("int64").sort_values("position", ignore_index=True),
    )
