"""Batch scoring and stage-1 candidates on a real Dask LocalCluster (two worker processes) over a
small world with the real MiniLM, FAISS, XGBoost ranker and heads: equal to one machine, a
killed worker retried, an unreachable scheduler refused quickly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from mentor_match.cluster import connect  # noqa: E402
from mentor_match.errors import ClusterError, InvalidParameterError  # noqa: E402
from ranking.heads import ReciprocalModel  # noqa: E402
from retrieval import Recommender  # noqa: E402
from retrieval.cohort import assign_cohort  # noqa: E402
from retrieval.distributed import (  # noqa: E402
    recommend_batch_distributed,
    retrieve_distributed,
)
from tests.worlds import published_world  # noqa: E402

SMALL = {"random_forest": {"n_estimators": 10}, "xgboost_classifier": {"n_estimators": 10},
         "xgboost_ranker": {"n_estimators": 30}}
KEY = ["mentee_id", "rank"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory, encoder):
    """(db_url, artifacts, mentee ids in a shuffled order): a published index, ranker and heads
    over a SQLite world of 80 mentors and 120 mentees."""
    db_url, artifacts, world = published_world(tmp_path_factory.mktemp("distributed"), encoder, seed=11, params=SMALL,
                                               n_mentors=80, n_mentees=120, interactions_per_mentee=6)
    ids = np.random.default_rng(0).permutation(world.mentees["mentee_id"].to_numpy()).tolist()
    return db_url, artifacts, ids


@pytest.fixture(scope="module")
def single(built, encoder):
    """The single-machine recommender the cluster's results are compared with."""
    db_url, artifacts, _ = built
    with Recommender.load(artifacts, db_url=db_url, encoder=encoder, log=False, refresh_interval=None) as rec:
        yield rec


@pytest.fixture(scope="module")
def client():
    with connect("local:2", timeout=30) as client:
        yield client


def _same(distributed: pd.DataFrame, one: pd.DataFrame) -> None:
    """Equal row for row in every column but list_id; one list id per mentee."""
    assert list(distributed.columns) == list(one.columns)
    pd.testing.assert_frame_equal(distributed.drop(columns="list_id"), one.drop(columns="list_id"), check_exact=True)
    assert (distributed.groupby("mentee_id")["list_id"].nunique() == 1).all()
    assert distributed["list_id"].nunique() == distributed["mentee_id"].nunique()


def test_batch_scoring_on_the_cluster_equals_one_machine(built, single, client, tmp_path):
    db_url, artifacts, ids = built
    one = single.recommend_batch(ids, k=5, candidates=40, batch_size=16, progress=False)
    spread = recommend_batch_distributed(client, artifacts, db_url, ids, k=5, candidates=40, batch_size=16,
                                         partition_size=20)  # rounded up to 32: 4 partitions
    assert len(spread) == 5 * len(ids)
    _same(spread, one)
    written = recommend_batch_distributed(client, artifacts, db_url, ids, k=5, candidates=40, batch_size=16,
                                          partition_size=48, out=tmp_path / "lists")
    assert len(list(written.glob("*.parquet"))) == 3
    _same(pd.read_parquet(written), one)


def test_unpriced_arms_split_exactly_and_priced_ones_are_refused(built, single, client, tmp_path):
    db_url, artifacts, ids = built
    arms = {"name": "arms", "variants": [
        {"name": "control", "share": 0.5},
        {"name": "mutual", "share": 0.5, "ranker": "ranker", "heads": "heads", "score": "reciprocal"}]}
    (tmp_path / "arms.json").write_text(json.dumps(arms))
    with Recommender.load(artifacts, db_url=db_url, log=False, refresh_interval=None,
                          experiment=tmp_path / "arms.json") as rec:
        one = rec.recommend_batch(ids, k=4, batch_size=16, progress=False)
    spread = recommend_batch_distributed(client, artifacts, db_url, ids, k=4, batch_size=16, partition_size=16,
                                         experiment=tmp_path / "arms.json")
    _same(spread, one)

    arms["variants"][1]["score"] = "market"
    (tmp_path / "priced.json").write_text(json.dumps(arms))
    with pytest.raises(InvalidParameterError, match=r"priced variant\(s\) \['mutual'\].*on one machine"):
        recommend_batch_distributed(client, artifacts, db_url, ids, experiment=tmp_path / "priced.json")


def test_candidates_on_the_cluster_equal_one_machine_and_feed_the_cohort(built, single, client):
    db_url, artifacts, ids = built
    found = retrieve_distributed(client, artifacts, db_url, ids, 30, partition_size=25)
    pd.testing.assert_frame_equal(found, single.retrieve(ids, 30, progress=False), check_exact=True)

    heads = ReciprocalModel.load(artifacts / "heads")
    cohort = ids[:60]
    local = assign_cohort(single, cohort, heads=heads, per_mentee=2, candidates=30, progress=False)
    remote = assign_cohort(single, cohort, found=found, heads=heads, per_mentee=2, candidates=30,
                           progress=False)
    pd.testing.assert_frame_equal(remote.table, local.table, check_exact=True)
    assert remote.report["pairs_scored"] == local.report["pairs_scored"] > 0


def test_a_worker_killed_mid_job_is_retried_and_nothing_is_lost_or_doubled(built, single, client):
    db_url, artifacts, ids = built
    victim, pid = next(iter(client.run(os.getpid).items()))
    result: dict[str, object] = {}

    def job() -> None:
        try:
            result["frame"] = recommend_batch_distributed(client, artifacts, db_url, ids, k=5, batch_size=2,
                                                          partition_size=2)  # 60 small partitions
        except BaseException as exc:  # reported by the assertions below
            result["error"] = exc

    running = threading.Thread(target=job)
    running.start()
    deadline = time.monotonic() + 30
    while not client.processing().get(victim) and running.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.processing().get(victim) and running.is_alive(), "the job never reached the worker"
    os.kill(pid, signal.SIGKILL)  # a real kill of the worker process, mid-job
    killed_during_job = running.is_alive()
    running.join(120)

    assert killed_during_job and not running.is_alive() and "error" not in result, result.get("error")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    frame = result["frame"]
    assert not frame.duplicated(KEY).any()
    assert (frame.groupby("mentee_id").size() == 5).all() and set(frame["mentee_id"]) == set(ids)
    one = single.recommend_batch(ids, k=5, batch_size=2, progress=False)
    _same(frame, one)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert pid not in client.run(os.getpid).values()


def test_an_unreachable_scheduler_is_a_cluster_error_within_seconds():
    started = time.monotonic()
    with pytest.raises(ClusterError, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:1.*--scheduler local"):
        with connect("tcp://127.0.0.1:1", timeout=3):
            pass
    assert time.monotonic() - started < 15


def test_the_module_and_the_script_import_without_dask():
    """Without the extra the single-machine path works: nothing imports Dask at import time."""
    code = ("import sys; sys.modules.update(dask=None, distributed=None); import retrieval.distributed; "
            "from mentor_match.cluster import require_dask\n"
            "try:\n    require_dask()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ClusterError Dask is not installed") and "pip install" in done.stdout
