"""A served world of N mentors for the benchmarks that run the engine as an operator would.

A small generated base world is written to SQLite, indexed with MiniLM and a ranker trained on
it; then N copies of its mentors (new ids, the source's profile and bio, the source's bio vector
plus noise: :func:`eval.benchmark.catalogue.make_catalogue`) and the base mentees are written to
a second SQLite database, indexed as ``scripts/build_index.py`` would (``auto``, tuned) and
published beside the base world's ranker and embedding cache. ``scripts/loadtest.py`` serves it
over HTTP; :mod:`eval.benchmark.distributed` scores it on Dask.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from db.connection import transaction
from db.engine import get_engine
from db.loading import create_schema, load_mentors, validate_frame
from db.schema import mentees as mentees_table
from db.schema import mentors as mentors_table
from db.writing import frame_records
from eval.benchmark.catalogue import BaseWorld, load_base_world, make_catalogue
from eval.benchmark.config import NOISE_SIGMA
from eval.benchmark.measure import build_like_operator
from eval.training_run import run_training
from index import MentorIndex, build_index_from_db, mentor_content_hashes, publish_index
from synthetic import generate_world, write_world

logger = logging.getLogger(__name__)

WRITE_CHUNK = 5000
"""Rows per INSERT when writing a catalogue."""


class ServedWorld(NamedTuple):
    """The database URL and artifacts folder of a served world, its index spec and the base
    world it was derived from."""

    db_url: str
    artifacts: Path
    spec: str
    base: BaseWorld


def served_world(
    work: Path, n_mentors: int, *, base_mentors: int, base_mentees: int, seed: int, encoder, email: str = "served",
) -> ServedWorld:
    """Build the served world of ``n_mentors`` in ``work`` (an empty folder): ``base.db`` and
    ``base-artifacts`` for the base world, ``served.db`` and ``artifacts`` for the served one.
    Mentor emails are ``<email><id>@example.org``."""
    logger.info("base world: %d mentors, %d mentees", base_mentors, base_mentees)
    world = generate_world(base_mentors, base_mentees, 8, seed=seed)
    base_url, base_artifacts = f"sqlite:///{work / 'base.db'}", work / "base-artifacts"
    engine = get_engine(base_url)
    try:
        write_world(engine, world, reset=True, progress=False)
    finally:
        engine.dispose()
    build_index_from_db(base_url, base_artifacts, progress=False, encoder=encoder)
    run_training(base_url, base_artifacts, seed=seed, encoder=encoder, progress=False)
    base = load_base_world(world, base_artifacts, encoder, {})

    logger.info("served catalogue of %d mentors", n_mentors)
    catalogue, vectors, source = make_catalogue(base, n_mentors, NOISE_SIGMA, np.random.default_rng([seed, n_mentors]))
    catalogue = catalogue.assign(bio=base.mentors["bio"].to_numpy()[source],
                                 email=[f"{email}{i}@example.org" for i in catalogue["mentor_id"]])
    db_url = f"sqlite:///{work / 'served.db'}"
    engine = get_engine(db_url)
    try:
        write_catalogue(engine, catalogue, base.mentees)
        written = load_mentors(engine)
    finally:
        engine.dispose()
    artifacts = work / "artifacts"
    index = publish_catalogue_index(written, vectors, base, encoder, base_artifacts, artifacts)
    return ServedWorld(db_url, artifacts, index.spec, base)


def write_catalogue(engine, catalogue: pd.DataFrame, mentees: pd.DataFrame) -> None:
    """A new schema holding the ``catalogue`` of mentors and the ``mentees``, in one transaction."""
    create_schema(engine)
    with transaction(engine) as conn:
        for table, frame in ((mentors_table, catalogue), (mentees_table, mentees)):
            rows = frame_records(validate_frame(table, frame))
            for start in range(0, len(rows), WRITE_CHUNK):
                conn.execute(table.insert(), rows[start : start + WRITE_CHUNK])


def publish_catalogue_index(
    written: pd.DataFrame, vectors: np.ndarray, base: BaseWorld, encoder, base_artifacts: Path, folder: Path,
) -> MentorIndex:
    """The index of the ``written`` mentors (their ``vectors``) built and tuned as
    ``scripts/build_index.py`` would, published into the new ``folder`` beside a copy of the
    base world's ranker and a link to its embedding cache."""
    built, _, _ = build_like_operator(written["mentor_id"].to_numpy(), vectors, base.goal_vectors, encoder.identity)
    index = MentorIndex(built.ids, built.vectors, built.faiss_index, built.manifest, mentor_content_hashes(written))
    folder.mkdir()
    publish_index(index, folder)
    shutil.copytree((base_artifacts / "ranker").resolve(), folder / "ranker")
    (folder / "cache").symlink_to((base_artifacts / "cache").resolve(), target_is_directory=True)
    return index
