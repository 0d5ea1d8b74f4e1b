"""IPS, self-normalised IPS and independent (item-position) IPS over logged slates.

A logged list (a slate of k slots) is the unit: lists are taken as independent draws of
the logging policy, each estimator averages one value per list, and its standard error
and 95% interval are the normal approximation over lists.

Which propensities each one needs (columns of the ``slots`` frame, one row per shown slot):

* :func:`ips` and :func:`snips` weight a whole list by ``P_target(list) / P_logging(list)``.
  They read ``logging_propensity`` and ``target_propensity``: any per-slot factors whose
  product over the list is that policy's probability of the list, e.g. P(this mentor at
  this position | the slots above), which is what the log stores (``propensity``) and what
  :func:`eval.offpolicy.propensity.slot_propensities` computes for a candidate policy.
* :func:`iips` weights each slot by ``P_target(item at position) / P_logging(item at
  position)``, the *marginal* item-position propensities: columns ``logging_marginal`` and
  ``target_marginal`` (:func:`eval.offpolicy.propensity.marginal_propensities`). The log's
  conditional propensity is not that, so it reads other columns.

The reward of a list is the sum of its slot rewards (``reward``, e.g. 1 when the mentor
was requested), so the estimate is the target policy's expected reward per list.
"""

from __future__ import annotations

import logging
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import pandas as pd

from eval.stats import ConfidenceInterval
from mentor_match.errors import DataValidationError, InvalidParameterError, NotEnoughDataError
from mentor_match.validation import check_int, check_number

logger = logging.getLogger(__name__)

__all__ = ["MIN_LISTS", "OffPolicyEstimate", "iips", "ips", "snips"]

MIN_LISTS = 100
"""Fewest logged lists with a positive logging propensity an estimator accepts by default:
below it the normal interval over lists is not to be trusted."""

_CERTAIN = 1.0 - 1e-9  # a probability at least this is a deterministic choice


class OffPolicyEstimate(NamedTuple):
    """One estimator's value of the target policy, with its uncertainty.

    ``per_list`` holds one value per logged list (indexed by ``list_id``) whose mean is
    ``estimate``. ``effective_sample_size`` is Kish's ``(sum w)^2 / sum w^2`` of the
    importance weights (for IIPS: of each position's slot weights, averaged over positions);
    far below ``lists`` means a few lists carry the estimate.
    """

    estimator: str
    estimate: float
    standard_error: float
    interval: ConfidenceInterval
    lists: int
    effective_sample_size: float
    per_list: pd.Series


class _Slates(NamedTuple):
    """Slots sorted by list, with the list boundaries."""

    list_ids: pd.Index  # one per list
    starts: np.ndarray  # first row of each list in the sorted arrays
    positions: np.ndarray
    reward: np.ndarray
    logging: np.ndarray  # NaN where missing
    target: np.ndarray


def ips(
    slots: pd.DataFrame, *, min_lists: int = MIN_LISTS, alpha: float = 0.05
) -> OffPolicyEstimate:
    """Inverse propensity scoring of whole lists: the mean of ``w_i * R_i`` over lists.

    ``w_i = prod(target_propensity) / prod(logging_propensity)`` over the slots of list
    ``i`` and ``R_i`` the sum of its ``reward``. Unbiased for any reward model, as long as
    the logging policy gives every list the target can show a positive probability
    (support); its variance grows with the ratio of the two policies' list probabilities,
    so it is large for long lists. Columns: ``list_id``, ``position``, ``reward``,
    ``logging_propensity``, ``target_propensity`` (see the module doc).

    Raises NotEnoughDataError below ``min_lists`` lists with a positive logging propensity,
    and DataValidationError where the target puts mass that the logger cannot have shown.

    Two lists of two slots; the target likes the first list twice as much:

    >>> slots = pd.DataFrame({"list_id": ["a", "a", "b", "b"], "position": [1, 2, 1, 2],
    ...                       "reward": [1.0, 0.0, 1.0, 1.0],
    ...                       "logging_propensity": [0.5, 0.5, 0.5, 0.5],
    ...                       "target_propensity": [1.0, 0.5, 0.5, 0.5]})
    >>> result = ips(slots, min_lists=2)
    >>> result.per_list.to_dict(), result.estimate, result.lists
    ({'a': 2.0, 'b': 2.0}, 2.0, 2)
    """
    func = "ips"
    slates = _slates(slots, ("logging_propensity", "target_propensity"), func, min_lists, alpha)
    weights = _list_weights(slates, func, min_lists)
    values = weights * _list_sums(slates, slates.reward)
    return _result(func, values, slates.list_ids, _kish(weights), alpha)


