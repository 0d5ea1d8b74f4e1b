"""Validated loading of the mentor-match tables into pandas frames.

Each ``load_*`` function returns one row per record with the schema's column names as
columns: ids as int64 columns (not the index) sorted ascending (pandas' nullable ``Int64``
where the schema allows NULL, as for the mentee of an ad-hoc profile's list), list columns as Python
lists, timestamps as ``datetime64[ns]``, a missing rating as NaN, nullable booleans as
pandas' ``boolean`` dtype. Every load checks the rules the rest of the project relies on
and raises a project error that names the table, the offending rows and the fix, so that
bad data stops at the boundary instead of surfacing as a strange model score later.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    func,
    inspect,
    select,
)

from db.connection import connect
from db.engine import get_engine
from db.schema import (
    CORE_TABLES,
    LEVELS,
    STATUSES,
    TRUTH_TABLES,
    interactions,
    mentees,
    mentors,
    metadata,
    recommendation_feedback,
)
from mentor_match.errors import DataValidationError, InvalidParameterError, SchemaError

logger = logging.getLogger(__name__)

TIMESTAMP_DTYPE = "datetime64[ns]"
SCHEMA_FIX = (
    "upgrade an older database with scripts/migrate.py --db-url URL (or make migrate), or run "
    "scripts/generate_synthetic_data.py --reset to create a fresh one"
)
DATA_FIX = "fix those rows, or regenerate the data with scripts/generate_synthetic_data.py --reset"

# Inclusive (low, high) bounds; None means unbounded. Over-capacity (current > max) is real
# data and allowed; negative counts are not.
_RANGES: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "mentors": {
        "experience_years": (0, None),
        "availability_hours": (0, 168),
        "max_mentees": (0, None),
        "current_mentees": (0, None),
        "rating": (1, 5),
        "acceptance_rate": (0, 1),
        "total_mentees": (0, None),
    },
    "mentees": {"availability_hours": (0, 168)},
    "interactions": {"overall_rating": (1, 5), "meetings_held": (0, None)},
    "recommendation_feedback": {"recommended_rank": (1, None)},
}
_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "mentees": {"current_level": LEVELS},
    "interactions": {"status": STATUSES},
}
_JSON_OBJECT_TABLES = {"recommendation_lists", "recommendation_feedback"}  # JSON objects, not lists
_TZ_PATTERN = r"UTC(?:([+-])(\d{1,2})(?::([0-5]\d))?)?"


@dataclass(frozen=True)
class Dataset:
    """The three frames a model needs, loaded together and checked against each other."""

    mentors: pd.DataFrame
    mentees: pd.DataFrame
    interactions: pd.DataFrame


_AT_HEAD: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Engines whose database was found at the schema head (see :func:`_check_revision`)."""


def create_schema(engine: Engine | Connection) -> None:
    """Create every table of :mod:`db.schema` that does not exist yet, stamped at the head.

    A fresh database is then at the newest migration (:mod:`db.migrate`). A database behind
    it is refused with a SchemaError that names ``scripts/migrate.py``: creating the new
    tables beside old ones would stamp a schema that is not there. With an engine this
    commits; with a connection it runs in the caller's transaction.
    """
    from db.migrate import check_revision, current_revision, stamp  # alembic: 0.1-0.2 s to import

    with _transaction(engine) as conn:
        check_revision(conn)
        metadata.create_all(conn)
        if current_revision(conn) is None:
            stamp(conn, "head")
    _AT_HEAD.add(engine.engine if isinstance(engine, Connection) else engine)


def drop_schema(engine: Engine | Connection) -> None:
    """Drop every table of :mod:`db.schema` (children first) and the migration stamp
    (``alembic_version``); missing ones are skipped. Commits as :func:`create_schema` does."""
    from db.migrate import VERSION_TABLE

    with _transaction(engine) as conn:
        metadata.drop_all(conn)
        version = Table(VERSION_TABLE, MetaData())
        version.drop(conn, checkfirst=True)
    _AT_HEAD.discard(engine.engine if isinstance(engine, Connection) else engine)


def load_mentors(engine: Engine | Connection, *, active_only: bool = False) -> pd.DataFrame:
    """All mentors (or only ``active`` ones), validated, sorted by ``mentor_id``."""
    with connect(engine) as conn:
        frame = _load_table(conn, mentors)
    if active_only:
        frame = frame[frame["active"]].reset_index(drop=True)
    return frame


def load_mentees(engine: Engine | Connection) -> pd.DataFrame:
    """All mentees, validated, sorted by ``mentee_id``."""
    with connect(engine) as conn:
        return _load_table(conn, mentees)


def load_interactions(engine: Engine | Connection) -> pd.DataFrame:
    """All interactions, validated, sorted by ``interaction_id``."""
    with connect(engine) as conn:
        return _load_table(conn, interactions)


def load_feedback(engine: Engine | Connection) -> pd.DataFrame:
    """All recommendation feedback rows, validated, sorted by ``feedback_id``."""
    with connect(engine) as conn:
        return _load_table(conn, recommendation_feedback)


