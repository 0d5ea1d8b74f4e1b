"""scripts/train.py end to end: a real SQLite database, the real encoder, a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from db import get_engine
from eval.comparison import METRICS
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )


def _database(url: str, **sizes) -> None:
    engine = get_engine(url, check=False)
    write_world(engine, generate_world(**sizes, seed=5), reset=True, progress=False)
    engine.dispose()


@pytest.mark.slow
def test_train_prints_the_comparison_and_json(sqlite_url, tmp_path):
    _database(sqlite_url, n_mentors=40, n_mentees=120, interactions_per_mentee=6)
    artifacts = tmp_path / "artifacts"
    done = _run("--db-url", sqlite_url, "--artifacts", str(artifacts), "--json", "--seed", "3")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["models"]) == {
        "logistic_regression", "random_forest", "xgboost_classifier", "xgboost_ranker"
    }
    assert set(report["models"]["xgboost_ranker"]) == {
        "accuracy", "precision", "recall", "f1", "threshold", "roc_auc", "average_precision", "gauc",
        "ndcg@5", "ndcg@10",
    }
    assert 0 < report["test_base_rate"] < 1
    assert report["train_pairs"] > report["test_pairs"] > 0
    assert (artifacts / "ranker" / "manifest.json").is_file()

    table = _run("--db-url", sqlite_url, "--artifacts", str(artifacts), "--seed", "3")
    assert table.returncode == 0, table.stderr
    assert "MODEL COMPARISON" in table.stdout and "NDCG@10" in table.stdout
    assert "Best model (by NDCG@10)" in table.stdout
    assert f"Test set: {report['test_pairs']} pairs" in table.stdout  # same seed, same split
    ranker_row = next(line for line in table.stdout.splitlines() if line.startswith("XGBoost Ranker"))
    assert ranker_row.split()[2:] == [  # same seed, same models: the JSON's numbers, to the digit
        f"{report['models']['xgboost_ranker'][m]:.4f}"
        for m in METRICS
    ]


def test_train_with_too_little_data_fails_with_one_line(sqlite_url, tmp_path):
    _database(sqlite_url, n_mentors=5, n_mentees=6, interactions_per_mentee=2)
    done = _run("--db-url", sqlite_url, "--artifacts", str(tmp_path / "a"))
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Not enough data" in lines[0] and "Generate more data" in lines[0]


def test_train_with_an_unreachable_database_fails_with_one_line(tmp_path):
    done = _run("--db-url", f"sqlite:///{tmp_path / 'missing' / 'x.db'}", "--artifacts", str(tmp_path))
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "does not exist" in done.stderr
