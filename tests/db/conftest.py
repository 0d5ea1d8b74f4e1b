"""Fixtures of the data-layer tests: small generated worlds and a private PostgreSQL database."""

from __future__ import annotations

import pytest

from db import generate_world


@pytest.fixture(scope="session")
def small_world():
    """60 mentors, 120 mentees, 6 contacts each: big enough for every case, fast to make."""
    return generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=7)


@pytest.fixture(scope="session")
def db_pg_url(new_pg_database) -> str:
    """A PostgreSQL database of our own, so dropping and refilling tables here cannot
    disturb other packages' tests."""
    return new_pg_database()
