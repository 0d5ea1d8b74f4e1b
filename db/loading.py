"""Validated loading of the mentor-match tables into pandas frames.

Each ``load_*`` function returns one row per record with the schema's column names as
columns: ids as int64 columns (not the index) sorted ascending, list columns as Python
lists, timestamps as ``datetime64[ns]``, a missing rating as NaN, nullable booleans as
pandas' ``boolean`` dtype. Every load checks the rules the rest of the project relies on
and raises a project error that names the table, the offending rows and the fix, so that
bad data stops at the boundary instead of surfacing as a strange model score later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
    Table,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import InterfaceError, OperationalError

from db.engine import ENV_VAR
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
from mentor_match.errors import DatabaseUnavailableError, DataValidationError, SchemaError

logger = logging.getLogger(__name__)

TIMESTAMP_DTYPE = "datetime64[ns]"
SCHEMA_FIX = (
    "run scripts/generate_synthetic_data.py --reset to create a fresh database, or migrate "
    "this one to the schema in db/schema.py"
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


def create_schema(engine: Engine | Connection) -> None:
    """Create every table of :mod:`db.schema` that does not exist yet."""
    with connect(engine) as conn:
        metadata.create_all(conn)
        conn.commit()


def drop_schema(engine: Engine | Connection) -> None:
    """Drop every table of :mod:`db.schema` (children first); missing ones are skipped."""
    with connect(engine) as conn:
        metadata.drop_all(conn)
        conn.commit()


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


def check_references(
    interaction_frame: pd.DataFrame, mentor_frame: pd.DataFrame, mentee_frame: pd.DataFrame
) -> None:
    """Raise DataValidationError if an interaction names a mentor or mentee that is not there."""
    for id_column, table, frame in (
        ("mentor_id", "mentors", mentor_frame),
        ("mentee_id", "mentees", mentee_frame),
    ):
        dangling = ~interaction_frame[id_column].isin(frame[id_column])
        _raise_for_rows(
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
            _raise_for_rows(
                table.name, frame, frame[column.name].isna(), f"have NULL in required column '{column.name}'"
            )
    frame = _coerce(table, frame)
    duplicated = frame[id_column].duplicated(keep=False)
    _raise_for_rows(table.name, frame, duplicated, f"share a duplicate {id_column}")
    for column in table.columns:
        if isinstance(column.type, JSON) and table.name not in _JSON_OBJECT_TABLES:
            not_list = ~frame[column.name].map(lambda v: isinstance(v, list)).astype(bool)
            _raise_for_rows(table.name, frame, not_list, f"have a '{column.name}' that is not a list")
    for name, (low, high) in _RANGES.get(table.name, {}).items():
        values = frame[name]
        outside = (values < low if low is not None else False) | (values > high if high is not None else False)
        bounds = f"{low}-{high}" if high is not None else f">= {low}"
        _raise_for_rows(table.name, frame, outside & values.notna(), f"have {name} outside {bounds}")
    for name, allowed in _CHOICES.get(table.name, {}).items():
        unknown = ~frame[name].isin(allowed)
        _raise_for_rows(table.name, frame, unknown, f"have {name} not in {', '.join(allowed)}")
    if "timezone" in frame.columns:
        _, bad = _parse_timezones(frame["timezone"])
        _raise_for_rows(
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


def _load_table(conn: Connection, table: Table) -> pd.DataFrame:
    _check_table(conn, table)
    id_column = _id_column(table)
    result = conn.execute(select(table).order_by(table.c[id_column]))
    frame = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
    logger.debug("loaded %d rows from %s", len(frame), table.name)
    return validate_frame(table, frame)


def _check_table(conn: Connection, table: Table) -> None:
    inspector = inspect(conn)
    if not inspector.has_table(table.name):
        raise SchemaError(f"Table '{table.name}' does not exist in the database; {SCHEMA_FIX}.")
    present = {c["name"] for c in inspector.get_columns(table.name)}
    missing = [c.name for c in table.columns if c.name not in present]
    if missing:
        raise SchemaError(
            f"Table '{table.name}' lacks column(s) {', '.join(missing)}; {SCHEMA_FIX}."
        )


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


def _raise_for_rows(table: str, frame: pd.DataFrame, mask, problem: str) -> None:
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
