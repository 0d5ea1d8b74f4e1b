"""Outcomes as events: what happened after a list was served, recorded with its effects.

An outcome is one timestamped event of a (mentee, mentor) pair, one of
:data:`db.schema.EVENT_KINDS`: the mentee ``requested`` the mentor, the mentor
``accepted`` or ``declined``, an accepted mentorship ``started``, then ``ended`` with
``success`` true or false. Each pair's events describe one request, in that order, one of
each (the catalogue stops recommending a mentor once contacted, so a second request does
not come from a list). The client supplies the event id, so a retry is a no-op.

Effects of each kind, written in the same transaction as the event row
(``recommendation_events``):

========== ===================================================================================
requested  a new ``interactions`` row: status ``pending``, the list id, ``created_at`` =
           ``occurred_at`` (id = the largest id + 1; a clash with a concurrent writer retries)
accepted   the interaction: status ``accepted``, ``mentor_accepted`` true; the list's slot rows
           of the mentor (``recommendation_feedback``): ``was_accepted`` true; the mentor:
           ``current_mentees`` + 1 (over ``max_mentees`` too: real data can be over capacity)
declined   the interaction: status ``declined``, ``mentor_accepted`` false; the slot rows:
           ``was_accepted`` false
started    the interaction: ``mentee_accepted`` true (the mentee went ahead)
ended      the interaction: status ``completed``, ``successful_match`` = ``success``,
           ``completed_at`` = ``occurred_at``; the mentor: ``current_mentees`` - 1 (not below 0)
========== ===================================================================================

A change to ``current_mentees`` also sets the mentor's ``updated_at`` to now, so the live
catalogue, which reads the mentors changed since its last look, sees the seat taken or freed.
No other column of ``mentors`` or ``mentees`` is touched.

The events of a request carry its list id: a later event may leave ``list_id`` out (it is
taken from the request) or repeat it, never name another list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, case, func, select
from sqlalchemy.exc import IntegrityError

from db.connection import transaction
from db.schema import (
    EVENT_KINDS,
    LIST_ID_LENGTH,
    interactions,
    mentees,
    mentors,
    recommendation_events,
    recommendation_feedback,
    recommendation_lists,
)
from mentor_match.errors import (
    DataValidationError,
    InvalidParameterError,
    MentorMatchError,
    UnknownEntityError,
)
from mentor_match.validation import check_choice, check_int

logger = logging.getLogger(__name__)

EVENT_ID_LENGTH = 64
"""The longest event id the table holds."""

WRITE_ATTEMPTS = 5
"""Transactions tried before a clash with concurrent writers (two new interaction ids at
once, one event id posted twice at once) becomes an error."""

INTERACTION_ID_LOCK = 0x6D6D_1D01
"""The PostgreSQL advisory lock key under which new interaction ids are allocated."""

_LIST_ID = re.compile(f"[0-9a-f]{{{LIST_ID_LENGTH}}}")
_NEEDS = {
    "requested": None,
    "accepted": "requested",
    "declined": "requested",
    "started": "accepted",
    "ended": "started",
}
_ANSWERS = ("accepted", "declined")
_ORDER_RULE = (
    "a pair's events go requested, then accepted or declined, then (if accepted) started, then "
    "ended, one of each"
)


@dataclass(frozen=True)
class Outcome:
    """One event to record; the fields are :func:`record_outcome`'s keyword arguments."""

    event_id: str
    kind: str
    mentor_id: int
    list_id: str | None = None
    mentee_id: int | None = None
    occurred_at: datetime | None = None
    success: bool | None = None


class OutcomeResult(NamedTuple):
    """What :func:`record_outcome` did: ``recorded`` is False when the event id was already
    recorded with the same content (a retry); the pair's mentee, list and interaction row."""

    event_id: str
    recorded: bool
    mentee_id: int
    list_id: str | None
    interaction_id: int | None


class _Event(NamedTuple):
    """An outcome with its arguments checked and its time in naive UTC."""

    event_id: str
    kind: str
    mentor_id: int
    list_id: str | None
    mentee_id: int | None
    occurred_at: datetime
    timed: bool  # the caller gave occurred_at (a retry without it matches any stored time)
    success: bool | None


