"""The off-policy check on the simulator: an exploring ranker's log, the estimators' answers
and the target's own market side by side; the recorder's propensities on planted lists; the
Rao-Blackwellised marginals against eval.offpolicy's counted ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from db.engine import get_engine
from db.log_reading import load_log
from eval.offpolicy import marginal_propensities, plackett_luce_marginals, slot_propensities
from eval.simulator.config import SimulationConfig
from eval.simulator.offpolicy_check import (
    ESTIMATORS,
    REWARDS,
    SCOPES,
    OffPolicyRecorder,
    check_against_truth,
)
from eval.simulator.policies import RankerPolicy, ScoredList
from eval.simulator.run import simulate
from eval.simulator.writing import load_simulation, write_simulation

TINY = dict(weeks=3, k=5, mentors=60, mentees=120, interactions_per_mentee=4, mentee_arrivals_per_week=15,
            mentor_arrivals_per_week=3, bound_top_n=None, duration_weeks=(1, 2), seeds=(0,))


@pytest.fixture(scope="module")
def same_policy_run(tmp_path_factory, encoder):
    """Target == logging policy: the exploring ranker estimated from its own log."""
    work = tmp_path_factory.mktemp("offpolicy")
    config = SimulationConfig(policies=("ranker_explore",), off_policy=("ranker_explore", "ranker_explore"),
                              explore_epsilon=0.3, **TINY)
    return config, work, simulate(config, work=work, encoder=encoder, progress=False)


@pytest.mark.slow
def test_the_exploring_ranker_logs_propensities_it_sampled(same_policy_run):
    config, work, _ = same_policy_run
    engine = get_engine(f"sqlite:///{work / 'seed-0' / 'sim-ranker_explore.db'}")
    frames = load_log(engine)
    engine.dispose()
    assert set(frames.lists["policy"]) == {"plackett-luce"}
    assert all(p == {"epsilon": 0.3, "temperature": 1.0} for p in frames.lists["policy_params"])
    propensity = frames.slots["propensity"].astype(float)
    assert ((propensity > 0) & (propensity <= 1)).all() and (propensity < 1).any()


@pytest.mark.slow
def test_with_the_logging_policy_as_target_every_interval_contains_the_actual_rate(same_policy_run):
    """The target is the logging policy, so every weight is 1 and each estimate is the logged
    mean per list, which is the target's own market (the same market: same seed, same policy)."""
    _, _, result = same_policy_run
    check = result["off_policy"]
    assert (check["logging"], check["target"]) == ("ranker_explore", "ranker_explore")
    (seed,) = check["per_seed"]
    assert seed["lists"] == result["policies"]["ranker_explore"]["total"]["lists"]["mean"]
    assert seed["support"] is None and seed["lists_equal"] is None
    for scope in SCOPES:
        for reward in REWARDS:
            entry = seed["scopes"][scope][reward]
            actual = entry["actual"]
            assert actual["lists"] > 0 and actual["interval"][0] <= actual["mean"] <= actual["interval"][1]
            assert entry["logging_actual"]["mean"] == pytest.approx(actual["mean"])
            for name in ESTIMATORS:
                estimate = entry[name]
                assert "problem" not in estimate, estimate
                low, high = estimate["interval"]
                assert low <= actual["mean"] <= high and estimate["covers_actual"]
                assert estimate["estimate"] == pytest.approx(actual["mean"], abs=1e-9)
                assert estimate["effective_sample_size"] == pytest.approx(estimate["lists"])
    summary = check["summary"]["all_weeks"]["requested"]["iips"]
    assert summary["covered"] == "1 of 1" and summary["problems"] == 0


@pytest.mark.slow
def test_the_report_shows_the_check_and_reads_back(same_policy_run, tmp_path):
    _, _, result = same_policy_run
    written = write_simulation(result, tmp_path / "report")
    page = written["md"].read_text()
    assert "## Off-policy check: ranker_explore estimated from ranker_explore's log" in page
    assert "| first week | requested | iips |" in page
    assert load_simulation(tmp_path / "report")["off_policy"]["target"] == "ranker_explore"
    assert result["retraining"] is None


