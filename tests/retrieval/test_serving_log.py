"""The Recommender's log end to end: what a list served is what the database holds, each
mentee sees its arm, outcomes join their lists, and serving survives a database outage.

Real components throughout: MiniLM, FAISS, XGBoost, SQLite, PostgreSQL behind a real TCP
proxy (tests/db/proxy.py) for the outage.
"""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pandas as pd
import pytest

from db import get_engine, load_log
from db.log import RecommendationLog
from eval.training_run import run_training
from index import build_index_from_db
from retrieval import Recommender
from retrieval.experiments import Experiment
from synthetic import generate_world, write_world
from tests.db.proxy import TcpProxy

PROFILE = {
    "goals": "I want to build data pipelines and learn cloud infrastructure",
    "desired_domains": ["data engineering"],
    "current_level": "junior",
}
VARIANT_PARAMS = {"xgboost_ranker": {"max_depth": 2, "n_estimators": 20}}


def _experiment(epsilon: float = 0.0) -> Experiment:
    return Experiment.from_dict({
        "name": "log-test",
        "salt": "log-test",
        "control": "control",
        "variants": [{"name": "control", "share": 0.5}, {"name": "shallow", "share": 0.5}],
        "exploration": {"epsilon": epsilon, "temperature": 1.0},
    })


def _publish(db_url: str, artifacts, encoder) -> None:
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=1, encoder=encoder, progress=False)
    run_training(db_url, artifacts, seed=2, encoder=encoder, progress=False, params=VARIANT_PARAMS, variant="shallow")


@pytest.fixture(scope="module")
def world():
    return generate_world(n_mentors=80, n_mentees=160, interactions_per_mentee=6, seed=11)


@pytest.fixture(scope="module")
def served(tmp_path_factory, world, encoder):
    """A SQLite world with a control and a 'shallow' ranker published."""
    folder = tmp_path_factory.mktemp("serving-log")
    db_url = f"sqlite:///{folder / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, world, progress=False)
    engine.dispose()
    _publish(db_url, folder / "artifacts", encoder)
    return db_url, folder / "artifacts"


