"""scripts/monitor.py end to end on a generated world: lists served by a real Recommender
(MiniLM, FAISS, XGBoost, SQLite), outcomes recorded with db.outcomes, the report read back.

One world, one index and one ranker per module; a previous week served once; each case copies
that database and serves the current week its own way: as before (no alert, exit 0), with
mentors who accept far less (acceptance alert, exit 3), or after the mentors' ratings and
acceptance rates moved (drift alert, exit 3).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from db import get_engine, load_log
from db.outcomes import record_outcomes
from db.schema import mentors
from eval.training_run import run_training
from index import build_index_from_db
from ranking import Ranker
from ranking.features import FEATURES
from ranking.snapshot import load_training_sample
from retrieval import Recommender
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "monitor.py"
PREVIOUS = datetime(2026, 3, 2, 9, 0)  # a Monday
CURRENT = PREVIOUS + timedelta(days=7)
K = 5
PARAMS = {
    "xgboost_ranker": {"max_depth": 3, "n_estimators": 30},
    "random_forest": {"n_estimators": 20},
}


def _load_main():
    """scripts/monitor.py's main, to call in-process (no second interpreter)."""
    spec = importlib.util.spec_from_file_location("monitor_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


main = _load_main()


@pytest.fixture(scope="module")
def world():
    return generate_world(n_mentors=120, n_mentees=260, interactions_per_mentee=10, seed=5)


def _serve(db_url: str, artifacts, encoder, world, when: datetime) -> list[tuple[str, list[int]]]:
    """One list of K per mentee, stamped ``when``: (list id, the mentors shown) per list."""
    rec = Recommender.load(artifacts, db_url, encoder=encoder, refresh_interval=None, clock=lambda: when)
    try:
        served = []
        for mentee_id in world.mentees["mentee_id"]:
            shown = rec.recommend(mentee_id=int(mentee_id), k=K)
            served.append((shown[0].list_id, [r.mentor_id for r in shown]))
        return served
    finally:
        rec.close()


def _record(db_url: str, served, when: datetime, accept_every: int, before=None) -> None:
    """Each mentee requests the first mentor of its list it did not request ``before`` (the
    previous week's lists: a pair is requested once), who accepts one request in
    ``accept_every`` (declines the rest); half the accepted start and end well."""
    events = []
    later = when + timedelta(hours=2)
    for number, (list_id, shown) in enumerate(served):
        asked = before[number][1][0] if before is not None else None
        mentor_id = next(m for m in shown if m != asked)
        events.append({"event_id": f"r-{list_id}", "kind": "requested", "list_id": list_id,
                       "mentor_id": mentor_id, "occurred_at": later})
        accepted = number % accept_every == 0
        events.append({"event_id": f"a-{list_id}", "kind": "accepted" if accepted else "declined",
                       "list_id": list_id, "mentor_id": mentor_id, "occurred_at": later + timedelta(hours=1)})
        if accepted and number % (2 * accept_every) == 0:
            events.append({"event_id": f"s-{list_id}", "kind": "started", "list_id": list_id,
                           "mentor_id": mentor_id, "occurred_at": later + timedelta(hours=1, minutes=30)})
            events.append({"event_id": f"e-{list_id}", "kind": "ended", "list_id": list_id, "mentor_id": mentor_id,
                           "occurred_at": later + timedelta(hours=2), "success": True})
    record_outcomes(get_engine(db_url), events)


@pytest.fixture(scope="module")
def published(tmp_path_factory, world, encoder):
    """A world with an index and a ranker (with its training snapshot), and the lists of a
    previous week served (their outcomes are recorded by each case, after its own week is
    served, so that both weeks are served from one state)."""
    folder = tmp_path_factory.mktemp("monitor")
    db_url = f"sqlite:///{folder / 'mm.db'}"
    engine = get_engine(db_url)
    write_world(engine, world, progress=False)
    engine.dispose()
    artifacts = folder / "artifacts"
    build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
    run_training(db_url, artifacts, seed=1, encoder=encoder, progress=False, params=PARAMS, heads=False)
    previous = _serve(db_url, artifacts, encoder, world, PREVIOUS)
    return folder / "mm.db", artifacts, previous


def _week(published, tmp_path, encoder, world, accept_every: int) -> str:
    """A copy of the database with the current week served, then both weeks' outcomes: half
    accepted in the previous week, one in ``accept_every`` in this one."""
    db_url = _copy(published, tmp_path)
    current = _serve(db_url, published[1], encoder, world, CURRENT)
    _record(db_url, published[2], PREVIOUS, accept_every=2)
    _record(db_url, current, CURRENT, accept_every=accept_every, before=published[2])
    return db_url


def _copy(published, tmp_path) -> str:
    path = tmp_path / "copy.db"
    shutil.copy(published[0], path)
    return f"sqlite:///{path}"


def _window_args(db_url: str, artifacts, out) -> list[str]:
    return [
        "--db-url", db_url, "--artifacts", str(artifacts), "--out", str(out),
        "--since", CURRENT.date().isoformat(), "--until", (CURRENT + timedelta(days=7)).date().isoformat(),
    ]


def _monitor(db_url: str, artifacts, out, capsys) -> tuple[int, dict]:
    code = main(_window_args(db_url, artifacts, out))
    capsys.readouterr()
    return code, json.loads((out / "monitor.json").read_text())


def test_the_published_ranker_carries_a_sample_of_its_training_rows(published):
    ranker_folder = published[1] / "ranker"
    sample = load_training_sample(ranker_folder)
    assert list(sample.features.columns) == list(FEATURES)
    assert 1000 <= len(sample.features) == len(sample.scores) <= min(5000, sample.total_rows)
    np.testing.assert_allclose(Ranker.load(ranker_folder).predict(sample.features), sample.scores, rtol=1e-6)


def test_a_week_served_as_before_raises_no_alert(published, world, encoder, tmp_path, capsys):
    db_url = _week(published, tmp_path, encoder, world, accept_every=2)
    code, report = _monitor(db_url, published[1], tmp_path / "out", capsys)
    assert code == 0 and report["alerts"] == [] and report["status"] in ("ok", "warn")
    [day] = report["daily"]
    n = len(world.mentees)
    assert day["day"] == CURRENT.date().isoformat() and day["variant"] == "control"
    assert day["lists"] == day["requested"] == n and day["request_rate"] == 1.0
    assert day["accepted"] == (n + 1) // 2 and day["acceptance_rate"] == pytest.approx((n + 1) // 2 / n)
    assert day["successful_matches"] == (n + 3) // 4
    latency = day["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    lists = load_log(get_engine(db_url)).lists
    window = lists[lists["created_at"] >= CURRENT]
    assert latency["p99"] == pytest.approx(np.percentile(window["latency_ms"], 99))
    check = report["variants"]["control"]["acceptance"]
    assert check["status"] == "ok" and check["change"] == pytest.approx(0.0)
    drift = report["drift"]["control"]
    assert drift["impressions"] == n * K and report["settings"]["drift_reference"] == "previous"
    previous = drift["previous"]
    assert previous["available"] and previous["reference_rows"] == n * K and set(previous["features"]) == set(FEATURES)
    # Both weeks were served from one state: the same lists, no drift at all.
    assert all(entry["psi"] == pytest.approx(0.0, abs=1e-12) for entry in previous["features"].values())
    assert previous["score"]["psi"] == pytest.approx(0.0, abs=1e-12) and previous["status"] == "ok"
    # The training snapshot is compared too (reported; it does not alert by default).
    training = drift["training"]
    assert training["available"] and training["reference_rows"] >= 1000 and set(training["features"]) == set(FEATURES)
    assert (tmp_path / "out" / "monitor.html").read_text().startswith("<!DOCTYPE html>")


def test_a_fall_in_acceptance_alerts_and_exits_3(published, world, encoder, tmp_path, capsys):
    db_url = _week(published, tmp_path, encoder, world, accept_every=5)  # 20% against 50%
    out = tmp_path / "out"
    done = subprocess.run(  # as cron runs it: the exit code of a process
        [sys.executable, str(SCRIPT), *_window_args(db_url, published[1], out)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 3, done.stderr
    assert "ALERT Acceptance rate of 'control' fell" in done.stdout
    report = json.loads((out / "monitor.json").read_text())
    [alert] = [a for a in report["alerts"] if a["kind"] == "acceptance_drop"]
    assert alert["variant"] == "control" and alert["value"] == pytest.approx(0.2 / 0.5 - 1, abs=0.01)
    assert report["status"] == "alert"


def test_mentors_who_changed_raise_a_drift_alert(published, world, encoder, tmp_path, capsys):
    db_url = _copy(published, tmp_path)
    engine = get_engine(db_url)
    with engine.begin() as conn:  # a data refresh gone wrong: every mentor 20 years more senior
        conn.execute(update(mentors).values(experience_years=mentors.c.experience_years + 20))
    engine.dispose()
    current = _serve(db_url, published[1], encoder, world, CURRENT)
    _record(db_url, published[2], PREVIOUS, accept_every=2)
    _record(db_url, current, CURRENT, accept_every=2, before=published[2])
    code, report = _monitor(db_url, published[1], tmp_path / "out", capsys)
    assert code == 3 and report["status"] == "alert"
    assert not [a for a in report["alerts"] if a["kind"] == "acceptance_drop"]
    drifted = {a["what"] for a in report["alerts"] if a["kind"] == "drift"}
    assert "feature mentor_experience_years" in drifted
    assert "feature mentee_level" not in drifted  # the mentees did not change
    for reference in ("previous", "training"):
        assert report["drift"]["control"][reference]["features"]["mentor_experience_years"]["status"] == "alert"


def test_a_window_of_few_impressions_reports_too_few_rows_and_never_alerts(published, tmp_path, capsys):
    # The previous week alone, read as the window: 260 lists x 5 slots = 1,300 impressions, but
    # a one-day window ending early holds none.
    db_url = _copy(published, tmp_path)
    code = main(["--db-url", db_url, "--artifacts", str(published[1]), "--json",
                 "--since", (PREVIOUS - timedelta(days=1)).isoformat(), "--until", PREVIOUS.isoformat()])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["daily"] == [] and report["drift"] == {}
    # The current week read with the first day only: 260 lists are 1,300 impressions, but
    # the previous period (a day) holds none; with a half-day window, few impressions.


def test_a_bad_time_or_database_exits_1_with_the_fix_on_stderr(published, tmp_path, capsys):
    assert main(["--db-url", _copy(published, tmp_path), "--since", "last tuesday"]) == 1
    assert "ISO date" in capsys.readouterr().err
    code = main(["--db-url", f"sqlite:///{tmp_path / 'empty.db'}", "--artifacts", str(published[1])])
    assert code == 1 and capsys.readouterr().err.startswith("error: ")
