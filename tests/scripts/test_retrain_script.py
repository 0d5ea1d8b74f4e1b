"""scripts/retrain.py --list and --rollback in a subprocess, over versions the registry promoted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ranking.ranker import Ranker
from ranking.registry import live_version, promote

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "retrain.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture()
def two_versions(tmp_path) -> tuple[Path, list[str]]:
    artifacts = tmp_path / "artifacts"
    rng = np.random.default_rng(0)
    X, y, group = rng.normal(size=(40, 3)), rng.integers(0, 4, size=40), np.repeat(np.arange(8), 5)
    names = []
    for seed, ndcg in ((1, 0.61), (2, 0.64)):
        ranker = Ranker(n_estimators=3, early_stopping_rounds=None, n_jobs=1, random_state=seed).fit(X, y, group)
        numbers = {"metric": "ndcg@10", "candidate_mean": ndcg, "mean_diff": 0.03, "ci_low": -0.004,
                   "ci_high": 0.06, "mentees": 31}
        names.append(promote(ranker, artifacts, numbers=numbers).version)
    return artifacts, names


def test_list_prints_the_versions_table_and_json(two_versions):
    artifacts, (older, live) = two_versions
    done = _run("--list", "--artifacts", str(artifacts))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["live", "version"]
    assert lines[2].startswith(f"*     {live}") and "ndcg@10 0.6400 (vs live +0.0300" in lines[2]
    assert lines[3].split()[0] == older
    listed = json.loads(_run("--list", "--json", "--artifacts", str(artifacts)).stdout)
    assert [(v["version"], v["live"]) for v in listed] == [(live, True), (older, False)]


def test_rollback_goes_back_and_a_bad_target_is_one_line_on_stderr_with_exit_1(two_versions):
    artifacts, (older, live) = two_versions
    done = _run("--rollback", "--artifacts", str(artifacts))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Rolled back: {older} (model version ") and live_version(artifacts) == older

    bad = _run("--rollback", ".ranker-20200101T000000-deadbeef", "--artifacts", str(artifacts))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("error: There is no ranker version '.ranker-20200101T000000-deadbeef'")
    assert len(bad.stderr.strip().splitlines()) == 1 and live in bad.stderr  # names what is kept
    assert live_version(artifacts) == older


def test_learning_from_an_empty_log_says_how_many_lists_it_needs(tmp_path):
    from db import get_engine
    from synthetic import generate_world, write_world

    url = f"sqlite:///{tmp_path / 'mm.db'}"
    engine = get_engine(url)
    write_world(engine, generate_world(n_mentors=30, n_mentees=90, interactions_per_mentee=5, seed=4), progress=False)
    engine.dispose()
    done = _run("--db-url", url, "--artifacts", str(tmp_path / "artifacts"), "--learn-from", "log")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: Learning from the log: only 0 logged list(s) have a slot with "
                                  "'relevance' > 0; at least 50 are needed.")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "artifacts" / "ranker").exists()  # nothing published


def test_debias_without_the_log_is_refused_before_any_work(tmp_path):
    done = _run("--debias", "unbiased", "--artifacts", str(tmp_path / "artifacts"))
    assert done.returncode == 2 and "--debias corrects the position bias of logged lists; add --learn-from log" in done.stderr