def record_outcome(
    bind: Engine,
    *,
    event_id: str,
    kind: str,
    mentor_id: int,
    list_id: str | None = None,
    mentee_id: int | None = None,
    occurred_at: datetime | None = None,
    success: bool | None = None,
) -> OutcomeResult:
    """Record one outcome event and its effects (module docstring) in one transaction.

    ``list_id`` names the served list the request came from (the mentee is then the list's,
    and the mentor must have been shown in it); without it ``mentee_id`` is required and the
    event is a contact made outside a list. ``occurred_at`` is naive UTC (an aware time is
    converted; default now); ``success`` is given on ``ended`` only.

    Raises, changing nothing: InvalidParameterError for a malformed argument,
    UnknownEntityError for an id the database does not have (list, mentor, mentee),
    DataValidationError for an event that contradicts what is recorded (a mentor not shown in
    the list, another mentee than the list's, events out of order or back in time, an event id
    recorded before with other content), DatabaseUnavailableError when it cannot be reached.

    >>> import tempfile, pathlib
    >>> from db.engine import get_engine
    >>> from db.loading import create_schema
    >>> engine = get_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'o.db'}")
    >>> create_schema(engine)
    >>> record_outcome(engine, event_id="e1", kind="requested", mentor_id=1, mentee_id=2)
    Traceback (most recent call last):
    ...
    mentor_match.errors.UnknownEntityError: Unknown mentor_id 1 (event 'e1'): no such row in table 'mentors'. Record outcomes for mentors that are in the database.
    """
    outcome = Outcome(event_id, kind, mentor_id, list_id, mentee_id, occurred_at, success)
    return _record(bind, [outcome], batch=False)[0]


def record_outcomes(
    bind: Engine, events: Iterable[Outcome | Mapping[str, Any]]
) -> list[OutcomeResult]:
    """Record many outcomes in one transaction, all or nothing, in the order given.

    Each event is an :class:`Outcome` or a mapping of :func:`record_outcome`'s keyword
    arguments; later events see the earlier ones (a request and its answer may come in one
    batch). An error names the event (its number and id) and leaves the database unchanged.
    """
    outcomes = []
    for number, event in enumerate(events, start=1):
        if isinstance(event, Outcome):
            outcomes.append(event)
        elif isinstance(event, Mapping):
            unknown = sorted(set(event) - {f.name for f in fields(Outcome)})
            if unknown:
                raise InvalidParameterError(
                    f"Event {number} of record_outcomes has unknown key(s) {unknown}; use the "
                    f"keyword arguments of record_outcome ({', '.join(f.name for f in fields(Outcome))})."
                )
            try:
                outcomes.append(Outcome(**event))
            except TypeError as exc:
                raise InvalidParameterError(f"Event {number} of record_outcomes: {exc}.") from None
        else:
            raise InvalidParameterError(
                f"Event {number} of record_outcomes must be an Outcome or a dict of record_outcome's "
                f"keyword arguments. Got {type(event).__name__}."
            )
    return _record(bind, outcomes, batch=True) if outcomes else []


def _record(engine: Engine, outcomes: list[Outcome], *, batch: bool) -> list[OutcomeResult]:
    now = _utc_now()
    events = []
    for number, outcome in enumerate(outcomes, start=1):
        with _numbered(batch, number, len(outcomes), outcome.event_id):
            events.append(_checked(outcome, now))
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with transaction(engine, immediate=True) as conn:
                known = _lock_mentors(conn, {e.mentor_id for e in events})
                results = []
                for number, event in enumerate(events, start=1):
                    with _numbered(batch, number, len(events), event.event_id):
                        results.append(_apply(conn, event, known, now))
                return results
        except IntegrityError as exc:
            # A concurrent writer took the same new interaction id or event id first; the
            # next attempt sees its commit (and a duplicate event id then is a retry).
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            logger.debug("outcome write clashed (attempt %d): %s", attempt, reason)
    raise DataValidationError(
        f"Recording {len(events)} outcome(s) clashed with concurrent writes {WRITE_ATTEMPTS} times "
        f"({reason}); nothing was recorded. Retry the call (event ids make a retry safe)."
    )


@contextmanager
def _numbered(batch: bool, number: int, count: int, event_id: str) -> Iterator[None]:
    """In a batch, an error's message starts with the event's number and id."""
    try:
        yield
    except MentorMatchError as exc:
        if not batch:
            raise
        raise type(exc)(f"Event {number} of {count} (event_id {event_id!r}): {exc}") from None