def _fresh_copy(served, tmp_path) -> str:
    """A copy of the module's database, so each test starts from an empty log."""
    import shutil

    db_url, _ = served
    path = tmp_path / "copy.db"
    shutil.copy(db_url.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


def test_logged_rows_equal_what_recommend_returned(served, world, encoder, tmp_path):
    artifacts = served[1]
    db_url = _fresh_copy(served, tmp_path)
    experiment = _experiment(epsilon=0.3)
    rec = Recommender.load(artifacts, db_url, encoder=encoder, experiment=experiment, refresh_interval=None)
    returned = {}
    try:
        for mentee_id in world.mentees["mentee_id"].iloc[:40]:
            shown = rec.recommend(mentee_id=int(mentee_id), k=5)
            returned[shown[0].list_id] = (int(mentee_id), shown)
        adhoc = rec.recommend(profile=PROFILE, k=4)
        returned[adhoc[0].list_id] = (None, adhoc)
    finally:
        rec.close()
    assert rec.log_stats.written == len(returned) and rec.log_stats.dropped == 0

    frames = load_log(get_engine(db_url))
    assert len(frames.lists) == len(returned) == frames.lists["list_id"].nunique()
    lists = frames.lists.set_index("list_id")
    slots = frames.slots.sort_values(["list_id", "recommended_rank"])
    for list_id, (mentee_id, shown) in returned.items():
        row = lists.loc[list_id]
        assert (None if pd.isna(row["mentee_id"]) else int(row["mentee_id"])) == mentee_id
        assert row["experiment"] == "log-test" and row["variant"] == shown[0].variant
        assert row["k"] == (5 if mentee_id is not None else 4)
        assert row["policy"] == "plackett-luce" and row["policy_params"]["epsilon"] == 0.3
        assert row["latency_ms"] > 0
        logged = slots[slots["list_id"] == list_id]
        assert logged["mentor_id"].tolist() == [r.mentor_id for r in shown]
        assert logged["recommended_rank"].tolist() == [r.rank for r in shown] == list(range(1, len(shown) + 1))
        np.testing.assert_allclose(logged["score"], [r.score for r in shown], rtol=1e-6)
        np.testing.assert_allclose(logged["similarity"], [r.similarity for r in shown], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(logged["propensity"], [r.propensity for r in shown], rtol=1e-9)
        assert logged["features"].iloc[0] == pytest.approx(shown[0].features)
    # Exploration was on: every propensity is a probability, and some slots were sampled
    # (a propensity below 1), so the log can feed off-policy estimates.
    propensities = frames.slots["propensity"]
    assert ((propensities > 0) & (propensities <= 1)).all()
    assert (propensities < 1).any()


def test_each_mentee_is_served_its_assigned_arm(served, world, encoder, tmp_path):
    db_url = _fresh_copy(served, tmp_path)
    experiment = _experiment()
    rec = Recommender.load(served[1], db_url, encoder=encoder, experiment=experiment, refresh_interval=None)
    ids = [int(i) for i in world.mentees["mentee_id"].iloc[:60]]
    try:
        variants = {i: rec.recommend(mentee_id=i, k=3)[0].variant for i in ids}
        again = {i: rec.recommend(mentee_id=i, k=3)[0].variant for i in ids[:10]}
        batch = rec.recommend_batch(ids[:20], k=3, progress=False)
    finally:
        rec.close()
    assert variants == {i: experiment.assign(i) for i in ids}
    assert again == {i: variants[i] for i in ids[:10]}  # sticky
    assert set(variants.values()) == {"control", "shallow"}

    lists = load_log(get_engine(db_url)).lists
    # The batch logged one list per mentee, in the mentee's arm.
    assert len(lists) == len(ids) + 10 + 20
    arm = lists.groupby("mentee_id")["variant"].agg(lambda v: set(v))
    assert all(arm[i] == {variants[i]} for i in ids)
    # The two arms really are two rankers: their lists name two model versions.
    versions = lists.groupby("variant")["model_version"].agg(lambda v: set(v))
    assert len(versions["control"]) == len(versions["shallow"]) == 1
    assert versions["control"] != versions["shallow"]
    assert set(batch["mentee_id"]) == set(ids[:20])
    # The batch's list ids are the logged lists, slot for slot.
    slots = load_log(get_engine(db_url)).slots
    logged = slots[slots["list_id"].isin(set(batch["list_id"]))]
    columns = ["list_id", "mentee_id", "mentor_id", "rank"]
    assert sorted(logged.rename(columns={"recommended_rank": "rank"})[columns].itertuples(index=False)) == \
        sorted(batch[columns].itertuples(index=False))


def test_a_clock_stamps_the_logged_lists(served, world, encoder, tmp_path):
    from datetime import datetime

    db_url = _fresh_copy(served, tmp_path)
    when = datetime(2025, 6, 3, 9, 30)
    rec = Recommender.load(served[1], db_url, encoder=encoder, refresh_interval=None, clock=lambda: when)
    try:
        rec.recommend(mentee_id=int(world.mentees["mentee_id"].iloc[0]), k=3)
        rec.recommend_batch([int(i) for i in world.mentees["mentee_id"].iloc[1:4]], k=3, progress=False)
    finally:
        rec.close()
    lists = load_log(get_engine(db_url)).lists
    assert len(lists) == 4 and (pd.to_datetime(lists["created_at"]) == pd.Timestamp(when)).all()


def test_threads_serving_recording_and_refreshing_lose_nothing(served, world, encoder, tmp_path):
    """Two threads recommend, one records outcomes of the lists served, one changes mentors
    and refreshes; after close() every list and every outcome is in the database once."""
    db_url = _fresh_copy(served, tmp_path)
    rec = Recommender.load(served[1], db_url, encoder=encoder, experiment=_experiment(), refresh_interval=0.05)
    engine = get_engine(db_url)
    ids = [int(i) for i in world.mentees["mentee_id"]]
    served_lists: list[tuple[str, int, int]] = []  # (list id, mentee, first mentor)
    recorded: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()

    def serve(offset: int) -> None:
        try:
            for mentee_id in ids[offset::2][:40]:
                shown = rec.recommend(mentee_id=mentee_id, k=4)
                with lock:
                    served_lists.append((shown[0].list_id, mentee_id, shown[0].mentor_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def record() -> None:
        done = 0
        try:
            while not stop.is_set() or done < len(served_lists):
                with lock:
                    pending = served_lists[done:]
                for list_id, _mentee, mentor_id in pending:
                    event_id = f"req-{list_id}"
                    rec.record_outcome(event_id=event_id, kind="requested", list_id=list_id, mentor_id=mentor_id)
                    recorded.append(event_id)
                done += len(pending)
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def refresh() -> None:
        from sqlalchemy import text

        try:
            for step in itertools.count():
                if stop.is_set():
                    return
                with engine.begin() as conn:
                    conn.execute(text(
                        "UPDATE mentors SET rating = :r, updated_at = CURRENT_TIMESTAMP WHERE mentor_id = :m"
                    ), {"r": 4.0 + (step % 10) / 10, "m": 1 + step % 50})
                rec.refresh()
                time.sleep(0.02)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    servers = [threading.Thread(target=serve, args=(i,)) for i in range(2)]
    others = [threading.Thread(target=record), threading.Thread(target=refresh)]
    for thread in servers + others:
        thread.start()
    for thread in servers:
        thread.join(timeout=300)
    stop.set()
    for thread in others:
        thread.join(timeout=300)
    rec.close()
    assert not errors, errors
    assert len(served_lists) == 80 and len(recorded) == 80

    frames = load_log(engine)
    engine.dispose()
    assert sorted(frames.lists["list_id"]) == sorted(list_id for list_id, _, _ in served_lists)
    assert len(frames.slots) == 4 * 80
    events = frames.events
    assert sorted(events["event_id"]) == sorted(recorded)
    joined = events.merge(frames.lists[["list_id", "mentee_id"]], on="list_id", suffixes=("", "_list"))
    assert len(joined) == 80 and (joined["mentee_id"] == joined["mentee_id_list"]).all()


@pytest.mark.postgres
def test_serving_goes_on_while_the_database_is_down(world, encoder, new_pg_database, tmp_path):
    """PostgreSQL behind a proxy that is stopped: ad-hoc queries keep being answered and
    logged into the buffer; known mentees (read per query) fail with a clear error; after
    the proxy is back, the log writes every list it held."""
    from sqlalchemy.engine import make_url

    from mentor_match.errors import DatabaseUnavailableError

    pg_url = new_pg_database()  # a database of its own: the world is written into empty tables
    engine = get_engine(pg_url)
    write_world(engine, world, progress=False)
    engine.dispose()
    artifacts = tmp_path / "artifacts"
    _publish(pg_url, artifacts, encoder)

    target = make_url(pg_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    log = RecommendationLog(get_engine(proxied), flush_interval=0.05, retry_interval=0.1)
    rec = Recommender.load(artifacts, proxied, encoder=encoder, experiment=_experiment(), refresh_interval=0.05,
                           log=log)
    try:
        before = rec.recommend(mentee_id=int(world.mentees["mentee_id"].iloc[0]), k=3)
        proxy.stop()
        during = [rec.recommend(profile=PROFILE, k=3) for _ in range(25)]
        assert all(len(shown) == 3 for shown in during)
        with pytest.raises(DatabaseUnavailableError):
            rec.recommend(mentee_id=int(world.mentees["mentee_id"].iloc[1]), k=3)
        deadline = time.monotonic() + 10
        while rec.log_stats.failed_attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = rec.log_stats
        assert stats.failed_attempts > 0 and stats.pending > 0 and stats.last_error
        proxy.start()
        assert rec.log.flush(timeout=30)
    finally:
        if not proxy.running:
            proxy.start()
        rec.close()
        proxy.stop()
    stats = rec.log_stats
    assert stats.dropped == 0 and stats.written == 1 + len(during)
    frames = load_log(get_engine(pg_url))
    expected = {before[0].list_id} | {shown[0].list_id for shown in during}
    assert set(frames.lists["list_id"]) == expected and len(frames.lists) == len(expected)
