"""The seat-constrained assignment solver against brute force, planted markets and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mentor_match.errors import DataValidationError, InvalidParameterError
from retrieval.assignment import COST_SCALE, solve_assignment


def _market(seed: int, n_mentees: int, n_mentors: int, density: float = 0.7, max_seats: int = 3):
    rng = np.random.default_rng(seed)
    mentee, mentor = np.meshgrid(np.arange(n_mentees), np.arange(n_mentors), indexing="ij")
    eligible = rng.random(mentee.shape) < density
    pairs = pd.DataFrame({
        "mentee_id": mentee[eligible] + 100, "mentor_id": mentor[eligible] + 500,
        "score": rng.random(int(eligible.sum())),
    })
    seats = {500 + j: int(s) for j, s in enumerate(rng.integers(0, max_seats + 1, n_mentors))}
    return pairs, seats


def _brute_force(pairs, seats, per_mentee, banned=(), required=(), min_new=0, new=(), cap=None):
    """The best total over every way to give each mentee up to ``per_mentee`` of its allowed
    pairs (its required ones always), or None when no way keeps to the constraints."""
    banned, required, new = set(banned), set(required), set(new)
    options = []
    for mentee, group in pairs.groupby("mentee_id"):
        allowed = [(mentee, m, s) for m, s in zip(group["mentor_id"], group["score"], strict=True)
                   if (mentee, m) not in banned]
        forced = {(a, b) for a, b, _ in allowed if (a, b) in required}
        options.append([
            subset for size in range(per_mentee + 1) for subset in itertools.combinations(allowed, size)
            if forced <= {(a, b) for a, b, _ in subset}
        ])
    best = None
    for choice in itertools.product(*options):
        taken = [pair for subset in choice for pair in subset]
        load = pd.Series([m for _, m, _ in taken], dtype=object).value_counts()
        limit = {m: seats.get(m, 0) if cap is None else min(seats.get(m, 0), cap) for m in load.index}
        if any(load[m] > limit[m] for m in load.index):
            continue
        if sum(m in new for _, m, _ in taken) < min_new:
            continue
        value = sum(s for _, _, s in taken)
        best = value if best is None else max(best, value)
    return best


def _assert_feasible(solved, pairs, seats, per_mentee, banned=(), cap=None):
    chosen = solved.pairs
    assert (chosen.groupby("mentee_id").size() <= per_mentee).all()
    assert not chosen.duplicated(["mentee_id", "mentor_id"]).any()
    for mentor, load in chosen["mentor_id"].value_counts().items():
        assert load <= seats.get(mentor, 0) and (cap is None or load <= cap)
    assert not set(zip(chosen["mentee_id"], chosen["mentor_id"], strict=True)) & set(banned)
    joined = chosen.merge(pairs, on=["mentee_id", "mentor_id"], suffixes=("", "_given"))
    assert len(joined) == len(chosen) and np.array_equal(joined["score"], joined["score_given"])
    assert solved.value == pytest.approx(chosen["score"].sum(), abs=1e-12)


@pytest.mark.parametrize("per_mentee", [1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_the_optimum_equals_a_brute_force_enumeration(seed, per_mentee):
    pairs, seats = _market(seed, n_mentees=4, n_mentors=3)
    solved = solve_assignment(pairs, seats, per_mentee=per_mentee)
    assert solved.value == pytest.approx(_brute_force(pairs, seats, per_mentee), abs=8 / COST_SCALE)
    _assert_feasible(solved, pairs, seats, per_mentee)


@pytest.mark.parametrize("per_mentee", [1, 2])
@pytest.mark.parametrize("seed", range(12))
def test_with_every_constraint_the_optimum_still_equals_brute_force_or_both_refuse(seed, per_mentee):
    pairs, seats = _market(seed + 50, n_mentees=4, n_mentors=4, max_seats=2)
    rng = np.random.default_rng(seed)
    picked = pairs.iloc[rng.choice(len(pairs), 3, replace=False)]
    as_tuples = list(zip(picked["mentee_id"], picked["mentor_id"], strict=True))
    banned, required = as_tuples[:2], as_tuples[2:]
    new = [500 + int(j) for j in rng.choice(4, 2, replace=False)]
    min_new, cap = int(rng.integers(0, 4)), int(rng.integers(1, 3))
    best = _brute_force(pairs, seats, per_mentee, banned, required, min_new, new, cap)
    kwargs = dict(per_mentee=per_mentee, banned=banned, required=required, min_new=min_new,
                  new_mentors=new, max_per_mentor=cap)
    if best is None:
        with pytest.raises(InvalidParameterError):
            solve_assignment(pairs, seats, **kwargs)
        return
    solved = solve_assignment(pairs, seats, **kwargs)
    assert solved.value == pytest.approx(best, abs=8 / COST_SCALE)
    _assert_feasible(solved, pairs, seats, per_mentee, banned, cap)
    assert solved.new_assigned >= min_new
    assert set(required) <= set(zip(solved.pairs["mentee_id"], solved.pairs["mentor_id"], strict=True))
    assert solved.pairs["required"].sum() == len(required)


@pytest.mark.parametrize("seed", range(3))
def test_a_larger_market_never_exceeds_a_seat_nor_uses_a_banned_pair(seed):
    pairs, seats = _market(seed, n_mentees=300, n_mentors=40, density=0.3, max_seats=6)
    banned = list(zip(pairs["mentee_id"], pairs["mentor_id"], strict=True))[::3]
    solved = solve_assignment(pairs, seats, per_mentee=2, banned=banned)
    _assert_feasible(solved, pairs, seats, 2, banned)
    assert len(solved.pairs) > 0


def test_a_required_pair_is_kept_even_when_it_scores_low_and_takes_a_seat():
    pairs = pd.DataFrame({"mentee_id": [1, 1, 2, 2], "mentor_id": [10, 11, 10, 11],
                          "score": [0.9, 0.1, 0.8, 0.7]})
    solved = solve_assignment(pairs, {10: 1, 11: 1}, required=[(1, 11)])
    got = dict(zip(solved.pairs["mentee_id"], solved.pairs["mentor_id"], strict=True))
    assert got == {1: 11, 2: 10}
    assert solved.pairs.set_index("mentee_id")["required"].to_dict() == {1: True, 2: False}
    assert solved.value == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("required", "per_mentee", "seats", "message"),
    [
        ([(1, 12)], 1, {10: 1, 11: 1}, "not among the scored pairs"),
        ([(1, 10), (2, 10)], 1, {10: 1, 11: 1}, "more required pairs than free seats"),
        ([(1, 11)], 1, {10: 1, 11: 0}, "more required pairs than free seats"),
        ([(1, 10), (1, 11)], 1, {10: 1, 11: 1}, "more required pairs than per_mentee=1"),
    ],
)
def test_required_pairs_without_a_seat_or_a_score_are_refused(required, per_mentee, seats, message):
    pairs = pd.DataFrame({"mentee_id": [1, 1, 2, 2], "mentor_id": [10, 11, 10, 11],
                          "score": [0.9, 0.1, 0.8, 0.7]})
    with pytest.raises(InvalidParameterError, match=message):
        solve_assignment(pairs, seats, per_mentee=per_mentee, required=required)


def test_the_new_mentor_floor_is_met_exactly_when_it_costs_score():
    # Five mentees, old mentors score 0.9 with room for all, new mentors score 0.2.
    mentees = np.arange(1, 6)
    old = pd.DataFrame({"mentee_id": mentees, "mentor_id": 10, "score": 0.9})
    new = pd.DataFrame({"mentee_id": np.repeat(mentees, 2), "mentor_id": np.tile([20, 21], 5), "score": 0.2})
    pairs = pd.concat([old, new], ignore_index=True)
    seats = {10: 5, 20: 1, 21: 2}
    free = solve_assignment(pairs, seats)
    assert free.new_assigned == 0 and free.value == pytest.approx(4.5)
    floored = solve_assignment(pairs, seats, min_new=2, new_mentors=[20, 21])
    assert floored.new_assigned == 2  # the floor, not more: each costs 0.7
    assert floored.value == pytest.approx(3 * 0.9 + 2 * 0.2)
    assert len(floored.pairs) == 5
    with pytest.raises(InvalidParameterError, match="asks for 4 pairs with new mentors, but at most 3 are possible"):
        solve_assignment(pairs, seats, min_new=4, new_mentors=[20, 21])
    with pytest.raises(InvalidParameterError, match="no 'new_mentors' were given"):
        solve_assignment(pairs, seats, min_new=1)


def test_max_per_mentor_caps_every_mentor_and_the_star_shares():
    pairs = pd.DataFrame({"mentee_id": np.arange(6), "mentor_id": 7, "score": 0.9})
    pairs = pd.concat([pairs, pairs.assign(mentor_id=8, score=0.5)], ignore_index=True)
    solved = solve_assignment(pairs, {7: 6, 8: 6}, max_per_mentor=2)
    assert solved.loads().to_dict() == {7: 2, 8: 2}
    assert solved.capacity == 4 and solved.shortfall == 2


def test_demand_above_the_seats_is_reported_not_refused():
    pairs = pd.DataFrame({"mentee_id": np.repeat(np.arange(10), 2), "mentor_id": np.tile([1, 2], 10),
                          "score": np.linspace(0.05, 1, 20)})
    solved = solve_assignment(pairs, {1: 2, 2: 1}, per_mentee=2)
    assert (solved.demand, solved.capacity, len(solved.pairs), solved.shortfall) == (20, 3, 3, 17)


def test_no_pairs_or_no_seats_give_an_empty_assignment():
    pairs = pd.DataFrame({"mentee_id": [1], "mentor_id": [10], "score": [0.9]})
    for solved in (solve_assignment(pairs, {}), solve_assignment(pairs.iloc[:0], {10: 3})):
        assert solved.value == 0.0 and solved.pairs.empty
        assert list(solved.pairs.columns) == ["mentee_id", "mentor_id", "score", "required"]


@pytest.mark.parametrize(
    ("pairs", "seats", "kwargs", "error", "message"),
    [
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "score": [0.5]}), {2: -1}, {},
         InvalidParameterError, "ints >= 0"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "score": [0.5]}), {2: 1.5}, {},
         InvalidParameterError, "ints >= 0"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "score": [0.5]}), {2: 1}, {"per_mentee": 0},
         InvalidParameterError, "'per_mentee' parameter of solve_assignment must be an int >= 1"),
        (pd.DataFrame({"mentee_id": [1, 1], "mentor_id": [2, 2], "score": [0.1, 0.2]}), {2: 1}, {},
         DataValidationError, "duplicate .mentee_id, mentor_id. pair"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "score": [1.5]}), {2: 1}, {},
         DataValidationError, "outside .0, 1."),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2]}), {2: 1}, {},
         InvalidParameterError, "lacks column.s. score"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "score": [0.5]}), {2: 1},
         {"required": [(1, 2)], "banned": [(1, 2)]}, InvalidParameterError, "both required and banned"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "score": [0.5]}), {2: 1},
         {"banned": [(1, 2, 3)]}, InvalidParameterError, "must be .mentee_id, mentor_id. tuples"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(pairs, seats, kwargs, error, message):
    with pytest.raises(error, match=message):
        solve_assignment(pairs, seats, **kwargs)
