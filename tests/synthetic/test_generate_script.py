"""scripts/generate_synthetic_data.py end to end: write, refuse without --reset, replace with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from db import get_engine, load_dataset
from synthetic import generate_world

ROOT = Path(__file__).resolve().parents[2]
SIZE = ["--mentors", "30", "--mentees", "50", "--interactions-per-mentee", "3"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/generate_synthetic_data.py", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def _assert_holds(url: str, seed: int) -> None:
    world = generate_world(30, 50, 3, seed=seed)
    dataset = load_dataset(get_engine(url))
    for name in ("mentors", "mentees", "interactions"):
        pd.testing.assert_frame_equal(getattr(dataset, name), getattr(world, name))


@pytest.mark.slow
def test_script_refuses_then_resets(sqlite_url):
    first = _run("--db-url", sqlite_url, *SIZE, "--seed", "1", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["mentors"] == 30 and summary["interactions"] == 150
    assert 0 <= summary["success_rate"] <= 1

    refused = _run("--db-url", sqlite_url, *SIZE, "--seed", "2")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "already contains 30 rows" in refused.stderr
    assert "--reset" in refused.stderr and "Traceback" not in refused.stderr
    _assert_holds(sqlite_url, seed=1)

    replaced = _run("--db-url", sqlite_url, *SIZE, "--seed", "2", "--reset")
    assert replaced.returncode == 0, replaced.stderr
    assert "success_rate" in replaced.stdout
    _assert_holds(sqlite_url, seed=2)
