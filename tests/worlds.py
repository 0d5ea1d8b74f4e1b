"""A generated world published as an operator would: the database written, the index built
and the ranker and heads trained (small models), for the test modules that need one whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from db import get_engine
from eval.training_run import run_training
from index import build_index_from_db
from synthetic import SyntheticWorld, generate_world, write_world


def published_world(
    folder: Path, encoder, *, seed: int, params: dict[str, Any], **sizes: int,
) -> tuple[str, Path, SyntheticWorld]:
    """(db_url, artifacts, world): ``generate_world(**sizes, seed=seed)`` in SQLite under
    ``folder``, its index and the models of ``run_training`` (``params`` per model) published
    into ``folder / "artifacts"``."""
    db_url = f"sqlite:///{folder / 'mm.db'}"
    world = generate_world(**sizes, seed=seed)
    engine = get_engine(db_url)
    try:
        write_world(engine, world, progress=False)
    finally:
        engine.dispose()
    artifacts = folder / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=seed, encoder=encoder, progress=False, n_jobs=1, params=params)
    return db_url, artifacts, world
