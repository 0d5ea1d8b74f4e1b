"""Shared fixtures: databases (SQLite and a throw-away PostgreSQL database) and the real encoder.

The MiniLM encoder is loaded once per test session. PostgreSQL tests run against a database
created for this session and dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PG_ENV = "MENTOR_MATCH_TEST_PG_URL"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def new_pg_database(pg_server_url: str):
    """Factory: each call creates a fresh PostgreSQL database and returns its URL.

    Every database it made is dropped at the end of the session, so runs never see each
    other's rows and a test that drops tables cannot disturb another's.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(pg_server_url).set(drivername="postgresql+psycopg2")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"mm_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url(new_pg_database) -> str:
    """URL of a PostgreSQL database of this session's own."""
    return new_pg_database()


@pytest.fixture()
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mentor_match.db'}"


@pytest.fixture(scope="session")
def encoder():
    """The real all-MiniLM-L6-v2 encoder, loaded once per session."""
    from embeddings import Encoder

    return Encoder()


@pytest.fixture(scope="session")
def small_world():
    """60 mentors, 120 mentees, 6 contacts each: big enough for every data-layer case, fast to make."""
    from synthetic import generate_world

    return generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=7)


@pytest.fixture(scope="session")
def db_pg_url(new_pg_database) -> str:
    """A PostgreSQL database of the data-layer tests' own, so dropping and refilling tables
    there cannot disturb other packages' tests."""
    return new_pg_database()


@pytest.fixture(scope="session")
def random_vector_world():
    """Factory: a generated world served through real FAISS and XGBoost, with random unit
    vectors for bios and goals (logic that does not depend on meaning needs no MiniLM).

    ``make(n_mentors, n_mentees, interactions_per_mentee, seed, dim)`` returns
    ``(world, recommender, bios, goals, ranker)``.
    """
    import numpy as np

    from index import MentorIndex
    from ranking.features import interaction_labels, pair_features
    from ranking.models import Ranker
    from retrieval import Recommender
    from synthetic import generate_world

    def unit(rng, n: int, dim: int):
        vectors = rng.standard_normal((n, dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def make(n_mentors: int, n_mentees: int, interactions_per_mentee: int, seed: int, dim: int):
        world = generate_world(
            n_mentors=n_mentors, n_mentees=n_mentees, interactions_per_mentee=interactions_per_mentee, seed=seed
        )
        rng = np.random.default_rng(seed)
        bios, goals = unit(rng, len(world.mentors), dim), unit(rng, len(world.mentees), dim)
        index = MentorIndex.build(world.mentors["mentor_id"], bios, "Flat", encoder_identity="random-unit")
        labels = interaction_labels(world.interactions)
        features = pair_features(world.mentees, world.mentors, labels)
        ranker = Ranker(n_estimators=10, early_stopping_rounds=None).fit(
            features, labels["relevance"], labels["mentee_id"]
        )
        recommender = Recommender.from_components(
            index, ranker, world.mentors, world.mentees, world.interactions, goals
        )
        return world, recommender, bios, goals, ranker

    return make


@pytest.fixture(scope="session")
def training_world():
    """80 mentors, 250 mentees, 8 contacts each (seed 3): the world the training and the
    model-comparison tests learn from."""
    from synthetic import generate_world

    return generate_world(n_mentors=80, n_mentees=250, interactions_per_mentee=8, seed=3)