def _checked(outcome: Outcome, now: datetime) -> _Event:
    where = "record_outcome"
    event_id = outcome.event_id
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= EVENT_ID_LENGTH:
        raise InvalidParameterError(
            f"The 'event_id' parameter of {where} must be a non-empty string of at most "
            f"{EVENT_ID_LENGTH} characters, unique per event (e.g. a UUID). Got {event_id!r}."
        )
    kind = check_choice("kind", outcome.kind, where, EVENT_KINDS)
    mentor_id = check_int("mentor_id", outcome.mentor_id, where, low=None)
    mentee_id = check_int("mentee_id", outcome.mentee_id, where, low=None, allow_none=True)
    list_id = outcome.list_id
    if list_id is not None and not (isinstance(list_id, str) and _LIST_ID.fullmatch(list_id)):
        raise InvalidParameterError(
            f"The 'list_id' parameter of {where} must be None or {LIST_ID_LENGTH} lowercase hex "
            f"digits (the list_id that recommend returned). Got {list_id!r}."
        )
    if list_id is None and mentee_id is None:
        raise InvalidParameterError(
            f"{where} needs the mentee: pass list_id (the list the request came from) or mentee_id "
            f"(for a contact made outside a list). Event {event_id!r} has neither."
        )
    occurred_at = outcome.occurred_at
    if occurred_at is None:
        occurred_at = now
    elif not isinstance(occurred_at, datetime):
        raise InvalidParameterError(
            f"The 'occurred_at' parameter of {where} must be a datetime (naive UTC) or None. "
            f"Got {occurred_at!r}."
        )
    elif occurred_at.tzinfo is not None:
        occurred_at = occurred_at.astimezone(timezone.utc).replace(tzinfo=None)
    success = outcome.success
    if kind == "ended" and not isinstance(success, bool):
        raise InvalidParameterError(
            f"The 'success' parameter of {where} must be True or False on an 'ended' event "
            f"(did the mentorship succeed?). Got {success!r}."
        )
    if kind != "ended" and success is not None:
        raise InvalidParameterError(
            f"The 'success' parameter of {where} is for 'ended' events only; leave it out on "
            f"{kind!r}. Got {success!r}."
        )
    return _Event(
        event_id,
        kind,
        mentor_id,
        list_id,
        mentee_id,
        occurred_at,
        outcome.occurred_at is not None,
        success,
    )


def _lock_mentors(conn: Connection, mentor_ids: set[int]) -> set[int]:
    """The mentors that exist, their rows locked (PostgreSQL) in id order, so that the events
    of one mentor are checked and written one transaction at a time, without deadlocks."""
    # FOR NO KEY UPDATE: rows that reference a mentor (the log's slots) may still be written.
    query = (
        select(mentors.c.mentor_id)
        .where(mentors.c.mentor_id.in_(sorted(mentor_ids)))
        .order_by(mentors.c.mentor_id)
        .with_for_update(key_share=True)
    )
    return set(conn.execute(query).scalars())


def _apply(
    conn: Connection, event: _Event, known_mentors: set[int], now: datetime
) -> OutcomeResult:
    stored = (
        conn.execute(
            select(recommendation_events).where(recommendation_events.c.event_id == event.event_id)
        )
        .mappings()
        .first()
    )
    if stored is not None:
        _check_retry(event, stored)
        return OutcomeResult(
            event.event_id,
            False,
            stored["mentee_id"],
            stored["list_id"],
            _interaction_of(conn, stored["mentee_id"], event.mentor_id),
        )
    if event.mentor_id not in known_mentors:
        raise UnknownEntityError(
            f"Unknown mentor_id {event.mentor_id} (event {event.event_id!r}): no such row in table "
            "'mentors'. Record outcomes for mentors that are in the database."
        )
    mentee_id = _mentee_of(conn, event)
    history = {
        row.kind: row
        for row in conn.execute(
            select(
                recommendation_events.c.kind,
                recommendation_events.c.occurred_at,
                recommendation_events.c.list_id,
            ).where(
                recommendation_events.c.mentee_id == mentee_id,
                recommendation_events.c.mentor_id == event.mentor_id,
            )
        )
    }
    _check_order(event, mentee_id, history)
    if event.kind == "requested":
        list_id = event.list_id
        if list_id is not None:
            _check_shown(conn, event)
    else:
        list_id = history["requested"].list_id
        if event.list_id is not None and event.list_id != list_id:
            came_from = f"list {list_id!r}" if list_id else "outside a list"
            raise DataValidationError(
                f"Event {event.event_id!r} names list {event.list_id!r}, but the request of mentee "
                f"{mentee_id} to mentor {event.mentor_id} came from {came_from}. Leave list_id out "
                "of the later events of a request, or pass the request's."
            )
    conn.execute(
        recommendation_events.insert().values(
            event_id=event.event_id,
            list_id=list_id,
            mentee_id=mentee_id,
            mentor_id=event.mentor_id,
            kind=event.kind,
            success=event.success,
            occurred_at=event.occurred_at,
            recorded_at=now,
        )
    )
    interaction_id = _apply_effects(conn, event, mentee_id, list_id, history, now)
    return OutcomeResult(event.event_id, True, mentee_id, list_id, interaction_id)


