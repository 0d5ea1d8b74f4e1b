"""Point-in-time mentor aggregates: no feature of a request sees an outcome from after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from db import Dataset
from mentor_match.errors import DataValidationError, InvalidParameterError, NotEnoughDataError
from ranking.features import FEATURES, pair_features
from ranking.history import (
    ACCEPTANCE_PRIOR,
    PRIOR_REQUESTS,
    mentor_state_at,
    mentors_as_of,
    with_aggregates,
)
from ranking.splits import time_split
from ranking.training import build_training_pairs, make_pair_frame, split_pairs
from synthetic import generate_world


@pytest.fixture(scope="module")
def world():
    return generate_world(n_mentors=30, n_mentees=120, interactions_per_mentee=6, seed=11)


def _dataset(world, interactions=None) -> Dataset:
    return Dataset(world.mentors, world.mentees, world.interactions if interactions is None else interactions)


def _features(dataset: Dataset, pairs: pd.DataFrame, *, point_in_time: bool = True) -> pd.DataFrame:
    return make_pair_frame(dataset, pairs, None, cache_dir=None, progress=False, point_in_time=point_in_time)


def _planted(world, pairs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The interactions plus, for the busiest mentor, a future outcome of every kind: an
    accepted and completed five-star mentorship and a decline, both after every request."""
    mentor = int(pairs["mentor_id"].value_counts().index[0])
    later = world.interactions["created_at"].max() + pd.Timedelta(days=1)
    mentees = world.mentees["mentee_id"].to_numpy()[:2]
    base = world.interactions.iloc[0]
    rows = []
    for i, (mentee, status, success) in enumerate(((mentees[0], "completed", True), (mentees[1], "declined", False))):
        rows.append(base.to_dict() | {
            "interaction_id": int(world.interactions["interaction_id"].max()) + 1 + i,
            "mentee_id": int(mentee), "mentor_id": mentor, "status": status,
            "mentor_accepted": status != "declined", "successful_match": success,
            "overall_rating": 5.0 if success else None, "created_at": later,
            "completed_at": later + pd.Timedelta(days=30) if status == "completed" else pd.NaT,
        })
    future = pd.concat([world.interactions, pd.DataFrame(rows)], ignore_index=True)
    return future, mentor


def test_no_feature_sees_a_planted_future_outcome(world):
    dataset = _dataset(world)
    pairs = build_training_pairs(dataset)
    before = _features(dataset, pairs)
    future, mentor = _planted(world, pairs)
    after = _features(_dataset(world, future), pairs)
    pd.testing.assert_frame_equal(before, after)  # every feature of every request, unchanged
    # The check can fail: with the aggregates as a platform table holds them now (recomputed
    # over every interaction, the planted ones included), the busiest mentor's rows move.
    now = mentors_as_of(world.mentors, future)
    leaky = _features(Dataset(now, world.mentees, future), pairs, point_in_time=False)
    moved = (leaky != before).any(axis=1)
    assert moved[pairs["mentor_id"] == mentor].all()
    assert {"mentor_acceptance_rate", "mentor_total_mentees"} <= set(leaky.columns[(leaky != before).any()])


def test_a_request_never_sees_its_own_outcome(world):
    dataset = _dataset(world)
    pairs = build_training_pairs(dataset)
    before = _features(dataset, pairs)
    flipped = world.interactions.copy()
    # Every outcome reversed: accepted <-> declined. A request's own row may not change.
    flipped["status"] = flipped["status"].map({"declined": "accepted", "accepted": "declined",
                                               "completed": "declined", "pending": "pending"})
    first = pairs.sort_values("created_at").groupby("mentor_id").head(1).index  # no earlier request
    after = _features(_dataset(world, flipped), pairs)
    # mentor_load is reconstructed backward from today's seat count, which a flipped history
    # contradicts; the planted-future test above covers it on consistent data.
    keep = [c for c in FEATURES if c != "mentor_load"]
    pd.testing.assert_frame_equal(before.loc[first, keep], after.loc[first, keep])
    assert (before.loc[first, "mentor_acceptance_rate"] == ACCEPTANCE_PRIOR).all()


