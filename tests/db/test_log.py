"""The recommendation log writer on real SQLite and PostgreSQL, outages made with a real TCP proxy."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.loading import load_feedback
from db.log import RecommendationLog, ServedSlot
from db.schema import recommendation_feedback, recommendation_lists
from mentor_match.errors import InvalidParameterError
from tests.db.logdata import served_list, world_engine
from tests.db.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, small_world, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'log.db'}"
    else:
        url = request.getfixturevalue("new_pg_database")()
    engine = world_engine(url, small_world)
    yield engine
    engine.dispose()


@pytest.fixture()
def pg_engine(small_world, new_pg_database):
    engine = world_engine(new_pg_database(), small_world)
    yield engine
    engine.dispose()


@pytest.fixture()
def proxy(pg_engine):
    url = pg_engine.url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy
    proxy.stop()


def _through(proxy: TcpProxy, engine) -> str:
    return engine.url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def _list_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(recommendation_lists.c.list_id)).scalars())


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _balanced(stats) -> bool:
    return stats.submitted == stats.written + stats.dropped + stats.rejected + stats.pending


def test_logged_rows_equal_what_was_submitted(engine):
    served = [
        served_list(5, [3, 17, 42, 8], offset=0),
        served_list(None, [9, 1], offset=1),  # an ad-hoc profile
        served_list(77, [60, 2, 31], offset=2, variant="treatment"),
    ]
    with RecommendationLog(engine, flush_interval=0.01) as log:
        for item in served:
            log.submit(item)
        assert log.flush(timeout=30)
        assert log.stats == (3, 3, 0, 0, 0, 0, None)

    with engine.connect() as conn:
        lists = {row.list_id: row._asdict() for row in conn.execute(select(recommendation_lists))}
    slots = load_feedback(engine)  # the loader's checks pass on logged rows
    assert len(slots) == sum(len(item.slots) for item in served)
    for item in served:
        row = lists[item.list_id]
        assert row == {
            "list_id": item.list_id, "mentee_id": item.mentee_id, "created_at": item.created_at,
            "model_version": item.model_version, "index_version": item.index_version,
            "experiment": item.experiment, "variant": item.variant, "policy": item.policy,
            "policy_params": item.policy_params, "k": item.k, "latency_ms": item.latency_ms,
        }
        mine = slots[slots["list_id"] == item.list_id].sort_values("recommended_rank")
        assert mine["recommended_rank"].tolist() == [slot.position for slot in item.slots]
        assert mine["mentor_id"].tolist() == [slot.mentor_id for slot in item.slots]
        assert mine["score"].tolist() == [slot.score for slot in item.slots]
        assert mine["similarity"].tolist() == [slot.similarity for slot in item.slots]
        assert [None if math.isnan(p) else p for p in mine["propensity"]] == [s.propensity for s in item.slots]
        assert mine["features"].tolist() == [
            {name: (None if math.isnan(value) else value) for name, value in slot.features.items()}
            for slot in item.slots
        ]
        assert mine["was_accepted"].isna().all()
        assert (mine["feedback_date"] == item.created_at).all()
        assert (mine["model_version"] == item.model_version).all() and (mine["variant"] == item.variant).all()
        if item.mentee_id is None:
            assert mine["mentee_id"].isna().all()
        else:
            assert (mine["mentee_id"] == item.mentee_id).all()


def test_close_writes_what_no_batch_or_interval_has_written_yet(engine):
    log = RecommendationLog(engine, flush_interval=600, batch_lists=1000)
    served = [served_list(i, [i, i + 1, i + 2], offset=i) for i in range(1, 41)]
    for item in served:
        log.submit(item)
    assert _count(engine, recommendation_lists) == 0  # nothing is due for ten minutes
    assert log.close() is True
    assert sorted(_list_ids(engine)) == sorted(item.list_id for item in served)
    assert _count(engine, recommendation_feedback) == 3 * len(served)
    assert log.close() is True  # idempotent
    log.submit(served_list(1, [2]))  # after close: dropped and counted, never raised
    assert log.stats.dropped == 1 and log.stats.written == 40 and _balanced(log.stats)


def test_a_list_the_database_refuses_is_rejected_alone(engine, caplog):
    good = [served_list(1, [1, 2]), served_list(2, [3, 4])]
    unknown_mentor = served_list(3, [5, 999_999])  # no such mentor: a foreign-key error
    bad_position = replace(served_list(4, [6]), slots=(ServedSlot(0, 6, 1.0, 0.5, None, None),))
    with caplog.at_level(logging.ERROR, logger="db.log"), RecommendationLog(engine, batch_lists=10) as log:
        for item in (good[0], unknown_mentor, bad_position, good[1]):
            log.submit(item)
        assert log.flush(timeout=30)
        assert (log.stats.written, log.stats.rejected) == (2, 2)
    assert sorted(_list_ids(engine)) == sorted(item.list_id for item in good)
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2
    assert any(unknown_mentor.list_id in m for m in refused) and any("positions count from 1" in m for m in refused)


def test_submit_takes_only_served_lists_and_the_settings_are_checked(engine):
    with RecommendationLog(engine) as log, pytest.raises(InvalidParameterError, match="ServedList"):
        log.submit({"list_id": "x"})
    for bad in ({"flush_interval": 0}, {"batch_lists": 0}, {"max_buffer": -1}, {"retry_interval": -1.0}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            RecommendationLog(engine, **bad)
    with pytest.raises(InvalidParameterError, match="bind"):
        RecommendationLog(42)


def test_a_log_nobody_closed_is_written_at_interpreter_exit(tmp_path, small_world):
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    engine = world_engine(url, small_world)
    script = textwrap.dedent(f"""
        from db.log import RecommendationLog
        from tests.db.logdata import served_list
        log = RecommendationLog({url!r}, flush_interval=600, batch_lists=1000)
        lists = [served_list(i, [i, i + 1], offset=i) for i in range(1, 26)]
        for item in lists:
            log.submit(item)
        print(" ".join(item.list_id for item in lists))
        """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert sorted(_list_ids(engine)) == sorted(done.stdout.split())
    engine.dispose()


@pytest.mark.postgres
def test_database_down_while_submitting_buffers_drops_new_lists_and_catches_up(pg_engine, proxy, caplog):
    caplog.set_level(logging.WARNING, logger="db.log")
    log = RecommendationLog(
        _through(proxy, pg_engine), flush_interval=0.02, batch_lists=8, max_buffer=50, retry_interval=0.05
    )
    before = [served_list(i, [i, i + 1], offset=i) for i in range(1, 11)]
    for item in before:
        log.submit(item)
    assert log.flush(timeout=30)

    proxy.stop()  # the server is still there; the log's connections are cut, new ones refused
    during = [served_list(i, [i, i + 2], offset=i) for i in range(1, 81)]
    for item in during:
        log.submit(item)  # never raises
    assert log.flush(timeout=0.5) is False
    _wait_until(lambda: log.stats.failed_attempts >= 3)
    stats = log.stats
    assert (stats.written, stats.pending, stats.dropped) == (10, 50, 30)  # the newest 30 are dropped
    assert stats.last_error and _balanced(stats)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("cannot write to the database" in m for m in warnings) == 1  # once, not per attempt
    _wait_until(lambda: any("new lists are being dropped" in r.getMessage() for r in caplog.records))
    assert sum("new lists are being dropped" in r.getMessage() for r in caplog.records) == 1
    assert _count(pg_engine, recommendation_lists) == 10

    proxy.start()
    assert log.flush(timeout=60)
    assert log.close()
    stored = _list_ids(pg_engine)
    assert len(stored) == len(set(stored)) == 60
    assert set(stored) == {item.list_id for item in before + during[:50]}
    assert _count(pg_engine, recommendation_feedback) == 2 * 60
    final = log.stats
    assert (final.written, final.dropped, final.pending, final.rejected) == (60, 30, 0, 0)
    recovered = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(recovered) == 1 and "30 list(s) were dropped" in recovered[0]


@pytest.mark.postgres
def test_a_commit_whose_acknowledgement_is_lost_is_not_written_twice(pg_engine, proxy):
    log = RecommendationLog(_through(proxy, pg_engine), flush_interval=0.02, batch_lists=5, retry_interval=0.05)
    first = [served_list(i, [i, i + 1, i + 2], offset=i) for i in range(1, 6)]
    proxy.cut_after(b"COMMIT")  # the first batch commits, then its connection dies unanswered
    for item in first:
        log.submit(item)
    assert log.flush(timeout=60)
    second = [served_list(i, [i + 3], offset=i) for i in range(6, 12)]
    for item in second:
        log.submit(item)
    assert log.close()
    assert proxy.cuts == 1
    stats = log.stats
    assert stats.failed_attempts >= 1  # the lost acknowledgement was seen as a failure ...
    assert (stats.written, stats.rejected, stats.dropped) == (11, 0, 0)  # ... and not rewritten
    stored = _list_ids(pg_engine)
    assert sorted(stored) == sorted(item.list_id for item in first + second)
    assert _count(pg_engine, recommendation_feedback) == 3 * 5 + 6
