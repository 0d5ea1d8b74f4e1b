"""Alembic's environment for mentor-match: run the revisions in ``versions/`` on one connection.

Alembic executes this file for every migration command. ``db.migrate`` passes its own
connection (``config.attributes["connection"]``), already inside the one transaction that
the whole upgrade runs in; the ``alembic`` command line passes none, and the engine comes from
``-x db_url=URL`` (else ``$MENTOR_MATCH_DB_URL``) through :func:`db.engine.get_engine`, which
picks the psycopg2 driver and turns SQLite's foreign keys on. On SQLite, changes to existing
tables are rendered as batch operations (copy, alter, rename): SQLite's ALTER TABLE cannot
drop or change columns or add constraints.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from db.engine import get_engine, resolve_db_url
from db.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,  # for `alembic revision --autogenerate`
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _db_url() -> str:
    return resolve_db_url(context.get_x_argument(as_dictionary=True).get("db_url"))


if context.is_offline_mode():
    # `alembic upgrade --sql`: the SQL a DBA can review (PostgreSQL; SQLite's batch
    # operations need the live table to copy).
    context.configure(url=_db_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        engine = get_engine(_db_url())
        try:
            with engine.connect() as conn:
                _run(conn)
                conn.commit()
        finally:
            engine.dispose()