def test_state_agrees_with_a_loop_over_the_interactions(world):
    inter = world.interactions
    rng = np.random.default_rng(0)
    asked = pd.DataFrame({
        "mentor_id": rng.choice(world.mentors["mentor_id"].to_numpy(), 60),
        "at": inter["created_at"].to_numpy()[rng.integers(0, len(inter), 60)],
    })
    got = mentor_state_at(inter, world.mentors, asked)
    for i, (mentor_id, at) in enumerate(zip(asked["mentor_id"], asked["at"], strict=True)):
        mine = inter[inter["mentor_id"] == mentor_id]
        earlier = mine[mine["created_at"] < at]
        decided = earlier["status"].isin(["accepted", "completed", "declined"]).sum()
        accepted = earlier["status"].isin(["accepted", "completed"]).sum()
        ended = mine[(mine["status"] == "completed") & (mine["completed_at"] < at) & mine["overall_rating"].notna()]
        assert got.at[i, "acceptance_rate"] == pytest.approx(
            (accepted + ACCEPTANCE_PRIOR * PRIOR_REQUESTS) / (decided + PRIOR_REQUESTS))
        assert got.at[i, "total_mentees"] == accepted
        if len(ended):
            assert got.at[i, "rating"] == pytest.approx(ended["overall_rating"].mean())
        else:
            assert np.isnan(got.at[i, "rating"])
        holding_now = mine["status"].eq("accepted") | (mine["status"].eq("completed") & mine["completed_at"].isna())
        joined_since = (holding_now & (mine["created_at"] >= at)).sum()
        left_since = (mine["status"].eq("completed") & mine["completed_at"].notna()
                      & (mine["created_at"] < at) & (mine["completed_at"] >= at)).sum()
        now = int(world.mentors.set_index("mentor_id").at[mentor_id, "current_mentees"])
        assert got.at[i, "current_mentees"] == max(now - joined_since + left_since, 0)


def test_decisions_count_when_their_event_occurred(world):
    inter = world.interactions.iloc[:1].assign(status="accepted", created_at=pd.Timestamp("2026-01-01"))
    mentor = int(inter["mentor_id"].iat[0])
    events = pd.DataFrame({"mentee_id": inter["mentee_id"], "mentor_id": inter["mentor_id"], "kind": ["accepted"],
                           "occurred_at": [pd.Timestamp("2026-01-03")]})
    asked = pd.DataFrame({"mentor_id": [mentor, mentor], "at": pd.to_datetime(["2026-01-02", "2026-01-04"])})
    state = mentor_state_at(inter, world.mentors, asked, events=events)
    assert state["total_mentees"].tolist() == [0.0, 1.0]  # asked before the answer: not known yet


def test_serving_and_training_agree_on_the_latest_state(world):
    dataset = _dataset(world)
    now = mentors_as_of(world.mentors, world.interactions)
    pairs = pd.DataFrame({"mentee_id": world.mentees["mentee_id"].to_numpy()[:30],
                          "mentor_id": world.mentors["mentor_id"].to_numpy()[:30]})
    later = world.interactions["created_at"].max() + pd.Timedelta(days=365)
    asked = pd.DataFrame({"mentor_id": pairs["mentor_id"], "at": later})
    per_request = pair_features(world.mentees, world.mentors, pairs,
                                mentor_state=mentor_state_at(dataset.interactions, world.mentors, asked))
    served = pair_features(world.mentees, now, pairs)
    pd.testing.assert_frame_equal(per_request, served)
    assert list(served.columns) == list(FEATURES)


def test_with_aggregates_gives_a_new_mentor_no_history(world):
    now = mentors_as_of(world.mentors, world.interactions)
    known = now[["mentor_id", "acceptance_rate", "total_mentees", "rating"]].iloc[:-1]
    out = with_aggregates(world.mentors, known)
    last = out.iloc[-1]
    assert (last["acceptance_rate"], last["total_mentees"]) == (ACCEPTANCE_PRIOR, 0)
    assert np.isnan(last["rating"])


def test_bad_inputs_are_named():
    with pytest.raises(DataValidationError, match="lacks column"):
        mentor_state_at(pd.DataFrame({"mentor_id": [1]}), pd.DataFrame(), pd.DataFrame({"mentor_id": [1], "at": [1]}))
    mentees = pd.DataFrame({"mentee_id": [1]})
    mentors = pd.DataFrame({"mentor_id": [2]})
    with pytest.raises(InvalidParameterError, match="one row per pair"):
        pair_features(mentees, mentors, pd.DataFrame({"mentee_id": [1], "mentor_id": [2]}),
                      mentor_state=pd.DataFrame({"rating": [1.0, 2.0]}))


def test_time_split_tests_the_latest_requests_on_unseen_mentees(world):
    pairs = build_training_pairs(_dataset(world))
    split = split_pairs(pairs, "time", seed=0)
    times, groups = pairs["created_at"].to_numpy(), pairs["mentee_id"].to_numpy()
    assert times[split.train].max() < times[split.test].min()
    assert times[split.validation].max() < times[split.test].min()
    assert not set(groups[split.train]) & set(groups[split.test])
    assert not set(groups[split.validation]) & set(groups[split.test])
    assert split_pairs(pairs, "time", seed=0).test.tolist() == split.test.tolist()
    by_mentee = split_pairs(pairs, "mentee", seed=0)
    assert len(by_mentee.train) > len(split.train)  # the time split sets rows aside
    with pytest.raises(InvalidParameterError, match="'split'"):
        split_pairs(pairs, "random")
    with pytest.raises(NotEnoughDataError, match="too short a time"):
        same = np.full(len(pairs), np.datetime64("2026-01-01"))
        time_split(same, groups)
