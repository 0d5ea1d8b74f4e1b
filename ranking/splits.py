"""Splits by mentee, and by mentee and time: no mentee's pairs are in two parts.

Splitting rows at random would put a mentee's other interactions in training and let the
models learn the mentee rather than the match; grouping keeps the test honest.
:func:`time_split` adds the order production imposes: the model is tested on requests made
after every request it learned from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from mentor_match.errors import InvalidParameterError, NotEnoughDataError
from mentor_match.validation import check_int, check_number


@dataclass(frozen=True)
class GroupedSplit:
    """Row positions of the train, validation and test parts (disjoint groups)."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def grouped_split(
    groups: np.ndarray, *, test_size: float = 0.2, validation_size: float = 0.1, seed: int = 42
) -> GroupedSplit:
    """Split rows so that each group (mentee) lands in exactly one part.

    ``test_size`` and ``validation_size`` are shares of the groups (``validation_size`` may
    be 0: then ``validation`` is empty). Same seed, same split.

    >>> groups = np.repeat(np.arange(10), 3)  # 10 mentees, 3 pairs each
    >>> split = grouped_split(groups, test_size=0.2, validation_size=0.1, seed=0)
    >>> [len(np.unique(groups[part])) for part in (split.train, split.validation, split.test)]
    [7, 1, 2]
    >>> set(groups[split.train]) & set(groups[split.test])
    set()
    """
    groups = np.asarray(groups)
    for name, value in (("test_size", test_size), ("validation_size", validation_size)):
        check_number(name, value, "grouped_split", low=0, high=1, high_open=True)
    if test_size <= 0 or test_size + validation_size >= 1:
        raise InvalidParameterError(
            "grouped_split needs 0 < test_size and test_size + validation_size < 1; got "
            f"test_size={test_size}, validation_size={validation_size}."
        )
    n_groups = len(np.unique(groups))
    if n_groups < 3:
        raise NotEnoughDataError(
            f"Only {n_groups} mentee(s) with labelled interactions; a split by mentee needs "
            "at least 3. Generate or collect more data."
        )
    rows = np.arange(len(groups))
    outer = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    rest, test = next(outer.split(rows, groups=groups))
    if validation_size == 0:
        return GroupedSplit(np.sort(rest), np.empty(0, dtype=np.int64), np.sort(test))
    inner = GroupShuffleSplit(
        n_splits=1, test_size=validation_size / (1 - test_size), random_state=seed + 1
    )
    train, validation = next(inner.split(rest, groups=groups[rest]))
    return GroupedSplit(np.sort(rest[train]), np.sort(rest[validation]), np.sort(test))


def time_split(
    times: np.ndarray,
    groups: np.ndarray,
    *,
    test_size: float = 0.2,
    validation_size: float = 0.1,
    test_period: float = 0.3,
    seed: int = 42,
) -> GroupedSplit:
    """Split by mentee *and* by time: train and validation before the cut, test after it.

    The mentees are first split as :func:`grouped_split` does (same shares, same seed).
    The cut ``T`` is the ``1 - test_period`` quantile of the request ``times``. Train keeps
    the training mentees' rows before ``T``, validation the validation mentees' rows before
    ``T``, test the test mentees' rows from ``T`` on. The other rows (training mentees'
    later requests, test mentees' earlier ones) are in no part: using them would either
    test on the past or put a mentee on both sides. Same seed, same split.

    >>> times = np.tile(np.arange(10), 10).astype("datetime64[D]")  # 10 mentees x 10 days
    >>> groups = np.repeat(np.arange(10), 10)
    >>> split = time_split(times, groups, test_size=0.2, validation_size=0.1, test_period=0.3, seed=0)
    >>> bool(times[split.train].max() < times[split.test].min())
    True
    >>> set(groups[split.train]) & set(groups[split.test])
    set()
    """
    times, groups = np.asarray(times), np.asarray(groups)
    check_number("test_period", test_period, "time_split", low=0, high=1, low_open=True, high_open=True)
    if len(times) != len(groups):
        raise InvalidParameterError(
            f"time_split needs one time per row: {len(times)} times for {len(groups)} rows."
        )
    if np.issubdtype(times.dtype, np.datetime64) and np.isnat(times).any():
        raise InvalidParameterError(
            f"time_split found {int(np.isnat(times).sum())} row(s) without a request time "
            "(created_at); every labelled interaction needs one."
        )
    by_mentee = grouped_split(groups, test_size=test_size, validation_size=validation_size, seed=seed)
    order = np.sort(times)
    cut = order[min(len(order) - 1, int(np.floor(len(order) * (1 - test_period))))]
    before = times < cut
    parts = GroupedSplit(
        by_mentee.train[before[by_mentee.train]],
        by_mentee.validation[before[by_mentee.validation]],
        by_mentee.test[~before[by_mentee.test]],
    )
    if not len(parts.train) or not len(parts.test):
        raise NotEnoughDataError(
            f"The time split at {cut} leaves {len(parts.train)} training and {len(parts.test)} "
            "test rows; the requests span too short a time. Collect more data, change "
            "test_period, or split by mentee only (split='mentee')."
        )
    return parts


def grouped_folds(
    groups: np.ndarray, n_splits: int, *, seed: int = 42
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) of ``n_splits`` folds with every group in one test fold.

    >>> folds = list(grouped_folds(np.repeat(np.arange(6), 2), 3, seed=0))
    >>> [len(test) for _, test in folds]
    [4, 4, 4]
    """
    groups = np.asarray(groups)
    check_int("n_splits", n_splits, "grouped_folds", low=2)
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise NotEnoughDataError(
            f"{n_splits}-fold cross-validation needs at least {n_splits} mentees with labelled "
            f"interactions; there are {n_groups}. Use fewer folds or more data."
        )
    folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    yield from folds.split(np.arange(len(groups)), groups=groups)
