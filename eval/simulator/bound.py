"""The capacity bound: the most expected successful matches one week's free seats allow.

Each mentee takes at most one mentor and each mentor at most their free seats; the bound is
the maximum total true ``p_match`` over such assignments, a maximum-weight bipartite
b-matching. It is solved exactly as a min-cost flow with OR-Tools (a well-kept solver; the
network is totally unimodular, so the flow optimum is an integral assignment)::

    source --(cap 1)--> mentee --(cap 1, cost -w)--> mentor --(cap seats)--> sink
    source --(cap #mentees, cost 0)----------------------------------------> sink

The bypass arc lets a mentee stay unmatched, so only pairs that add weight carry flow.
OR-Tools needs integer costs: ``w = round(p_match * COST_SCALE)``. Each pair's weight is then
off by at most ``0.5 / COST_SCALE``, so the assignment found is within
``matched * 1 / COST_SCALE`` (at most 0.005 for 5,000 matches) of the float optimum, and the
value reported is the sum of the chosen pairs' true float ``p_match``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow

from mentor_match.errors import DataValidationError, InvalidParameterError, MentorMatchError
from mentor_match.validation import check_int

__all__ = ["COST_SCALE", "Bound", "capacity_bound"]

COST_SCALE = 1_000_000
"""Integer cost units per unit of p_match (see the module docstring for the rounding bound)."""

_PAIR_COLUMNS = ("mentee_id", "mentor_id", "p_match")


@dataclass(frozen=True, eq=False)
class Bound:
    """The result of :func:`capacity_bound`.

    ``value``: the maximum expected matches (sum of the chosen pairs' ``p_match``);
    ``assignment``: the chosen pairs (mentee_id, mentor_id, p_match), sorted by mentee;
    ``pairs_considered``: the pairs the solver saw (mentors with seats, after ``top_n``);
    ``restricted``: True when ``top_n`` cut pairs, so ``value`` is a lower bound of the
    unrestricted optimum.
    """

    value: float
    assignment: pd.DataFrame
    pairs_considered: int
    restricted: bool


def capacity_bound(
    pairs: pd.DataFrame,
    seats: Mapping[int, int] | pd.Series,
    *,
    top_n: int | None = None,
) -> Bound:
    """Maximum expected matches of ``pairs`` (eligible pairs with true ``p_match``) under ``seats``.

    ``seats`` maps mentor_id to free seats; a mentor with 0 or no entry takes no mentee.
    ``top_n`` keeps each mentee's ``top_n`` pairs by rounded ``p_match`` (mentors with seats,
    ties in input order) to bound the cost on large worlds. The result is then a lower bound
    of the unrestricted optimum, since congestion pushes mentees down their lists: with all
    pairs of generate_world(2000, 5000) (4,462 free seats), top 50 was 6 % below the
    optimum, top 200 0.1 %; on generate_world(400, 1000), top 50 was exact. Without
    ``top_n``, those 8.7 million pairs solve in about 6 s.

    A star mentor with one seat and two mentees: one gets the star, the other the runner-up.

    >>> pairs = pd.DataFrame({"mentee_id": [1, 1, 2, 2], "mentor_id": [10, 11, 10, 11],
    ...                       "p_match": [0.9, 0.5, 0.8, 0.7]})
    >>> bound = capacity_bound(pairs, {10: 1, 11: 1})
    >>> round(bound.value, 6), bound.assignment["mentor_id"].tolist(), bound.restricted
    (1.6, [10, 11], False)
    """
    func = "capacity_bound"
    top_n = check_int("top_n", top_n, func, allow_none=True)
    mentee_id, mentor_id, p_match = _checked_pairs(pairs, func)
    seat_of = _checked_seats(seats, func)

    # Work on integer codes: ids become positions once, then everything is numpy.
    mentee_codes, mentee_ids = pd.factorize(mentee_id, sort=True)
    mentor_codes, mentor_ids = pd.factorize(mentor_id, sort=True)
    key = mentee_codes.astype(np.int64) * max(len(mentor_ids), 1) + mentor_codes
    duplicated = pd.Series(key).duplicated().to_numpy()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        raise DataValidationError(
            f"{int(duplicated.sum())} duplicate (mentee_id, mentor_id) pair(s) passed to {func} "
            f"(first: mentee {mentee_id[first]!r}, mentor {mentor_id[first]!r}); pass each pair "
            "once (drop_duplicates, or keep the row you mean)."
        )
    capacity_of_code = pd.Series(mentor_ids).map(seat_of).fillna(0).to_numpy(dtype=np.int64)
    weight = np.rint(p_match * COST_SCALE).astype(np.int64)

    rows = np.flatnonzero(capacity_of_code[mentor_codes] > 0)
    restricted = False
    if top_n is not None and len(rows):
        # Sort by mentee, then weight descending (ties keep input order), in one int64 key.
        order = rows[np.argsort(
            mentee_codes[rows].astype(np.int64) * (COST_SCALE + 1) + (COST_SCALE - weight[rows]),
            kind="stable",
        )]
        sorted_mentees = mentee_codes[order]
        group_start = np.r_[0, np.flatnonzero(np.diff(sorted_mentees)) + 1]
        sizes = np.diff(np.r_[group_start, len(order)])
        rank = np.arange(len(order)) - np.repeat(group_start, sizes)
        restricted = bool((rank >= top_n).any())
        rows = np.sort(order[rank < top_n])
    pairs_considered = len(rows)
    rows = rows[weight[rows] > 0]  # a pair of rounded weight 0 cannot raise the optimum
    if not len(rows):
        return Bound(0.0, _empty_assignment(), pairs_considered, restricted)

    # Renumber the mentees and mentors that remain into graph nodes.
    used_mentees, pair_mentee = _renumbered(mentee_codes[rows], len(mentee_ids))
    used_mentors, pair_mentor = _renumbered(mentor_codes[rows], len(mentor_ids))
    n_mentees, n_mentors, n_pairs = len(used_mentees), len(used_mentors), len(rows)
    source, sink = 0, 1 + n_mentees + n_mentors
    mentee_nodes = 1 + np.arange(n_mentees)
    mentor_nodes = 1 + n_mentees + np.arange(n_mentors)
    tails = np.concatenate([
        np.full(n_mentees, source), 1 + pair_mentee, mentor_nodes, [source],
    ]).astype(np.int32)
    heads = np.concatenate([
        mentee_nodes, 1 + n_mentees + pair_mentor, np.full(n_mentors, sink), [sink],
    ]).astype(np.int32)
    capacities = np.concatenate([
        np.ones(n_mentees + n_pairs, dtype=np.int64),
        np.minimum(capacity_of_code[used_mentors], n_mentees), [n_mentees],
    ])
    costs = np.concatenate([
        np.zeros(n_mentees, dtype=np.int64), -weight[rows], np.zeros(n_mentors + 1, dtype=np.int64),
    ])
    flow = SimpleMinCostFlow()
    arcs = np.asarray(flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs))
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = n_mentees, -n_mentees
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise MentorMatchError(
            f"OR-Tools min-cost flow ended with status {status!r} on {n_pairs} pairs; this "
            "should not happen for a bipartite matching: report it with the pairs."
        )
    chosen = rows[flow.flows(arcs[n_mentees:n_mentees + n_pairs]) > 0]
    chosen = chosen[np.lexsort((mentor_codes[chosen], mentee_codes[chosen]))]
    assignment = pd.DataFrame({
        "mentee_id": mentee_id[chosen], "mentor_id": mentor_id[chosen], "p_match": p_match[chosen],
    })
    return Bound(float(p_match[chosen].sum()), assignment, pairs_considered, restricted)


def _renumbered(codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(the codes in use, each code's position among them): np.unique without its sort."""
    used = np.zeros(n_codes, dtype=bool)
    used[codes] = True
    position = np.cumsum(used) - 1
    return np.flatnonzero(used), position[codes]


