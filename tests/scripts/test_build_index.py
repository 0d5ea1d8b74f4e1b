"""scripts/build_index.py and index.build_index_from_db against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, insert, update

from db.loading import load_mentors
from db.schema import SLOTS, STYLES, mentees, mentors, metadata
from index import MentorIndex, build_index_from_db, check_staleness
from mentor_match.errors import InvalidParameterError

ROOT = Path(__file__).resolve().parents[2]
TOPICS = ["Kubernetes", "product discovery", "deep learning", "React", "SQL tuning", "hiring"]
ROLES = ["staff engineer", "product lead", "data scientist", "designer", "SRE"]
T0 = datetime(2024, 5, 1, 9, 0)


def mentor_row(i: int, active: bool = True) -> dict:
    topic = TOPICS[i % len(TOPICS)]
    return {
        "mentor_id": i, "name": f"Mentor {i}", "email": f"m{i}@example.org",
        "bio": f"{ROLES[i % len(ROLES)].capitalize()} ({i % 17 + 2} years); I coach on {topic} "
               f"and {TOPICS[(i * 7 + 1) % len(TOPICS)]}, case {i}.",
        "industry": "software", "experience_years": i % 17 + 2, "domains": [topic],
        "skills": [topic.lower()], "mentorship_style": STYLES[i % len(STYLES)],
        "availability": list(SLOTS[i % 5 : i % 5 + 2]), "availability_hours": 3.0,
        "timezone": "UTC+1", "max_mentees": 3, "current_mentees": 1, "rating": 4.5,
        "acceptance_rate": 0.6, "total_mentees": 4, "active": active,
        "created_at": T0, "updated_at": T0 + timedelta(days=i),
    }


def mentee_row(i: int) -> dict:
    return {
        "mentee_id": i, "name": f"Mentee {i}", "email": f"e{i}@example.org",
        "goals": f"I want to get better at {TOPICS[i % len(TOPICS)]} within a year ({i}).",
        "industry": "software", "current_level": "junior", "desired_domains": [TOPICS[i % 6]],
        "current_skills": ["python"], "preferred_style": STYLES[0], "availability": [SLOTS[0]],
        "availability_hours": 2.0, "timezone": "UTC", "active": True,
        "created_at": T0, "updated_at": T0,
    }


def make_world(url: str, n_mentors: int = 30, n_mentees: int = 8) -> None:
    """30 mentors (ids 1..30, 27 active) and 8 mentees, written with db.schema."""
    engine = create_engine(url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(insert(mentors), [mentor_row(i, active=i % 10 != 0) for i in range(1, n_mentors + 1)])
        conn.execute(insert(mentees), [mentee_row(i) for i in range(1, n_mentees + 1)])
    engine.dispose()


def refresh(url: str) -> None:
    """Three bios rewritten, mentor 31 added, mentor 1 deactivated."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for i in (2, 3, 4):
            conn.execute(update(mentors).where(mentors.c.mentor_id == i).values(
                bio=f"Now focused on Rust and embedded systems, take {i}.",
                updated_at=T0 + timedelta(days=400),
            ))
        conn.execute(insert(mentors), [mentor_row(31)])
        conn.execute(update(mentors).where(mentors.c.mentor_id == 1).values(active=False))
    engine.dispose()


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "scripts/build_index.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def active_mentors(url: str):
    engine = create_engine(url)
    try:
        return load_mentors(engine, active_only=True)
    finally:
        engine.dispose()


@pytest.fixture()
def own_pg_url(new_pg_database) -> str:
    """A PostgreSQL database of this test's own."""
    return new_pg_database()


@pytest.mark.slow
def test_rebuild_after_refresh_encodes_only_changed_and_new_mentors(sqlite_url, tmp_path, encoder):
    make_world(sqlite_url)
    artifacts = tmp_path / "artifacts"
    first = build_index_from_db(sqlite_url, artifacts, progress=False, encoder=encoder)
    assert (first["mentors"], first.encoded, first.cached) == (27, 27, 0)
    assert (first.mentees, first.mentees_encoded, first.index_type) == (8, 8, "Flat")
    assert first.self_retrieval == 1.0 and Path(first.path) == artifacts / "index"  # Flat finds every mentor
    index = MentorIndex.load(artifacts / "index", expected_encoder=encoder)
    assert sorted(index.ids.tolist()) == [i for i in range(1, 31) if i % 10]
    assert not check_staleness(artifacts / "index", active_mentors(sqlite_url)).stale

    refresh(sqlite_url)
    report = check_staleness(artifacts / "index", active_mentors(sqlite_url))
    assert report.stale and (report.added, report.removed, report.changed) == (1, 1, 3)

    done = run_script("--db-url", sqlite_url, "--artifacts", str(artifacts), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["mentors"], summary["encoded"], summary["cached"]) == (27, 4, 23)
    assert summary["mentees_encoded"] == 0 and summary["index_type"] == "Flat"
    assert summary["seconds"] > 0 and summary["path"] == str(artifacts / "index")
    assert not check_staleness(artifacts / "index", active_mentors(sqlite_url)).stale


@pytest.mark.postgres
def test_build_from_postgresql(own_pg_url, tmp_path, encoder):
    make_world(own_pg_url, n_mentors=12, n_mentees=3)
    summary = build_index_from_db(own_pg_url, tmp_path, spec="HNSW32", progress=False, encoder=encoder)
    assert (summary.mentors, summary.index_type, summary.mentees) == (11, "HNSW32", 3)
    assert summary.recall_at_100 == 1.0
    assert not check_staleness(tmp_path / "index", active_mentors(own_pg_url)).stale


def test_empty_mentors_table_fails_in_one_line_and_keeps_the_previous_index(
    sqlite_url, tmp_path, encoder
):
    make_world(sqlite_url, n_mentors=5, n_mentees=2)
    artifacts = tmp_path / "artifacts"
    build_index_from_db(sqlite_url, artifacts, progress=False, encoder=encoder)
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(delete(mentors))
    engine.dispose()
    done = run_script("--db-url", sqlite_url, "--artifacts", str(artifacts))
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "No active mentors" in done.stderr and "previous index was left in place" in done.stderr
    assert MentorIndex.load(artifacts / "index").manifest["count"] == 5


def test_unreachable_database_and_unwritable_folder_fail_in_one_line(sqlite_url, tmp_path):
    done = run_script("--db-url", "postgresql://nobody@127.0.0.1:1/none", "--artifacts", str(tmp_path))
    assert done.returncode == 1 and "Cannot reach database" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    make_world(sqlite_url, n_mentors=3, n_mentees=1)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run_script("--db-url", sqlite_url, "--artifacts", str(blocker / "artifacts"))
    assert done.returncode == 1 and "Cannot write to the artifacts folder" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with pytest.raises(InvalidParameterError, match="index_factory"):
        build_index_from_db(sqlite_url, tmp_path, spec="NoSuchIndex", progress=False)
