"""The hidden ground truth: probabilities, the factors that dominate, alignment with the pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from db.schema import LEVEL_YEARS
from mentor_match.errors import InvalidParameterError, UnknownEntityError
from synthetic import true_match_probability


def _all_pairs(mentees: pd.DataFrame, mentors: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "mentee_id": np.repeat(mentees["mentee_id"].to_numpy(), len(mentors)),
        "mentor_id": np.tile(mentors["mentor_id"].to_numpy(), len(mentees)),
    })


@pytest.fixture(scope="module")
def scored_pairs(small_world):
    """Every (mentee, mentor) pair of the small world with its truth and a few factors."""
    truth_mentees, truth_mentors = small_world.with_truth()
    pairs = _all_pairs(truth_mentees, truth_mentors)
    scores = true_match_probability(truth_mentees, truth_mentors, pairs)
    pair_mentees = truth_mentees.set_index("mentee_id").loc[pairs["mentee_id"]].reset_index()
    pair_mentors = truth_mentors.set_index("mentor_id").loc[pairs["mentor_id"]].reset_index()
    same_domain = [bool(set(a) & set(b)) for a, b in zip(pair_mentees["desired_domains"], pair_mentors["domains"], strict=True)]
    wanted_sub = [bool(set(a) & set(b)) for a, b in zip(pair_mentees["true_subspecialties"], pair_mentors["true_subspecialties"], strict=True)]
    gap = pair_mentors["experience_years"] - pair_mentees["current_level"].map(LEVEL_YEARS)
    return scores.assign(same_domain=same_domain, wanted_sub=wanted_sub, gap=gap.to_numpy())


def test_probabilities_are_consistent(scored_pairs):
    for column in ("p_accept", "p_success", "p_match"):
        assert scored_pairs[column].between(0, 1).all()
    np.testing.assert_allclose(scored_pairs["p_match"], scored_pairs["p_accept"] * scored_pairs["p_success"])


def test_domain_and_subspecialty_fit_dominate(scored_pairs):
    by_domain = scored_pairs.groupby("same_domain")["p_match"].mean()
    assert by_domain[True] > by_domain[False] + 0.1
    same = scored_pairs[scored_pairs["same_domain"]]
    by_sub = same.groupby("wanted_sub")["p_match"].mean()
    assert by_sub[True] > by_sub[False] + 0.1  # the signal only the texts carry


def test_experience_effect_rises_then_falls(scored_pairs, small_world):
    bins = pd.cut(scored_pairs["gap"], [-40, 0, 3, 10, 16, 40])
    means = scored_pairs.groupby(bins, observed=True)["p_success"].mean().to_numpy()
    peak = int(np.argmax(means))
    assert 0 < peak < len(means) - 1, means
    # Controlled: one pair, only the mentor's experience changes.
    truth_mentees, truth_mentors = small_world.with_truth()
    mentee = truth_mentees[truth_mentees["current_level"] == "mid"].head(1)
    mentor = truth_mentors.head(1)
    variants = pd.concat([mentor.assign(mentor_id=y, experience_years=y) for y in range(0, 31)])
    pairs = pd.DataFrame({"mentee_id": mentee["mentee_id"].iloc[0], "mentor_id": variants["mentor_id"]})
    curve = true_match_probability(mentee, variants, pairs)["p_success"].to_numpy()
    best = int(np.argmax(curve))
    assert 7 <= best <= 14  # a mid mentee (~4 years) gains most from a mentor 3-10 years ahead
    assert curve[0] < curve[best] and curve[30] < curve[best]


def test_truth_is_aligned_with_pairs_index_and_order(small_world):
    truth_mentees, truth_mentors = small_world.with_truth()
    pairs = _all_pairs(truth_mentees.head(3), truth_mentors.head(4))
    scores = true_match_probability(truth_mentees, truth_mentors, pairs)
    shuffled = pairs.sample(frac=1.0, random_state=0)
    rescored = true_match_probability(truth_mentees.iloc[::-1], truth_mentors.sample(frac=1.0, random_state=1), shuffled)
    assert rescored.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(rescored.loc[pairs.index], scores)
    with pytest.raises(UnknownEntityError, match="mentor_id 999999"):
        true_match_probability(truth_mentees, truth_mentors, pairs.assign(mentor_id=999999))
    with pytest.raises(InvalidParameterError, match="true_subspecialties"):
        true_match_probability(small_world.mentees, truth_mentors, pairs)


