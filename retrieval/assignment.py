"""Seat-constrained assignment: the most total score that mentors' free seats allow.

Each mentee takes at most ``per_mentee`` mentors (one pair each), each mentor at most its free
seats; :func:`solve_assignment` finds the assignment of maximum total score (a maximum-weight
bipartite b-matching), exactly, as a min-cost flow with OR-Tools (the network is totally
unimodular, so the flow optimum is an integral assignment)::

    source --(cap d_i)--> mentee i --(cap 1, cost -w_ij)--> mentor j --(cap c_j)--> sink
                                                                 \\--(new j)--> NEW --(>= L)--> sink
    source --(cap sum d_i, cost 0)--------------------------------------------------> sink

The bypass arc lets a mentee stay unmatched, so only pairs that add score carry flow (a pair
whose score rounds to 0 is left out, unless the new-mentor floor may need it).

Constraints, all exact in the network:

* **banned pairs** are dropped before the network is built;
* **required pairs** are pre-assigned: each takes one of its mentee's ``per_mentee`` and one of
  its mentor's seats, and is not an arc (``d_i`` and ``c_j`` are what remains). A required pair
  must be among the scored pairs (its score counts), and is refused when its mentor has no
  seat left for it or its mentee has more required pairs than ``per_mentee``;
* **a floor on new mentors** (``min_new``: at least that many assigned pairs go to mentors in
  ``new_mentors``, the required ones included): new mentors send their flow through one NEW
  node whose arc to the sink has the lower bound ``L = min_new - required pairs to new
  mentors``. The lower bound becomes node supplies (the standard transformation: NEW must
  absorb ``L`` units, the sink ``L`` fewer), so the flow is exact, not a penalty. Before
  solving, a max flow over the new mentors' pairs says how many are possible; a floor above
  that is refused with that number;
* **a cap per mentor** (``max_per_mentor``): ``c_j = min(seats_j, max_per_mentor)`` minus its
  required pairs.

OR-Tools needs integer costs: ``w = round(score * COST_SCALE)``. Each pair's weight is then off
by at most ``0.5 / COST_SCALE``, so the assignment found is within ``assigned / COST_SCALE`` of
the float optimum; :attr:`Assignment.value` sums the chosen pairs' float scores. Ids become
integer codes once and everything after is NumPy: no Python loop over pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from ortools.graph.python.max_flow import SimpleMaxFlow
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

from mentor_match.errors import DataValidationError, InvalidParameterError, MentorMatchError
from mentor_match.validation import check_int

__all__ = ["COST_SCALE", "PAIR_COLUMNS", "Assignment", "checked_pairs", "checked_seats", "solve_assignment"]

logger = logging.getLogger(__name__)

COST_SCALE = 1_000_000
"""Integer cost units per unit of score (see the module docstring for the rounding bound)."""

PAIR_COLUMNS = ("mentee_id", "mentor_id", "score")
"""The columns of the scored pairs :func:`solve_assignment` takes."""

Pairs = pd.DataFrame | Iterable[tuple[int, int]]
"""Banned or required pairs: a frame with mentee_id and mentor_id columns, or (mentee, mentor) tuples."""


@dataclass(frozen=True, eq=False)
class Assignment:
    """The result of :func:`solve_assignment`.

    ``pairs``: the chosen pairs (mentee_id, mentor_id, score, required), sorted by mentee and
    then by score, best first; ``value``: the sum of their scores; ``demand``: ``per_mentee``
    times the mentees that have a scored or required pair; ``capacity``: the seats the mentors
    may fill (``min(seats, max_per_mentor)`` summed); ``new_assigned``: the chosen pairs whose
    mentor is new. ``demand > capacity`` is not an error: some mentees then stay short.
    """

    pairs: pd.DataFrame
    value: float
    demand: int
    capacity: int
    new_assigned: int

    @property
    def shortfall(self) -> int:
        """Places asked for and not filled: ``demand - len(pairs)``."""
        return self.demand - len(self.pairs)

    def loads(self) -> pd.Series:
        """Chosen pairs per mentor (mentor_id -> count), mentors with none left out."""
        return self.pairs["mentor_id"].value_counts(sort=False).sort_index()


def solve_assignment(
    pairs: pd.DataFrame,
    seats: Mapping[int, int] | pd.Series,
    *,
    per_mentee: int = 1,
    banned: Pairs | None = None,
    required: Pairs | None = None,
    min_new: int = 0,
    new_mentors: Iterable[int] | None = None,
    max_per_mentor: int | None = None,
) -> Assignment:
    """The assignment of ``pairs`` (mentee_id, mentor_id, score in [0, 1]) of maximum total
    score under ``seats`` (mentor_id -> free seats; a mentor with 0 or no entry takes no one).

    ``per_mentee``: mentors per mentee at most; ``banned``: pairs never chosen; ``required``:
    pairs always chosen (each must be among ``pairs``); ``min_new``: at least this many chosen
    pairs have a mentor in ``new_mentors``; ``max_per_mentor``: no mentor takes more. See the
    module docstring for the network and how each constraint is exact in it.

    A star mentor with one seat and two mentees: one gets the star, the other the runner-up;
    banning the first mentee's pair with the star turns the two around.

    >>> pairs = pd.DataFrame({"mentee_id": [1, 1, 2, 2], "mentor_id": [10, 11, 10, 11],
    ...                       "score": [0.9, 0.5, 0.8, 0.7]})
    >>> solved = solve_assignment(pairs, {10: 1, 11: 1})
    >>> round(solved.value, 6), solved.pairs["mentor_id"].tolist()
    (1.6, [10, 11])
    >>> solve_assignment(pairs, {10: 1, 11: 1}, banned=[(1, 10)]).pairs["mentor_id"].tolist()
    [11, 10]
    """
    func = "solve_assignment"
    per_mentee = check_int("per_mentee", per_mentee, func)
    min_new = check_int("min_new", min_new, func, low=0)
    max_per_mentor = check_int("max_per_mentor", max_per_mentor, func, allow_none=True)
    mentee_id, mentor_id, score = checked_pairs(pairs, "score", func)
    seat_of = checked_seats(seats, func)
    if min_new > 0 and new_mentors is None:
        raise InvalidParameterError(
            f"The 'min_new' parameter of {func} is {min_new} but no 'new_mentors' were given; pass "
            "the ids of the mentors that count as new, or min_new=0."
        )

    # Ids become integer codes once; from here on everything is numpy.
    mentee_codes, mentee_ids = pd.factorize(mentee_id, sort=True)
    mentor_codes, mentor_ids = pd.factorize(mentor_id, sort=True)
    n_mentors = max(len(mentor_ids), 1)
    key = pd.Index(mentee_codes.astype(np.int64) * n_mentors + mentor_codes)
    if not key.is_unique:
        duplicated = key.duplicated()
        first = int(np.flatnonzero(duplicated)[0])
        raise DataValidationError(
            f"{int(duplicated.sum())} duplicate (mentee_id, mentor_id) pair(s) passed to {func} "
            f"(first: mentee {mentee_id[first]!r}, mentor {mentor_id[first]!r}); pass each pair "
            "once (drop_duplicates, or keep the row you mean)."
        )
    seats_of_code = pd.Series(np.asarray(mentor_ids)).map(seat_of).fillna(0).to_numpy(np.int64)
    if max_per_mentor is not None:
        seats_of_code = np.minimum(seats_of_code, max_per_mentor)
    new_of_code = np.zeros(len(mentor_ids), dtype=bool)
    if new_mentors is not None:
        new_of_code = pd.Index(mentor_ids).isin(list(new_mentors))
    capacity = int(seat_of.to_numpy().sum() if max_per_mentor is None
                   else np.minimum(seat_of.to_numpy(), max_per_mentor).sum())

    required_rows = _rows_of(required, "required", key, mentee_ids, mentor_ids, func, must_exist=True)
    banned_rows = _rows_of(banned, "banned", key, mentee_ids, mentor_ids, func, must_exist=False)
    both = np.intersect1d(required_rows, banned_rows)
    if len(both):
        raise InvalidParameterError(
            f"{len(both)} pair(s) are both required and banned (first: mentee {mentee_id[both[0]]!r}, "
            f"mentor {mentor_id[both[0]]!r}); drop them from one of the two lists."
        )
    mentees_left = per_mentee - np.bincount(mentee_codes[required_rows], minlength=len(mentee_ids))
    seats_left = seats_of_code - np.bincount(mentor_codes[required_rows], minlength=len(mentor_ids))
    _check_required(mentees_left, seats_left, mentee_ids, mentor_ids, per_mentee, max_per_mentor, func)
    required_new = int(new_of_code[mentor_codes[required_rows]].sum())
    lower = max(0, min_new - required_new)

    weight = np.rint(score * COST_SCALE).astype(np.int64)
    free = (seats_left[mentor_codes] > 0) & (mentees_left[mentee_codes] > 0)
    free[required_rows] = False
    free[banned_rows] = False
    free &= (weight > 0) | (new_of_code[mentor_codes] if lower > 0 else False)
    rows = np.flatnonzero(free)
    if lower > 0:
        possible = required_new + _max_new(rows[new_of_code[mentor_codes[rows]]], mentee_codes, mentor_codes,
                                           mentees_left, seats_left)
        if possible < min_new:
            raise InvalidParameterError(
                f"The 'min_new' parameter of {func} asks for {min_new} pairs with new mentors, but at "
                f"most {possible} are possible ({int(new_of_code.sum())} new mentor(s) among the pairs, "
                f"{int(np.maximum(seats_left[new_of_code], 0).sum())} free seat(s) among them, "
                f"{required_new} required pair(s) with them). Lower it to {possible} at most."
            )

    chosen = _solve(rows, mentee_codes, mentor_codes, weight, mentees_left, seats_left, new_of_code, lower)
    chosen = np.concatenate([required_rows, chosen])
    is_required = np.zeros(len(chosen), dtype=bool)
    is_required[: len(required_rows)] = True
    order = np.lexsort((-score[chosen], mentee_codes[chosen]))
    chosen, is_required = chosen[order], is_required[order]
    table = pd.DataFrame({
        "mentee_id": mentee_id[chosen], "mentor_id": mentor_id[chosen], "score": score[chosen],
        "required": is_required,
    })
    demand = per_mentee * len(mentee_ids)
    if demand > capacity:
        logger.info("The mentees ask for %d places but the mentors have %d seats: %d stay unfilled.",
                       demand, capacity, demand - len(table))
    return Assignment(
        pairs=table, value=float(score[chosen].sum()), demand=demand, capacity=capacity,
        new_assigned=int(new_of_code[mentor_codes[chosen]].sum()),
    )


def _solve(
    rows: np.ndarray, mentee_codes: np.ndarray, mentor_codes: np.ndarray, weight: np.ndarray,
    mentees_left: np.ndarray, seats_left: np.ndarray, new_of_code: np.ndarray, lower: int,
) -> np.ndarray:
    """The free pairs (positions among ``rows``' values) that the min-cost flow chooses."""
    if not len(rows):
        return rows
    used_mentees, pair_mentee = _renumbered(mentee_codes[rows], len(mentees_left))
    used_mentors, pair_mentor = _renumbered(mentor_codes[rows], len(seats_left))
    n_mentees, n_mentors, n_pairs = len(used_mentees), len(used_mentors), len(rows)
    source, hub, sink = 0, 1 + n_mentees + n_mentors, 2 + n_mentees + n_mentors
    mentee_nodes = 1 + np.arange(n_mentees)
    mentor_nodes = 1 + n_mentees + np.arange(n_mentors)
    supply = mentees_left[used_mentees].astype(np.int64)
    total = int(supply.sum())
    mentor_heads = np.where(new_of_code[used_mentors], hub, sink)
    tails = np.concatenate([
        np.full(n_mentees, source), 1 + pair_mentee, mentor_nodes, [hub, source],
    ]).astype(np.int32)
    heads = np.concatenate([
        mentee_nodes, 1 + n_mentees + pair_mentor, mentor_heads, [sink, sink],
    ]).astype(np.int32)
    capacities = np.concatenate([
        supply, np.ones(n_pairs, dtype=np.int64),
        np.minimum(seats_left[used_mentors], total), [total - lower, total],
    ])
    costs = np.zeros(len(tails), dtype=np.int64)
    costs[n_mentees:n_mentees + n_pairs] = -weight[rows]
    flow = SimpleMinCostFlow()
    arcs = np.asarray(flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs))
    supplies = np.zeros(sink + 1, dtype=np.int64)
    # The floor on the NEW -> sink arc, as supplies: NEW absorbs `lower`, the sink that much less.
    supplies[source], supplies[hub], supplies[sink] = total, -lower, -(total - lower)
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise MentorMatchError(
            f"OR-Tools min-cost flow ended with status {status!r} on {n_pairs} pairs; this should not "
            "happen once the new-mentor floor was checked feasible: report it with the pairs."
        )
    return rows[flow.flows(arcs[n_mentees:n_mentees + n_pairs]) > 0]


