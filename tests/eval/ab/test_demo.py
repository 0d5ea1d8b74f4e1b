"""The A/B demo end to end on a small world: every served list logged, every drawn outcome
recorded, the report's counts equal the database's, and the same seed gives the same report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from db.engine import get_engine
from db.schema import recommendation_events, recommendation_lists
from eval.ab.demo import VARIANT, run_ab_demo
from mentor_match.errors import InvalidParameterError


@pytest.mark.slow
def test_demo_runs_the_whole_loop_and_is_reproducible(tmp_path, encoder):
    kwargs = dict(mentors=60, mentees=150, k=3, seed=4, n_boot=100, encoder=encoder, progress=False)
    summary = run_ab_demo(tmp_path / "a", **kwargs)
    assert summary["lists"] == 150 and summary["dropped"] == 0 and summary["slots"] == 450
    engine = get_engine(f"sqlite:///{tmp_path / 'a' / 'ab_demo.db'}")
    with engine.connect() as conn:
        lists = conn.execute(select(func.count()).select_from(recommendation_lists)).scalar_one()
        events = conn.execute(select(func.count()).select_from(recommendation_events)).scalar_one()
    engine.dispose()
    assert lists == 150 and events == summary["events"] > 0
    report = json.loads((tmp_path / "a" / "report" / "ab_report.json").read_text())
    assert report["data"]["lists"] == 150 and report["data"]["events"] == events
    assert {v for v in report["variants"]} == {"control", VARIANT}
    assert sum(arm["lists"] for arm in report["variants"].values()) == 150
    assert set(summary["verdict"]) == {VARIANT}

    again = run_ab_demo(tmp_path / "b", **kwargs)
    second = json.loads((tmp_path / "b" / "report" / "ab_report.json").read_text())
    assert again["events"] == summary["events"]
    assert second["comparisons"] == report["comparisons"] and second["variants"] == report["variants"]


def test_demo_refuses_a_tiny_world_before_writing(tmp_path):
    with pytest.raises(InvalidParameterError, match="mentors"):
        run_ab_demo(tmp_path / "x", mentors=5, progress=False)
    assert not (tmp_path / "x").exists()
