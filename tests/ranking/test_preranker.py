"""The pre-ranker: its fit, its mentor prior and its manifest entry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from mentor_match.errors import ArtifactError
from ranking.features import FEATURES, pair_features, prepare_mentors
from ranking.preranker import MENTOR_FEATURES, SIMILARITY, Preranker, fit_preranker, nearest_pairs
from synthetic import generate_world


@pytest.fixture(scope="module")
def world():
    world = generate_world(n_mentors=80, n_mentees=30, interactions_per_mentee=2, seed=11)
    return world.mentees, world.mentors


def test_fit_recovers_a_linear_scorer_up_to_per_mentee_offsets(world):
    mentees, mentors = world
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(mentees["mentee_id"].to_numpy(), 40),
        "mentor_id": rng.choice(mentors["mentor_id"].to_numpy(), 40 * len(mentees)),
    })
    features = pair_features(mentees, mentors, pairs).assign(**{SIMILARITY: rng.random(len(pairs))})
    columns = [SIMILARITY, *MENTOR_FEATURES]
    truth = rng.normal(size=len(columns))
    # A scorer linear in those columns plus a per-mentee offset (through a mentee-only
    # feature), as a pairwise ranker's scores may carry one: the fit must see past it.
    target = features[columns].to_numpy() @ truth + 5.0 * features["mentee_level"].to_numpy()
    scorer = LinearRegression().fit(features[list(FEATURES)], target)
    fitted = fit_preranker(scorer, features, pairs["mentee_id"].to_numpy())
    found = [fitted.similarity_weight, *(fitted.weights[name] for name in MENTOR_FEATURES)]
    np.testing.assert_allclose(found, truth, atol=1e-6)
    assert fitted.r2 == pytest.approx(1.0) and fitted.fit_pairs == len(pairs)


def test_mentor_prior_is_the_weighted_mentor_features(world):
    mentees, mentors = world
    weights = {name: float(i + 1) for i, name in enumerate(MENTOR_FEATURES)}
    preranker = Preranker(0.5, weights, 0.7, 10)
    prepared = prepare_mentors(mentors)
    pairs = pd.DataFrame({"mentee_id": mentees["mentee_id"].iloc[0], "mentor_id": mentors["mentor_id"]})
    features = pair_features(mentees, prepared, pairs)
    expected = features[list(MENTOR_FEATURES)].to_numpy() @ np.array(list(weights.values()))
    np.testing.assert_allclose(preranker.mentor_prior(prepared), expected)


def test_manifest_round_trip_and_refusals():
    weights = dict.fromkeys(MENTOR_FEATURES, 0.1)
    preranker = Preranker(0.4, weights, 0.66, 1000)
    assert Preranker.from_manifest({"preranker": preranker.to_dict()}) == preranker
    assert Preranker.from_manifest({}) is None
    with pytest.raises(ArtifactError, match="malformed"):
        Preranker.from_manifest({"preranker": {"weights": weights}})
    with pytest.raises(ArtifactError, match="retrain"):
        Preranker.from_manifest({"preranker": {**preranker.to_dict(), "weights": {"mentor_rating": 1.0}}})


def test_nearest_pairs_are_the_most_similar():
    rng = np.random.default_rng(3)
    mentors = rng.normal(size=(50, 8)).astype(np.float32)
    mentees = rng.normal(size=(4, 8)).astype(np.float32)
    pairs = nearest_pairs(np.arange(4), mentees, np.arange(100, 150), mentors, n=5)
    for i in range(4):
        expected = 100 + np.argsort(-(mentors @ mentees[i]))[:5]
        assert set(pairs.loc[pairs["mentee_id"] == i, "mentor_id"]) == set(expected)
    assert len(nearest_pairs(np.arange(4), mentees, np.arange(100, 150), mentors, n=500)) == 4 * 50


def test_mentor_features_do_not_depend_on_the_mentee(world):
    mentees, mentors = world
    columns = list(MENTOR_FEATURES)
    assert len(columns) == 8
    per_mentee = [
        pair_features(mentees, mentors, pd.DataFrame({"mentee_id": m, "mentor_id": mentors["mentor_id"]}))
        for m in mentees["mentee_id"].iloc[:3]
    ]
    for other in per_mentee[1:]:
        pd.testing.assert_frame_equal(other[columns], per_mentee[0][columns])