def _mentee_of(conn: Connection, event: _Event) -> int:
    """The pair's mentee: the list's (which a given mentee_id must match), else the given one."""
    list_mentee = None
    if event.list_id is not None:
        row = conn.execute(
            select(recommendation_lists.c.mentee_id).where(
                recommendation_lists.c.list_id == event.list_id
            )
        ).first()
        if row is None:
            raise UnknownEntityError(
                f"Unknown list_id {event.list_id!r} (event {event.event_id!r}): no such row in table "
                "'recommendation_lists'. Pass the list_id that recommend returned (after its log "
                "was flushed), or leave it out and pass mentee_id for a contact made outside a list."
            )
        list_mentee = row.mentee_id
        if (
            list_mentee is not None
            and event.mentee_id is not None
            and event.mentee_id != list_mentee
        ):
            raise DataValidationError(
                f"Event {event.event_id!r}: list {event.list_id!r} was served to mentee {list_mentee}, "
                f"not to mentee {event.mentee_id}. Pass the list's mentee (or leave mentee_id out)."
            )
        if list_mentee is None and event.mentee_id is None:
            raise DataValidationError(
                f"Event {event.event_id!r}: list {event.list_id!r} was served to an ad-hoc profile, "
                "so it names no mentee; pass mentee_id too."
            )
    if list_mentee is not None:
        return list_mentee
    known = conn.execute(
        select(mentees.c.mentee_id).where(mentees.c.mentee_id == event.mentee_id)
    ).first()
    if known is None:
        raise UnknownEntityError(
            f"Unknown mentee_id {event.mentee_id} (event {event.event_id!r}): no such row in table "
            "'mentees'. Record outcomes for mentees that are in the database."
        )
    return event.mentee_id


def _check_order(event: _Event, mentee_id: int, history: Mapping[str, Any]) -> None:
    pair = f"mentee {mentee_id} and mentor {event.mentor_id}"
    seen = ", ".join(kind for kind in EVENT_KINDS if kind in history) or "no event"
    needed = _NEEDS[event.kind]
    problem = None
    if event.kind in history:
        problem = f"the pair already has a {event.kind!r} event"
    elif needed is None and history:
        problem = "a request must be the pair's first event"
    elif needed is not None and needed not in history:
        problem = f"{event.kind!r} needs {needed!r} first"
    elif event.kind in _ANSWERS and any(answer in history for answer in _ANSWERS):
        problem = "the mentor has answered already"
    if problem:
        raise DataValidationError(
            f"Event {event.event_id!r} ({event.kind!r} for {pair}) is out of order: {problem} (the "
            f"pair has had {seen}); {_ORDER_RULE}."
        )
    if history:
        last_kind, last = max(
            ((k, row.occurred_at) for k, row in history.items()), key=lambda kv: kv[1]
        )
        if event.occurred_at < last:
            raise DataValidationError(
                f"Event {event.event_id!r} ({event.kind!r} for {pair}) occurred at {event.occurred_at}, "
                f"before the pair's previous event ({last_kind!r} at {last}); record a pair's events "
                "with times that do not go back."
            )


def _check_shown(conn: Connection, event: _Event) -> None:
    shown = conn.execute(
        select(recommendation_feedback.c.recommended_rank)
        .where(
            recommendation_feedback.c.list_id == event.list_id,
            recommendation_feedback.c.mentor_id == event.mentor_id,
        )
        .limit(1)
    ).first()
    if shown is None:
        raise DataValidationError(
            f"Event {event.event_id!r}: mentor {event.mentor_id} was not shown in list "
            f"{event.list_id!r}. For a contact made outside the list, leave list_id out and pass "
            "mentee_id."
        )