def _max_new(
    rows: np.ndarray, mentee_codes: np.ndarray, mentor_codes: np.ndarray, mentees_left: np.ndarray,
    seats_left: np.ndarray,
) -> int:
    """The most free pairs with new mentors that the seats and ``per_mentee`` allow (a max flow
    over ``rows``, the free pairs whose mentor is new)."""
    if not len(rows):
        return 0
    used_mentees, pair_mentee = _renumbered(mentee_codes[rows], len(mentees_left))
    used_mentors, pair_mentor = _renumbered(mentor_codes[rows], len(seats_left))
    n_mentees, n_mentors = len(used_mentees), len(used_mentors)
    source, sink = 0, 1 + n_mentees + n_mentors
    tails = np.concatenate([np.full(n_mentees, source), 1 + pair_mentee, 1 + n_mentees + np.arange(n_mentors)])
    heads = np.concatenate([1 + np.arange(n_mentees), 1 + n_mentees + pair_mentor, np.full(n_mentors, sink)])
    capacities = np.concatenate([
        mentees_left[used_mentees], np.ones(len(rows), dtype=np.int64), seats_left[used_mentors],
    ]).astype(np.int64)
    flow = SimpleMaxFlow()
    flow.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), capacities)
    status = flow.solve(source, sink)
    if status != flow.OPTIMAL:
        raise MentorMatchError(f"OR-Tools max flow ended with status {status!r}; report it with the pairs.")
    return int(flow.optimal_flow())


