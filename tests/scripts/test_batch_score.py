"""scripts/batch_score.py and scripts/assign.py --scheduler end to end in subprocesses, on one
machine and on a real Dask LocalCluster of two worker processes, over a small world built with the
real MiniLM, FAISS, XGBoost ranker and heads (SQLite)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from ranking.heads import ReciprocalModel  # noqa: E402
from retrieval import Recommender  # noqa: E402
from retrieval.cohort import assign_cohort  # noqa: E402
from tests.worlds import published_world  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"random_forest": {"n_estimators": 10}, "xgboost_classifier": {"n_estimators": 10},
         "xgboost_ranker": {"n_estimators": 30}}


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    """(db_url, artifacts, world): a published index, ranker and heads over a SQLite world."""
    db_url, artifacts, world = published_world(tmp_path_factory.mktemp("batch_score"), encoder, seed=13, params=SMALL,
                                               n_mentors=80, n_mentees=100, interactions_per_mentee=6)
    return db_url, artifacts, world


def _script(name: str):
    """A script's module, loaded in this process (for the quick error paths)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_script_writes_the_librarys_lists_on_one_machine_and_on_a_cluster(built, tmp_path, capsys):
    db_url, artifacts, world = built
    with Recommender.load(artifacts, db_url=db_url, log=False, refresh_interval=None) as rec:
        library = rec.recommend_batch(sorted(world.mentees["mentee_id"]), k=4, candidates=30, batch_size=16,
                                      progress=False)
    common = ("--db-url", db_url, "--artifacts", str(artifacts), "--k", "4", "--candidates", "30",
              "--batch-size", "16")

    assert _script("batch_score").main([*common, "--out", str(tmp_path / "lists.csv")]) == 0
    assert "Scored 100 mentees (top 4) in this process" in capsys.readouterr().out
    spread = _run("batch_score.py", *common, "--scheduler", "local:2", "--partition-size", "30",
                  "--out", str(tmp_path / "lists"))
    assert spread.returncode == 0, spread.stderr
    assert "Scored 100 mentees (top 4) on 2 Dask worker(s)" in spread.stdout

    for written in (pd.read_csv(tmp_path / "lists.csv"), pd.read_parquet(tmp_path / "lists")):
        pd.testing.assert_frame_equal(written.drop(columns="list_id"), library.drop(columns="list_id"),
                                      check_exact=True)
        assert written["list_id"].nunique() == 100 and not written.duplicated(["mentee_id", "rank"]).any()
    assert len(list((tmp_path / "lists").glob("*.parquet"))) == 4  # 30 -> 32 (two batches): 4 partitions
    assert not list(tmp_path.glob(".*"))  # no temporary file or folder left behind


def test_assign_finds_the_same_candidates_on_a_cluster(built, tmp_path):
    db_url, artifacts, world = built
    cohort = world.mentees["mentee_id"].head(50).tolist()
    pd.DataFrame({"mentee_id": cohort}).to_csv(tmp_path / "ids.csv", index=False)
    spread = _run("assign.py", "--db-url", db_url, "--artifacts", str(artifacts), "--mentees",
                  str(tmp_path / "ids.csv"), "--per-mentee", "2", "--candidates", "20", "--scheduler", "local:2",
                  "--out", str(tmp_path / "b.csv"), "--report", str(tmp_path / "b.json"))
    assert spread.returncode == 0, spread.stderr
    with Recommender.load(artifacts, db_url=db_url, log=False, refresh_interval=None) as rec:
        here = assign_cohort(rec, cohort, heads=ReciprocalModel.load(artifacts / "heads"), per_mentee=2,
                             candidates=20, progress=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "b.csv"), here.table.fillna(""), check_exact=True)


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        ("unknown", (), "Unknown mentee id(s) [1000000000]"),
        ("no_column", (), "has no mentee_id column"),
        ("ids", ("--k", "0"), "'k' parameter of recommend_batch"),
        ("ids", ("--scheduler", "local:two"), "N in local:N must be a whole number"),
        ("ids", ("--scheduler", "tcp://127.0.0.1:1", "--timeout", "2"), "no Dask scheduler answered at tcp://127.0.0.1:1"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(built, tmp_path, capsys, setup, extra, message):
    db_url, artifacts, world = built
    ids = world.mentees["mentee_id"].head(10).tolist()
    frame = {"unknown": pd.DataFrame({"mentee_id": [*ids, 10**9]}),
             "no_column": pd.DataFrame({"id": ids})}.get(setup, pd.DataFrame({"mentee_id": ids}))
    frame.to_csv(tmp_path / "ids.csv", index=False)
    code = _script("batch_score").main(["--db-url", db_url, "--artifacts", str(artifacts), "--mentees",
                                        str(tmp_path / "ids.csv"), "--out", str(tmp_path / "out.csv"), *extra])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1 and out == ""
    assert not (tmp_path / "out.csv").exists()
