"""The mentee-side appeal model and position-bias curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mentor_match.errors import InvalidParameterError, UnknownEntityError
from synthetic import generate_world, true_match_probability
from synthetic.appeal import APPEAL_WEIGHTS, examination_probability, request_probability


@pytest.fixture(scope="module")
def world():
    return generate_world(20, 30, 2, seed=3).with_truth()


def _variants(mentors: pd.DataFrame, **columns: list) -> pd.DataFrame:
    """Copies of the first mentor, one per value, differing only in the given column."""
    (name, values), = columns.items()
    rows = mentors.iloc[[0] * len(values)].copy()
    rows["mentor_id"] = np.arange(1, len(values) + 1)
    rows[name] = values
    return rows.reset_index(drop=True)


def _pairs(mentee_id: int, n: int) -> pd.DataFrame:
    return pd.DataFrame({"mentee_id": mentee_id, "mentor_id": np.arange(1, n + 1)})


def test_more_of_the_mentees_domains_is_more_appealing(world):
    mentees, mentors = world
    mentee = mentees.loc[mentees["desired_domains"].map(len) >= 2].iloc[0]
    wanted = list(mentee["desired_domains"])
    foreign = sorted({d for cell in mentors["domains"] for d in cell} - set(wanted))[:2]
    planted = _variants(mentors, domains=[foreign, [wanted[0], *foreign], wanted])
    p = request_probability(mentees, planted, _pairs(mentee["mentee_id"], 3))
    assert p[0] < p[1] < p[2]
    w = APPEAL_WEIGHTS
    share = 1 / len(wanted)
    assert np.log(p[1] / (1 - p[1])) - np.log(p[0] / (1 - p[0])) == pytest.approx(
        w["any_domain"] + w["domain_share"] * share
    )


def test_a_higher_rating_is_more_appealing_and_no_rating_is_neutral(world):
    mentees, mentors = world
    planted = _variants(mentors, rating=[3.0, 4.2, 4.9, np.nan])
    p = request_probability(mentees, planted, _pairs(mentees["mentee_id"].iloc[0], 4))
    assert p[0] < p[1] < p[2]
    assert p[3] == pytest.approx(p[1])  # a new mentor reads as 4.2


def test_the_wanted_subspecialty_in_the_bio_is_more_appealing(world):
    mentees, mentors = world
    mentee = mentees.iloc[0]
    planted = _variants(mentors, true_subspecialties=[[], list(mentee["true_subspecialties"])])
    p = request_probability(mentees, planted, _pairs(mentee["mentee_id"], 2))
    assert p[1] > p[0]


def test_hidden_success_terms_do_not_change_appeal(world):
    mentees, mentors = world
    pairs = pd.MultiIndex.from_product(
        [mentees["mentee_id"], mentors["mentor_id"]], names=["mentee_id", "mentor_id"]
    ).to_frame(index=False)
    rng = np.random.default_rng(0)
    shifted_mentees = mentees.assign(latent=rng.normal(0, 2, len(mentees)))
    shifted_mentors = mentors.assign(
        latent=rng.normal(0, 2, len(mentors)),
        acceptance_rate=rng.uniform(0.05, 0.95, len(mentors)),
        current_mentees=mentors["max_mentees"],
    )
    before = request_probability(mentees, mentors, pairs)
    after = request_probability(shifted_mentees, shifted_mentors, pairs)
    np.testing.assert_array_equal(before, after)
    truth_before = true_match_probability(mentees, mentors, pairs)["p_match"]
    truth_after = true_match_probability(shifted_mentees, shifted_mentors, pairs)["p_match"]
    assert not np.allclose(truth_before, truth_after)  # the change did reach the truth


def test_custom_weights_are_used_and_checked(world):
    mentees, mentors = world
    pairs = _pairs(mentees["mentee_id"].iloc[0], 3)
    flat = dict.fromkeys(APPEAL_WEIGHTS, 0.0)
    np.testing.assert_allclose(request_probability(mentees, mentors, pairs, weights=flat), 0.5)
    with pytest.raises(InvalidParameterError, match="exactly the keys"):
        request_probability(mentees, mentors, pairs, weights={"intercept": 0.0})
    with pytest.raises(InvalidParameterError, match="lacks column.s. latent"):
        request_probability(mentees.drop(columns="latent"), mentors, pairs)
    with pytest.raises(UnknownEntityError, match="mentor_id 999"):
        request_probability(mentees, mentors, pairs.assign(mentor_id=999))


def test_examination_curves_have_their_values():
    ranks = np.arange(1, 6)
    np.testing.assert_allclose(examination_probability(ranks), 1 / ranks)
    np.testing.assert_allclose(examination_probability(ranks, strength=2.0), 1 / ranks**2)
    np.testing.assert_allclose(
        examination_probability(ranks, "exponential", strength=0.5), np.exp(-0.5 * (ranks - 1))
    )
    for curve in ("reciprocal", "exponential"):
        assert examination_probability(np.array([1]), curve, strength=3.0)[0] == 1.0
        np.testing.assert_array_equal(examination_probability(ranks, curve, strength=0.0), 1.0)
        assert np.all(np.diff(examination_probability(ranks, curve)) < 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: examination_probability(np.array([1, 2]), "cascade"), "'curve' parameter"),
        (lambda: examination_probability(np.array([0, 1])), "integer ranks >= 1"),
        (lambda: examination_probability(np.array([1.5])), "integer ranks >= 1"),
        (lambda: examination_probability(np.array([1, np.nan])), "integer ranks >= 1"),
        (lambda: examination_probability(np.array(["1"])), "integer ranks >= 1"),
        (lambda: examination_probability(np.array([1]), strength=-1.0), "'strength' parameter"),
    ],
)
def test_bad_ranks_curves_and_strengths_are_refused(call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call()