def _check_required(
    mentees_left: np.ndarray, seats_left: np.ndarray, mentee_ids: Any, mentor_ids: Any,
    per_mentee: int, max_per_mentor: int | None, func: str,
) -> None:
    """Refuse required pairs beyond a mentee's ``per_mentee`` or a mentor's seats."""
    over = np.flatnonzero(mentees_left < 0)
    if len(over):
        raise InvalidParameterError(
            f"{len(over)} mentee(s) have more required pairs than per_mentee={per_mentee} (first: "
            f"mentee {mentee_ids[over[0]]!r} with {per_mentee - int(mentees_left[over[0]])}); raise "
            "per_mentee or require fewer pairs of them."
        )
    full = np.flatnonzero(seats_left < 0)
    if len(full):
        j = full[0]
        cap = "" if max_per_mentor is None else f" (at most max_per_mentor={max_per_mentor})"
        raise InvalidParameterError(
            f"{len(full)} mentor(s) have more required pairs than free seats{cap} (first: mentor "
            f"{mentor_ids[j]!r}, {int(seats_left[j])} seat(s) short); a required pair needs a free "
            "seat: free one, or drop the pair from the required list."
        )


def _rows_of(
    given: Pairs | None, name: str, key: pd.Index, mentee_ids: Any, mentor_ids: Any, func: str, *,
    must_exist: bool,
) -> np.ndarray:
    """Positions among the pairs of the ``given`` (mentee, mentor) pairs; a pair not scored is
    skipped, or refused where ``must_exist``."""
    frame = as_pair_frame(given, name, func)
    if frame.empty:
        return np.empty(0, dtype=np.int64)
    if frame.duplicated().any():
        raise InvalidParameterError(
            f"The {name!r} pairs of {func} name a (mentee_id, mentor_id) pair more than once; give each once."
        )
    mentee_code = pd.Index(mentee_ids).get_indexer(frame["mentee_id"].to_numpy())
    mentor_code = pd.Index(mentor_ids).get_indexer(frame["mentor_id"].to_numpy())
    known = (mentee_code >= 0) & (mentor_code >= 0)
    positions = np.full(len(frame), -1, dtype=np.int64)
    positions[known] = key.get_indexer(mentee_code[known].astype(np.int64) * max(len(mentor_ids), 1)
                                       + mentor_code[known])
    if must_exist and (positions < 0).any():
        first = frame.iloc[int(np.flatnonzero(positions < 0)[0])]
        raise InvalidParameterError(
            f"{int((positions < 0).sum())} {name} pair(s) of {func} are not among the scored pairs "
            f"(first: mentee {first['mentee_id']!r}, mentor {first['mentor_id']!r}); score them and "
            "add them to the pairs."
        )
    return np.sort(positions[positions >= 0])