def _checked_pairs(pairs: pd.DataFrame, func: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mentee_id, mentor_id, p_match) arrays of a checked pairs frame."""
    if not isinstance(pairs, pd.DataFrame):
        raise InvalidParameterError(
            f"The 'pairs' parameter of {func} must be a DataFrame with columns "
            f"{', '.join(_PAIR_COLUMNS)}. Got {type(pairs).__name__}."
        )
    missing = [column for column in _PAIR_COLUMNS if column not in pairs.columns]
    if missing:
        raise InvalidParameterError(
            f"The 'pairs' frame of {func} lacks column(s) {', '.join(missing)}; pass one row per "
            "eligible pair with its true p_match (synthetic.true_match_probability)."
        )
    p_match = pairs["p_match"].to_numpy(dtype=float)
    bad = ~np.isfinite(p_match) | (p_match < 0) | (p_match > 1)
    if bad.any():
        raise DataValidationError(
            f"{int(bad.sum())} pair(s) passed to {func} have a p_match that is NaN, infinite or "
            f"outside [0, 1] (first: {p_match[bad][0]!r}); pass probabilities."
        )
    return pairs["mentee_id"].to_numpy(), pairs["mentor_id"].to_numpy(), p_match


def _checked_seats(seats: Mapping[int, int] | pd.Series, func: str) -> pd.Series:
    series = seats.copy() if isinstance(seats, pd.Series) else pd.Series(dict(seats), dtype=object)
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
            f"{series.iloc[np.flatnonzero(bad)[0]]!r})."
        )
    return pd.Series(values.astype(np.int64), index=series.index)


def _empty_assignment() -> pd.DataFrame:
    return pd.DataFrame({
        "mentee_id": pd.Series(dtype="int64"), "mentor_id": pd.Series(dtype="int64"),
        "p_match": pd.Series(dtype="float64"),
    })
