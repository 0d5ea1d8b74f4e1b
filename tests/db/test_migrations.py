"""Schema migrations on SQLite and PostgreSQL: databases of the schema before the log, with a
small generated world in them, reach the head with every row intact and exactly the schema of
db/schema.py; a database behind the head is refused with the command that upgrades it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, func, inspect, select, text

from db.engine import get_engine
from db.loading import create_schema, drop_schema, load_interactions, load_mentors, validate_frame
from db.migrate import (
    VERSION_TABLE,
    current_revision,
    downgrade,
    head_revision,
    revisions,
    stamp,
    upgrade,
)
from db.schema import LOG_TABLES, metadata
from db.writing import frame_records
from mentor_match.errors import SchemaError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "migrate.py"
_spec = importlib.util.spec_from_file_location("schema_f143745", Path(__file__).with_name("schema_f143745.py"))
old = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(old)

NEW_COLUMNS = {
    "interactions": ["list_id"],
    "recommendation_feedback": ["list_id", "score", "similarity", "propensity", "features"],
}
T0 = datetime(2024, 5, 1, 12, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database of each back end."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return request.getfixturevalue("new_pg_database")()


@pytest.fixture()
def engine(db_url):
    engine = get_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def world():
    from synthetic import generate_world

    return generate_world(n_mentors=25, n_mentees=40, interactions_per_mentee=4, seed=11)


def fill_old_tables(engine: Engine, world) -> None:
    """The world's rows with the columns the schema before the log has (the frozen tables),
    plus guide-style feedback rows, written with SQL."""
    feedback = pd.DataFrame({
        "feedback_id": [1, 2, 3, 4],
        "mentee_id": world.mentees["mentee_id"].head(4).to_numpy(),
        "mentor_id": world.mentors["mentor_id"].head(4).to_numpy(),
        "recommended_rank": [1, 2, 3, 1],
        "was_accepted": [True, False, None, True],
        "feedback_date": [T0] * 4,
        "model_version": ["v1", "v1", None, "v2"],
        "variant": ["control", None, "control", "b"],
    })
    frames = [
        (old.mentors, world.mentors),
        (old.mentees, world.mentees),
        (old.synthetic_mentor_truth, world.mentor_truth),
        (old.synthetic_mentee_truth, world.mentee_truth),
        (old.interactions, world.interactions),
        (old.recommendation_feedback, feedback),
    ]
    with engine.begin() as conn:
        for table, frame in frames:
            conn.execute(table.insert(), frame_records(frame[[c.name for c in table.columns]]))


def old_rows(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table before the log, its old columns only, in key order."""
    with engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in old.metadata.sorted_tables
        }