def load_dataset(engine: Engine | Connection) -> Dataset:
    """Mentors, mentees and interactions read in one transaction, with references checked.

    Foreign keys are enforced by the schema, but a database mapped from elsewhere may lack
    them; an interaction pointing at an unknown mentor or mentee is a DataValidationError.
    """
    with connect(engine) as conn, conn.begin():
        dataset = Dataset(
            mentors=_load_table(conn, mentors),
            mentees=_load_table(conn, mentees),
            interactions=_load_table(conn, interactions),
        )
    check_references(dataset.interactions, dataset.mentors, dataset.mentees)
    return dataset


def read_dataset(db_url: str | None = None) -> Dataset:
    """:func:`load_dataset` of the database at ``db_url`` (None: ``$MENTOR_MATCH_DB_URL`` or the
    default SQLite file), with the engine disposed of afterwards: the one-off read of a job."""
    engine = get_engine(db_url)
    try:
        return load_dataset(engine)
    finally:
        engine.dispose()


def check_references(
    interaction_frame: pd.DataFrame, mentor_frame: pd.DataFrame, mentee_frame: pd.DataFrame
) -> None:
    """Raise DataValidationError if an interaction names a mentor or mentee that is not there."""
    for id_column, table, frame in (
        ("mentor_id", "mentors", mentor_frame),
        ("mentee_id", "mentees", mentee_frame),
    ):
        dangling = ~interaction_frame[id_column].isin(frame[id_column])
        raise_for_rows(
            "interactions",
            interaction_frame,
            dangling,
            f"point at a {id_column} that is not in table '{table}'",
        )


def timezone_offset_hours(series: pd.Series) -> np.ndarray:
    """UTC offsets in hours of ``"UTC"``, ``"UTC+1"``, ``"UTC-5"``, ``"UTC+5:30"`` strings.

    Raises DataValidationError naming up to five values that do not parse.
    """
    offsets, bad = _parse_timezones(series)
    if bad.any():
        values = pd.Series(series)[bad]
        shown = ", ".join(repr(v) for v in values.head(5).tolist())
        raise DataValidationError(
            f"{int(bad.sum())} timezone value(s) do not parse ({shown}); use 'UTC', "
            "'UTC+1', 'UTC-5' or 'UTC+5:30' with hours up to 14."
        )
    return offsets