def as_pair_frame(given: Pairs | None, name: str, func: str) -> pd.DataFrame:
    """``given`` pairs as a frame of int64 mentee_id and mentor_id columns.

    >>> as_pair_frame([(1, 10), (2, 11)], "banned", "f").to_dict("list")
    {'mentee_id': [1, 2], 'mentor_id': [10, 11]}
    """
    if given is None:
        given = []
    if isinstance(given, pd.DataFrame):
        missing = [c for c in ("mentee_id", "mentor_id") if c not in given.columns]
        if missing:
            raise InvalidParameterError(
                f"The {name!r} pairs of {func} lack column(s) {', '.join(missing)}; pass a frame with "
                "mentee_id and mentor_id columns, or (mentee_id, mentor_id) tuples."
            )
        frame = given[["mentee_id", "mentor_id"]]
    else:
        rows = [tuple(pair) for pair in given]
        if any(len(pair) != 2 for pair in rows):
            raise InvalidParameterError(
                f"The {name!r} pairs of {func} must be (mentee_id, mentor_id) tuples; got {rows[0]!r}."
            )
        frame = pd.DataFrame(rows, columns=["mentee_id", "mentor_id"])
    try:
        return frame.astype(np.int64).reset_index(drop=True)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The {name!r} pairs of {func} must hold integer mentee and mentor ids; some do not."
        ) from None


