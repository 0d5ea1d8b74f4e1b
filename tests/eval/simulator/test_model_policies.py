"""The simulator's model policies: each classifier baseline served as the ranker is (the same
stage-1 candidates and features) but ordered by its own probability, logged under its name, and
measured in a market of its own beside the ranker.

Real components: a generated world, SQLite, MiniLM, FAISS, the trained ranker and baselines.
The expected lists are recomputed here from the served stages: the ranker policy's scored
candidates, their features from the stages' reranker, the model's ``predict``, a stable sort.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from db.engine import get_engine
from db.log import RecommendationLog
from db.log_reading import load_log
from eval.simulator.config import MODEL_POLICIES, SimulationConfig
from eval.simulator.models import BASELINES_FOLDER, load_baselines
from eval.simulator.policies import ModelPolicy, RankerPolicy, WeekView, make_policy
from eval.simulator.rendering import simulation_markdown
from eval.simulator.run import simulate
from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.baselines import BASELINES, LogisticRegressionScorer
from ranking.features import FEATURES

K = 5
TINY = dict(weeks=2, k=K, mentors=80, mentees=220, interactions_per_mentee=4, mentee_arrivals_per_week=15,
            mentor_arrivals_per_week=3, bound_top_n=None, duration_weeks=(1, 2), seeds=(0,))
POLICIES = ("ranker", *MODEL_POLICIES)


@pytest.fixture(scope="module")
def four_models(tmp_path_factory, encoder):
    """The ranker and the three baselines, each in its own market of one world (seed 0), and
    the random forest against the ranker in one shared A/B market."""
    work = tmp_path_factory.mktemp("models")
    config = SimulationConfig(policies=POLICIES, ab=("random_forest", "ranker"), **TINY)
    result = simulate(config, work=work, encoder=encoder, progress=False)
    return work / "seed-0", result


@pytest.fixture(scope="module")
def start(four_models, encoder, tmp_path_factory):
    """The seed's starting world as the engine serves it (a copy of its database, its
    artifacts), a week view over it and its active mentees."""
    from retrieval import Recommender

    seed, _ = four_models
    db = tmp_path_factory.mktemp("start") / "start.db"
    shutil.copyfile(seed / "base.db", db)
    engine = get_engine(f"sqlite:///{db}")
    log = RecommendationLog(engine, flush_interval=0.1)
    recommender = Recommender.load(seed / "artifacts", f"sqlite:///{db}", encoder=encoder, refresh_interval=None,
                                   log=False)
    view = WeekView(recommender=recommender, log=log, clock=lambda: pd.Timestamp("2025-07-01").to_pydatetime(),
                    experiment="check", eligible_mentors=np.empty(0, np.int64),
                    contacted=lambda a, b: np.zeros(len(a), bool), candidates=pd.DataFrame(),
                    rng=np.random.default_rng(0), index_version="x")
    mentees = pd.read_sql("SELECT mentee_id FROM mentees WHERE active", engine)["mentee_id"].to_numpy(np.int64)
    try:
        yield view, np.sort(mentees)[:60], engine
    finally:
        recommender.close()
        log.close()
        engine.dispose()


def _scored_candidates(view: WeekView, mentees: np.ndarray):
    """The ranker policy's lists and every list's scored stage-1 candidates (``on_scored``)."""
    scored = []
    lists = RankerPolicy().lists(replace(view, on_scored=scored.append), mentees, K)
    return lists, scored


def _stage_features(view: WeekView, scored) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidates of every scored list as pairs, and their features from the served stages."""
    stages = view.recommender.stages
    pairs = pd.concat([pd.DataFrame({"mentee_id": item.mentee_id, "mentor_id": item.mentor_ids}) for item in scored],
                      ignore_index=True)
    mentees = stages.catalogue.lookup(pd.unique(pairs["mentee_id"]).tolist())
    return pairs, stages.reranker.features(mentees.prepared, mentees.vectors, pairs)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_POLICIES)
def test_a_model_policy_shows_the_rankers_candidates_reordered_by_its_own_probability(four_models, start, name):
    seed, _ = four_models
    view, mentees, _ = start
    ranker_lists, scored = _scored_candidates(view, mentees)
    scorer = load_baselines(seed / "artifacts", [name])[name]
    lists = ModelPolicy(name, scorer).lists(view, mentees, K)

    pairs, features = _stage_features(view, scored)
    probability = pd.Series(scorer.predict(features), index=pd.MultiIndex.from_frame(pairs))
    reordered = 0
    for item in scored:
        p = probability.loc[item.mentee_id].reindex(item.mentor_ids).to_numpy()
        best = np.argsort(-p, kind="stable")[:K]
        shown = lists[lists["mentee_id"] == item.mentee_id].sort_values("rank")
        assert shown["mentor_id"].tolist() == item.mentor_ids[best].tolist(), item.mentee_id
        np.testing.assert_allclose(shown["score"].to_numpy(float), p[best], rtol=1e-12)
        reordered += shown["mentor_id"].tolist() != item.mentor_ids[item.order].tolist()
    assert len(scored) == len(mentees) == lists["mentee_id"].nunique()
    assert reordered > 0  # the model's lists are not the ranker's
    # Every slot keeps the features it was scored on.
    snapshot = pd.DataFrame(lists["features"].tolist())[list(FEATURES)].astype(float)
    np.testing.assert_allclose(scorer.predict(snapshot), lists["score"].to_numpy(float), rtol=1e-12)
    assert (lists["propensity"] == 1.0).all()
    assert set(ranker_lists["mentee_id"]) == set(lists["mentee_id"])


