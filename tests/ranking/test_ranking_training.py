"""Training data and model fitting (ranking.training) on a small synthetic world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from db import Dataset
from mentor_match.errors import NotEnoughDataError
from ranking.baselines import ClassifierScorer
from ranking.features import FEATURES
from ranking.ranker import Ranker
from ranking.splits import grouped_split
from ranking.training import (
    MODEL_NAMES,
    build_training_pairs,
    choose_threshold,
    make_pair_frame,
    make_ranker,
    train_models,
    usable_groups,
)

SMALL = {  # small models keep the suite fast
    "random_forest": {"n_estimators": 60},
    "xgboost_classifier": {"n_estimators": 60},
    "xgboost_ranker": {"n_estimators": 300},
}


@pytest.fixture(scope="module")
def world(training_world):
    return training_world


def _dataset(interactions: pd.DataFrame, world) -> Dataset:
    return Dataset(mentors=world.mentors, mentees=world.mentees, interactions=interactions)


def test_too_few_or_one_class_interactions_stop_with_a_how_to(world):
    done = world.interactions[world.interactions["status"] != "pending"]
    with pytest.raises(NotEnoughDataError, match=r"49 labelled interactions.*Generate more data"):
        build_training_pairs(_dataset(done.head(49), world))
    failures = done[~done["successful_match"].astype(bool)].head(200)
    with pytest.raises(NotEnoughDataError, match="all 200 labelled interactions are unsuccessful"):
        build_training_pairs(_dataset(failures, world))
    pairs = build_training_pairs(_dataset(done, world))
    assert set(pairs["relevance"]) == {0, 1, 2, 3} and set(pairs["label"]) == {0, 1}


def test_usable_groups_need_two_rows_and_two_labels():
    groups = [1, 1, 2, 2, 3, 4, 4, 4]
    labels = [0, 1, 1, 1, 0, 0, 2, 3]
    assert usable_groups(labels, groups) == 2  # 1 and 4; 2 has one label, 3 one row


def test_train_models_fits_four_scorers_on_the_training_mentees_only(world):
    dataset = _dataset(world.interactions, world)
    pairs = build_training_pairs(dataset)
    X = make_pair_frame(dataset, pairs, None, None, False)  # no encoder: similarity is NaN
    assert list(X.columns) == list(FEATURES) and X["bio_goal_similarity"].isna().all()
    split = grouped_split(pairs["mentee_id"].to_numpy(), seed=0)
    trained = train_models(X, pairs, split, seed=0, params=SMALL, n_jobs=1)
    assert list(trained.models) == list(MODEL_NAMES)
    ranker = trained.models["xgboost_ranker"]
    assert isinstance(ranker, Ranker) and ranker.n_groups_ == len(np.unique(pairs["mentee_id"].iloc[split.train]))
    assert 1 <= ranker.best_iteration_ < 300  # early-stopped on the validation mentees
    test = X.iloc[split.test]
    for name in MODEL_NAMES[:3]:
        assert isinstance(trained.models[name], ClassifierScorer)
        scores = trained.scores(name, test)
        assert ((scores >= 0) & (scores <= 1)).all(), name
        np.testing.assert_array_equal(trained.probabilities(name, scores), scores)
        labels = trained.predictions(name, scores)
        np.testing.assert_array_equal(labels, scores >= trained.thresholds[name])
    scores = trained.scores("xgboost_ranker", test)
    calibrated = trained.calibration.predict_proba(scores[:, None])[:, 1]
    np.testing.assert_array_equal(
        trained.predictions("xgboost_ranker", scores), calibrated >= trained.thresholds["xgboost_ranker"]
    )


def test_each_threshold_is_the_f1_optimal_one_on_validation(world):
    dataset = _dataset(world.interactions, world)
    pairs = build_training_pairs(dataset)
    X = make_pair_frame(dataset, pairs, None, None, False)
    split = grouped_split(pairs["mentee_id"].to_numpy(), seed=0)
    trained = train_models(X, pairs, split, seed=0, params=SMALL, n_jobs=1)
    y = pairs["label"].to_numpy()[split.validation]
    assert set(trained.thresholds) == set(MODEL_NAMES)
    for name in MODEL_NAMES:
        p = trained.probabilities(name, trained.scores(name, X.iloc[split.validation]))
        # Brute force: F1 of "p >= t" for every distinct probability t; none beats the chosen one.
        best = max(f1_score(y, p >= t, zero_division=0) for t in np.unique(p))
        chosen = f1_score(y, p >= trained.thresholds[name], zero_division=0)
        assert chosen == pytest.approx(best), name
        assert trained.thresholds[name] in set(p.tolist()), name


def test_choose_threshold_beats_one_half_at_a_low_base_rate():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)  # 10% positives
    p = np.clip(0.1 + 0.25 * (y - 0.1) + rng.normal(0, 0.08, len(y)), 0, 1)  # calibrated-ish, all below 0.5
    assert (p >= 0.5).sum() < 10  # the fixed threshold predicts (almost) no positive
    threshold = choose_threshold(y, p)
    assert 0.1 < threshold < 0.5
    assert f1_score(y, p >= threshold) > 0.5 > f1_score(y, p >= 0.5, zero_division=0)


def test_make_ranker_lets_parameters_override_the_defaults():
    ranker = make_ranker(5, n_jobs=1, max_depth=3)
    assert (ranker.max_depth, ranker.random_state, ranker.n_jobs) == (3, 5, 1)
    assert ranker.objective == "rank:pairwise" and ranker.learning_rate == 0.05
