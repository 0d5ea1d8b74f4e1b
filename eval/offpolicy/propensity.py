"""Propensities of the exploration policy of :mod:`retrieval.exploration`, for any scores.

That policy shows the ranker's order with probability ``1 - epsilon`` and otherwise a
Plackett-Luce draw at ``temperature`` over the candidates' scores. Two views of it:

* :func:`slot_propensities`: P(this mentor at this position | the slots above) for a given
  shown order, the numbers the log stores; their product is the probability of the list.
  With another ranker's scores (or epsilon 0 for a plain ranker) it is the *target*
  policy's probability of a logged list, which :func:`eval.offpolicy.ips` needs.
* :func:`marginal_propensities`: P(mentor at position j), marginal over the slots above,
  which :func:`eval.offpolicy.iips` needs. Position 1 is exact (the softmax); the others
  are counted over seeded Gumbel-top-k draws.
"""

from __future__ import annotations

import numpy as np

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number

__all__ = ["DEFAULT_SAMPLES", "marginal_propensities", "plackett_luce_marginals", "slot_propensities"]

DEFAULT_SAMPLES = 100_000
"""Plackett-Luce lists drawn by :func:`marginal_propensities`: a marginal p comes with a
Monte Carlo standard error of ``sqrt(p * (1 - p) / samples)``."""

_BATCH_VALUES = 4_000_000  # Gumbel draws held at once (32 MB)


def slot_propensities(
    scores: np.ndarray, order: np.ndarray, *, epsilon: float, temperature: float = 1.0
) -> np.ndarray:
    """Each slot's P(mentor at this position | the slots above) of the shown ``order``.

    ``scores`` are the policy's scores of every candidate and ``order`` the shown slots as
    positions into them; the policy is :func:`retrieval.exploration.explore`'s (the same
    numbers it logs for that order). With ``epsilon`` 0 (a plain ranker) a slot is 1 while
    the order follows the ranker's and 0 from the first slot that does not.

    >>> from retrieval.exploration import explore
    >>> scores = np.array([3.0, 1.0, 2.0, 0.5])
    >>> shown = explore(scores, 3, epsilon=0.3, temperature=2.0, seed=4)
    >>> bool(np.allclose(slot_propensities(scores, shown.order, epsilon=0.3, temperature=2.0), shown.propensity))
    True
    >>> slot_propensities(scores, np.array([0, 1]), epsilon=0.0).tolist()  # the ranker shows 0, 2
    [1.0, 0.0]
    """
    func = "slot_propensities"
    scores = _scores(scores, func)
    epsilon = check_number("epsilon", epsilon, func, low=0.0, high=1.0)
    temperature = check_number("temperature", temperature, func, low=0.0, low_open=True)
    order = np.asarray(order)
    if (
        order.ndim != 1
        or not np.issubdtype(order.dtype, np.integer)
        or ((order < 0) | (order >= len(scores))).any()
        or len(np.unique(order)) != len(order)
        or len(order) == 0
    ):
        raise InvalidParameterError(
            f"{func} needs 'order' as distinct positions into the {len(scores)} scores (the shown "
            f"slots, best first). Got {order.tolist()!r}."
        )
    logits = scores / temperature
    greedy = np.argsort(-scores, kind="stable")[: len(order)]
    log_pl = np.cumsum(_pl_conditional_logs(logits, order))
    follows = np.cumprod(order == greedy).astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_prefix = np.logaddexp(
            np.where(follows, np.log1p(-epsilon) if epsilon < 1 else -np.inf, -np.inf),
            np.log(epsilon) + log_pl,
        )
        steps = np.diff(log_prefix, prepend=0.0)
    # after a prefix of probability 0 every later slot is 0 too (not -inf - -inf)
    return np.where(np.isneginf(log_prefix), 0.0, np.exp(steps))


