"""scripts/train.py --scheduler: the ranker trained on a local Dask cluster (two worker
processes), published as the usual folder, served by the Recommender unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from db import get_engine
from index import build_index_from_db
from ranking.ranker import Ranker
from retrieval import Recommender
from synthetic import generate_world, write_world

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_train_on_local_dask_publishes_a_ranker_that_serving_loads(sqlite_url, tmp_path, encoder):
    world = generate_world(n_mentors=40, n_mentees=150, interactions_per_mentee=6, seed=5)
    engine = get_engine(sqlite_url, check=False)
    write_world(engine, world, reset=True, progress=False)
    engine.dispose()
    artifacts = tmp_path / "artifacts"
    build_index_from_db(sqlite_url, artifacts, progress=False, encoder=encoder)

    done = _run("--db-url", sqlite_url, "--artifacts", str(artifacts), "--scheduler", "local:2", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["workers"] == 2 and report["partitions"]["train"] >= 2
    assert report["train_pairs"] > report["test_pairs"] > 0
    assert 0 < report["models"]["xgboost_ranker"]["ndcg@10"] <= 1
    ranker = Ranker.load(artifacts / "ranker")
    assert ranker.manifest["trained_on"]["workers"] == 2 and ranker.best_iteration_ == report["best_iteration"]

    recommender = Recommender.load(artifacts, sqlite_url, encoder=encoder, refresh_interval=None)
    try:
        mentee = int(world.mentees["mentee_id"].iloc[0])
        recommendations = recommender.recommend(mentee_id=mentee, k=5)
    finally:
        recommender.close()
    assert 1 <= len(recommendations) <= 5
    assert [r.rank for r in recommendations] == list(range(1, len(recommendations) + 1))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scheduler", "local:0"), "local:0"),
        (("--scheduler", "local:2", "--cv", "3"), "--cv run on one machine"),
    ],
)
def test_a_bad_scheduler_fails_with_one_line(tmp_path, args, message):
    db = tmp_path / "missing.db"  # never opened: the arguments are refused first
    done = _run("--db-url", f"sqlite:///{db}", "--artifacts", str(tmp_path / "a"), *args)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
