"""eval.exhaustive: every eligible pair, scored as serving scores it (random vectors, real FAISS and XGBoost)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eval.exhaustive import eligible_pairs, score_pairs
from ranking.features import pair_features


@pytest.fixture(scope="module")
def served(random_vector_world):
    return random_vector_world(n_mentors=120, n_mentees=15, interactions_per_mentee=4, seed=2, dim=24)


def test_eligible_pairs_are_every_eligible_mentor_minus_the_contacted(served):
    world, recommender, *_ = served
    mentors = world.mentors
    eligible = set(mentors.loc[mentors["active"] & (mentors["current_mentees"] < mentors["max_mentees"]), "mentor_id"])
    mentee_ids = world.mentees["mentee_id"].to_numpy()[[4, 0, 9]]
    pairs = eligible_pairs(recommender, mentee_ids)
    assert list(pairs.columns) == ["mentee_id", "mentor_id"]
    assert pd.unique(pairs["mentee_id"]).tolist() == mentee_ids.tolist()
    for mentee in mentee_ids:
        contacted = set(world.interactions.loc[world.interactions["mentee_id"] == mentee, "mentor_id"])
        got = pairs.loc[pairs["mentee_id"] == mentee, "mentor_id"]
        assert contacted & eligible, "the world must have contacted eligible mentors to leave out"
        assert set(got) == eligible - contacted and got.is_monotonic_increasing


def test_score_pairs_are_the_rankers_scores_of_the_pair_features(served):
    world, recommender, bios, goals, ranker = served
    pairs = eligible_pairs(recommender, world.mentees["mentee_id"].to_numpy()[:3])
    order = pd.Index(world.mentees["mentee_id"]).get_indexer(pairs["mentee_id"])
    rows = pd.Index(world.mentors["mentor_id"]).get_indexer(pairs["mentor_id"])
    features = pair_features(world.mentees, world.mentors, pairs, mentee_vectors=goals[order],
                             mentor_vectors=bios[rows], vectors_per="pair")
    np.testing.assert_allclose(score_pairs(recommender, pairs), ranker.predict(features), rtol=1e-6)


def test_two_stages_that_see_every_mentor_give_the_exhaustive_top(served):
    world, recommender, *_ = served
    for mentee in world.mentees["mentee_id"].to_numpy()[:5]:
        pairs = eligible_pairs(recommender, [mentee])
        scores = pd.Series(score_pairs(recommender, pairs), index=pairs["mentor_id"])
        listed = recommender.recommend(mentee_id=int(mentee), k=10, candidates=len(pairs))
        # Ties may order differently; the scores of the top ten may not.
        np.testing.assert_allclose([r.score for r in listed], np.sort(scores.to_numpy())[::-1][:10], rtol=1e-6)
        np.testing.assert_allclose([r.score for r in listed], scores[[r.mentor_id for r in listed]], rtol=1e-6)
