"""Exploration for off-policy evaluation: sampled lists and the propensity of every slot.

With probability ``epsilon`` a list is sampled from the ranker's scores by Plackett-Luce at
``temperature`` (the Gumbel-top-k trick: adding Gumbel noise to ``scores / temperature`` and
sorting draws a Plackett-Luce ranking without replacement); otherwise it is the ranker's own
order. The coin and the noise come from a generator seeded by the list id, so a logged list
can be drawn again exactly.

The propensity of slot ``i`` is the policy's probability of that mentor at that position
given the mentors above it: ``P(prefix_i) / P(prefix_{i-1})``, where
``P(prefix) = (1 - epsilon) * [prefix is the ranker's] + epsilon * PL(prefix)``. Their product
is the probability of the whole shown list, which is what inverse-propensity estimators need.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number


class Explored(NamedTuple):
    """The shown list as positions into the scores, each slot's propensity, and whether
    the list was sampled (False: the ranker's order)."""

    order: np.ndarray
    propensity: np.ndarray
    sampled: bool


def list_seed(list_id: str) -> int:
    """The generator seed of a list id (32 hex digits, as :func:`db.log.new_list_id` makes).

    >>> list_seed("00000000000000000000000000000010")
    16
    """
    try:
        return int(list_id, 16)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"A list id must be hexadecimal digits; got {list_id!r}.") from None


def explore(scores: np.ndarray, k: int, *, epsilon: float, temperature: float = 1.0, seed: int) -> Explored:
    """The ``k`` slots shown from candidates scored ``scores``, and their propensities.

    With ``epsilon`` 0 this is the ranker's order with propensity 1 in every slot.

    >>> shown = explore(np.array([3.0, 1.0, 2.0]), 2, epsilon=0.0, seed=1)
    >>> shown.order.tolist(), shown.propensity.tolist(), shown.sampled
    ([0, 2], [1.0, 1.0], False)
    >>> sampled = explore(np.array([3.0, 1.0, 2.0]), 3, epsilon=1.0, seed=1)
    >>> round(float(sampled.propensity.prod()), 6) == round(float(pl_probability(np.array([3.0, 1.0, 2.0]), sampled.order)), 6)
    True
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise InvalidParameterError("explore needs a 1-D array of finite scores (one per candidate).")
    k = min(check_int("k", k, "explore"), len(scores))
    epsilon = check_number("epsilon", epsilon, "explore", low=0.0, high=1.0)
    temperature = check_number("temperature", temperature, "explore", low=0.0, low_open=True)
    greedy = np.argsort(-scores, kind="stable")[:k]
    if epsilon == 0.0:
        return Explored(greedy, np.ones(k), False)
    rng = np.random.default_rng(seed)
    sampled = bool(rng.random() < epsilon)
    logits = scores / temperature
    if sampled:
        order = np.argsort(-(logits + rng.gumbel(size=len(scores))), kind="stable")[:k]
    else:
        order = greedy
    log_pl = np.cumsum(_pl_conditional_logs(logits, order))
    matches = np.cumprod(order == greedy).astype(bool)
    with np.errstate(divide="ignore"):
        log_prefix = np.logaddexp(
            np.where(matches, np.log1p(-epsilon) if epsilon < 1 else -np.inf, -np.inf),
            np.log(epsilon) + log_pl,
        )
    propensity = np.exp(np.diff(log_prefix, prepend=0.0))
    return Explored(order, propensity, sampled)


def pl_probability(scores: np.ndarray, order: np.ndarray, temperature: float = 1.0) -> float:
    """Plackett-Luce probability of the ranking ``order`` (a prefix of positions) under ``scores``."""
    return float(np.exp(_pl_conditional_logs(np.asarray(scores, dtype=np.float64) / temperature, order).sum()))


def _pl_conditional_logs(logits: np.ndarray, order: np.ndarray) -> np.ndarray:
    """log P(order[i] | order[:i]) under Plackett-Luce: its softmax among the not yet placed."""
    remaining = np.ones(len(logits), dtype=bool)
    out = np.empty(len(order))
    shift = logits.max()
    for i, item in enumerate(order):
        weights = np.exp(logits[remaining] - shift)
        out[i] = logits[item] - shift - np.log(weights.sum())
        remaining[item] = False
    return out
