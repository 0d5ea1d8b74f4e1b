"""Reading the recommendation log back as validated frames, whole or one experiment's.

The three log tables come back in the shapes of :mod:`db.loading` (every column of the
schema, ids as int64 columns, timestamps as ``datetime64[ns]``, nullable booleans as
``boolean``, each frame sorted by its primary key) and checked with
:func:`db.loading.validate_frame`, plus the rules of the log itself: an event's ``kind`` is
one of :data:`db.schema.EVENT_KINDS`, ``success`` is set on ``ended`` events only, a slot
or event names a list that is in the frames.

One experiment's log (``experiment="name"``) is:

* ``lists``: the lists served under that experiment;
* ``slots``: the shown slots of those lists;
* ``events``: the events of those lists, **and** the list-less events (``list_id`` NULL) of
  the mentees those lists were served to. A mentor's answer or a mentorship's end is often
  recorded by (mentee, mentor) only, without the list, and it is an outcome of the arm the
  mentee is in all the same. Which of them happened after the mentee first saw the
  experiment is the analysis' call (:mod:`eval.ab` counts only those), so they all come
  back here, of every time. Events of lists of *other* experiments are left out.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NamedTuple

import pandas as pd
from sqlalchemy import Connection, Engine, Table, or_, select

from db.connection import connect
from db.loading import (  # the data layer's one table check (revision included) and row-check message
    check_table,
    raise_for_rows,
    validate_frame,
)
from db.schema import (
    EVENT_KINDS,
    LOG_TABLES,
    recommendation_events,
    recommendation_feedback,
    recommendation_lists,
)
from mentor_match.errors import InvalidParameterError, UnknownEntityError

logger = logging.getLogger(__name__)

__all__ = ["LogFrames", "load_log", "served_slots", "validate_log"]


class LogFrames(NamedTuple):
    """The recommendation log as three frames with the schema's columns."""

    lists: pd.DataFrame  # recommendation_lists: one row per served list
    slots: pd.DataFrame  # recommendation_feedback: one row per shown slot
    events: pd.DataFrame  # recommendation_events: one row per outcome event


