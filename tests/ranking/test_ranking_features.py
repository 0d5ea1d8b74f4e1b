"""Pair features: exact values on hand-made profiles, one code path for training and serving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mentor_match.errors import DataValidationError, InvalidParameterError, UnknownEntityError
from ranking.features import (
    FEATURES,
    RATING_PRIOR,
    interaction_labels,
    pair_features,
    prepare_mentees,
    prepare_mentors,
)

EXPECTED = {
    # (mentee, mentor): every feature, worked out by hand from tests/ranking/conftest.py
    (1, 10): {
        "domain_overlap": 1 / 3, "skill_overlap": 0.5, "availability_compatibility": 0.5,
        "bio_goal_similarity": 0.6, "style_match": 1, "timezone_match": 0,
        "timezone_distance": 5.5 / 12, "industry_match": 1, "mentor_experience_years": 10,
        "mentor_rating": 4.5, "mentor_rating_missing": 0, "mentor_acceptance_rate": 0.8,
        "mentor_total_mentees": 12, "mentor_load": 0.5, "mentee_level": 2, "experience_gap": 6,
        "experience_compatibility": 1, "mentor_num_domains": 2, "mentor_num_skills": 2,
        "mentee_num_domains": 3, "mentee_num_skills": 1,
        "mentee_goals_words": 2, "mentee_availability_hours": 0, "mentee_profile_completeness": 1,
    },
    (1, 11): {
        "domain_overlap": 1 / 3, "skill_overlap": 0, "availability_compatibility": 0,
        "bio_goal_similarity": 0, "style_match": 0, "timezone_match": 0,
        "timezone_distance": 8 / 12, "industry_match": 0, "mentor_experience_years": 2,
        "mentor_rating": RATING_PRIOR, "mentor_rating_missing": 1, "mentor_acceptance_rate": 0.5,
        "mentor_total_mentees": 0, "mentor_load": 1, "mentee_level": 2, "experience_gap": -2,
        "experience_compatibility": 0, "mentor_num_domains": 1, "mentor_num_skills": 0,
        "mentee_num_domains": 3, "mentee_num_skills": 1,
        "mentee_goals_words": 2, "mentee_availability_hours": 0, "mentee_profile_completeness": 1,
    },
    (2, 10): {
        "domain_overlap": 0, "skill_overlap": 2 / 3, "availability_compatibility": 0,
        "bio_goal_similarity": 0.8, "style_match": 0, "timezone_match": 0,
        "timezone_distance": 0.5, "industry_match": 0, "mentor_experience_years": 10,
        "mentor_rating": 4.5, "mentor_rating_missing": 0, "mentor_acceptance_rate": 0.8,
        "mentor_total_mentees": 12, "mentor_load": 0.5, "mentee_level": 0, "experience_gap": 10,
        "experience_compatibility": 1, "mentor_num_domains": 2, "mentor_num_skills": 2,
        "mentee_num_domains": 0, "mentee_num_skills": 3,
        "mentee_goals_words": 4, "mentee_availability_hours": 0, "mentee_profile_completeness": 3 / 7,
    },
    (2, 11): {
        "domain_overlap": 0, "skill_overlap": 0, "availability_compatibility": 0,
        "bio_goal_similarity": 0, "style_match": 0, "timezone_match": 0,
        "timezone_distance": 0.5, "industry_match": 1, "mentor_experience_years": 2,
        "mentor_rating": RATING_PRIOR, "mentor_rating_missing": 1, "mentor_acceptance_rate": 0.5,
        "mentor_total_mentees": 0, "mentor_load": 1, "mentee_level": 0, "experience_gap": 2,
        "experience_compatibility": 0.4, "mentor_num_domains": 1, "mentor_num_skills": 0,
        "mentee_num_domains": 0, "mentee_num_skills": 3,
        "mentee_goals_words": 4, "mentee_availability_hours": 0, "mentee_profile_completeness": 3 / 7,
    },
    (3, 11): {
        "domain_overlap": 1, "skill_overlap": 0, "availability_compatibility": 1,
        "bio_goal_similarity": 1, "style_match": 1, "timezone_match": 1,
        "timezone_distance": 0, "industry_match": 1, "mentor_experience_years": 2,
        "mentor_rating": RATING_PRIOR, "mentor_rating_missing": 1, "mentor_acceptance_rate": 0.5,
        "mentor_total_mentees": 0, "mentor_load": 1, "mentee_level": 4, "experience_gap": -10,
        "experience_compatibility": 0, "mentor_num_domains": 1, "mentor_num_skills": 0,
        "mentee_num_domains": 1, "mentee_num_skills": 0,
        "mentee_goals_words": 2, "mentee_availability_hours": 0, "mentee_profile_completeness": 6 / 7,
    },
}


def _pairs(keys) -> pd.DataFrame:
    return pd.DataFrame(list(keys), columns=["mentee_id", "mentor_id"])


def test_every_feature_matches_hand_computed_values(mentees, mentors, vectors):
    pairs = _pairs(EXPECTED)
    pairs.index = [7, 3, 9, 1, 5]  # the result keeps the index of `pairs`
    got = pair_features(mentees, mentors, pairs, mentee_vectors=vectors[0], mentor_vectors=vectors[1])
    assert list(got.columns) == list(FEATURES)
    assert list(got.index) == [7, 3, 9, 1, 5]
    assert all(dtype == np.float64 for dtype in got.dtypes)
    expected = pd.DataFrame(list(EXPECTED.values()), index=pairs.index, columns=list(FEATURES))
    pd.testing.assert_frame_equal(got, expected.astype(np.float64), rtol=1e-6, atol=1e-7)
    assert set().union(*(row.keys() for row in EXPECTED.values())) == set(FEATURES)


def test_without_vectors_similarity_is_nan_and_nothing_else_changes(mentees, mentors, vectors):
    pairs = _pairs(EXPECTED)
    bare = pair_features(mentees, mentors, pairs)
    full = pair_features(mentees, mentors, pairs, mentee_vectors=vectors[0], mentor_vectors=vectors[1])
    assert bare["bio_goal_similarity"].isna().all()
    pd.testing.assert_frame_equal(
        bare.drop(columns="bio_goal_similarity"), full.drop(columns="bio_goal_similarity")
    )


def test_prepared_profiles_give_the_same_features_as_raw_frames(mentees, mentors, vectors):
    pairs = _pairs(EXPECTED)
    raw = pair_features(mentees, mentors, pairs, mentee_vectors=vectors[0], mentor_vectors=vectors[1])
    prepared = pair_features(
        prepare_mentees(mentees), prepare_mentors(mentors), pairs,
        mentee_vectors=vectors[0], mentor_vectors=vectors[1],
    )
    pd.testing.assert_frame_equal(raw, prepared, check_exact=True)


def test_serving_one_mentee_equals_rows_of_the_training_call(mentees, mentors, vectors):
    """A big training call and a serving call for one mentee (prepared catalogue, one
    mentee taken out of it, vectors given per pair) give identical rows."""
    everything = _pairs([(e, m) for e in (1, 2, 3) for m in (10, 11)])
    training = pair_features(
        mentees, mentors, everything, mentee_vectors=vectors[0], mentor_vectors=vectors[1]
    )
    catalogue = prepare_mentors(mentors)
    one = prepare_mentees(mentees).take([1])  # mentee 2
    candidates = _pairs([(2, 11), (2, 10)])
    serving = pair_features(
        one, catalogue, candidates,
        mentee_vectors=vectors[0][[1]], mentor_vectors=vectors[1][[1, 0]], vectors_per=("profile", "pair"),
    )
    rows = training.loc[[3, 2]].reset_index(drop=True)
    pd.testing.assert_frame_equal(serving, rows, check_exact=True)


def test_adhoc_profile_with_only_goals_takes_documented_defaults(mentors):
    features = pair_features(
        pd.DataFrame([{"goals": "become a data scientist"}]),
        mentors,
        pd.DataFrame({"mentee_id": [-1, -1], "mentor_id": [10, 11]}),
    )
    assert len(features) == 2 and not features.drop(columns="bio_goal_similarity").isna().any().any()
    assert (features["mentee_level"] == 1).all()  # junior
    assert (features["timezone_distance"] == 0.5).all()
    assert (features[["domain_overlap", "style_match", "mentee_num_skills"]] == 0).all().all()
    assert features["experience_gap"].tolist() == [10 - 1.5, 2 - 1.5]


def test_missing_cells_are_imputed_never_dropped(mentees, mentors):
    mentors = mentors.assign(rating=[np.nan, np.nan], acceptance_rate=[np.nan, 0.5])
    mentors.loc[0, "domains"] = None
    features = pair_features(mentees, mentors, _pairs(EXPECTED))
    assert len(features) == len(EXPECTED)
    assert (features["mentor_rating"] == RATING_PRIOR).all()
    assert (features["mentor_rating_missing"] == 1).all()
    assert features.loc[0, "mentor_acceptance_rate"] == 0
    assert features.loc[0, "mentor_num_domains"] == 0 and features.loc[0, "domain_overlap"] == 0


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"current_level": ["mid", "guru", "lead"]}, DataValidationError, "current_level"),
        ({"timezone": ["UTC+11", "Europe/Paris", None]}, DataValidationError, "timezone"),
        ({"desired_domains": ["ml, web", [], []]}, DataValidationError, "lists of strings"),
        ({"mentee_id": [1, 1, 3]}, DataValidationError, "Duplicate mentee_id"),
    ],
)
def test_bad_profiles_are_refused_with_a_message(mentees, mentors, change, error, words):
    with pytest.raises(error, match=words):
        pair_features(mentees.assign(**change), mentors, _pairs([(1, 10)]))


def test_unknown_ids_and_bad_arguments_are_refused(mentees, mentors, vectors):
    with pytest.raises(UnknownEntityError, match=r"mentor id\(s\) \[99\]"):
        pair_features(mentees, mentors, _pairs([(1, 99)]))
    with pytest.raises(InvalidParameterError, match="mentees first"):
        pair_features(prepare_mentors(mentors), prepare_mentees(mentees), _pairs([(1, 10)]))
    with pytest.raises(InvalidParameterError, match="mentee_id and mentor_id"):
        pair_features(mentees, mentors, pd.DataFrame({"mentee": [1]}))
    with pytest.raises(InvalidParameterError, match="both"):
        pair_features(mentees, mentors, _pairs([(1, 10)]), mentee_vectors=vectors[0])
    with pytest.raises(InvalidParameterError, match="expected one per mentor"):
        pair_features(mentees, mentors, _pairs([(1, 10)]), mentee_vectors=vectors[0],
                      mentor_vectors=np.ones((5, 3)))


def test_ambiguous_vector_alignment_is_refused_unless_named(mentees, mentors, vectors):
    # Two pairs and two mentors: rows could be per mentor or per pair; the order differs.
    pairs = _pairs([(1, 11), (1, 10)])
    with pytest.raises(InvalidParameterError, match="vectors_per"):
        pair_features(mentees, mentors, pairs, mentee_vectors=vectors[0], mentor_vectors=vectors[1])
    per_profile = pair_features(mentees, mentors, pairs, mentee_vectors=vectors[0],
                                mentor_vectors=vectors[1], vectors_per="profile")
    assert per_profile["bio_goal_similarity"].tolist() == pytest.approx([0.0, 0.6])
    per_pair = pair_features(mentees, mentors, pairs, mentee_vectors=vectors[0],
                             mentor_vectors=vectors[1], vectors_per=("profile", "pair"))
    assert per_pair["bio_goal_similarity"].tolist() == pytest.approx([0.6, 0.0])


def test_interaction_labels_grade_outcomes_and_skip_pending():
    interactions = pd.DataFrame({
        "mentee_id": [1, 1, 1, 2, 2, 2],
        "mentor_id": [10, 11, 12, 10, 11, 11],
        "status": ["declined", "accepted", "pending", "completed", "completed", "accepted"],
        "successful_match": [False, False, False, False, True, False],
        "created_at": pd.to_datetime(
            ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-02-01", "2024-01-05"]
        ),
    })
    labels = interaction_labels(interactions)
    got = {(r.mentee_id, r.mentor_id): (r.relevance, r.label) for r in labels.itertuples()}
    # (2, 11): the later interaction (completed, successful) wins over the earlier one.
    assert got == {(1, 10): (0, 0), (1, 11): (1, 0), (2, 10): (2, 0), (2, 11): (3, 1)}
    with pytest.raises(DataValidationError, match="status"):
        interaction_labels(interactions.assign(status="maybe"))


def test_prepared_catalogue_serves_200_candidates_like_raw_frames():
    """Serving shape: 200 candidates for one mentee against a prepared 2,000-mentor catalogue."""
    rng = np.random.default_rng(0)
    words = np.array([f"topic{i}" for i in range(60)])
    n = 2000
    mentors = pd.DataFrame({
        "mentor_id": np.arange(n),
        "domains": [list(rng.choice(words, 3)) for _ in range(n)],
        "skills": [list(rng.choice(words, 6)) for _ in range(n)],
        "availability": [list(rng.choice(words[:21], 5)) for _ in range(n)],
        "timezone": rng.choice(["UTC", "UTC+1", "UTC-5", "UTC+5:30"], n),
        "rating": rng.uniform(1, 5, n),
        "experience_years": rng.integers(1, 30, n),
    })
    catalogue = prepare_mentors(mentors)
    mentee = prepare_mentees(pd.DataFrame([{"mentee_id": 1, "desired_domains": ["topic1"],
                                            "current_skills": ["topic2", "topic3"]}]))
    pairs = pd.DataFrame({"mentee_id": 1, "mentor_id": rng.choice(n, 200, replace=False)})
    tee, tor = rng.normal(size=(1, 384)), rng.normal(size=(200, 384))
    served = pair_features(mentee, catalogue, pairs, mentee_vectors=tee, mentor_vectors=tor,
                           vectors_per=("profile", "pair"))
    raw = pair_features(pd.DataFrame([{"mentee_id": 1, "desired_domains": ["topic1"],
                                       "current_skills": ["topic2", "topic3"]}]),
                        mentors, pairs, mentee_vectors=tee, mentor_vectors=tor,
                        vectors_per=("profile", "pair"))
    pd.testing.assert_frame_equal(served, raw)  # speed is measured by scripts/benchmark.py
    assert served.index.equals(pairs.index) and served.notna().all().all()
