"""Outcomes of served lists drawn from the ground truth: a better ranker wins, seeds reproduce."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from mentor_match.errors import InvalidParameterError, UnknownEntityError
from synthetic import generate_world, true_match_probability
from synthetic.outcomes import draw_outcomes

K = 5
START = pd.Timestamp("2026-03-02 09:00")
ORDER = {"requested": 0, "accepted": 1, "declined": 1, "started": 2, "ended": 3}


@pytest.fixture(scope="module")
def world_truth():
    world = generate_world(n_mentors=80, n_mentees=300, interactions_per_mentee=1, seed=13)
    return world.with_truth()


def _lists(mentees: pd.DataFrame, mentors: pd.DataFrame, *, best: bool, seed: int, prefix: str) -> pd.DataFrame:
    """One list of K per mentee: the K mentors of highest true match probability, or K at random."""
    rng = np.random.default_rng(seed)
    rows = []
    pairs = pd.MultiIndex.from_product(
        [mentees["mentee_id"], mentors["mentor_id"]], names=["mentee_id", "mentor_id"]
    ).to_frame(index=False)
    truth = pairs.assign(p=true_match_probability(mentees, mentors, pairs)["p_match"].to_numpy())
    for n, (mentee, group) in enumerate(truth.groupby("mentee_id")):
        chosen = group.nlargest(K, "p")["mentor_id"] if best else group["mentor_id"].sample(K, random_state=rng)
        for rank, mentor in enumerate(chosen, start=1):
            rows.append({"list_id": f"{prefix}{n:030x}", "mentee_id": mentee, "mentor_id": int(mentor),
                         "recommended_rank": rank, "created_at": START + pd.Timedelta(minutes=n)})
    return pd.DataFrame(rows)


def _successes(events: list[dict]) -> int:
    return sum(1 for e in events if e["kind"] == "ended" and e["success"])


def test_lists_of_higher_truth_mentors_yield_more_successful_matches(world_truth):
    mentees, mentors = world_truth
    better = draw_outcomes(_lists(mentees, mentors, best=True, seed=0, prefix="aa"), mentees, mentors, seed=1)
    random = draw_outcomes(_lists(mentees, mentors, best=False, seed=0, prefix="bb"), mentees, mentors, seed=1)
    assert _successes(better) > 2 * _successes(random) > 0
    requests = Counter(e["kind"] for e in better)["requested"], Counter(e["kind"] for e in random)["requested"]
    assert requests[0] > requests[1]  # good profiles are requested more often


def test_the_same_seed_draws_the_same_events_and_another_seed_others(world_truth):
    mentees, mentors = world_truth
    slots = _lists(mentees, mentors, best=False, seed=2, prefix="cc")
    first = draw_outcomes(slots, mentees, mentors, seed=5)
    assert draw_outcomes(slots.sample(frac=1.0, random_state=3), mentees, mentors, seed=5) == first
    other = draw_outcomes(slots, mentees, mentors, seed=6)
    assert other != first
    assert {e["event_id"] for e in other}.isdisjoint(e["event_id"] for e in first)


def test_each_pair_goes_through_a_valid_order_of_kinds_after_its_list(world_truth):
    mentees, mentors = world_truth
    slots = _lists(mentees, mentors, best=True, seed=4, prefix="dd")
    events = draw_outcomes(slots, mentees, mentors, seed=7)
    served_at = slots.groupby("list_id")["created_at"].first()
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["event_id"]) for e in events)
    by_pair: dict[tuple, list[dict]] = {}
    for event in events:
        by_pair.setdefault((event["list_id"], event["mentor_id"]), []).append(event)
        assert (event["success"] is not None) == (event["kind"] == "ended")
    for (list_id, _), pair in by_pair.items():
        pair.sort(key=lambda e: e["occurred_at"])
        kinds = [e["kind"] for e in pair]
        assert kinds in (["requested", "declined"], ["requested", "accepted", "started", "ended"]), kinds
        times = [e["occurred_at"] for e in pair]
        assert times[0] > served_at[list_id] and all(a < b for a, b in zip(times, times[1:], strict=False))
    assert {"declined", "ended"} <= {e["kind"] for e in events}
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)


def test_position_bias_makes_top_slots_requested_more(world_truth):
    mentees, mentors = world_truth
    slots = _lists(mentees, mentors, best=False, seed=8, prefix="ee")  # truth unrelated to rank
    rank_of = slots.set_index(["list_id", "mentor_id"])["recommended_rank"]
    events = draw_outcomes(slots, mentees, mentors, seed=9, position_bias=1.0)
    ranks = Counter(int(rank_of[(e["list_id"], e["mentor_id"])]) for e in events if e["kind"] == "requested")
    assert ranks[1] > 2 * ranks[5]
    flat = draw_outcomes(slots, mentees, mentors, seed=9, position_bias=0.0)
    flat_ranks = Counter(int(rank_of[(e["list_id"], e["mentor_id"])]) for e in flat if e["kind"] == "requested")
    assert flat_ranks[5] > 0.6 * flat_ranks[1]


def test_a_mentee_requests_a_mentor_once_even_when_shown_twice(world_truth):
    mentees, mentors = world_truth
    slots = pd.DataFrame({
        "list_id": ["1" * 32, "2" * 32], "mentee_id": [1, 1], "mentor_id": [3, 3],
        "recommended_rank": [1, 1], "created_at": [START, START + pd.Timedelta(days=1)],
    })
    events = draw_outcomes(slots, mentees, mentors, seed=0, request_intercept=20.0)
    assert [(e["list_id"], e["kind"]) for e in events if e["kind"] == "requested"] == [("1" * 32, "requested")]


def test_bad_slots_are_clear_errors(world_truth):
    mentees, mentors = world_truth
    good = pd.DataFrame({"list_id": ["1" * 32], "mentee_id": [1], "mentor_id": [3],
                         "recommended_rank": [1], "created_at": [START]})
    with pytest.raises(InvalidParameterError, match="lacks column.*recommended_rank.*served_slots"):
        draw_outcomes(good.drop(columns="recommended_rank"), mentees, mentors, seed=0)
    with pytest.raises(InvalidParameterError, match="1-based"):
        draw_outcomes(good.assign(recommended_rank=0), mentees, mentors, seed=0)
    with pytest.raises(InvalidParameterError, match="repeated"):
        draw_outcomes(pd.concat([good, good.assign(mentor_id=4)]), mentees, mentors, seed=0)
    with pytest.raises(UnknownEntityError, match="mentor_id 9999"):
        draw_outcomes(good.assign(mentor_id=9999), mentees, mentors, seed=0)
    with pytest.raises(InvalidParameterError, match="'position_bias' parameter"):
        draw_outcomes(good, mentees, mentors, seed=0, position_bias=-1.0)
    assert draw_outcomes(good.iloc[:0], mentees, mentors, seed=0) == []