def validate_frame(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Check ``frame`` against the rules of ``table`` and return it in the canonical dtypes.

    Used on every load and by the synthetic generator before it writes, so both sides
    produce identical frames.
    """
    id_column = _id_column(table)
    missing = [c.name for c in table.columns if c.name not in frame.columns]
    if missing:
        raise SchemaError(
            f"Frame for table '{table.name}' lacks column(s) {', '.join(missing)}; "
            "build it with the columns of db/schema.py."
        )
    frame = frame[[c.name for c in table.columns]]
    for column in table.columns:
        if not column.nullable or column.primary_key:
            raise_for_rows(
                table.name, frame, frame[column.name].isna(), f"have NULL in required column '{column.name}'"
            )
    frame = _coerce(table, frame)
    duplicated = frame[id_column].duplicated(keep=False)
    raise_for_rows(table.name, frame, duplicated, f"share a duplicate {id_column}")
    for column in table.columns:
        if isinstance(column.type, JSON) and table.name not in _JSON_OBJECT_TABLES:
            not_list = ~frame[column.name].map(lambda v: isinstance(v, list)).astype(bool)
            raise_for_rows(table.name, frame, not_list, f"have a '{column.name}' that is not a list")
    for name, (low, high) in _RANGES.get(table.name, {}).items():
        values = frame[name]
        outside = (values < low if low is not None else False) | (values > high if high is not None else False)
        bounds = f"{low}-{high}" if high is not None else f">= {low}"
        raise_for_rows(table.name, frame, outside & values.notna(), f"have {name} outside {bounds}")
    for name, allowed in _CHOICES.get(table.name, {}).items():
        unknown = ~frame[name].isin(allowed)
        raise_for_rows(table.name, frame, unknown, f"have {name} not in {', '.join(allowed)}")
    if "timezone" in frame.columns:
        _, bad = _parse_timezones(frame["timezone"])
        raise_for_rows(
            table.name, frame, bad, "have a timezone that does not parse (use e.g. 'UTC', 'UTC-5', 'UTC+5:30')"
        )
    return frame.sort_values(id_column, kind="stable").reset_index(drop=True)


def table_row_counts(engine: Engine | Connection) -> dict[str, int]:
    """Rows per existing project table (core and truth tables); missing tables are left out."""
    with connect(engine) as conn:
        present = set(inspect(conn).get_table_names())
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (*CORE_TABLES, *TRUTH_TABLES)
            if table.name in present
        }


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """The caller's connection as it is, or a new one whose transaction commits at the end."""
    with connect(bind) as conn:
        if isinstance(bind, Connection):
            yield conn
        else:
            with conn.begin():
                yield conn


def _load_table(conn: Connection, table: Table) -> pd.DataFrame:
    check_table(conn, table)
    id_column = _id_column(table)
    result = conn.execute(select(table).order_by(table.c[id_column]))
    frame = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
    logger.debug("loaded %d rows from %s", len(frame), table.name)
    return validate_frame(table, frame)


def check_table(conn: Connection, table: Table) -> None:
    """Refuse a database behind the newest migration, a missing table or missing columns."""
    _check_revision(conn)
    inspector = inspect(conn)
    if not inspector.has_table(table.name):
        raise SchemaError(f"Table '{table.name}' does not exist in the database; {SCHEMA_FIX}.")
    present = {c["name"] for c in inspector.get_columns(table.name)}
    missing = [c.name for c in table.columns if c.name not in present]
    if missing:
        raise SchemaError(
            f"Table '{table.name}' lacks column(s) {', '.join(missing)}; {SCHEMA_FIX}."
        )


def _check_revision(conn: Connection) -> None:
    """The database is at the schema head (:func:`db.migrate.check_revision`), asked once per
    engine: a passed check is remembered, so repeated loads pay nothing for it."""
    if conn.engine in _AT_HEAD:
        return
    from db.migrate import check_revision  # alembic: 0.1-0.2 s to import, needed once per engine

    check_revision(conn)
    _AT_HEAD.add(conn.engine)


def _coerce(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical dtype of every column, derived from the schema's column types."""
    out = {}
    for column in table.columns:
        values = frame[column.name]
        kind = column.type
        try:
            if isinstance(kind, Boolean):
                out[column.name] = values.astype("boolean" if column.nullable else bool)
            elif isinstance(kind, Integer):  # nullable: e.g. a logged slot of an ad-hoc profile
                out[column.name] = values.astype("Int64" if column.nullable else "int64")
            elif isinstance(kind, Float):
                out[column.name] = pd.to_numeric(values).astype("float64")
            elif isinstance(kind, DateTime):
                out[column.name] = pd.to_datetime(values).astype(TIMESTAMP_DTYPE)
            elif isinstance(kind, JSON):
                out[column.name] = values.astype(object)
            elif column.nullable:
                out[column.name] = values.astype(object).where(values.notna(), None)
            else:
                out[column.name] = values.astype("str")
        except (ValueError, TypeError) as exc:
            raise DataValidationError(
                f"Table '{table.name}': column '{column.name}' holds values that are not "
                f"{kind.__class__.__name__} ({exc}); {DATA_FIX}."
            ) from None
    return pd.DataFrame(out, index=frame.index)


def _parse_timezones(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(offset hours, bad mask), vectorised with the str accessor."""
    text = pd.Series(series, dtype="str").str.strip()
    matched = text.str.fullmatch(_TZ_PATTERN).fillna(False).astype(bool).to_numpy()
    parts = text.str.extract(f"^{_TZ_PATTERN}$")
    sign = np.where(parts[0].to_numpy(dtype=object) == "-", -1.0, 1.0)
    hours = pd.to_numeric(parts[1]).fillna(0.0).to_numpy(dtype=float)
    minutes = pd.to_numeric(parts[2]).fillna(0.0).to_numpy(dtype=float)
    bad = ~matched | (hours > 14)
    return np.where(bad, np.nan, sign * (hours + minutes / 60.0)), bad


def raise_for_rows(table: str, frame: pd.DataFrame, mask, problem: str) -> None:
    """DataValidationError naming ``table``, how many rows ``mask`` marks and some of their ids."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    id_column = frame.columns[0]
    ids = frame.loc[mask, id_column].head(5).tolist()
    count = int(mask.sum())
    more = ", ..." if count > 5 else ""
    raise DataValidationError(
        f"Table '{table}': {count} row(s) {problem} ({id_column} "
        f"{', '.join(str(i) for i in ids)}{more}); {DATA_FIX}."
    )


def _id_column(table: Table) -> str:
    return next(iter(table.primary_key.columns)).name


def read_id_columns(path: str | Path, flag: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The id ``columns`` of the CSV file ``path`` (given as the command-line ``flag``) as
    int64; a missing file or column, or an id that is not an integer, is an
    :class:`InvalidParameterError` naming the flag, the file and the fix."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidParameterError(f"{flag} {str(path)!r} cannot be read as CSV: {exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidParameterError(
            f"{flag} {str(path)!r} has no {', '.join(missing)} column (it has {list(frame.columns)}); "
            f"give a header line with {', '.join(columns)}."
        )
    numeric = frame[list(columns)].apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().any(axis=1) | (numeric != numeric.round()).any(axis=1)
    if bad.any():
        raise InvalidParameterError(
            f"{flag} {str(path)!r}: {int(bad.sum())} row(s) have an id that is not an integer (first: line "
            f"{int(bad.to_numpy().argmax()) + 2}); ids are integers."
        )
    return numeric.astype("int64")
