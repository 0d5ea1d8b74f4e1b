"""scripts/assign.py end to end in a subprocess, over a small world built with the real MiniLM,
FAISS, XGBoost ranker and reciprocal heads (SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.worlds import published_world

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "assign.py"
SMALL = {"random_forest": {"n_estimators": 20}, "xgboost_classifier": {"n_estimators": 20},
         "xgboost_ranker": {"n_estimators": 50}}


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    """(db_url, artifacts, world): a published index, ranker and heads over a SQLite world."""
    db_url, artifacts, world = published_world(tmp_path_factory.mktemp("assign"), encoder, seed=5, params=SMALL,
                                               n_mentors=80, n_mentees=120, interactions_per_mentee=6)
    return db_url, artifacts, world


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_cohort_is_assigned_into_a_csv_and_a_json_report(built, tmp_path):
    db_url, artifacts, world = built
    cohort = world.mentees["mentee_id"].head(40)
    cohort.to_frame().to_csv(tmp_path / "ids.csv", index=False)
    served = world.mentors.loc[world.mentors["active"], "mentor_id"]
    banned = pd.DataFrame({"mentee_id": [int(cohort.iloc[0])], "mentor_id": [int(served.iloc[0])]})
    banned.to_csv(tmp_path / "banned.csv", index=False)
    out, report = tmp_path / "out" / "assignment.csv", tmp_path / "out" / "report.json"
    done = _run("--db-url", db_url, "--artifacts", str(artifacts), "--mentees", str(tmp_path / "ids.csv"),
                "--banned", str(tmp_path / "banned.csv"), "--per-mentee", "2", "--candidates", "20",
                "--out", str(out), "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Assigned ") and f"Wrote {out}" in done.stdout
    table, summary = pd.read_csv(out), json.loads(report.read_text())
    assert list(table.columns) == ["mentee_id", "mentor_id", "expected_match", "required", "reasons"]
    assert table["mentee_id"].isin(cohort).all() and (table.groupby("mentee_id").size() <= 2).all()
    mentors = world.mentors.set_index("mentor_id")
    load = table["mentor_id"].value_counts()
    assert (load <= (mentors["max_mentees"] - mentors["current_mentees"]).reindex(load.index)).all()
    assert not ((table["mentee_id"] == banned["mentee_id"].iat[0]) & (table["mentor_id"] == banned["mentor_id"].iat[0])).any()
    assert summary["assigned"] == len(table) and summary["mentees"] == 40 and summary["per_mentee"] == 2
    assert not list(out.parent.glob(".*"))  # no temporary file left behind

    seeking = _run("--db-url", db_url, "--artifacts", str(artifacts), "--all-seeking", "--no-reasons",
                   "--candidates", "10", "--out", str(tmp_path / "all.csv"), "--report", str(tmp_path / "all.json"))
    assert seeking.returncode == 0, seeking.stderr
    assert json.loads((tmp_path / "all.json").read_text())["mentees"] > 0


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("unknown", (), "error: Unknown mentee id"),
        ("no_column", (), "has no mentee_id column"),
        ("ids", ("--per-mentee", "0"), "'per_mentee' parameter of assign_cohort"),
        ("ids", ("--max-share", "1.5"), "'max_share' parameter of assign_cohort"),
        ("negative_required", (), "not in the cohort"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(built, tmp_path, setup, extra, message):
    db_url, artifacts, world = built
    ids = world.mentees["mentee_id"].head(10).tolist()
    frame = {"unknown": pd.DataFrame({"mentee_id": [*ids, 10**9]}),
             "no_column": pd.DataFrame({"id": ids})}.get(setup, pd.DataFrame({"mentee_id": ids}))
    frame.to_csv(tmp_path / "ids.csv", index=False)
    args = ["--db-url", db_url, "--artifacts", str(artifacts), "--mentees", str(tmp_path / "ids.csv"),
            "--out", str(tmp_path / "a.csv"), "--report", str(tmp_path / "r.json"), *extra]
    if setup == "negative_required":
        pd.DataFrame({"mentee_id": [10**9], "mentor_id": [1]}).to_csv(tmp_path / "req.csv", index=False)
        args += ["--required", str(tmp_path / "req.csv")]
    done = _run(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "r.json").exists()
