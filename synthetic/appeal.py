"""The mentee side of the world's truth: how likely a mentee is to request a mentor they see,
and how likely they are to look at each position of a list.

The simulator needs both to turn a served list into requests. They are part of the world,
like :mod:`synthetic.truth`, and the engine never reads them.

**Appeal.** A mentee reads a listed mentor's profile, so the request probability uses only
what a profile shows::

    p_request = sigmoid(APPEAL_WEIGHTS . visible factors)

- ``domain_share``: the share of the mentee's desired domains the mentor covers;
- ``any_domain``: 1 if the mentor covers at least one of them;
- ``subspecialty``: 1 if the mentor's bio names the sub-specialty the mentee wants (the
  mentee reads the bio; the truth's own sub-specialty factor);
- ``rating``: points above 4.2 (0 for a new mentor without rating), as in the truth;
- ``availability``: shared weekly slots, saturating at three, as in the truth.

It never sees the latent effects, the mentor's load or acceptance rate, nor ``p_accept`` or
``p_success``: a mentee is drawn to good-looking fits, and the hidden part of success is
exactly what they cannot judge. With the default weights, over all pairs of
generate_world(200, 400, 6, seed=0), p_request has quantiles 5 % 0.037, 25 % 0.049,
50 % 0.060, 75 % 0.083, 95 % 0.341 (max 0.686), and a mentee's best 10 mentors average
0.43: a mentor outside the mentee's domains draws about one request in twenty views, a
strong fit in them more than one in two.

**Position bias.** A mentee examines rank ``r`` of a list with
:func:`examination_probability`: ``r ** -strength`` ("reciprocal") or
``exp(-strength * (r - 1))`` ("exponential"); rank 1 is always examined. A request then
happens with ``examination * p_request`` (the examination hypothesis).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_number
from synthetic.truth import (
    MENTEE_TRUTH_COLUMNS,
    MENTOR_TRUTH_COLUMNS,
    _overlap,
    _pair_factors,
    _people_arrays,
    _positions,
    _sigmoid,
)

__all__ = ["APPEAL_WEIGHTS", "EXAMINATION_CURVES", "examination_probability", "request_probability"]

APPEAL_WEIGHTS: dict[str, float] = {
    "intercept": -2.9,  # a mentor with nothing in common: about 0.05
    "domain_share": 0.8,  # share of the mentee's desired domains the mentor covers
    "any_domain": 1.0,  # the mentor covers at least one of them
    "subspecialty": 0.9,  # the bio names the wanted sub-specialty
    "rating": 0.6,  # per rating point above 4.2; a new mentor without rating is neutral
    "availability": 0.5,  # shared weekly slots, saturating at three
}
"""Logit weights of P(mentee requests | examined); the keys are the visible factors."""

EXAMINATION_CURVES = ("reciprocal", "exponential")

_PAIR_CHUNK = 500_000  # pairs per chunk: bounds the memory of the per-pair arrays


def request_probability(
    mentees: pd.DataFrame,
    mentors: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    weights: dict[str, float] = APPEAL_WEIGHTS,
) -> np.ndarray:
    """P(the mentee requests the mentor | they examined them), one per row of ``pairs``.

    ``mentees``/``mentors`` carry the truth columns (``SyntheticWorld.with_truth()`` or
    :func:`synthetic.load_truth`); ``pairs`` has ``mentee_id`` and ``mentor_id``.
    ``weights`` needs every key of :data:`APPEAL_WEIGHTS`.

    >>> from synthetic import generate_world
    >>> mentees, mentors = generate_world(5, 6, 2, seed=1).with_truth()
    >>> pairs = pd.DataFrame({"mentee_id": [1, 1, 2], "mentor_id": [1, 2, 3]})
    >>> p = request_probability(mentees, mentors, pairs)
    >>> p.shape, bool(((p > 0) & (p < 1)).all())
    ((3,), True)
    """
    func = "request_probability"
    for frame, name, needed in (
        (mentees, "mentees", ("mentee_id", *MENTEE_TRUTH_COLUMNS)),
        (mentors, "mentors", ("mentor_id", *MENTOR_TRUTH_COLUMNS)),
        (pairs, "pairs", ("mentee_id", "mentor_id")),
    ):
        missing = [column for column in needed if column not in frame.columns]
        if missing:
            raise InvalidParameterError(
                f"The '{name}' frame of {func} lacks column(s) {', '.join(missing)}; pass "
                "frames with the truth columns (SyntheticWorld.with_truth or synthetic.load_truth)."
            )
    unknown = sorted(set(weights) ^ set(APPEAL_WEIGHTS))
    if unknown:
        raise InvalidParameterError(
            f"The 'weights' parameter of {func} must have exactly the keys "
            f"{sorted(APPEAL_WEIGHTS)}; {unknown} differ. Start from a copy of APPEAL_WEIGHTS."
        )
    for key, value in weights.items():
        check_number(f"weights[{key!r}]", value, func)
    mentee_rows = _positions(mentees["mentee_id"], pairs["mentee_id"], "mentee")
    mentor_rows = _positions(mentors["mentor_id"], pairs["mentor_id"], "mentor")
    people = _people_arrays(mentees, mentors)
    probability = np.empty(len(pairs))
    for start in range(0, len(pairs), _PAIR_CHUNK):
        part = slice(start, start + _PAIR_CHUNK)
        rows, columns = mentee_rows[part], mentor_rows[part]
        factors = _pair_factors(people, rows, columns)
        shared = _overlap(people.mentee_domains[rows], people.mentor_domains[columns])
        logit = (
            weights["intercept"]
            + weights["domain_share"] * shared / np.maximum(people.mentee_domain_count[rows], 1)
            + weights["any_domain"] * (shared > 0)
            + weights["subspecialty"] * factors["subspecialty"]
            + weights["rating"] * factors["rating"]
            + weights["availability"] * factors["availability"]
        )
        probability[part] = _sigmoid(logit)
    return probability


def examination_probability(
    ranks: np.ndarray, curve: str = "reciprocal", *, strength: float = 1.0
) -> np.ndarray:
    """P(a mentee examines the mentor at each rank) under a position-bias ``curve``.

    "reciprocal": ``rank ** -strength``; "exponential": ``exp(-strength * (rank - 1))``.
    Rank 1 is always examined; ``strength`` 0 means every rank is.

    >>> examination_probability(np.array([1, 2, 4]))
    array([1.  , 0.5 , 0.25])
    >>> examination_probability(np.array([1, 2]), "exponential", strength=np.log(2))
    array([1. , 0.5])
    """
    func = "examination_probability"
    check_choice("curve", curve, func, EXAMINATION_CURVES)
    strength = check_number("strength", strength, func, low=0.0)
    values = np.asarray(ranks)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        raise InvalidParameterError(
            f"The 'ranks' parameter of {func} must hold integer ranks >= 1. Got dtype {values.dtype}."
        )
    rank = values.astype(float)
    bad = ~np.isfinite(rank) | (rank < 1) | (rank != np.round(rank))
    if bad.any():
        raise InvalidParameterError(
            f"The 'ranks' parameter of {func} must hold integer ranks >= 1 (rank 1 is the top "
            f"of the list); {int(bad.sum())} are not (first: {values[bad].flat[0]!r})."
        )
    if curve == "reciprocal":
        return rank ** -strength
    return np.exp(-strength * (rank - 1.0))
