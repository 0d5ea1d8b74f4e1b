"""Schema migrations: bring a database to the schema of this code with Alembic.

The revisions live in ``db/migrations/versions`` (``0001``: the tables before the
recommendation log; ``0002``: the log; ``0003``: the REST service's API keys).
:func:`upgrade` runs them in one transaction, so a failure part-way leaves the database as
it was; on SQLite, whose driver commits DDL on its own, the transaction is opened by hand so that this holds there too.

A database made by mentor-match before migrations existed has its tables but no
``alembic_version`` table: :func:`upgrade` recognises its revision from its tables and
columns, stamps it, and upgrades from there. :func:`check_revision` is what the loaders call
(once per engine) so that a database behind this code fails with the command that fixes it,
rather than with a missing column deep in a query.

>>> from db.engine import get_engine
>>> engine = get_engine("sqlite://")
>>> upgrade(engine).end == head_revision() == current_revision(engine)
True
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DBAPIError

from db.connection import connect, transaction
from db.engine import get_engine
from db.schema import metadata
from mentor_match.errors import SchemaError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
VERSION_TABLE = "alembic_version"
INITIAL_REVISION = "0001"
"""The revision of a database that mentor-match made before it had migrations."""
_INITIAL_TABLES = (
    "mentors",
    "mentees",
    "interactions",
    "recommendation_feedback",
    "synthetic_mentor_truth",
    "synthetic_mentee_truth",
)

_ADDED_BY_0003 = ("api_keys",)
"""Tables of revision 0003: an unversioned database with every other table is at 0002."""


@dataclass(frozen=True)
class MigrationResult:
    """What :func:`upgrade` or :func:`downgrade` did to one database.

    ``start`` is the revision found (None: no ``alembic_version``), ``recognised`` the
    revision an unversioned database's tables were recognised as and stamped with (None if
    it was versioned or empty), ``end`` the revision it is at now.
    """

    url: str
    start: str | None
    recognised: str | None
    end: str | None

    def describe(self) -> str:
        """One line: ``<url>: 0001 -> 0003``, with what an unversioned database was taken for."""
        if self.recognised is not None:
            start = f"unversioned (tables of revision {self.recognised})"
        elif self.start is None:
            start = "empty"
        else:
            start = self.start
        if self.start == self.end and self.recognised is None:
            return f"{self.url}: already at {self.end}{' (head)' if self.end == head_revision() else ''}"
        return f"{self.url}: {start} -> {self.end}"


def migrate_command(url: str) -> str:
    """The command that upgrades the database at ``url``, as error messages give it."""
    return f"scripts/migrate.py --db-url {url} (or make migrate)"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration (``db/migrations/alembic.ini``), run on ``connection`` if given."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision: the one ``db/schema.py`` describes.

    >>> head_revision()
    '0003'
    """
    return _scripts().get_current_head()


def revisions() -> list[str]:
    """Every revision, oldest first.

    >>> revisions()
    ['0001', '0002', '0003']
    """
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def current_revision(bind: Engine | Connection) -> str | None:
    """The revision recorded in the database's ``alembic_version`` table; None if it has none."""
    with connect(bind) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def stamp(bind: Engine | Connection, revision: str = "head") -> None:
    """Record ``revision`` as the database's revision without running anything.

    With an engine it commits; with a connection it writes in the caller's transaction.
    """
    target = _resolve(revision)
    if isinstance(bind, Connection):
        MigrationContext.configure(bind).stamp(_scripts(), target)
        return
    with connect(bind) as conn, conn.begin():
        MigrationContext.configure(conn).stamp(_scripts(), target)


def upgrade(db: str | Engine, revision: str = "head") -> MigrationResult:
    """Upgrade the database (a URL or an engine) to ``revision``, all in one transaction.

    An empty database gets every table; an unversioned one made before migrations is
    recognised (:func:`recognise_revision`), stamped, then upgraded. Raises SchemaError for
    an unknown revision, a database this code cannot place, or a failed migration (the
    database is then unchanged).
    """
    target = _resolve(revision)
    with _engine(db) as engine, transaction(engine) as conn:
        start = current_revision(conn)
        recognised = None
        if start is None:
            recognised = recognise_revision(conn)
            if recognised is not None:
                logger.info("unversioned database recognised as revision %s; stamping it", recognised)
                MigrationContext.configure(conn).stamp(_scripts(), recognised)
        _check_known(conn, start)
        known = revisions()
        current = recognised or start
        if current is not None and known.index(current) > known.index(target):
            raise SchemaError(
                f"Database {_url(conn)} is at revision {current}, newer than {target}; upgrade "
                "cannot go back. Use db.migrate.downgrade to return to an older revision."
            )
        _run(conn, command.upgrade, target)
        end = current_revision(conn)
    logger.info("upgraded %s from %s to %s", _url(engine), recognised or start, end)
    return MigrationResult(_url(engine), start, recognised, end)


