"""The simulator retrains its ranker on schedule, from the interactions or from its own log,
through the promotion guard and the registry; the served lists carry the new model version;
the ranker policy serves recommend_batch's lists and logs what the log learner needs.

Real components on a tiny generated world: SQLite, MiniLM, FAISS, XGBoost.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from db.engine import get_engine
from db.log import RecommendationLog
from db.log_reading import load_log
from eval.simulator.config import SimulationConfig
from eval.simulator.learning import true_examination
from eval.simulator.policies import RankerPolicy, WeekView
from eval.simulator.run import simulate
from mentor_match.errors import InvalidParameterError
from ranking.features import FEATURES
from ranking.logged import PositionFeatureRanker, fold_position
from ranking.ranker import Ranker
from synthetic.appeal import examination_probability

TINY = dict(weeks=3, k=5, mentors=60, mentees=120, interactions_per_mentee=4, mentee_arrivals_per_week=15,
            mentor_arrivals_per_week=3, bound_top_n=None, duration_weeks=(1, 2), seeds=(0,), policies=("ranker",))


def _run(tmp_path_factory, encoder, **change):
    work = tmp_path_factory.mktemp("learn")
    config = SimulationConfig(**(TINY | change))
    return config, work, simulate(config, work=work, encoder=encoder, progress=False)


@pytest.fixture(scope="module")
def unbiased_run(tmp_path_factory, encoder):
    """Retrained every week from the log with unbiased LambdaMART; margin 1: the guard admits all."""
    return _run(tmp_path_factory, encoder, retrain_every=1, learn_from="log", debias="unbiased", retrain_margin=1.0)


def _market(work):
    return work / "seed-0" / "sim-ranker.db", work / "seed-0" / "sim-ranker-artifacts"


def _lists_by_week(db) -> pd.DataFrame:
    engine = get_engine(f"sqlite:///{db}")
    try:
        return load_log(engine).lists.sort_values("created_at")
    finally:
        engine.dispose()


@pytest.mark.slow
def test_retraining_from_the_log_happens_on_the_scheduled_weeks_and_the_registry_records_it(unbiased_run):
    config, work, result = unbiased_run
    events = result["policies"]["ranker"]["per_seed"][0]["retraining"]
    assert [e["week"] for e in events] == [2, 3]  # every week after the first
    assert {e["outcome"] for e in events} <= {"promoted", "skipped"}  # margin 1: never refused
    promoted = [e for e in events if e["outcome"] == "promoted"]
    assert promoted, events  # by week 3 two weeks of lists are logged
    for event in promoted:
        assert event["lists"] > 0 and event["held_out_lists"] >= 0 and event["model_version"]
        assert event["as_of"] == (pd.Timestamp("2025-06-01") + pd.Timedelta(weeks=event["week"] - 1)).isoformat()
    db, artifacts = _market(work)
    registry = json.loads((artifacts / "registry.json").read_text())["events"]
    assert [e["model_version"] for e in registry if e["action"] == "promoted"] == [e["model_version"] for e in promoted]
    assert all(e["numbers"]["margin"] == 1.0 for e in registry)
    summary = result["retraining"]["policies"]["ranker"]
    assert summary["promoted"]["mean"] == len(promoted) and summary["refused"]["mean"] == 0
    # Each week's lists were served by the ranker live that week, and it changes with each promotion.
    lists = _lists_by_week(db)
    versions = lists.groupby("created_at")["model_version"].unique()
    assert all(len(v) == 1 for v in versions)
    by_week = dict(zip(range(1, config.weeks + 1), (v[0] for v in versions), strict=True))
    for event in promoted:
        assert by_week[event["week"]] == event["model_version"] != by_week[event["week"] - 1]


@pytest.mark.slow
def test_the_examination_curves_have_k_values_from_1_and_the_true_one_is_the_simulators(unbiased_run):
    config, _, result = unbiased_run
    retraining = result["retraining"]
    truth = examination_probability(np.arange(1, config.k + 1), config.position_curve, strength=config.position_strength)
    assert retraining["true_examination"] == pytest.approx(truth / truth[0])
    assert (retraining["learn_from"], retraining["debias"], retraining["label"]) == ("log", "unbiased", "relevance")
    learned = retraining["policies"]["ranker"]["learned_examination"]
    assert len(learned) == config.k and learned[0]["mean"] == pytest.approx(1.0)
    assert all(np.isfinite(position["mean"]) for position in learned)
    week = result["policies"]["ranker"]["weeks"][0]
    assert 0 < week["ndcg_truth"]["mean"] <= 1


@pytest.mark.slow
def test_the_ranker_policy_serves_recommend_batchs_lists_with_feature_snapshots(unbiased_run, encoder):
    from retrieval import Recommender

    config, work, _ = unbiased_run
    db, artifacts = _market(work)
    url = f"sqlite:///{db}"
    engine = get_engine(url)
    frames = load_log(engine)
    slots = frames.slots.merge(frames.lists[["list_id", "policy"]], on="list_id")
    assert (slots["policy"] == "ranker").all() and (slots["propensity"] == 1.0).all()
    assert all(set(f) == set(FEATURES) for f in slots["features"])

    recommender = Recommender.load(artifacts, url, encoder=encoder, refresh_interval=None, log=False)
    log = RecommendationLog(engine)
    try:
        mentees = np.sort(frames.lists["mentee_id"].dropna().astype(np.int64).unique())[:40]
        view = WeekView(recommender=recommender, log=log, clock=lambda: pd.Timestamp("2025-07-01").to_pydatetime(),
                        experiment="check", eligible_mentors=np.empty(0, np.int64),
                        contacted=lambda a, b: np.zeros(len(a), bool), candidates=pd.DataFrame(),
                        rng=np.random.default_rng(0), index_version="x")
        ours = RankerPolicy().lists(view, mentees, config.k)
        theirs = recommender.recommend_batch(mentees.tolist(), k=config.k, progress=False)
        columns = ["mentee_id", "rank", "mentor_id"]
        pd.testing.assert_frame_equal(ours[columns].reset_index(drop=True), theirs[columns].reset_index(drop=True),
                                      check_dtype=False)
        assert np.allclose(ours["score"], theirs["score"])
    finally:
        recommender.close()
        log.close()
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(("learn_from", "debias"), [("log", "none"), ("log", "position"), ("interactions", "none")])
def test_every_learner_retrains_and_serves_the_new_version(tmp_path_factory, encoder, learn_from, debias):
    config, work, result = _run(tmp_path_factory, encoder, retrain_every=2, learn_from=learn_from, debias=debias,
                                retrain_margin=1.0)
    (event,) = result["policies"]["ranker"]["per_seed"][0]["retraining"]
    assert event["week"] == 3 and event["outcome"] == "promoted", event["reason"]
    assert event["examination_curve"] is None
    assert event["lists"] is None if learn_from == "interactions" else event["lists"] > 0
    lists = _lists_by_week(_market(work)[0])
    assert set(lists.loc[lists["created_at"] == lists["created_at"].max(), "model_version"]) == {event["model_version"]}
    assert set(lists.loc[lists["created_at"] < lists["created_at"].max(), "model_version"]) != {event["model_version"]}
    assert result["retraining"]["policies"]["ranker"]["learned_examination"] is None


def test_folding_the_position_into_the_trees_scores_exactly_as_the_position_model(tmp_path):
    rng = np.random.default_rng(3)
    rows = 2000
    X = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=list(FEATURES))
    X.loc[rng.random(rows) < 0.2, FEATURES[0]] = np.nan  # missing values follow the default branch
    position = np.tile(np.arange(1, 11), rows // 10)
    clicked = (X[FEATURES[1]] + 2.0 / position + rng.normal(scale=0.3, size=rows)) > 0.8
    model = PositionFeatureRanker(Ranker("rank:ndcg", n_estimators=40, max_depth=5, n_jobs=1), serving_position=1)
    model.fit(X.assign(position=position), clicked.astype(int), np.repeat(np.arange(rows // 10), 10))
    folded = fold_position(model)
    assert folded.feature_names_ == list(FEATURES)
    assert np.array_equal(folded.predict(X), model.predict(X))
    assert np.array_equal(Ranker.load(folded.save(tmp_path / "folded")).predict(X), model.predict(X))
    with pytest.raises(InvalidParameterError, match="fitted ranking.logged.PositionFeatureRanker"):
        fold_position(PositionFeatureRanker())


def test_the_true_curve_is_over_position_one():
    assert true_examination(3, "exponential", 0.0) == [1.0, 1.0, 1.0]
    assert true_examination(2, "reciprocal", 2.0) == [1.0, 0.25]


@pytest.mark.parametrize(("change", "message"), [
    ({"learn_from": "logs"}, "'learn_from'"),
    ({"debias": "ips", "learn_from": "log", "retrain_every": 1}, "'debias'"),
    ({"debias": "unbiased"}, "needs learn_from='log'"),
    ({"learn_from": "log"}, "Set retrain_every >= 1"),
    ({"retrain_margin": -0.1}, "'retrain_margin'"),
    ({"explore_epsilon": 1.5}, "'explore_epsilon'"),
    ({"explore_temperature": 0.0}, "'explore_temperature'"),
    ({"off_policy": ("ranker", "similarity"), "policies": ("ranker", "similarity")}, "logging one of ranker_explore"),
    ({"off_policy": ("ranker_explore", "random"), "policies": ("ranker_explore", "random")}, "target one of"),
    ({"off_policy": ("ranker_explore", "similarity"), "policies": ("ranker_explore",)}, "Add similarity"),
    ({"off_policy": ("ranker_explore", "ranker"), "policies": ("ranker_explore", "ranker"), "explore_epsilon": 0.0},
     "samples none"),
])
def test_bad_learning_and_off_policy_settings_are_refused_before_anything_is_written(tmp_path, change, message):
    with pytest.raises(InvalidParameterError, match=message):
        simulate(SimulationConfig(**change), work=tmp_path / "w", encoder=object(), progress=False)
    assert not (tmp_path / "w").exists()
