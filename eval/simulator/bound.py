"""The capacity bound: the most expected successful matches one week's free seats allow.

Each mentee takes at most one mentor and each mentor at most their free seats; the bound is
the maximum total true ``p_match`` over such assignments, a maximum-weight bipartite
b-matching. It is solved exactly as a min-cost flow with OR-Tools by the cohort solver,
:func:`retrieval.assignment.solve_assignment` (a well-kept solver; the network is totally
unimodular, so the flow optimum is an integral assignment)::

    source --(cap 1)--> mentee --(cap 1, cost -w)--> mentor --(cap seats)--> sink
    source --(cap #mentees, cost 0)----------------------------------------> sink

The bypass arc lets a mentee stay unmatched, so only pairs that add weight carry flow.
OR-Tools needs integer costs: ``w = round(p_match * COST_SCALE)`` (the solver's scale). Each
pair's weight is then off by at most ``0.5 / COST_SCALE``, so the assignment found is within
``matched * 1 / COST_SCALE`` (at most 0.005 for 5,000 matches) of the float optimum, and the
value reported is the sum of the chosen pairs' true float ``p_match``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mentor_match.errors import DataValidationError
from mentor_match.validation import check_int
from retrieval.assignment import COST_SCALE as ASSIGNMENT_COST_SCALE
from retrieval.assignment import checked_pairs, checked_seats, solve_assignment

__all__ = ["COST_SCALE", "Bound", "capacity_bound"]

COST_SCALE = ASSIGNMENT_COST_SCALE
"""Integer cost units per unit of p_match (see the module docstring for the rounding bound)."""


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
    mentee_id, mentor_id, p_match = checked_pairs(
        pairs, "p_match", func,
        fix="pass one row per eligible pair with its true p_match (synthetic.true_match_probability).",
    )
    seat_of = checked_seats(seats, func)

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

    solved = solve_assignment(
        pd.DataFrame({"mentee_id": mentee_id[rows], "mentor_id": mentor_id[rows], "score": p_match[rows]}),
        seat_of,
    )
    chosen = solved.pairs.sort_values(["mentee_id", "mentor_id"], kind="stable", ignore_index=True)
    assignment = pd.DataFrame({
        "mentee_id": chosen["mentee_id"], "mentor_id": chosen["mentor_id"], "p_match": chosen["score"],
    })
    return Bound(solved.value, assignment, pairs_considered, restricted)


def _empty_assignment() -> pd.DataFrame:
    return pd.DataFrame({
        "mentee_id": pd.Series(dtype="int64"), "mentor_id": pd.Series(dtype="int64"),
        "p_match": pd.Series(dtype="float64"),
    })
