"""The recommendation log: every served list and its slots, written by a background thread.

The serving path calls :meth:`RecommendationLog.submit`, which only appends the list to a
bounded in-memory buffer: it never touches the database, never waits for it and never fails
because of it. A daemon thread writes the buffer in batches (one transaction per batch:
the lists into ``recommendation_lists``, their slots into ``recommendation_feedback``).

What the writer guarantees (docs/recommendation-log.md has the whole picture):

* Batching: a batch is written when ``batch_lists`` lists are waiting, or ``flush_interval``
  seconds after the first of them arrived, or on :meth:`~RecommendationLog.flush`.
* A bounded buffer: at most ``max_buffer`` lists wait. While the database is down the
  writer keeps them and retries every ``retry_interval`` seconds; once the buffer is full,
  *new* lists are dropped (the buffered ones are kept) and counted in ``stats.dropped``.
* Exactly once: a retry first asks which of its lists are already committed (a commit whose
  acknowledgement was lost) and skips those, so nothing is written twice or lost.
* A list the database refuses as invalid (e.g. a mentor id it does not know) is written on
  its own, so it cannot hold back the others; it is logged as an error and counted in
  ``stats.rejected``.
* :meth:`~RecommendationLog.close` flushes and stops the thread; a log that is never closed
  is closed when it is garbage-collected or at interpreter exit (``weakref.finalize``).

Outages are reported through :mod:`logging` (logger ``db.log``), not :mod:`warnings`: they
are events of a running service that belong in its log, one warning when the database
becomes unreachable, one when the buffer starts dropping lists, one on recovery, while the
``warnings`` module would show only the first outage of a process (its filter keys on the
code location) and is meant for callers misusing an API.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from time import monotonic
from typing import Any, NamedTuple

from sqlalchemy import Engine, select
from sqlalchemy.exc import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from db.engine import get_engine
from db.schema import recommendation_feedback, recommendation_lists
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number

logger = logging.getLogger(__name__)

EXIT_CLOSE_TIMEOUT = 10.0
"""Seconds a log closed at interpreter exit (or by the garbage collector) waits for the database."""


@dataclass(frozen=True)
class ServedSlot:
    """One shown mentor of a served list: ``position`` counts from 1.

    ``propensity`` is the probability that the policy put this mentor at this position given
    the slots above (None for a deterministic policy); ``features`` the values the ranker
    scored (a missing value, NaN, is stored as JSON null).
    """

    position: int
    mentor_id: int
    score: float
    similarity: float
    propensity: float | None
    features: dict[str, float] | None


@dataclass(frozen=True)
class ServedList:
    """One served list as the log records it; ``created_at`` is naive UTC like the schema.

    ``mentee_id`` is None for a list served to an ad-hoc profile. Nothing is checked here
    (the serving path builds one per query); the writer refuses a malformed list on its own.
    """

    list_id: str
    mentee_id: int | None
    created_at: datetime
    model_version: str
    index_version: str
    experiment: str | None
    variant: str
    policy: str
    policy_params: dict
    k: int
    latency_ms: float
    slots: tuple[ServedSlot, ...]


class LogStats(NamedTuple):
    """Counts since the log was made: ``submitted == written + dropped + rejected + pending``.

    ``dropped``: not buffered (the buffer was full, or the log closed); ``rejected``: refused
    by the database as invalid; ``failed_attempts``: batch writes that found the database
    unavailable; ``last_error``: the reason of the latest of those (None before any).
    """

    submitted: int
    written: int
    dropped: int
    rejected: int
    pending: int
    failed_attempts: int
    last_error: str | None


def new_list_id() -> str:
    """A fresh list id: a UUID4 as 32 lowercase hex digits (``LIST_ID_LENGTH``).

    >>> len(new_list_id()), new_list_id() != new_list_id()
    (32, True)
    """
    return uuid.uuid4().hex


class RecommendationLog:
    """Writes served lists to the database in the background; see the module docstring.

    ``bind`` is an engine, a database URL, or None for the URL that :func:`db.engine.get_engine`
    resolves (an engine made here is disposed on close). The database is not contacted here,
    so a log can be made while it is down. Use a file or a server, not ``sqlite://`` in
    memory (each connection would see its own empty database).

    >>> import tempfile, pathlib
    >>> from db.loading import create_schema
    >>> engine = get_engine(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'log.db'}")
    >>> create_schema(engine)
    >>> with RecommendationLog(engine) as log:
    ...     log.submit(ServedList(new_list_id(), None, datetime(2024, 1, 1), "ranker-1", "index-1",
    ...                           None, "control", "greedy", {}, 10, 3.2, ()))
    ...     log.flush()
    True
    >>> log.stats.written, log.stats.pending
    (1, 0)
    """

    def __init__(
        self,
        bind: str | Engine | None = None,
        *,
        flush_interval: float = 0.1,
        batch_lists: int = 200,
        max_buffer: int = 50_000,
        retry_interval: float = 1.0,
    ) -> None:
        where = "RecommendationLog"
        flush_interval = check_number("flush_interval", flush_interval, where, low=0, low_open=True)
        batch_lists = check_int("batch_lists", batch_lists, where)
        max_buffer = check_int("max_buffer", max_buffer, where)
        retry_interval = check_number("retry_interval", retry_interval, where, low=0, low_open=True)
        if isinstance(bind, Engine):
            engine, owned = bind, False
        elif bind is None or isinstance(bind, str):
            engine, owned = get_engine(bind, check=False), True
        else:
            raise InvalidParameterError(
                f"The 'bind' parameter of {where} must be an Engine, a database URL or None. "
                f"Got {type(bind).__name__}."
            )
        self._writer = _Writer(engine, owned, flush_interval, batch_lists, max_buffer, retry_interval)
        # Holds the writer, not self: a forgotten log is closed when collected, or at exit.
        self._finalizer = weakref.finalize(self, self._writer.close, EXIT_CLOSE_TIMEOUT)

    def submit(self, served: ServedList) -> None:
        """Buffer ``served`` for writing: O(1), no database call, no error from the database.

        A full buffer, or a closed log, drops the list and counts it in ``stats.dropped``.
        """
        self._writer.submit(served)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every list submitted before this call is written (or refused as
        invalid); False if ``timeout`` seconds passed first (e.g. the database is down)."""
        return self._writer.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, waiting up to ``timeout`` seconds for the database, and stop the writer.

        Idempotent; later submits are dropped. True when nothing was left unwritten (what
        was is logged as an error with its count).
        """
        done = self._writer.close(timeout)
        self._finalizer.detach()
        return done

    @property
    def stats(self) -> LogStats:
        """The counts so far (a consistent snapshot)."""
        return self._writer.stats()

    def __enter__(self) -> RecommendationLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Batch(NamedTuple):
    """What one write did: how many lists from the head of the buffer are finished."""

    done: int
    written: int
    rejected: int
    error: BaseException | None  # the database was unavailable after ``done`` lists


class _Rows(NamedTuple):
    list_id: str
    list_row: dict[str, Any]
    slot_rows: list[dict[str, Any]]


class _Writer:
    """The buffer, its counters and the thread that empties it (kept apart from the facade
    so that the thread does not keep a forgotten :class:`RecommendationLog` alive)."""

    def __init__(
        self,
        engine: Engine,
        owned: bool,
        flush_interval: float,
        batch_lists: int,
        max_buffer: int,
        retry_interval: float,
    ) -> None:
        self._engine, self._owned = engine, owned
        self._flush_interval, self._batch_lists = flush_interval, batch_lists
        self._max_buffer, self._retry_interval = max_buffer, retry_interval
        self._cond = threading.Condition(threading.Lock())
        self._buffer: deque[ServedList] = deque()
        self._submitted = self._accepted = self._resolved = 0
        self._written = self._dropped = self._rejected = self._failed_attempts = 0
        self._last_error: str | None = None
        self._flush_requested = self._stopping = self._finished = False
        self._close_deadline = 0.0
        self._outage_since: float | None = None
        self._outage_failures = self._dropped_at_success = 0
        self._dropping = self._drop_warned = False
        self._thread = threading.Thread(target=self._run, name="recommendation-log", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------

    def submit(self, served: ServedList) -> None:
        if not isinstance(served, ServedList):
            raise InvalidParameterError(
                f"RecommendationLog.submit takes a ServedList, got {type(served).__name__}."
            )
        with self._cond:
            self._submitted += 1
            if self._stopping or len(self._buffer) >= self._max_buffer:
                self._dropped += 1
                self._dropping = True
                return
            self._buffer.append(served)
            self._accepted += 1
            size = len(self._buffer)
            if size == 1 or size == self._batch_lists:
                self._cond.notify_all()

    def flush(self, timeout: float | None) -> bool:
        with self._cond:
            target = self._accepted
            if self._resolved >= target:
                return True
            self._flush_requested = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._resolved >= target or self._finished, timeout)
            return self._resolved >= target

    def close(self, timeout: float) -> bool:
        with self._cond:
            if not self._stopping:
                self._stopping = True
                self._close_deadline = monotonic() + timeout
                self._cond.notify_all()
        if threading.current_thread() is self._thread:
            return False  # collected inside the writer itself: it stops on its own
        self._thread.join(timeout)
        with self._cond:
            left = len(self._buffer)
        if not self._thread.is_alive() and self._owned:
            self._engine.dispose()
        if left:
            logger.error(
                "recommendation log closed with %d list(s) unwritten (database unavailable: %s)",
                left, self._last_error,
            )
        return left == 0

    def stats(self) -> LogStats:
        with self._cond:
            return LogStats(
                submitted=self._submitted,
                written=self._written,
                dropped=self._dropped,
                rejected=self._rejected,
                pending=len(self._buffer),
                failed_attempts=self._failed_attempts,
                last_error=self._last_error,
            )

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._buffer or self._stopping)
                    if not self._stopping:
                        self._cond.wait_for(
                            lambda: self._stopping
                            or self._flush_requested
                            or len(self._buffer) >= self._batch_lists,
                            self._flush_interval,
                        )
                    self._flush_requested = False
                    stopping = self._stopping
                drained = self._drain()
                self._warn_of_drops()
                if stopping and (drained or monotonic() >= self._close_deadline):
                    return
                if not drained:
                    self._pause(stopping)
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def _pause(self, stopping: bool) -> None:
        """Wait ``retry_interval`` after a failed write; a close cuts the wait short once."""
        timeout = self._retry_interval
        if stopping:
            timeout = min(timeout, max(0.0, self._close_deadline - monotonic()))
        with self._cond:
            self._cond.wait_for(lambda: self._stopping and not stopping, timeout)

    def _drain(self) -> bool:
        """Write batches from the head of the buffer until it is empty (True) or a write
        finds the database unavailable (False)."""
        while True:
            with self._cond:
                batch = list(islice(self._buffer, self._batch_lists))
            if not batch:
                return True
            try:
                result = self._write(batch)
            except Exception as exc:  # a bug, not an outage: keep the lists, say so, retry
                logger.exception("recommendation log: writing a batch failed unexpectedly")
                result = _Batch(0, 0, 0, exc)
            with self._cond:
                for _ in range(result.done):
                    self._buffer.popleft()
                self._resolved += result.done
                self._written += result.written
                self._rejected += result.rejected
                self._cond.notify_all()
            if result.error is not None:
                self._note_failure(result.error)
                return False
            self._note_recovery()

    def _write(self, batch: list[ServedList]) -> _Batch:
        """One transaction for the batch; if the database refuses a row, list by list."""
        prepared: list[_Rows | str] = []
        for served in batch:
            try:
                prepared.append(_rows(served))
            except (TypeError, ValueError, AttributeError) as exc:
                prepared.append(f"{type(exc).__name__}: {exc}")
        good = [rows for rows in prepared if isinstance(rows, _Rows)]
        try:
            with self._engine.begin() as conn:
                self._insert_new(conn, good)
        except SQLAlchemyError as exc:
            if _unavailable(exc):
                return _Batch(0, 0, 0, exc)
        else:
            for served, rows in zip(batch, prepared, strict=True):
                if isinstance(rows, str):
                    self._reject(served, rows)
            return _Batch(len(batch), len(good), len(batch) - len(good), None)
        return self._write_one_by_one(batch, prepared)

    def _write_one_by_one(self, batch: list[ServedList], prepared: list[_Rows | str]) -> _Batch:
        written = rejected = 0
        for done, (served, rows) in enumerate(zip(batch, prepared, strict=True)):
            if isinstance(rows, str):
                self._reject(served, rows)
                rejected += 1
                continue
            try:
                with self._engine.begin() as conn:
                    self._insert_new(conn, [rows])
            except SQLAlchemyError as exc:
                if _unavailable(exc):
                    return _Batch(done, written, rejected, exc)
                self._reject(served, _reason(exc))
                rejected += 1
            else:
                written += 1
        return _Batch(len(batch), written, rejected, None)

    @staticmethod
    def _insert_new(conn, rows: list[_Rows]) -> None:
        """Insert the lists not yet in the table (a retry after a lost acknowledgement
        finds its earlier commit there) and their slots."""
        if not rows:
            return
        ids = [r.list_id for r in rows]
        present = set(
            conn.execute(
                select(recommendation_lists.c.list_id).where(recommendation_lists.c.list_id.in_(ids))
            ).scalars()
        )
        new = [r for r in rows if r.list_id not in present]
        if present:
            logger.info("recommendation log: %d list(s) were already written; skipped", len(present))
        if not new:
            return
        conn.execute(recommendation_lists.insert(), [r.list_row for r in new])
        slots = [slot for r in new for slot in r.slot_rows]
        if slots:
            conn.execute(recommendation_feedback.insert(), slots)

    @staticmethod
    def _reject(served: ServedList, reason: str) -> None:
        logger.error(
            "recommendation log: list %s was refused and is not logged (%s); it is counted in "
            "stats.rejected. Check what the serving code submits.", served.list_id, reason,
        )

    # -- reporting outages ---------------------------------------------------------------

    def _note_failure(self, exc: BaseException) -> None:
        reason = _reason(exc)
        with self._cond:
            self._failed_attempts += 1
            self._last_error = reason
            first = self._outage_since is None
            if first:
                self._outage_since = monotonic()
                self._outage_failures = 0
            self._outage_failures += 1
            pending = len(self._buffer)
        if first:
            logger.warning(
                "recommendation log: cannot write to the database (%s); keeping %d list(s) "
                "buffered (at most %d) and retrying every %g s; new lists are dropped once the "
                "buffer is full", reason, pending, self._max_buffer, self._retry_interval,
            )

    def _note_recovery(self) -> None:
        with self._cond:
            dropped = self._dropped - self._dropped_at_success  # since the last write that worked
            self._dropped_at_success = self._dropped
            if self._outage_since is None:
                return
            seconds = monotonic() - self._outage_since
            failures, pending = self._outage_failures, len(self._buffer)
            self._outage_since = None
        logger.warning(
            "recommendation log: the database is reachable again after %.1f s and %d failed "
            "attempt(s); writing the %d list(s) still buffered; %d list(s) were dropped meanwhile",
            seconds, failures, pending, dropped,
        )

    def _warn_of_drops(self) -> None:
        """Once per episode of drops; an episode ends when the writer has caught up."""
        with self._cond:
            if self._drop_warned and not self._buffer:
                self._dropping = self._drop_warned = False
            if not self._dropping or self._drop_warned:
                return
            self._drop_warned = True
            dropped = self._dropped
        logger.warning(
            "recommendation log: the buffer is full (%d lists); new lists are being dropped "
            "(%d so far, counted in stats.dropped)", self._max_buffer, dropped,
        )


def _rows(served: ServedList) -> _Rows:
    """The table rows of one list; raises on a malformed one (so that it alone is refused)."""
    list_row = {
        "list_id": served.list_id,
        "mentee_id": served.mentee_id,
        "created_at": served.created_at,
        "model_version": served.model_version,
        "index_version": served.index_version,
        "experiment": served.experiment,
        "variant": served.variant,
        "policy": served.policy,
        "policy_params": dict(served.policy_params),
        "k": int(served.k),
        "latency_ms": float(served.latency_ms),
    }
    slot_rows = []
    for slot in served.slots:
        position = int(slot.position)
        if position < 1:
            raise ValueError(f"slot position {position} (positions count from 1)")
        slot_rows.append({
            "mentee_id": served.mentee_id,
            "mentor_id": int(slot.mentor_id),
            "recommended_rank": position,
            "was_accepted": None,
            "feedback_date": served.created_at,
            "model_version": served.model_version,
            "variant": served.variant,
            "list_id": served.list_id,
            "score": _finite(slot.score),
            "similarity": _finite(slot.similarity),
            "propensity": _finite(slot.propensity),
            "features": None if slot.features is None else {
                str(name): _finite(value) for name, value in slot.features.items()
            },
        })
    return _Rows(served.list_id, list_row, slot_rows)


def _finite(value: float | None) -> float | None:
    """A float, with NaN and infinities as None: SQLite stores NaN as NULL, PostgreSQL's
    JSON refuses it, so both back ends get the same NULL."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _unavailable(exc: SQLAlchemyError) -> bool:
    """The database cannot take the write now (down, locked, schema not there yet): retry.
    Anything else (an integrity or data error) is the rows' fault: refuse them."""
    return isinstance(exc, (OperationalError, InterfaceError, ProgrammingError, PoolTimeoutError)) or bool(
        getattr(exc, "connection_invalidated", False)
    )


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__
