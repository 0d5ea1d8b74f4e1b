"""The capacity bound against scipy's assignment solver, brute force and planted markets."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from eval.simulator import Bound, capacity_bound
from eval.simulator.bound import COST_SCALE
from mentor_match.errors import DataValidationError, InvalidParameterError


def _random_market(seed: int, n_mentees: int, n_mentors: int, density: float = 0.6):
    rng = np.random.default_rng(seed)
    mentee, mentor = np.meshgrid(np.arange(n_mentees), np.arange(n_mentors), indexing="ij")
    eligible = rng.random(mentee.shape) < density
    pairs = pd.DataFrame({
        "mentee_id": mentee[eligible] + 100, "mentor_id": mentor[eligible] + 500,
        "p_match": rng.random(int(eligible.sum())),
    })
    seats = {500 + j: int(s) for j, s in enumerate(rng.integers(0, 4, n_mentors))}
    return pairs, seats


def _scipy_value(pairs: pd.DataFrame, seats: dict[int, int]) -> float:
    """The optimum from linear_sum_assignment over a matrix with one column per seat."""
    mentees = sorted(pairs["mentee_id"].unique())
    seat_columns = [m for m, s in sorted(seats.items()) for _ in range(s)]
    if not mentees or not seat_columns:
        return 0.0
    weight = np.zeros((len(mentees), len(seat_columns)))  # ineligible pairs weigh 0
    lookup = {(a, b): p for a, b, p in pairs.itertuples(index=False)}
    for i, a in enumerate(mentees):
        for j, b in enumerate(seat_columns):
            weight[i, j] = lookup.get((a, b), 0.0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    return float(weight[rows, cols].sum())


def _brute_force_value(pairs: pd.DataFrame, seats: dict[int, int]) -> float:
    """Every way to give each mentee one of their pairs or none, keeping to the seats."""
    options = [
        [None, *group.itertuples(index=False)] for _, group in pairs.groupby("mentee_id")
    ]
    best = 0.0
    for choice in itertools.product(*options):
        taken = [pair for pair in choice if pair is not None]
        load = pd.Series([pair.mentor_id for pair in taken]).value_counts()
        if all(load.get(m, 0) <= seats.get(m, 0) for m in load.index):
            best = max(best, sum(pair.p_match for pair in taken))
    return best


def _assert_feasible(bound: Bound, pairs: pd.DataFrame, seats) -> None:
    chosen = bound.assignment
    assert not chosen["mentee_id"].duplicated().any()
    load = chosen["mentor_id"].value_counts()
    assert all(load[m] <= seats.get(m, 0) for m in load.index)
    joined = chosen.merge(pairs, on=["mentee_id", "mentor_id"], suffixes=("", "_given"))
    assert len(joined) == len(chosen)  # every chosen pair was given, with its own p_match
    assert np.array_equal(joined["p_match"], joined["p_match_given"])
    assert bound.value == pytest.approx(chosen["p_match"].sum(), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_linear_sum_assignment_over_expanded_seats(seed):
    pairs, seats = _random_market(seed, n_mentees=12, n_mentors=6)
    bound = capacity_bound(pairs, seats)
    matched = len(bound.assignment)
    assert bound.value == pytest.approx(_scipy_value(pairs, seats), abs=matched / COST_SCALE)
    _assert_feasible(bound, pairs, seats)
    assert (bound.pairs_considered, bound.restricted) == (
        int(pairs["mentor_id"].map(seats).gt(0).sum()), False,
    )


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_brute_force_on_tiny_markets(seed):
    pairs, seats = _random_market(seed, n_mentees=4, n_mentors=3, density=0.8)
    bound = capacity_bound(pairs, seats)
    assert bound.value == pytest.approx(_brute_force_value(pairs, seats), abs=4 / COST_SCALE)
    _assert_feasible(bound, pairs, seats)


def test_more_mentees_than_seats_fill_each_seat_once():
    pairs = pd.DataFrame({"mentee_id": range(10), "mentor_id": 7, "p_match": np.linspace(0.1, 1, 10)})
    bound = capacity_bound(pairs, {7: 3})
    assert sorted(bound.assignment["mentee_id"]) == [7, 8, 9]
    assert bound.value == pytest.approx(0.8 + 0.9 + 1.0)


def test_planted_star_with_one_seat_and_fifty_nearly_as_good_mentors():
    mentees = np.arange(1, 51)
    star = pd.DataFrame({"mentee_id": mentees, "mentor_id": 0, "p_match": 0.6})
    others = pd.DataFrame({"mentee_id": mentees, "mentor_id": mentees, "p_match": 0.55})
    seats = {0: 1, **{int(m): 2 for m in mentees}}
    bound = capacity_bound(pd.concat([star, others]), seats)
    assert bound.value == pytest.approx(0.6 + 49 * 0.55)  # one gets the star, the rest their own
    assert (bound.assignment["mentor_id"] == 0).sum() == 1
    assert len(bound.assignment) == 50


def test_mentors_without_seats_take_no_one():
    pairs = pd.DataFrame({"mentee_id": [1, 2, 3], "mentor_id": [10, 11, 12], "p_match": [0.9, 0.8, 0.7]})
    bound = capacity_bound(pairs, pd.Series({10: 0, 12: 1}))  # 11 is missing: no seats either
    assert bound.assignment["mentor_id"].tolist() == [12]
    assert bound.value == pytest.approx(0.7)
    assert bound.pairs_considered == 1


def test_no_seats_at_all_and_empty_pairs_give_zero():
    pairs = pd.DataFrame({"mentee_id": [1], "mentor_id": [10], "p_match": [0.9]})
    for bound in (
        capacity_bound(pairs, {}),
        capacity_bound(pairs.iloc[:0], {10: 3}),
        capacity_bound(pairs.assign(p_match=0.0), {10: 3}),
    ):
        assert bound.value == 0.0 and bound.assignment.empty
        assert list(bound.assignment.columns) == ["mentee_id", "mentor_id", "p_match"]


def test_top_n_keeps_each_mentees_best_pairs_and_is_a_lower_bound():
    pairs, seats = _random_market(3, n_mentees=30, n_mentors=8, density=1.0)
    full = capacity_bound(pairs, seats)
    for top_n in (1, 2, 4):
        cut = capacity_bound(pairs, seats, top_n=top_n)
        assert cut.restricted
        assert cut.value <= full.value + 1e-9
        with_seats = pairs[pairs["mentor_id"].map(seats).gt(0)]
        best = with_seats.sort_values("p_match", ascending=False).groupby("mentee_id").head(top_n)
        assert cut.pairs_considered == len(best)
        kept = set(zip(best["mentee_id"], best["mentor_id"], strict=True))
        assert set(zip(cut.assignment["mentee_id"], cut.assignment["mentor_id"], strict=True)) <= kept
    wide = capacity_bound(pairs, seats, top_n=8)
    assert not wide.restricted and wide.value == full.value


def test_a_demo_sized_instance_fills_every_seat_it_can():
    # Its speed (about 0.13 s for these 250,000 pairs) is a benchmark figure, not asserted here.
    rng = np.random.default_rng(0)
    n_mentees, n_mentors, per_mentee = 5000, 2000, 50
    mentor = np.concatenate([rng.choice(n_mentors, per_mentee, replace=False) for _ in range(n_mentees)])
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(np.arange(n_mentees), per_mentee), "mentor_id": mentor,
        "p_match": rng.beta(1, 8, len(mentor)),
    })
    seats = pd.Series(rng.integers(1, 4, n_mentors), index=np.arange(n_mentors))
    bound = capacity_bound(pairs, seats)
    assert len(bound.assignment) == min(n_mentees, int(seats.sum()))


@pytest.mark.parametrize(
    ("pairs", "seats", "top_n", "error", "message"),
    [
        (pd.DataFrame({"mentee_id": [1, 1], "mentor_id": [2, 2], "p_match": [0.1, 0.2]}), {2: 1},
         None, DataValidationError, "duplicate .mentee_id, mentor_id. pair"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "p_match": [-0.1]}), {2: 1},
         None, DataValidationError, "NaN, infinite or outside"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "p_match": [np.nan]}), {2: 1},
         None, DataValidationError, "NaN, infinite or outside"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2]}), {2: 1},
         None, InvalidParameterError, "lacks column.s. p_match"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "p_match": [0.5]}), {2: -1},
         None, InvalidParameterError, "ints >= 0"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "p_match": [0.5]}), {2: 1.5},
         None, InvalidParameterError, "ints >= 0"),
        (pd.DataFrame({"mentee_id": [1], "mentor_id": [2], "p_match": [0.5]}), {2: 1},
         0, InvalidParameterError, "'top_n' parameter of capacity_bound"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(pairs, seats, top_n, error, message):
    with pytest.raises(error, match=message):
        capacity_bound(pairs, seats, top_n=top_n)