def load_log(
    bind: Engine | Connection, *, experiment: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> LogFrames:
    """The recommendation log, read in one transaction and validated (see the module doc).

    ``experiment=None`` reads every row of the three tables, slots written before the log
    existed (``list_id`` NULL) included. A named experiment with no list in the log is an
    :class:`~mentor_match.errors.UnknownEntityError` that names the experiments there are.

    ``since`` / ``until`` (naive UTC, end excluded) read a window only, in the database: the
    lists created in it, their slots and events (whenever those happened), and the list-less
    events of those lists' mentees from ``since`` on. A monitor over the last weeks of a
    long log reads those weeks, not the whole log.

    >>> from sqlalchemy import create_engine
    >>> from db.loading import create_schema
    >>> engine = create_engine("sqlite://")
    >>> create_schema(engine)
    >>> [len(frame) for frame in load_log(engine)]
    [0, 0, 0]
    """
    with connect(bind) as conn, conn.begin():
        for table in LOG_TABLES:
            check_table(conn, table)
        lists_query = select(recommendation_lists)
        slots_query = select(recommendation_feedback)
        events_query = select(recommendation_events)
        chosen = _chosen_lists(experiment, since, until)
        if chosen:
            lists_query = lists_query.where(*chosen)
            list_ids = select(recommendation_lists.c.list_id).where(*chosen)
            mentee_ids = select(recommendation_lists.c.mentee_id).where(
                *chosen, recommendation_lists.c.mentee_id.is_not(None),
            )
            listless = recommendation_events.c.list_id.is_(None) & recommendation_events.c.mentee_id.in_(mentee_ids)
            if since is not None:
                listless = listless & (recommendation_events.c.occurred_at >= since)
            slots_query = slots_query.where(recommendation_feedback.c.list_id.in_(list_ids))
            events_query = events_query.where(or_(recommendation_events.c.list_id.in_(list_ids), listless))
        lists = _read(conn, recommendation_lists, lists_query)
        if experiment is not None and lists.empty and not conn.execute(
            select(recommendation_lists.c.list_id).where(recommendation_lists.c.experiment == experiment).limit(1)
        ).first():  # an empty window of a known experiment is empty, not unknown
            raise UnknownEntityError(_unknown_experiment_message(conn, experiment))
        slots = _read(conn, recommendation_feedback, slots_query)
        events = _read(conn, recommendation_events, events_query)
    frames = validate_log(LogFrames(lists, slots, events))
    logger.debug(
        "loaded the log%s: %d lists, %d slots, %d events",
        f" of experiment {experiment!r}" if experiment is not None else "",
        len(frames.lists), len(frames.slots), len(frames.events),
    )
    return frames


def validate_log(frames: LogFrames) -> LogFrames:
    """Each frame through :func:`~db.loading.validate_frame`, then the log's own rules.

    Raises DataValidationError naming the table, the rows and the fix; returns the frames
    in the canonical dtypes and order. Slots and events whose ``list_id`` is not among the
    lists are refused, so a frame built by hand cannot point at a list it lacks.

    >>> frames = LogFrames(*(pd.DataFrame({c.name: [] for c in t.columns}) for t in LOG_TABLES))
    >>> [len(frame) for frame in validate_log(frames)]
    [0, 0, 0]
    """
    lists = validate_frame(recommendation_lists, frames.lists)
    slots = validate_frame(recommendation_feedback, frames.slots)
    events = validate_frame(recommendation_events, frames.events)
    known = set(lists["list_id"])
    for name, frame in (("recommendation_feedback", slots), ("recommendation_events", events)):
        dangling = frame["list_id"].notna() & ~frame["list_id"].isin(known)
        raise_for_rows(name, frame, dangling, "name a list_id that is not among the lists read")
    raise_for_rows(
        "recommendation_events", events, ~events["kind"].isin(EVENT_KINDS),
        f"have a kind not in {', '.join(EVENT_KINDS)}",
    )
    ended = events["kind"].eq("ended").to_numpy()
    has_success = events["success"].notna().to_numpy()
    raise_for_rows(
        "recommendation_events", events, ended & ~has_success, "are 'ended' without a success value"
    )
    raise_for_rows(
        "recommendation_events", events, ~ended & has_success, "set success on a kind other than 'ended'"
    )
    return LogFrames(lists, slots, events)


def served_slots(frames: LogFrames) -> pd.DataFrame:
    """Every slot of a logged list with its list's time and arm, ordered by list and position.

    Columns: ``list_id``, ``mentee_id``, ``mentor_id``, ``recommended_rank`` (the
    position, 1-based), ``score``, ``created_at`` (when the list was served),
    ``experiment``, ``variant``. Slots without a list (older feedback rows) are left out.
    This is what :func:`synthetic.outcomes.draw_outcomes` draws outcomes for.
    """
    lists = frames.lists[["list_id", "created_at", "experiment", "variant"]]
    slots = frames.slots.loc[
        frames.slots["list_id"].notna(), ["list_id", "mentee_id", "mentor_id", "recommended_rank", "score"]
    ]
    joined = slots.merge(lists, on="list_id", how="inner", validate="many_to_one")
    return joined.sort_values(["created_at", "list_id", "recommended_rank"], kind="stable").reset_index(drop=True)


def _chosen_lists(experiment: str | None, since: datetime | None, until: datetime | None) -> list:
    """The WHERE terms on ``recommendation_lists`` of a read (empty: every list)."""
    if since is not None and until is not None and not until > since:
        raise InvalidParameterError(
            f"load_log: the window must end after it starts; got since={since.isoformat()} and "
            f"until={until.isoformat()}."
        )
    lists = recommendation_lists.c
    terms = []
    if experiment is not None:
        terms.append(lists.experiment == experiment)
    if since is not None:
        terms.append(lists.created_at >= since)
    if until is not None:
        terms.append(lists.created_at < until)
    return terms


def _read(conn: Connection, table: Table, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))


def _unknown_experiment_message(conn: Connection, experiment: str) -> str:
    names = conn.execute(
        select(recommendation_lists.c.experiment)
        .where(recommendation_lists.c.experiment.is_not(None))
        .distinct()
        .order_by(recommendation_lists.c.experiment)
    ).scalars().all()
    there = f"the log holds lists of {', '.join(repr(n) for n in names)}" if names else (
        "the log holds no list of any experiment"
    )
    return (
        f"No recommendation list was logged under experiment {experiment!r}; {there}. "
        "Check the name (it is the experiment config's 'name')."
    )