def _scored(scores: np.ndarray, order: list[int], list_id: str = "a") -> ScoredList:
    return ScoredList(list_id, 7, np.arange(100, 100 + len(scores)), scores, np.array(order))


def test_the_recorder_weights_a_deterministic_target_only_along_its_own_list():
    scores = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
    recorder = OffPolicyRecorder("ranker", RankerPolicy(), epsilon=0.2, temperature=1.0, seed=0)
    recorder.scored(_scored(scores, [0, 1, 2], "greedy"))  # the ranker's own order
    recorder.scored(_scored(scores, [0, 2, 1], "swapped"))  # leaves it at position 2
    recorder.record(None, np.array([7]), 3)
    slots = recorder.slots().set_index(["list_id", "position"])
    assert slots.loc["greedy", "target_propensity"].tolist() == [1.0, 1.0, 1.0]
    assert slots.loc["swapped", "target_propensity"].tolist() == [1.0, 0.0, 0.0]
    assert slots.loc["swapped", "target_marginal"].tolist() == [1.0, 0.0, 0.0]
    # The logging marginal of a slot on the ranker's order is at least 1 - epsilon; every shown slot is supported.
    assert (slots.loc["greedy", "logging_marginal"] >= 0.8).all() and (slots["logging_marginal"] > 0).all()
    assert recorder.diagnostics() == {"lists": 2, "support": 1.0, "lists_equal": 0.5}


def test_the_recorder_with_the_logging_policy_as_target_gives_weight_one():
    scores = np.array([1.0, 0.5, 0.2, -0.3])
    recorder = OffPolicyRecorder("ranker_explore", None, epsilon=0.4, temperature=2.0, seed=1)
    recorder.scored(_scored(scores, [2, 0, 3]))
    recorder.record(None, np.array([7]), 3)
    slots = recorder.slots()
    assert np.allclose(slots["target_propensity"],
                       slot_propensities(scores, np.array([2, 0, 3]), epsilon=0.4, temperature=2.0))
    assert np.array_equal(slots["target_marginal"], slots["logging_marginal"])


def test_the_conditional_marginals_agree_with_the_counted_ones():
    scores = np.random.default_rng(2).normal(scale=1.5, size=30)
    counted = marginal_propensities(scores, 4, epsilon=1.0, temperature=0.7, samples=200_000, seed=3)
    items, positions = np.tile(np.arange(30), 4), np.repeat(np.arange(1, 5), 30)
    ours = plackett_luce_marginals(scores, items, positions, temperature=0.7, samples=4000,
                                   rng=np.random.default_rng(4)).reshape(4, 30).T
    assert np.allclose(ours[:, 0], counted[:, 0])  # position 1 exact in both
    assert np.abs(ours - counted).max() < 0.01  # counted: sd <= sqrt(0.25 / 200000) ~ 0.0011
    assert np.allclose(ours.sum(axis=0), 1.0, atol=0.01)


def test_an_estimator_without_support_reports_its_problem_instead_of_a_number():
    lists = [f"l{i:03d}" for i in range(120)]
    rows = pd.DataFrame({"list_id": np.repeat(lists, 2), "position": np.tile([1, 2], 120),
                         "reward": np.tile([1.0, 0.0], 120), "logging_propensity": 0.5,
                         "created_at": pd.Timestamp("2025-06-01")})
    rewards = {reward: rows.assign(first_week=True) for reward in REWARDS}
    recorded = rows[["list_id", "position"]].assign(target_propensity=0.0, logging_marginal=0.5, target_marginal=0.0)
    check = check_against_truth(recorded, rewards, rewards)
    entry = check["all_weeks"]["requested"]
    assert entry["actual"]["mean"] == 1.0 and entry["actual"]["lists"] == 120
    assert entry["ips"]["estimate"] == 0.0 and not entry["ips"]["covers_actual"]
    assert "probability 0 to every one" in entry["snips"]["problem"]