def downgrade(db: str | Engine, revision: str) -> MigrationResult:
    """Downgrade a versioned database to ``revision`` (``"base"``: no tables), in one transaction.

    Downgrades lose what the undone revisions hold; see each revision's docstring.
    """
    target = revision if revision == "base" else _resolve(revision)
    with _engine(db) as engine, transaction(engine) as conn:
        start = current_revision(conn)
        if start is None:
            raise SchemaError(
                f"Database {_url(conn)} has no recorded revision; run {migrate_command(_url(conn))} "
                "before downgrading it."
            )
        _check_known(conn, start)
        _run(conn, command.downgrade, target)
        end = current_revision(conn)
    logger.info("downgraded %s from %s to %s", _url(engine), start, end)
    return MigrationResult(_url(engine), start, None, end)


def recognise_revision(bind: Engine | Connection) -> str | None:
    """The revision an unversioned database's tables and columns match.

    None for a database without any of the project's tables; the head for one that has
    every table and column of ``db/schema.py`` (made by ``metadata.create_all``);
    :data:`INITIAL_REVISION` for the layout mentor-match made before the recommendation
    log. Anything else is a SchemaError that names the missing tables.
    """
    with connect(bind) as conn:
        inspector = inspect(conn)
        present = set(inspector.get_table_names())
        if not present & set(metadata.tables):
            return None
        columns = {name: {c["name"] for c in inspector.get_columns(name)} for name in present & set(metadata.tables)}
        if all(
            name in columns and {c.name for c in table.columns} <= columns[name]
            for name, table in metadata.tables.items()
        ):
            return head_revision()
        if all(
            name in columns and {c.name for c in table.columns} <= columns[name]
            for name, table in metadata.tables.items() if name not in _ADDED_BY_0003
        ) and not present & set(_ADDED_BY_0003):
            return "0002"
        missing = [name for name in _INITIAL_TABLES if name not in present]
        if not missing and "list_id" not in columns["interactions"] and "recommendation_lists" not in present:
            return INITIAL_REVISION
        missing_now = sorted(set(metadata.tables) - present)
        raise SchemaError(
            f"Database {_url(conn)} has some of mentor-match's tables but no recorded revision, "
            f"and its tables match no revision (missing: {', '.join(missing_now) or 'none'}; "
            "or columns differ from db/schema.py). Restore the missing tables, or create a fresh "
            "database with scripts/generate_synthetic_data.py --reset."
        )


def check_revision(bind: Engine | Connection) -> None:
    """Raise SchemaError if the database is not at this code's revision (the head).

    A versioned database behind the head, or an unversioned one with the tables of an older
    revision, gets a message that names the command to upgrade it; one ahead of this code
    (an unknown revision) one that says to update mentor-match. Empty and unversioned but
    current databases pass: the table checks of the loaders speak for those.
    """
    with connect(bind) as conn:
        revision = current_revision(conn)
        head = head_revision()
        if revision == head:
            return
        if revision is None:
            try:
                recognised = recognise_revision(conn)
            except SchemaError:
                return  # a partial or foreign layout: the per-table checks name what is missing
            if recognised is None or recognised == head:
                return
            raise SchemaError(
                f"Database {_url(conn)} predates schema migrations: its tables are revision "
                f"{recognised}, this code needs {head}. Run {migrate_command(_url(conn))}; it "
                "keeps every row."
            )
        _check_known(conn, revision)
        raise SchemaError(
            f"Database {_url(conn)} is at schema revision {revision}, this code needs {head}. "
            f"Run {migrate_command(_url(conn))}; it keeps every row."
        )


def _check_known(conn: Connection, revision: str | None) -> None:
    if revision is not None and revision not in revisions():
        raise SchemaError(
            f"Database {_url(conn)} is at schema revision {revision!r}, which this code does not "
            f"know (its newest is {head_revision()}): it was migrated by a newer mentor-match. "
            "Update mentor-match, or use a database made by this version."
        )


def _run(conn: Connection, step, target: str) -> None:
    try:
        step(alembic_config(conn), target)
    except CommandError as exc:
        raise SchemaError(f"Migration of {_url(conn)} to {target} failed: {exc}.") from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise SchemaError(
            f"Migration of {_url(conn)} to {target} failed and the database was left unchanged: "
            f"{reason}. Fix what the message names (a table or index of that name, rows that "
            "break a new constraint) and run it again."
        ) from None


def _resolve(revision: str) -> str:
    if revision == "head":
        return head_revision()
    known = revisions()
    if revision not in known:
        raise SchemaError(
            f"Unknown schema revision {revision!r}; the revisions are {', '.join(known)} "
            "(or 'head' for the newest)."
        )
    return revision


@functools.lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    # The revision files do not change while the process runs; read them once.
    return ScriptDirectory.from_config(alembic_config())


def _url(bind: Engine | Connection) -> str:
    return bind.engine.url.render_as_string(hide_password=True)


@contextmanager
def _engine(db: str | Engine) -> Iterator[Engine]:
    """The given engine, or one made from a URL (and disposed of afterwards)."""
    if isinstance(db, Engine):
        yield db
        return
    engine = get_engine(db)
    try:
        yield engine
    finally:
        engine.dispose()