def snips(
    slots: pd.DataFrame, *, min_lists: int = MIN_LISTS, alpha: float = 0.05
) -> OffPolicyEstimate:
    """Self-normalised IPS: ``sum(w_i * R_i) / sum(w_i)``, the IPS weights of :func:`ips`.

    Dividing by the weights' sum instead of the number of lists makes it biased (by
    O(1/lists)) but of lower variance, and it never leaves the range of the list rewards.
    The standard error is the delta method's: ``per_list`` holds ``w_i * R_i / mean(w)``,
    and the error is that of the mean of ``w_i * (R_i - estimate) / mean(w)``. Same
    columns and support rule as :func:`ips`.

    The same two lists as :func:`ips`'s example: weights 2 and 1, rewards 1 and 2:

    >>> slots = pd.DataFrame({"list_id": ["a", "a", "b", "b"], "position": [1, 2, 1, 2],
    ...                       "reward": [1.0, 0.0, 1.0, 1.0],
    ...                       "logging_propensity": [0.5, 0.5, 0.5, 0.5],
    ...                       "target_propensity": [1.0, 0.5, 0.5, 0.5]})
    >>> round(snips(slots, min_lists=2).estimate, 6)  # (2 * 1 + 1 * 2) / (2 + 1)
    1.333333
    """
    func = "snips"
    slates = _slates(slots, ("logging_propensity", "target_propensity"), func, min_lists, alpha)
    weights = _list_weights(slates, func, min_lists)
    mean_weight = weights.mean()
    if mean_weight == 0.0:
        raise NotEnoughDataError(
            f"{func}: the target policy gives probability 0 to every one of the {len(weights)} "
            "logged lists, so the self-normalised estimate is undefined; log lists the target "
            "could show (explore with epsilon > 0), or use ips, which estimates 0 here."
        )
    rewards = _list_sums(slates, slates.reward)
    values = weights * rewards / mean_weight
    estimate = float(values.mean())
    residuals = weights * (rewards - estimate) / mean_weight
    standard_error = float(residuals.std(ddof=1) / np.sqrt(len(values)))
    return _result(func, values, slates.list_ids, _kish(weights), alpha, standard_error=standard_error)


def iips(
    slots: pd.DataFrame, *, min_lists: int = MIN_LISTS, alpha: float = 0.05
) -> OffPolicyEstimate:
    """Independent (item-position) IPS: the mean over lists of ``sum_j w_ij * r_ij``.

    ``w_ij = target_marginal / logging_marginal`` of the mentor shown in slot ``j``: the
    policies' *marginal* probabilities of that mentor at that position (not the log's
    propensity, which is conditional on the slots above; see
    :func:`eval.offpolicy.propensity.marginal_propensities`). Unbiased when a slot's
    reward depends only on its mentor and position, not on the rest of the list (the
    position-based click model, Li et al. 2018), and then of far lower variance than
    :func:`ips`, whose weights multiply over the slots. Columns: ``list_id``,
    ``position``, ``reward``, ``logging_marginal``, ``target_marginal``.

    >>> slots = pd.DataFrame({"list_id": ["a", "a", "b", "b"], "position": [1, 2, 1, 2],
    ...                       "reward": [1.0, 0.0, 1.0, 1.0],
    ...                       "logging_marginal": [0.5, 0.25, 0.5, 0.25],
    ...                       "target_marginal": [1.0, 0.5, 0.25, 0.5]})
    >>> result = iips(slots, min_lists=2)
    >>> result.per_list.to_dict(), result.estimate  # a: 2 * 1;  b: 0.5 * 1 + 2 * 1
    ({'a': 2.0, 'b': 2.5}, 2.25)
    """
    func = "iips"
    slates = _slates(slots, ("logging_marginal", "target_marginal"), func, min_lists, alpha)
    supported = np.isfinite(slates.logging) & (slates.logging > 0)
    unsupported = (slates.target > 0) & ~supported
    always = supported & (slates.logging >= _CERTAIN) & (slates.target < _CERTAIN)
    _raise_for_support(func, slates, unsupported, always, "slot", "(mentor, position)")
    _enough(func, slates, supported, min_lists)
    weights = np.zeros(len(slates.target))
    np.divide(slates.target, slates.logging, out=weights, where=supported)
    values = _list_sums(slates, weights * slates.reward)
    ess = _position_kish(slates.positions, weights)
    return _result(func, values, slates.list_ids, ess, alpha)