def marginal_propensities(
    scores: np.ndarray,
    k: int,
    *,
    epsilon: float,
    temperature: float = 1.0,
    samples: int = DEFAULT_SAMPLES,
    seed: int,
) -> np.ndarray:
    """P(candidate i at position j) under the exploration policy: shape (candidates, k).

    ``(1 - epsilon) * [i is the ranker's j-th] + epsilon * PL_j(i)``, where ``PL_j`` is the
    Plackett-Luce marginal at ``temperature``: exact for position 1 (the softmax of
    ``scores / temperature``), counted over ``samples`` Gumbel-top-k lists drawn with
    ``seed`` for the others. Each column sums to 1. A candidate the draws never put at a
    position gets 0 there although its true marginal is positive; raise ``samples`` where
    IIPS then finds no support. ``k`` above the number of candidates is cut to it, as
    :func:`retrieval.exploration.explore` does.

    >>> marginals = marginal_propensities(np.array([2.0, 1.0, 0.0]), 2, epsilon=1.0, seed=0)
    >>> marginals[:, 0].round(4).tolist()  # exact: the softmax
    [0.6652, 0.2447, 0.09]
    >>> marginals.sum(axis=0).round(12).tolist()
    [1.0, 1.0]
    >>> marginal_propensities(np.array([2.0, 1.0, 0.0]), 2, epsilon=0.0, seed=0).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    func = "marginal_propensities"
    scores = _scores(scores, func)
    k = min(check_int("k", k, func), len(scores))
    epsilon = check_number("epsilon", epsilon, func, low=0.0, high=1.0)
    temperature = check_number("temperature", temperature, func, low=0.0, low_open=True)
    samples = check_int("samples", samples, func)
    n = len(scores)
    ranker = np.zeros((n, k))
    ranker[np.argsort(-scores, kind="stable")[:k], np.arange(k)] = 1.0
    if epsilon == 0.0:
        return ranker
    logits = scores / temperature
    plackett_luce = np.empty((n, k))
    weights = np.exp(logits - logits.max())
    plackett_luce[:, 0] = weights / weights.sum()
    if k > 1:
        rng = np.random.default_rng(seed)
        counts = np.zeros(n * k, dtype=np.int64)
        batch = max(1, _BATCH_VALUES // n)
        for start in range(0, samples, batch):
            rows = min(batch, samples - start)
            perturbed = logits + rng.gumbel(size=(rows, n))
            top = _top_k(perturbed, k)
            counts += np.bincount((top * k + np.arange(k)).ravel(), minlength=n * k)
        plackett_luce[:, 1:] = counts.reshape(n, k)[:, 1:] / samples
    return (1.0 - epsilon) * ranker + epsilon * plackett_luce


def _scores(scores: np.ndarray, func: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) == 0 or not np.isfinite(scores).all():
        raise InvalidParameterError(f"{func} needs a 1-D array of finite scores (one per candidate).")
    return scores


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Column positions of each row's ``k`` largest values, largest first."""
    if k < values.shape[1]:
        top = np.argpartition(-values, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(values.shape[1]), values.shape)
    within = np.argsort(-np.take_along_axis(values, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, within, axis=1)


def _pl_conditional_logs(logits: np.ndarray, order: np.ndarray) -> np.ndarray:
    """log P(order[i] | order[:i]) under Plackett-Luce: its softmax among those not yet placed."""
    remaining = np.ones(len(logits), dtype=bool)
    out = np.empty(len(order))
    for i, item in enumerate(order):
        out[i] = logits[item] - np.logaddexp.reduce(logits[remaining])
        remaining[item] = False
    return out


def plackett_luce_marginals(
    scores: np.ndarray, items: np.ndarray, positions: np.ndarray, *, temperature: float, samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """P(candidate ``items[i]`` at 1-based ``positions[i]``) under Plackett-Luce over ``scores``.

    Position 1 is exact (the softmax of ``scores / temperature``). For position j > 1 it is
    the mean, over ``samples`` prefixes of j - 1 drawn by Gumbel-top-k, of the item's
    conditional probability given the prefix, ``w_i / (W - w(prefix))`` (0 when the prefix
    holds it): the Rao-Blackwellised form of :func:`eval.offpolicy.marginal_propensities`'
    count, unbiased like it but positive wherever the true marginal is, so a shown slot never
    reads as unsupported, and of lower variance.

    >>> scores = np.array([2.0, 1.0, 0.0])
    >>> exact = plackett_luce_marginals(scores, np.array([0, 1, 2]), np.array([1, 1, 1]), temperature=1.0,
    ...                                 samples=10, rng=np.random.default_rng(0))
    >>> exact.round(4).tolist()
    [0.6652, 0.2447, 0.09]
    >>> second = plackett_luce_marginals(scores, np.array([0, 1, 2]), np.array([2, 2, 2]), temperature=1.0,
    ...                                  samples=20000, rng=np.random.default_rng(0))
    >>> second.round(2).tolist()  # exact: 0.2813, 0.5105, 0.2081
    [0.28, 0.51, 0.21]
    """
    where = "plackett_luce_marginals"
    check_number("temperature", temperature, where, low=0.0, low_open=True)
    check_int("samples", samples, where)
    scores = np.asarray(scores, dtype=np.float64)
    items, positions = np.asarray(items, dtype=np.int64), np.asarray(positions, dtype=np.int64)
    if len(items) != len(positions) or (positions < 1).any() or (positions > len(scores)).any():
        raise InvalidParameterError(
            f"{where} needs one 1-based position (at most {len(scores)}, the candidates) per item."
        )
    logits = scores / temperature
    weights = np.exp(logits - logits.max())
    total = weights.sum()
    out = np.empty(len(items))
    first = positions == 1
    out[first] = weights[items[first]] / total
    if (~first).any():
        depth = int(positions.max()) - 1
        perturbed = logits + rng.gumbel(size=(samples, len(scores)))
        if depth < len(scores):
            top = np.argpartition(-perturbed, depth - 1, axis=1)[:, :depth]
        else:
            top = np.broadcast_to(np.arange(len(scores)), perturbed.shape)[:, :depth]
        within = np.argsort(-np.take_along_axis(perturbed, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, within, axis=1)
        removed = np.cumsum(weights[top], axis=1)  # weight of the first 1, 2, ... of each prefix
        for i in np.flatnonzero(~first):
            j, item = int(positions[i]), int(items[i])
            inside = (top[:, : j - 1] == item).any(axis=1)
            remaining = np.maximum(total - removed[:, j - 2], weights[item])
            out[i] = float(np.where(inside, 0.0, weights[item] / remaining).mean())
    return np.clip(out, 0.0, 1.0)