@pytest.mark.slow
def test_the_ranker_policy_still_orders_the_same_candidates_by_the_served_rankers_scores(start):
    view, mentees, _ = start
    lists, scored = _scored_candidates(view, mentees)
    pairs, _ = _stage_features(view, scored)
    served = view.recommender.stages.score_known(pairs)
    np.testing.assert_allclose(np.concatenate([item.scores for item in scored]), served, rtol=1e-12)
    for item in scored:
        shown = lists[lists["mentee_id"] == item.mentee_id].sort_values("rank")
        assert shown["mentor_id"].tolist() == item.mentor_ids[np.argsort(-item.scores, kind="stable")[:K]].tolist()


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_POLICIES)
def test_a_model_markets_lists_are_logged_under_the_models_name_with_its_probability(four_models, name):
    seed, _ = four_models
    scorer = load_baselines(seed / f"sim-{name}-artifacts", [name])[name]
    engine = get_engine(f"sqlite:///{seed / f'sim-{name}.db'}")
    frames = load_log(engine)
    engine.dispose()
    assert len(frames.lists) > 0
    assert set(frames.lists["variant"]) == {name} and set(frames.lists["experiment"]) == {f"sim-{name}"}
    assert set(frames.lists["model_version"]) == {f"{name}@{scorer.manifest.version}"}
    assert set(frames.lists["policy"]) == {"ranker"}  # greedy top k by the score
    slots = frames.slots.sort_values(["list_id", "recommended_rank"])
    snapshot = pd.DataFrame(slots["features"].tolist())[list(FEATURES)].astype(float)
    np.testing.assert_allclose(scorer.predict(snapshot), slots["score"].to_numpy(float), rtol=1e-12)
    assert (slots.groupby("list_id")["score"].diff().dropna() <= 0).all()  # best first
    assert (slots["propensity"] == 1.0).all()


@pytest.mark.slow
def test_a_market_per_model_runs_and_the_report_lists_each(four_models):
    seed, result = four_models
    assert list(result["policies"]) == list(POLICIES)
    for name in POLICIES:
        total = result["policies"][name]["total"]
        assert total["lists"]["mean"] > 0 and total["requests"]["mean"] > 0, name
        assert np.isfinite(total["successful_matches"]["mean"]) and np.isfinite(total["share_of_bound"]["mean"])
        assert 0 < total["ndcg_truth"]["mean"] <= 1
        assert [w["week"] for w in result["policies"][name]["weeks"]] == [1, 2]
    headline = simulation_markdown(result).split("## Successful matches per week")[0]
    for name in POLICIES:
        assert re.search(rf"^\| {name} +\|", headline, flags=re.M), name
    # Saved in their own format (no pickle); each market got only the baseline it serves.
    for name in MODEL_POLICIES:
        folder = seed / "artifacts" / BASELINES_FOLDER / name
        assert (folder / "manifest.json").is_file() and not list(folder.glob("*.pkl"))
        assert [p.name for p in (seed / f"sim-{name}-artifacts" / BASELINES_FOLDER).iterdir()] == [name]
    assert not (seed / "sim-ranker-artifacts" / BASELINES_FOLDER).exists() or not any(
        (seed / "sim-ranker-artifacts" / BASELINES_FOLDER).iterdir())


@pytest.mark.slow
def test_a_model_policy_serves_an_arm_of_a_shared_ab_market(four_models):
    seed, result = four_models
    assert result["ab"]["policies"] == ["random_forest", "ranker"]
    engine = get_engine(f"sqlite:///{seed / 'sim-ab.db'}")
    frames = load_log(engine, experiment="sim-ab")
    engine.dispose()
    arms = frames.lists.groupby("variant")["list_id"].count()
    assert set(arms.index) == {"random_forest", "ranker"} and (arms > 0).all()
    forest = frames.lists.loc[frames.lists["variant"] == "random_forest", "model_version"]
    assert forest.str.startswith("random_forest@").all()
    assert set(result["ab"]["per_seed"][0]["arm_rates"]) == {"random_forest", "ranker"}


def test_the_model_policies_are_the_offline_evaluations_baselines():
    assert set(MODEL_POLICIES) == set(BASELINES) == {"logistic_regression", "random_forest", "xgboost_classifier"}
    policies = SimulationConfig(policies=POLICIES).checked().policies
    assert policies == POLICIES


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: make_policy("svm"), InvalidParameterError, "Unknown policy 'svm': .*xgboost_classifier"),
    (lambda: ModelPolicy("svm", LogisticRegressionScorer()), InvalidParameterError,
     "Unknown model policy 'svm': .*logistic_regression, random_forest, xgboost_classifier"),
    (lambda: ModelPolicy("random_forest", LogisticRegressionScorer()), InvalidParameterError,
     "serves a random_forest scorer .* got 'logistic_regression'"),
    (lambda: make_policy("random_forest"), InvalidParameterError, "no scorer was given"),
    (lambda: make_policy("ranker", scorer=LogisticRegressionScorer()), InvalidParameterError, "serves no fitted model"),
    (lambda: SimulationConfig(policies=("ranker", "svm")).checked(), InvalidParameterError, "'svm' is unknown"),
    (lambda: load_baselines("nowhere", ["svm"]), InvalidParameterError, "'svm' is unknown"),
    (lambda: load_baselines("nowhere", ["random_forest"]), ArtifactError, "No saved random_forest model"),
    (lambda: SimulationConfig(policies=("ranker", "random_forest"), retrain_every=2).checked(),
     InvalidParameterError, "never retrained"),
    (lambda: SimulationConfig(ab=("xgboost_classifier", "ranker"), retrain_every=2).checked(),
     InvalidParameterError, "never retrained"),
])
def test_an_unknown_or_unservable_model_is_refused_with_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()