def _check_retry(event: _Event, stored: Mapping[str, Any]) -> None:
    """A recorded event id with the same content is a retry; other content is an error."""
    compared = {"kind": event.kind, "mentor_id": event.mentor_id, "success": event.success}
    if event.mentee_id is not None:
        compared["mentee_id"] = event.mentee_id
    if event.list_id is not None:
        compared["list_id"] = event.list_id
    if event.timed:
        compared["occurred_at"] = event.occurred_at
    differ = [
        f"{name} {stored[name]!r} != {value!r}"
        for name, value in compared.items()
        if stored[name] != value
    ]
    if differ:
        raise DataValidationError(
            f"Event id {event.event_id!r} was recorded before with other content ({'; '.join(differ)}). "
            "A retry must repeat the event as it was; a new event needs a new event id."
        )


def _apply_effects(
    conn: Connection,
    event: _Event,
    mentee_id: int,
    list_id: str | None,
    history: Mapping[str, Any],
    now: datetime,
) -> int:
    """The interaction, slot and seat changes of the event; returns the interaction id."""
    if event.kind == "requested":
        interaction_id = _next_interaction_id(conn)
        conn.execute(
            interactions.insert().values(
                interaction_id=interaction_id,
                mentor_id=event.mentor_id,
                mentee_id=mentee_id,
                status="pending",
                mentor_accepted=None,
                mentee_accepted=None,
                successful_match=False,
                overall_rating=None,
                meetings_held=0,
                created_at=event.occurred_at,
                completed_at=None,
                list_id=list_id,
            )
        )
        return interaction_id
    interaction_id = _interaction_of(
        conn, mentee_id, event.mentor_id, history["requested"].occurred_at
    )
    if interaction_id is None:
        raise DataValidationError(
            f"Event {event.event_id!r}: the interactions row that the request of mentee {mentee_id} to "
            f"mentor {event.mentor_id} created (at {history['requested'].occurred_at}) is gone; restore "
            "it before recording later events of that request."
        )
    changes: dict[str, Any] = {}
    seats = None
    if event.kind in _ANSWERS:
        accepted = event.kind == "accepted"
        changes = {"status": event.kind, "mentor_accepted": accepted}
        if list_id is not None:
            conn.execute(
                recommendation_feedback.update()
                .where(
                    recommendation_feedback.c.list_id == list_id,
                    recommendation_feedback.c.mentor_id == event.mentor_id,
                )
                .values(was_accepted=accepted)
            )
        if accepted:
            seats = mentors.c.current_mentees + 1
    elif event.kind == "started":
        changes = {"mentee_accepted": True}
    else:  # ended
        changes = {
            "status": "completed",
            "successful_match": event.success,
            "completed_at": event.occurred_at,
        }
        seats = case((mentors.c.current_mentees > 0, mentors.c.current_mentees - 1), else_=0)
    conn.execute(
        interactions.update()
        .where(interactions.c.interaction_id == interaction_id)
        .values(**changes)
    )
    if seats is not None:
        conn.execute(
            mentors.update()
            .where(mentors.c.mentor_id == event.mentor_id)
            .values(current_mentees=seats, updated_at=now)
        )
    return interaction_id


def _next_interaction_id(conn: Connection) -> int:
    """The largest interaction id + 1. On PostgreSQL the recorders of requests take turns
    (a transaction-scoped advisory lock, taken after the mentor locks, so it cannot deadlock
    with them); otherwise concurrent requests would all pick the same id and retry in turn.
    Another writer of ``interactions`` can still clash: the transaction is then retried."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(INTERACTION_ID_LOCK)))
    newest = conn.execute(select(func.max(interactions.c.interaction_id))).scalar()
    return int(newest or 0) + 1


def _interaction_of(
    conn: Connection, mentee_id: int, mentor_id: int, requested_at: datetime | None = None
) -> int | None:
    """The interaction row a pair's request created: the pair's newest row created at the
    request's time (found from the event when ``requested_at`` is not given)."""
    if requested_at is None:
        requested_at = conn.execute(
            select(recommendation_events.c.occurred_at).where(
                recommendation_events.c.mentee_id == mentee_id,
                recommendation_events.c.mentor_id == mentor_id,
                recommendation_events.c.kind == "requested",
            )
        ).scalar()
        if requested_at is None:
            return None
    return conn.execute(
        select(interactions.c.interaction_id)
        .where(
            interactions.c.mentee_id == mentee_id,
            interactions.c.mentor_id == mentor_id,
            interactions.c.created_at == requested_at,
        )
        .order_by(interactions.c.interaction_id.desc())
        .limit(1)
    ).scalar()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
