"""scripts/ab_report.py end to end on a SQLite file, as a user runs it (subprocess).

A generated world, an experiment whose "better" arm shows each mentee the mentors of highest
true match probability and whose control shows mentors at random, outcomes drawn from the
ground truth (synthetic.outcomes), all written to the database; the script must find the
planted winner.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from db.engine import get_engine
from db.log_reading import load_log, served_slots
from db.schema import recommendation_events, recommendation_feedback, recommendation_lists
from retrieval.experiments import Experiment
from synthetic import generate_world, true_match_probability, write_world
from synthetic.outcomes import draw_outcomes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ab_report.py"
K = 5
START = pd.Timestamp("2026-03-02 09:00")


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def load_script():
    """scripts/ab_report.py as a module, to call main() in-process (no second interpreter)."""
    spec = importlib.util.spec_from_file_location("ab_report_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIG = {
    "name": "ranker-test", "salt": "s1", "control": "control",
    "variants": [{"name": "control", "share": 0.5}, {"name": "better", "share": 0.5}],
}


@pytest.fixture(scope="module")
def config_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "experiment.json"
    path.write_text(json.dumps(CONFIG))
    return path


@pytest.fixture(scope="module")
def experiment_db(tmp_path_factory) -> str:
    """The experiment served to 400 mentees, arms assigned by the serving side's Experiment."""
    root = tmp_path_factory.mktemp("ab_report")
    db_url = f"sqlite:///{root / 'mm.db'}"
    experiment = Experiment.from_dict(CONFIG)
    world = generate_world(n_mentors=60, n_mentees=400, interactions_per_mentee=1, seed=17)
    mentees, mentors = world.with_truth()
    pairs = pd.MultiIndex.from_product(
        [mentees["mentee_id"], mentors["mentor_id"]], names=["mentee_id", "mentor_id"]
    ).to_frame(index=False)
    pairs["p"] = true_match_probability(mentees, mentors, pairs)["p_match"].to_numpy()
    rng = np.random.default_rng(0)
    lists, slots = [], []
    for n, (mentee, group) in enumerate(pairs.groupby("mentee_id")):
        arm = experiment.assign(int(mentee))
        chosen = group.nlargest(K, "p") if arm == "better" else group.sample(K, random_state=rng)
        list_id = f"{n + 1:032x}"
        created = (START + pd.Timedelta(minutes=n)).to_pydatetime()
        lists.append({
            "list_id": list_id, "mentee_id": int(mentee), "created_at": created, "model_version": arm,
            "index_version": "i1", "experiment": "ranker-test", "variant": arm, "policy": "greedy",
            "policy_params": {}, "k": K, "latency_ms": 3.0,
        })
        for rank, row in enumerate(chosen.itertuples(), start=1):
            slots.append({
                "list_id": list_id, "mentee_id": int(mentee), "mentor_id": int(row.mentor_id),
                "recommended_rank": rank, "feedback_date": created, "model_version": arm,
                "variant": arm, "score": float(row.p), "similarity": 0.5, "propensity": 1.0, "features": {},
            })
    engine = get_engine(db_url)
    try:
        write_world(engine, world, progress=False)
        with engine.begin() as conn:
            conn.execute(insert(recommendation_lists), lists)
            conn.execute(insert(recommendation_feedback), slots)
        events = draw_outcomes(served_slots(load_log(engine, experiment="ranker-test")), mentees, mentors, seed=3)
        recorded = [dict(event, recorded_at=event["occurred_at"]) for event in events]
        with engine.begin() as conn:
            conn.execute(insert(recommendation_events), recorded)
    finally:
        engine.dispose()
    return db_url


def test_the_script_writes_the_three_files_and_prints_the_planted_winner(experiment_db, config_path, tmp_path):
    out = tmp_path / "ab"
    result = run_script(
        "--db-url", experiment_db, "--experiment", "ranker-test", "--config", str(config_path),
        "--out", str(out), "--boot", "300", "--seed", "1",
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {"ab_report.json", "ab_report.md", "ab_report.html", "ab_lift.png"}
    report = json.loads((out / "ab_report.json").read_text())
    assert report["experiment"] == "ranker-test" and report["control"] == "control"
    assert report["shares"] == {"control": 0.5, "better": 0.5}
    assert report["srm"]["passed"] and report["verdict"] == {"better": "better"}
    assert report["variants"]["better"]["mentees"] + report["variants"]["control"]["mentees"] == 400
    verdict_row = next(line for line in result.stdout.splitlines() if line.startswith("| better |"))
    assert verdict_row.endswith("| better |")
    assert "## Each variant against control" in result.stdout
    assert "ab_report.html" in result.stdout
    html = (out / "ab_report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "mentor-match A/B report: ranker-test" in html


def test_the_control_can_be_named_and_the_seed_reproduces_the_report(experiment_db, tmp_path, capsys):
    script = load_script()
    args = ["--db-url", experiment_db, "--experiment", "ranker-test", "--shares", "control=0.5,better=0.5",
            "--control", "better", "--boot", "200", "--seed", "4"]
    assert script.main([*args, "--out", str(tmp_path / "one")]) == 0
    assert script.main([*args, "--out", str(tmp_path / "two")]) == 0
    assert "| control | " in capsys.readouterr().out
    one, two = (json.loads((tmp_path / name / "ab_report.json").read_text()) for name in ("one", "two"))
    assert one["control"] == "better" and one["verdict"] == {"control": "worse"}
    assert one["comparisons"] == two["comparisons"]


def test_a_config_of_another_experiment_is_refused(experiment_db, tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(CONFIG, name="other")))
    args = ["--db-url", experiment_db, "--experiment", "ranker-test", "--config", str(other), "--out", str(tmp_path / "x")]
    assert load_script().main(args) == 1
    assert "is experiment 'other', not 'ranker-test'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--experiment", "nope", "--shares", "control=0.5,better=0.5"], "error: No recommendation list was logged under experiment 'nope'; the log holds lists of 'ranker-test'"),
        (["--experiment", "ranker-test", "--shares", "control=0.5,better"], "error: The shares 'control=0.5,better' do not parse"),
        (["--experiment", "ranker-test", "--shares", "control=0.9,better=0.2"], "error: The 'shares' parameter of run_ab_report must sum to 1"),
        (["--experiment", "ranker-test", "--shares", "control=0.5,b=0.5"], "variant(s) 'better'"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_1_and_writes_nothing(experiment_db, tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert load_script().main(["--db-url", experiment_db, *args, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    assert not out.exists()
