"""Grouped splits never put one mentee on two sides."""

from __future__ import annotations

import numpy as np
import pytest

from mentor_match.errors import InvalidParameterError, NotEnoughDataError
from ranking.splits import grouped_folds, grouped_split


@pytest.fixture()
def groups() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 150, size=1200)  # 150 mentees, interleaved, uneven sizes


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_split_never_leaks_a_mentee_and_covers_every_row(groups, seed):
    split = grouped_split(groups, test_size=0.2, validation_size=0.1, seed=seed)
    parts = [set(groups[rows]) for rows in (split.train, split.validation, split.test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    rows = np.concatenate([split.train, split.validation, split.test])
    assert np.array_equal(np.sort(rows), np.arange(len(groups)))
    n = len(np.unique(groups))
    assert len(parts[2]) == round(0.2 * n) and abs(len(parts[1]) - 0.1 * n) <= 1


def test_split_is_reproducible_and_seed_dependent(groups):
    a, b = grouped_split(groups, seed=7), grouped_split(groups, seed=7)
    c = grouped_split(groups, seed=8)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.validation, b.validation)
    assert not np.array_equal(a.test, c.test)
    assert len(grouped_split(groups, validation_size=0.0).validation) == 0


def test_folds_put_every_mentee_in_exactly_one_test_fold(groups):
    seen = []
    for train, test in grouped_folds(groups, 5, seed=0):
        assert not set(groups[train]) & set(groups[test])
        seen.extend(np.unique(groups[test]))
    assert sorted(seen) == sorted(np.unique(groups))


def test_bad_sizes_and_too_few_mentees_are_refused(groups):
    with pytest.raises(InvalidParameterError, match="test_size"):
        grouped_split(groups, test_size=0.7, validation_size=0.4)
    with pytest.raises(InvalidParameterError, match="n_splits"):
        list(grouped_folds(groups, 1))
    with pytest.raises(NotEnoughDataError, match="at least 3"):
        grouped_split(np.array([1, 1, 2]))
    with pytest.raises(NotEnoughDataError, match="fewer folds"):
        list(grouped_folds(np.array([1, 2, 2, 3]), 5))