def schema_differences(engine: Engine, target=metadata) -> list:
    """What Alembic's autogenerate would change to make the database match ``target``."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), target)


def count(engine: Engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_upgrading_a_0001_database_keeps_every_row_and_adds_the_log_empty(engine, world):
    assert upgrade(engine, "0001").end == "0001"
    fill_old_tables(engine, world)
    before = old_rows(engine)

    result = upgrade(engine)

    assert (result.start, result.recognised, result.end) == ("0001", None, head_revision())
    assert old_rows(engine) == before
    assert len(before["interactions"]) == len(world.interactions) and len(before["recommendation_feedback"]) == 4
    with engine.connect() as conn:
        for name, columns in NEW_COLUMNS.items():
            table = metadata.tables[name]
            values = conn.execute(select(*(table.c[c] for c in columns))).all()
            assert values and all(value is None for row in values for value in row), name
    assert all(count(engine, table) == 0 for table in LOG_TABLES if table.name != "recommendation_feedback")
    assert schema_differences(engine) == []
    # The loaders read the upgraded database as they read one written today.
    pd.testing.assert_frame_equal(load_mentors(engine), validate_frame(metadata.tables["mentors"], world.mentors))
    pd.testing.assert_frame_equal(
        load_interactions(engine), validate_frame(metadata.tables["interactions"], world.interactions)
    )


def test_a_database_made_before_migrations_is_recognised_as_0001_and_upgraded(engine, world):
    old.metadata.create_all(engine)  # what mentor-match's create_schema did before migrations
    fill_old_tables(engine, world)
    before = old_rows(engine)
    assert current_revision(engine) is None

    result = upgrade(engine)

    assert (result.start, result.recognised, result.end) == (None, "0001", head_revision())
    assert "unversioned (tables of revision 0001) -> 0003" in result.describe()
    assert old_rows(engine) == before
    assert schema_differences(engine) == []


def test_migration_0001_builds_the_schema_that_code_before_migrations_made(engine):
    upgrade(engine, "0001")
    assert schema_differences(engine, old.metadata) == []
    assert current_revision(engine) == "0001"


def test_an_empty_database_gets_every_table_at_the_head(engine):
    result = upgrade(engine)
    assert (result.start, result.recognised, result.end) == (None, None, head_revision())
    assert result.describe().endswith("empty -> 0003")
    assert schema_differences(engine) == []
    assert upgrade(engine).describe().endswith("already at 0003 (head)")


def test_an_unversioned_database_with_todays_tables_is_stamped_at_the_head(engine):
    metadata.create_all(engine)  # e.g. written by synthetic.write_world
    result = upgrade(engine)
    assert (result.start, result.recognised, result.end) == (None, head_revision(), head_revision())
    assert schema_differences(engine) == []


def test_downgrade_to_0001_and_upgrade_again_round_trips(engine, world):
    upgrade(engine, "0001")
    fill_old_tables(engine, world)
    before = old_rows(engine)
    upgrade(engine)
    mentee, mentor = int(world.mentees["mentee_id"].iloc[0]), int(world.mentors["mentor_id"].iloc[0])
    with engine.begin() as conn:  # some log: a list of an ad-hoc profile, its slot, an event, a contact from it
        conn.execute(metadata.tables["recommendation_lists"].insert(), [{
            "list_id": "a" * 32, "mentee_id": None, "created_at": T0, "model_version": "m",
            "index_version": "i", "experiment": None, "variant": "control", "policy": "greedy",
            "policy_params": {}, "k": 1, "latency_ms": 1.5,
        }])
        conn.execute(metadata.tables["recommendation_feedback"].insert(), [{
            "feedback_id": 99, "mentee_id": None, "mentor_id": mentor, "recommended_rank": 1,
            "feedback_date": T0, "list_id": "a" * 32, "score": 0.5, "features": {"x": 1.0},
        }])
        conn.execute(metadata.tables["recommendation_events"].insert(), [{
            "event_id": "e1", "list_id": "a" * 32, "mentee_id": mentee, "mentor_id": mentor,
            "kind": "requested", "occurred_at": T0, "recorded_at": T0,
        }])
        first = int(world.interactions["interaction_id"].iloc[0])
        conn.execute(text("UPDATE interactions SET list_id = :l WHERE interaction_id = :i"), {"l": "a" * 32, "i": first})

    result = downgrade(engine, "0001")

    assert (result.start, result.end) == ("0003", "0001")
    assert schema_differences(engine, old.metadata) == []
    assert old_rows(engine) == before  # the ad-hoc slot went with the log, every older row stayed
    assert not {t.name for t in LOG_TABLES} - {"recommendation_feedback"} & set(inspect(engine).get_table_names())

    assert upgrade(engine).end == head_revision()
    assert schema_differences(engine) == []
    assert old_rows(engine) == before


def test_a_failed_migration_leaves_the_database_as_it_was(engine, world):
    old.metadata.create_all(engine)
    fill_old_tables(engine, world)
    with engine.begin() as conn:  # a table in the way of revision 0002, after it made recommendation_lists
        conn.execute(text("CREATE TABLE recommendation_events (event_id INTEGER PRIMARY KEY)"))
    before_rows, before_tables = old_rows(engine), set(inspect(engine).get_table_names())

    with pytest.raises(SchemaError, match=r"Migration of .* to 0003 failed and the database was left unchanged"):
        upgrade(engine)

    assert set(inspect(engine).get_table_names()) == before_tables  # no recommendation_lists, no alembic_version
    assert "list_id" not in {c["name"] for c in inspect(engine).get_columns("interactions")}
    assert old_rows(engine) == before_rows


def test_loaders_refuse_a_database_behind_the_head_and_name_the_command(db_url, world):
    engine = get_engine(db_url)
    upgrade(engine, "0001")
    fill_old_tables(engine, world)
    with pytest.raises(SchemaError) as caught:
        load_mentors(engine)
    message = str(caught.value)
    assert "schema revision 0001, this code needs 0003" in message
    assert f"scripts/migrate.py --db-url {engine.url.render_as_string(hide_password=True)}" in message
    assert "make migrate" in message
    with pytest.raises(SchemaError, match="scripts/migrate.py"):
        create_schema(engine)  # it would stamp a head that is not there
    assert current_revision(engine) == "0001" and "recommendation_lists" not in inspect(engine).get_table_names()

    upgrade(engine)  # the same engine: a failed check was not remembered
    assert len(load_mentors(engine)) == len(world.mentors)
    engine.dispose()


def test_loaders_refuse_a_database_made_before_migrations(engine, world):
    old.metadata.create_all(engine)
    fill_old_tables(engine, world)
    with pytest.raises(SchemaError, match=r"predates schema migrations: its tables are revision 0001.*scripts/migrate.py --db-url"):
        load_mentors(engine)


def test_a_database_ahead_of_this_code_is_refused(engine):
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    fresh = get_engine(engine.url.render_as_string(hide_password=False))
    with pytest.raises(SchemaError, match=r"revision '9999', which this code does not know.*newer mentor-match"):
        load_mentors(fresh)
    with pytest.raises(SchemaError, match="newer mentor-match"):
        upgrade(fresh)
    fresh.dispose()


def test_an_unknown_target_revision_is_refused(engine):
    with pytest.raises(SchemaError, match=r"Unknown schema revision '0007'; the revisions are 0001, 0002, 0003"):
        upgrade(engine, "0007")
    assert inspect(engine).get_table_names() == []


def test_the_revision_is_checked_once_per_engine(engine):
    upgrade(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    load_mentors(engine)
    assert any(VERSION_TABLE in s for s in statements)
    statements.clear()
    load_mentors(engine)
    load_interactions(engine)
    assert statements and not any(VERSION_TABLE in s for s in statements)


def test_create_schema_stamps_the_head_and_drop_schema_removes_the_stamp(engine):
    create_schema(engine)
    assert current_revision(engine) == head_revision() == revisions()[-1]
    assert schema_differences(engine) == []
    create_schema(engine)  # idempotent
    drop_schema(engine)
    assert inspect(engine).get_table_names() == []


def test_stamp_records_a_revision_without_running_it(engine):
    old.metadata.create_all(engine)
    stamp(engine, "0001")
    assert current_revision(engine) == "0001"
    assert upgrade(engine).start == "0001"
    assert schema_differences(engine) == []


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )


def test_the_script_upgrades_a_sqlite_file_and_reports_the_revisions(tmp_path, world):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = get_engine(url)
    old.metadata.create_all(engine)
    fill_old_tables(engine, world)
    engine.dispose()

    shown = _run("--db-url", url, "--show")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"{url}: at no recorded revision; head is 0003"
    done = _run("--db-url", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{url}: unversioned (tables of revision 0001) -> 0003"
    again = _run("--db-url", url)
    assert again.stdout.strip() == f"{url}: already at 0003 (head)"
    bad = _run("--db-url", url, "--revision", "0007")
    assert bad.returncode == 1 and bad.stderr.startswith("error: Unknown schema revision '0007'")
    engine = get_engine(url)
    assert len(load_mentors(engine)) == len(world.mentors)
    engine.dispose()