def _slates(
    slots: pd.DataFrame, propensities: tuple[str, str], func: str, min_lists: int, alpha: float
) -> _Slates:
    """Check the frame and the parameters; the slots as arrays sorted by list."""
    check_int("min_lists", min_lists, func, low=2)
    check_number("alpha", alpha, func, low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(slots, pd.DataFrame):
        raise InvalidParameterError(
            f"{func} takes a pandas DataFrame of shown slots (one row per slot). Got {type(slots).__name__}."
        )
    logging_column, target_column = propensities
    columns = ("list_id", "position", "reward", logging_column, target_column)
    missing = [c for c in columns if c not in slots.columns]
    if missing:
        hint = (
            " IIPS needs the marginal P(mentor at position) of both policies, not the log's "
            "conditional propensity: compute them with "
            "eval.offpolicy.propensity.marginal_propensities."
            if func == "iips" else
            " The log's 'propensity' is the logging one (eval.offpolicy.slot_rewards names it "
            "so); compute the target's with eval.offpolicy.propensity.slot_propensities."
        )
        raise InvalidParameterError(
            f"{func} needs the columns {', '.join(columns)}; the slots lack {', '.join(missing)}.{hint}"
        )
    if slots.empty:
        raise NotEnoughDataError(
            f"{func} got no slots (0 lists); it needs at least {min_lists} logged lists. Serve "
            "lists with exploration on and record their outcomes first."
        )
    if slots["list_id"].isna().any():
        raise InvalidParameterError(
            f"{func}: {int(slots['list_id'].isna().sum())} slots have no list_id; drop the slots "
            "written before the log (they belong to no list)."
        )
    codes, list_ids = pd.factorize(slots["list_id"], sort=True)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    positions = _column(slots, "position", func)[order]
    if (positions < 1).any() or (positions != np.round(positions)).any():
        raise InvalidParameterError(f"{func}: 'position' must be whole numbers from 1 (the rank in the list).")
    repeated = pd.DataFrame({"list": codes, "position": positions}).duplicated()
    if repeated.any():
        raise DataValidationError(
            f"{func}: {int(repeated.sum())} slots repeat a (list_id, position) of another slot; "
            "each position of a list is shown once. Drop the duplicated rows."
        )
    reward = _column(slots, "reward", func)[order]
    if not np.isfinite(reward).all():
        raise InvalidParameterError(
            f"{func}: {int((~np.isfinite(reward)).sum())} slots have a NaN or infinite 'reward'; "
            "a slot without the outcome scores 0."
        )
    logging_p = _column(slots, logging_column, func)[order]
    target_p = _column(slots, target_column, func)[order]
    for name, values in ((logging_column, logging_p), (target_column, target_p)):
        known = values[~np.isnan(values)]
        if ((known < 0) | (known > 1)).any():
            raise InvalidParameterError(f"{func}: '{name}' holds values outside [0, 1]; they are probabilities.")
    if np.isnan(target_p).any():
        raise InvalidParameterError(
            f"{func}: {int(np.isnan(target_p).sum())} slots have no '{target_column}'; the target "
            "policy's probability is needed for every logged slot (0 where it would not show it)."
        )
    return _Slates(pd.Index(list_ids), starts, positions, reward, logging_p, target_p)


def _column(slots: pd.DataFrame, name: str, func: str) -> np.ndarray:
    try:
        return pd.to_numeric(slots[name]).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{func}: the '{name}' column must be numeric.") from None


def _list_sums(slates: _Slates, values: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, slates.starts)


def _list_weights(slates: _Slates, func: str, min_lists: int) -> np.ndarray:
    """``prod target / prod logging`` per list, after the support and size checks."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_logging = _list_sums(slates, np.log(slates.logging))  # NaN where one is missing
        log_target = _list_sums(slates, np.log(slates.target))
    supported = np.isfinite(log_logging)  # every slot's logging propensity positive
    always = supported & (log_logging >= np.log(_CERTAIN)) & (log_target < np.log(_CERTAIN))
    sizes = np.diff(np.r_[slates.starts, len(slates.target)])
    slot_supported = np.isfinite(slates.logging) & (slates.logging > 0)
    unsupported = np.repeat(log_target > -np.inf, sizes) & ~slot_supported
    _raise_for_support(func, slates, unsupported, np.repeat(always, sizes), "list", "list")
    _enough(func, slates, np.repeat(supported, sizes), min_lists)
    weights = np.zeros(len(slates.starts))
    weights[supported] = np.exp(log_target[supported] - log_logging[supported])
    return weights


def _raise_for_support(
    func: str, slates: _Slates, unsupported: np.ndarray, always: np.ndarray, unit: str, what: str
) -> None:
    """DataValidationError when the target puts mass where the logger cannot have shown it.

    ``unsupported``: rows whose logging propensity is zero or missing (per ``unit``) while
    the target's is positive; ``always``: rows the logger shows with probability 1 where
    the target shows them with less, so the rest of the target's mass is on a ``what``
    the logger never shows (a deterministic logger). Both flags are per row.
    """
    if unsupported.any():
        rows = int(unsupported.sum())
        raise DataValidationError(
            f"{func}: {rows} slots (of {_lists_of(slates, unsupported)} lists) have a zero or "
            f"missing logging propensity where the target policy puts probability on the {unit}: "
            "there is no support, so no unbiased estimate. The log stores no propensity for a "
            "policy without one (e.g. 'random'); fill it in if it is known, or log with "
            "exploration (epsilon > 0)."
        )
    if always.any():
        rows = int(always.sum())
        raise DataValidationError(
            f"{func}: {rows} slots (of {_lists_of(slates, always)} lists) were shown with "
            f"logging probability 1 while the target policy shows them with less, so the rest of "
            f"its mass is on a {what} the logger never shows (a deterministic logger has no "
            "support for a different policy). Log with exploration (epsilon > 0) to evaluate "
            "another ranker."
        )


def _lists_of(slates: _Slates, rows: np.ndarray) -> int:
    return int(np.logical_or.reduceat(rows, slates.starts).sum())


def _enough(func: str, slates: _Slates, supported_rows: np.ndarray, min_lists: int) -> None:
    """NotEnoughDataError below ``min_lists`` lists whose every slot has a positive propensity."""
    usable = int(np.logical_and.reduceat(supported_rows, slates.starts).sum())
    if usable < min_lists:
        raise NotEnoughDataError(
            f"{func} needs at least {min_lists} logged lists with a positive logging propensity "
            f"(min_lists); got {usable} of {len(slates.starts)} lists. Log more lists with "
            "exploration on (the experiment's 'exploration' epsilon > 0), or lower min_lists "
            "if a rough estimate will do."
        )


def _kish(weights: np.ndarray) -> float:
    squares = float(np.square(weights).sum())
    return float(weights.sum() ** 2 / squares) if squares > 0 else 0.0


def _position_kish(positions: np.ndarray, weights: np.ndarray) -> float:
    """Kish's effective sample size of each position's slot weights, averaged over positions."""
    _, at = np.unique(positions, return_inverse=True)
    sums = np.bincount(at, weights=weights)
    squares = np.bincount(at, weights=np.square(weights))
    per_position = np.divide(np.square(sums), squares, out=np.zeros_like(sums), where=squares > 0)
    return float(per_position.mean())


def _result(
    name: str,
    values: np.ndarray,
    list_ids: pd.Index,
    effective_sample_size: float,
    alpha: float,
    *,
    standard_error: float | None = None,
) -> OffPolicyEstimate:
    estimate = float(values.mean())
    if standard_error is None:
        standard_error = float(values.std(ddof=1) / np.sqrt(len(values)))
    half = NormalDist().inv_cdf(1.0 - alpha / 2.0) * standard_error
    logger.debug("%s: %.6g +- %.3g over %d lists (ESS %.1f)", name, estimate, half, len(values),
                 effective_sample_size)
    return OffPolicyEstimate(
        estimator=name,
        estimate=estimate,
        standard_error=standard_error,
        interval=ConfidenceInterval(estimate - half, estimate + half),
        lists=len(values),
        effective_sample_size=effective_sample_size,
        per_list=pd.Series(values, index=list_ids.rename("list_id"), name=name),
    )
