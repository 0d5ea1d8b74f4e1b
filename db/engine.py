"""Engine from a URL: ``--db-url``, else ``MENTOR_MATCH_DB_URL``, else the embedded SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from mentor_match.errors import DatabaseUnavailableError

DEFAULT_DB_URL = "sqlite:///mentor_match.db"
ENV_VAR = "MENTOR_MATCH_DB_URL"


def resolve_db_url(db_url: str | None = None) -> str:
    """The URL to use: the argument, else ``$MENTOR_MATCH_DB_URL``, else the SQLite default."""
    return db_url or os.environ.get(ENV_VAR) or DEFAULT_DB_URL


def get_engine(db_url: str | None = None, *, check: bool = True) -> Engine:
    """Create an engine for ``db_url`` (resolved as in :func:`resolve_db_url`).

    With ``check`` the connection is tried at once, so that an unreachable server gives one
    clear :class:`DatabaseUnavailableError` here instead of a driver traceback later.
    PostgreSQL URLs without a driver use psycopg2.
    """
    url_text = resolve_db_url(db_url)
    try:
        url = make_url(url_text)
    except ArgumentError as exc:
        raise DatabaseUnavailableError(
            f"Cannot parse database URL {url_text!r}: {exc}. Use e.g. "
            "sqlite:///mentor_match.db or postgresql://user@host:5432/dbname."
        ) from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        parent = Path(url.database).parent
        if not parent.exists():
            raise DatabaseUnavailableError(
                f"Cannot open SQLite database {url.database!r}: folder {str(parent)!r} does "
                "not exist. Create it or pass another --db-url."
            )
    try:
        engine = create_engine(url, future=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailableError(f"Cannot use database URL {url_text!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailableError(
                f"Cannot reach database {url.render_as_string(hide_password=True)}: {reason}. "
                "Check that the server is running and the URL (--db-url or "
                f"${ENV_VAR}) is right."
            ) from None
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLite ignores foreign keys unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
