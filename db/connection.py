"""Connections: driver failures as one clear error, and transactions that hold DDL too.

Shared by the loaders (:mod:`db.loading`), the writers (:mod:`db.writing`, the log) and the
migrations (:mod:`db.migrate`), so every path reports an unreachable database the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from db.engine import ENV_VAR
from mentor_match.errors import DatabaseUnavailableError


@contextmanager
def connect(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection (the given one, or a new one from an engine) that turns driver
    connection failures, at connect time or mid-query, into DatabaseUnavailableError."""
    try:
        if isinstance(bind, Connection):
            yield bind
        else:
            with bind.connect() as conn:
                yield conn
    except (OperationalError, InterfaceError) as exc:
        raise unavailable_error(bind, exc) from None


@contextmanager
def transaction(engine: Engine | Connection, *, immediate: bool = False) -> Iterator[Connection]:
    """One transaction that covers DDL too, on PostgreSQL and on SQLite.

    Python's sqlite3 driver does not open a transaction before DROP/CREATE, so those would
    commit at once and a failed reset or migration would lose the old data. On SQLite we
    switch the driver to autocommit mode for this connection and issue BEGIN ourselves.

    ``immediate`` takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``, waiting out the
    busy timeout): a transaction that reads, checks and then writes cannot be overtaken by
    another writer, nor fail with "database is locked" when it upgrades its lock. PostgreSQL
    ignores it (lock rows with ``FOR UPDATE`` there).
    """
    with connect(engine) as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        dbapi_conn = conn.connection.dbapi_connection
        saved = dbapi_conn.isolation_level
        dbapi_conn.isolation_level = None
        try:
            with conn.begin():
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
                yield conn
        finally:
            dbapi_conn.isolation_level = saved


def unavailable_error(bind: Engine | Connection, exc: Exception) -> DatabaseUnavailableError:
    """The one-line error for a database that cannot be reached or read."""
    engine = bind.engine if isinstance(bind, Connection) else bind
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    return DatabaseUnavailableError(
        f"Cannot reach database {engine.url.render_as_string(hide_password=True)}: {reason}. "
        f"Check that the server is running and the URL (--db-url or ${ENV_VAR}) is right."
    )
