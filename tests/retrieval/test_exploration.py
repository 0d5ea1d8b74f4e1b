"""Exploration: sampled lists follow Plackett-Luce and the logged propensities are exact."""

from __future__ import annotations

from collections import Counter
from itertools import permutations

import numpy as np
import pytest

from mentor_match.errors import InvalidParameterError
from retrieval.exploration import explore, list_seed, pl_probability

SCORES = np.array([1.2, 0.3, 0.9, -0.5])


@pytest.mark.parametrize("epsilon, temperature", [(1.0, 1.0), (0.3, 0.7)])
def test_logged_propensities_match_the_frequencies_of_the_shown_lists(epsilon, temperature):
    draws = 20_000
    seen, logged = Counter(), {}
    for seed in range(draws):
        shown = explore(SCORES, 2, epsilon=epsilon, temperature=temperature, seed=seed)
        key = tuple(shown.order.tolist())
        seen[key] += 1
        logged[key] = float(shown.propensity.prod())
    assert abs(sum(logged.values()) - 1.0) < 1e-9  # every possible top-2 list was seen
    for key, count in seen.items():
        p = logged[key]
        assert abs(count / draws - p) < 4 * np.sqrt(p * (1 - p) / draws) + 1e-9, (key, count / draws, p)


def test_the_full_list_probability_is_plackett_luce_when_always_sampling():
    total = sum(pl_probability(SCORES, np.array(order), 0.5) for order in permutations(range(4)))
    assert abs(total - 1.0) < 1e-12
    shown = explore(SCORES, 4, epsilon=1.0, temperature=0.5, seed=3)
    assert np.isclose(shown.propensity.prod(), pl_probability(SCORES, shown.order, 0.5))


def test_no_exploration_is_the_rankers_order_with_propensity_one():
    shown = explore(SCORES, 3, epsilon=0.0, seed=9)
    assert shown.order.tolist() == [0, 2, 1] and shown.propensity.tolist() == [1.0, 1.0, 1.0] and not shown.sampled


def test_a_list_id_seeds_the_same_list_again():
    seed = list_seed("9f" * 16)
    a = explore(SCORES, 3, epsilon=0.5, seed=seed)
    b = explore(SCORES, 3, epsilon=0.5, seed=seed)
    assert a.order.tolist() == b.order.tolist() and np.array_equal(a.propensity, b.propensity)


def test_bad_inputs_are_refused():
    with pytest.raises(InvalidParameterError, match="epsilon"):
        explore(SCORES, 2, epsilon=2.0, seed=0)
    with pytest.raises(InvalidParameterError, match="temperature"):
        explore(SCORES, 2, epsilon=0.5, temperature=0.0, seed=0)
    with pytest.raises(InvalidParameterError, match="finite scores"):
        explore(np.array([1.0, np.nan]), 2, epsilon=0.5, seed=0)
    with pytest.raises(InvalidParameterError, match="hexadecimal"):
        list_seed("not-hex")
