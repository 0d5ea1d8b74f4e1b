"""Fixtures of the data-layer tests: small generated worlds and a private PostgreSQL database."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import generate_world


@pytest.fixture(scope="session")
def small_world():
    """60 mentors, 120 mentees, 6 contacts each: big enough for every case, fast to make."""
    return generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=7)


@pytest.fixture(scope="session")
def db_pg_url(pg_server_url: str):
    """A PostgreSQL database of our own, so dropping and refilling tables here cannot
    disturb other packages' tests that share the session database."""
    base = make_url(pg_server_url).set(drivername="postgresql+psycopg2")
    name = f"mm_dbtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
