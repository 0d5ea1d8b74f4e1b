"""Loading and validation: round trips on SQLite and PostgreSQL, and each rule on a bad table."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, text

from db import (
    create_schema,
    drop_schema,
    get_engine,
    load_dataset,
    load_feedback,
    load_interactions,
    load_mentees,
    load_mentors,
    mentors,
    timezone_offset_hours,
)
from mentor_match.errors import DatabaseUnavailableError, DataValidationError, SchemaError
from synthetic import load_truth, write_world


def _assert_world_loaded(engine, world) -> None:
    dataset = load_dataset(engine)
    pd.testing.assert_frame_equal(dataset.mentors, world.mentors)
    pd.testing.assert_frame_equal(dataset.mentees, world.mentees)
    pd.testing.assert_frame_equal(dataset.interactions, world.interactions)
    truth_mentees, truth_mentors = load_truth(engine, dataset.mentees, dataset.mentors)
    expected_mentees, expected_mentors = world.with_truth()
    pd.testing.assert_frame_equal(truth_mentees, expected_mentees)
    pd.testing.assert_frame_equal(truth_mentors, expected_mentors)


def _check_shapes(frame: pd.DataFrame) -> None:
    assert isinstance(frame["domains"].iloc[0], list)
    assert frame["mentor_id"].dtype == np.int64
    assert frame["mentor_id"].is_monotonic_increasing
    assert frame["created_at"].dtype == "datetime64[ns]"
    assert frame["rating"].isna().any()  # new mentors have no rating: NaN, not None


def test_round_trip_sqlite(small_world, sqlite_url):
    engine = get_engine(sqlite_url)
    write_world(engine, small_world, progress=False)
    _assert_world_loaded(engine, small_world)
    _check_shapes(load_mentors(engine))
    assert load_feedback(engine).empty
    assert load_mentors(engine, active_only=True)["active"].all()
    assert len(load_mentors(engine, active_only=True)) == int(small_world.mentors["active"].sum())


@pytest.mark.postgres
def test_round_trip_postgres(small_world, db_pg_url):
    engine = get_engine(db_pg_url)
    write_world(engine, small_world, reset=True, progress=False)
    _assert_world_loaded(engine, small_world)
    _check_shapes(load_mentors(engine))
    engine.dispose()


@pytest.fixture(scope="module")
def written_db(small_world, tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "world.db"
    engine = get_engine(f"sqlite:///{path}")
    write_world(engine, small_world, progress=False)
    engine.dispose()
    return path


@pytest.fixture()
def bad_db(written_db, tmp_path):
    """A copy of a good database to damage; the engine does not enforce foreign keys."""
    path = tmp_path / "bad.db"
    shutil.copy(written_db, path)
    engine = create_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("statement", "loader", "expected"),
    [
        ("UPDATE mentors SET rating = 7.5 WHERE mentor_id = 5", load_mentors, "rating outside 1-5"),
        ("UPDATE mentors SET acceptance_rate = 1.2 WHERE mentor_id = 5", load_mentors, "acceptance_rate"),
        ("UPDATE mentors SET current_mentees = -1 WHERE mentor_id = 5", load_mentors, "current_mentees"),
        ("UPDATE mentors SET timezone = 'Mars/Olympus' WHERE mentor_id = 5", load_mentors, "timezone"),
        ("UPDATE mentors SET domains = '\"ml\"' WHERE mentor_id = 5", load_mentors, "not a list"),
        ("UPDATE mentees SET current_level = 'guru' WHERE mentee_id = 5", load_mentees, "current_level"),
        ("UPDATE interactions SET status = 'lost' WHERE interaction_id = 5", load_interactions, "status"),
        ("UPDATE interactions SET overall_rating = 0 WHERE interaction_id = 5", load_interactions, "overall_rating"),
    ],
)
def test_out_of_range_values_name_table_and_row(bad_db, statement, loader, expected):
    with bad_db.begin() as conn:
        conn.execute(text(statement))
    table = statement.split()[1]
    with pytest.raises(DataValidationError) as caught:
        loader(bad_db)
    message = str(caught.value)
    assert f"Table '{table}'" in message and expected in message
    assert " 5)" in message  # the offending id
    assert "generate_synthetic_data.py" in message  # the fix


def test_dangling_interaction_is_refused(bad_db, small_world):
    victim = int(small_world.interactions["mentor_id"].iloc[0])
    with bad_db.begin() as conn:
        conn.execute(text("DELETE FROM synthetic_mentor_truth WHERE mentor_id = :m"), {"m": victim})
        conn.execute(text("DELETE FROM mentors WHERE mentor_id = :m"), {"m": victim})
    with pytest.raises(DataValidationError, match=r"Table 'interactions'.*mentor_id that is not in table 'mentors'"):
        load_dataset(bad_db)


def _loose_mentors(engine, drop: str | None = None) -> Table:
    """A mentors table without constraints (as a database mapped from elsewhere may have)."""
    loose = MetaData()
    columns = [Column(c.name, c.type) for c in mentors.columns if c.name != drop]
    table = Table("mentors", loose, *columns)
    loose.create_all(engine)
    return table


def test_missing_table(sqlite_url):
    engine = get_engine(sqlite_url)
    with pytest.raises(SchemaError, match=r"Table 'mentors' does not exist.*generate_synthetic_data.py"):
        load_mentors(engine)


def test_missing_column(sqlite_url):
    engine = get_engine(sqlite_url)
    _loose_mentors(engine, drop="rating")
    with pytest.raises(SchemaError, match=r"Table 'mentors' lacks column\(s\) rating"):
        load_mentors(engine)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"mentor_id": [9, 9]}, r"2 row\(s\) share a duplicate mentor_id \(mentor_id 9, 9\)"),
        ({"mentor_id": [3, 4], "bio": ["fine", None]}, r"1 row\(s\) have NULL in required column 'bio' \(mentor_id 4\)"),
    ],
)
def test_rows_a_constrained_schema_would_refuse(sqlite_url, small_world, change, expected):
    engine = get_engine(sqlite_url)
    table = _loose_mentors(engine)
    rows = small_world.mentors.head(2).assign(**change)
    rows = rows.astype(object).where(rows.notna(), None)
    rows["created_at"] = [t.to_pydatetime() for t in rows["created_at"]]
    rows["updated_at"] = [t.to_pydatetime() for t in rows["updated_at"]]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows.to_dict("records"))
    with pytest.raises(DataValidationError, match=rf"Table 'mentors': {expected}"):
        load_mentors(engine)


def test_create_and_drop_schema(sqlite_url):
    engine = get_engine(sqlite_url)
    create_schema(engine)
    create_schema(engine)  # idempotent
    assert load_mentors(engine).empty and load_interactions(engine).empty
    drop_schema(engine)
    with pytest.raises(SchemaError):
        load_mentees(engine)


def test_unreachable_database_is_one_clear_line():
    engine = get_engine("postgresql://postgres@127.0.0.1:1/nowhere", check=False)
    with pytest.raises(DatabaseUnavailableError) as caught:
        load_mentors(engine)
    message = str(caught.value)
    assert "Cannot reach database" in message and "127.0.0.1:1" in message
    assert "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_timezone_offsets():
    values = pd.Series(["UTC", "UTC+1", "UTC-5", "UTC+5:30", "UTC-3:30", "UTC+14"])
    np.testing.assert_allclose(timezone_offset_hours(values), [0, 1, -5, 5.5, -3.5, 14])
    assert timezone_offset_hours(pd.Series([], dtype="str")).shape == (0,)


@pytest.mark.parametrize("bad", ["GMT+1", "UTC+15", "UTC+5:75", "utc 3", ""])
def test_timezone_bad_values(bad):
    with pytest.raises(DataValidationError, match="timezone value"):
        timezone_offset_hours(pd.Series(["UTC", bad]))
