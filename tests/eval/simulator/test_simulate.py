"""The platform simulator end to end on small worlds: invariants checked against the
database it wrote, a planted market with a known answer, determinism, refusals.

Real components: generated worlds, SQLite (and PostgreSQL by URL), MiniLM, FAISS, XGBoost,
OR-Tools for the bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from db.engine import get_engine
from db.loading import create_schema, load_mentors
from db.log_reading import load_log
from db.schema import interactions, recommendation_events, recommendation_lists
from eval.simulator.config import SimulationConfig
from eval.simulator.run import TOTAL_METRICS, simulate
from eval.simulator.writing import write_simulation
from mentor_match.errors import DataValidationError, InvalidParameterError
from synthetic import generate_world, write_world

ROOT = Path(__file__).resolve().parents[3]
SMALL = dict(weeks=4, k=5, mentors=80, mentees=220, interactions_per_mentee=4, mentee_arrivals_per_week=15,
             mentor_arrivals_per_week=3, bound_top_n=None, duration_weeks=(1, 2), seeds=(0,))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, encoder):
    work = tmp_path_factory.mktemp("sim")
    config = SimulationConfig(policies=("random", "ranker", "oracle"), **SMALL)
    return config, work, simulate(config, work=work, encoder=encoder, progress=False)


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["random", "ranker", "oracle"])
def test_the_report_agrees_with_the_database_it_wrote(small_run, policy):
    config, work, result = small_run
    engine = get_engine(f"sqlite:///{work / 'seed-0' / f'sim-{policy}.db'}")
    total = result["policies"][policy]["total"]
    kinds = recommendation_events.c.kind
    assert total["requests"]["mean"] == _count(engine, recommendation_events, kinds == "requested") > 0
    assert total["mentorships_started"]["mean"] == _count(engine, recommendation_events, kinds == "started")
    assert total["lists"]["mean"] == _count(engine, recommendation_lists) > 0
    accepted = _count(engine, recommendation_events, kinds == "accepted")
    assert total["acceptance_rate"]["mean"] == pytest.approx(accepted / total["requests"]["mean"])
    ended = _count(engine, recommendation_events, kinds == "ended")
    assert 0 < ended <= total["mentorships_started"]["mean"]  # 1-2 week mentorships: most end in 4 weeks

    # No mentor ever holds more mentees than seats, in the database as written.
    mentors = load_mentors(engine)
    assert (mentors["current_mentees"] <= mentors["max_mentees"]).all()
    # Every request came from a logged list shown to that mentee, with that mentor in it.
    frames = load_log(engine)
    requests = frames.events[frames.events["kind"] == "requested"]
    shown = frames.slots.merge(frames.lists[["list_id"]], on="list_id")
    joined = requests.merge(shown, on=["list_id", "mentor_id"], how="left", suffixes=("", "_slot"), indicator=True)
    assert (joined["_merge"] == "both").all()
    assert (joined["mentee_id"] == joined["mentee_id_slot"]).all()
    assert set(frames.lists["variant"]) == {policy} and set(frames.lists["experiment"]) == {f"sim-{policy}"}
    # The interactions a request made carry its list.
    assert _count(engine, interactions, interactions.c.list_id.isnot(None)) == total["requests"]["mean"]
    engine.dispose()


@pytest.mark.slow
def test_the_bound_covers_every_policys_expected_matches(small_run):
    """The pairs started in a week are a feasible assignment, so the exact bound (no top-N cut)
    is at least their expected matches, every week, for every policy."""
    _, _, result = small_run
    for policy, entry in result["policies"].items():
        for week in entry["per_seed"][0]["weeks"]:
            assert week["expected_matches"] <= week["bound"] + 1e-6, (policy, week)
            assert week["successful_matches"] <= week["mentorships_started"] <= week["seekers"]
    oracle = result["policies"]["oracle"]["total"]
    random = result["policies"]["random"]["total"]
    assert oracle["expected_matches"]["mean"] > random["expected_matches"]["mean"]
    assert set(TOTAL_METRICS) <= set(oracle)


@pytest.mark.slow
def test_the_report_is_written_and_the_same_seed_gives_the_same_result(small_run, encoder, tmp_path):
    config, _, result = small_run
    written = write_simulation(result, tmp_path / "report")
    assert json.loads(written["json"].read_text())["policies"] == json.loads(json.dumps(result["policies"]))
    again = simulate(SimulationConfig(policies=("random", "oracle"), **SMALL), work=tmp_path / "w",
                     encoder=encoder, progress=False)
    for policy in ("random", "oracle"):
        assert again["policies"][policy]["per_seed"] == result["policies"][policy]["per_seed"]


def _planted_world():
    """One star mentor with one seat; fifty copies nearly as good, five seats each."""
    world = generate_world(n_mentors=51, n_mentees=150, interactions_per_mentee=1, seed=5)
    template = world.mentors.iloc[0]
    mentors = pd.DataFrame([template] * 51).reset_index(drop=True)
    mentors["mentor_id"] = world.mentors["mentor_id"].to_numpy()
    mentors["email"] = [f"copy{i}@example.org" for i in mentors["mentor_id"]]
    mentors["name"] = [f"Mentor {i}" for i in mentors["mentor_id"]]
    mentors["active"] = True
    mentors["max_mentees"] = 5
    mentors["current_mentees"] = 0
    mentors["rating"] = 4.6
    mentors["acceptance_rate"] = 0.9
    mentors.loc[0, ["max_mentees", "rating"]] = [1, 5.0]
    truth = pd.DataFrame([world.mentor_truth.iloc[0]] * 51).reset_index(drop=True)
    truth["mentor_id"] = mentors["mentor_id"].to_numpy()
    truth.loc[0, "latent"] = truth.loc[0, "latent"] + 1.0
    mentees = world.mentees.assign(active=True)
    from synthetic.generator import SyntheticWorld

    return SyntheticWorld(mentors, mentees, world.interactions.iloc[:0], truth, world.mentee_truth)


@pytest.mark.slow
def test_a_planted_market_collapses_the_relevance_oracle(tmp_path, encoder):
    db_url = f"sqlite:///{tmp_path / 'planted.db'}"
    engine = get_engine(db_url)
    write_world(engine, _planted_world(), progress=False)
    engine.dispose()
    config = SimulationConfig(weeks=3, k=5, policies=("random", "oracle"), mentee_arrivals_per_week=0,
                              mentor_arrivals_per_week=0, bound_top_n=None, requests_per_week=1, seeds=(0, 1))
    result = simulate(config, db_url=db_url, work=tmp_path / "w", encoder=encoder, progress=False)
    oracle, random = (result["policies"][p]["total"] for p in ("oracle", "random"))
    # Every oracle list is the same (the star first, then the copies in id order): the requests
    # pile onto a few mentors, most are declined, and fewer mentorships start than at random.
    assert oracle["gini_requests"]["mean"] > 0.8 > 0.5 > random["gini_requests"]["mean"]
    assert oracle["requests_to_full"]["mean"] > random["requests_to_full"]["mean"]
    assert oracle["mentorships_started"]["mean"] < 0.75 * random["mentorships_started"]["mean"]
    assert oracle["successful_matches"]["mean"] < random["successful_matches"]["mean"]
    assert random["requests_to_full"]["mean"] == 0 and random["coverage"]["mean"] == 1.0
    assert oracle["share_of_bound"]["mean"] < random["share_of_bound"]["mean"]
    # The bound sees the 250 seats: it is far above what the oracle realised.
    assert oracle["bound"]["mean"] > 2 * oracle["successful_matches"]["mean"]


@pytest.mark.parametrize(("change", "message"), [
    ({"weeks": -1}, "'weeks'"),
    ({"policies": ("random", "best")}, "'best' is unknown"),
    ({"seeds": ()}, "'seeds'"),
    ({"duration_weeks": (5, 2)}, "'duration_weeks'"),
    ({"ab": ("ranker", "ranker")}, "'ab'"),
])
def test_bad_parameters_are_refused_before_anything_is_written(tmp_path, change, message):
    with pytest.raises(InvalidParameterError, match=message):
        simulate(SimulationConfig(**change), work=tmp_path / "w", encoder=object(), progress=False)
    assert not (tmp_path / "w").exists()


def test_a_database_without_truth_tables_is_refused_unchanged(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'plain.db'}"
    engine = get_engine(db_url)
    create_schema(engine)
    world = generate_world(n_mentors=20, n_mentees=20, interactions_per_mentee=1, seed=1)
    from db.schema import mentors as mentors_table
    from db.writing import frame_records

    with engine.begin() as conn:
        conn.execute(mentors_table.insert(), frame_records(world.mentors))
    engine.dispose()
    before = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    with pytest.raises(DataValidationError, match="no synthetic ground truth"):
        simulate(SimulationConfig(**SMALL), db_url=db_url, work=tmp_path / "w", encoder=object(), progress=False)
    assert Path(db_url.removeprefix("sqlite:///")).read_bytes() == before
    assert not (tmp_path / "w").exists()


def test_the_script_turns_a_bad_policy_into_one_line_and_exit_1(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "simulate.py"), "--policies", "random,magic", "--report",
         str(tmp_path / "r")], capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1 and run.stderr.startswith("error: ") and "'magic' is unknown" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_simulation_writes_into_postgresql_by_url(pg_url, tmp_path, encoder):
    engine = get_engine(pg_url)
    write_world(engine, generate_world(n_mentors=40, n_mentees=80, interactions_per_mentee=2, seed=3),
                reset=True, progress=False)
    engine.dispose()
    config = SimulationConfig(weeks=2, k=4, policies=("random",), mentee_arrivals_per_week=5,
                              mentor_arrivals_per_week=1, seeds=(0,))
    result = simulate(config, db_url=pg_url, work=tmp_path / "w", encoder=encoder, progress=False)
    engine = get_engine(pg_url)
    total = result["policies"]["random"]["total"]
    assert total["lists"]["mean"] == _count(engine, recommendation_lists) > 0
    assert total["requests"]["mean"] == _count(
        engine, recommendation_events, recommendation_events.c.kind == "requested")
    assert len(load_mentors(engine)) == 41 and np.isfinite(total["share_of_bound"]["mean"])
    assert result["settings"]["world"] == {"mentors": 40, "mentees": 80, "interactions": 160, "from": "the database"}
    engine.dispose()


@pytest.mark.slow
def test_the_oracles_lists_score_one_against_the_truth_and_random_lists_score_lowest(small_run):
    _, _, result = small_run
    ndcg = {p: result["policies"][p]["total"]["ndcg_truth"]["mean"] for p in ("random", "ranker", "oracle")}
    assert ndcg["oracle"] == pytest.approx(1.0)
    assert 0 < ndcg["random"] < ndcg["ranker"] < 1.0
    for week in result["policies"]["oracle"]["weeks"]:
        assert week["ndcg_truth"]["mean"] == pytest.approx(1.0)