def checked_pairs(
    pairs: pd.DataFrame, column: str, func: str, *, fix: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mentee_id, mentor_id, ``column``) arrays of a checked pairs frame: the columns present,
    the scores finite and in [0, 1]. ``fix`` ends the missing-columns message (default: one
    row per pair with its ``column``, a probability)."""
    columns = ("mentee_id", "mentor_id", column)
    if not isinstance(pairs, pd.DataFrame):
        raise InvalidParameterError(
            f"The 'pairs' parameter of {func} must be a DataFrame with columns {', '.join(columns)}. "
            f"Got {type(pairs).__name__}."
        )
    missing = [name for name in columns if name not in pairs.columns]
    if missing:
        raise InvalidParameterError(
            f"The 'pairs' frame of {func} lacks column(s) {', '.join(missing)}; "
            + (fix or f"pass one row per pair with its {column} (a probability).")
        )
    values = pairs[column].to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} pair(s) passed to {func} have a {column} that is NaN, infinite or "
            f"outside [0, 1] (first: {values[bad][0]!r}); pass probabilities."
        )
    return pairs["mentee_id"].to_numpy(), pairs["mentor_id"].to_numpy(), values


def checked_seats(seats: Mapping[int, int] | pd.Series, func: str) -> pd.Series:
    """``seats`` as an int64 series by mentor id; a negative, fractional or missing count is refused."""
    if isinstance(seats, pd.Series):
        series = seats.copy()
    elif isinstance(seats, Mapping):
        series = pd.Series(dict(seats), dtype=object)
    else:
        raise InvalidParameterError(
            f"The 'seats' parameter of {func} must map mentor ids to free seats (a dict or a "
            f"Series). Got {type(seats).__name__}."
        )
    if not series.index.is_unique:
        raise InvalidParameterError(
            f"The 'seats' parameter of {func} names a mentor_id more than once; give one seat "
            "count per mentor."
        )
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        raise InvalidParameterError(
            f"The 'seats' parameter of {func} must map mentor ids to ints >= 0; "
            f"{int(bad.sum())} entr(ies) are not (first: mentor {series.index[bad][0]!r}: "
            f"{series.iloc[np.flatnonzero(bad)[0]]!r}). Free seats are max_mentees - current_mentees."
        )
    return pd.Series(values.astype(np.int64), index=series.index)


def _renumbered(codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(the codes in use, each code's position among them): np.unique without its sort."""
    used = np.zeros(n_codes, dtype=bool)
    used[codes] = True
    position = np.cumsum(used) - 1
    return np.flatnonzero(used), position[codes]
