"""Population stability index (PSI) in NumPy, and what a value means for monitoring.

``psi = sum_i (a_i - e_i) * ln(a_i / e_i)`` over bins ``i``, where ``e_i`` is the reference
(expected) share of bin ``i`` and ``a_i`` the current (actual) share. The formula is
symmetric in the two shares; the bins are not: they are the reference's quantiles.

* Bins: the reference's ``bins``-quantiles as edges (values of the reference), deduplicated (a feature with few distinct
  values, e.g. a 0/1 flag, gets fewer bins), and the outer bins open-ended, so a current value
  below or above everything in the reference still lands in a bin.
* A bin empty on either side takes the share ``epsilon`` (1e-4) instead of 0, so the log is
  finite; the shares are not renormalised.
* Missing values (NaN) are dropped on both sides before binning.
* Status (:func:`psi_status`): below :data:`WARN` (0.1) ``ok``, from :data:`WARN` ``warn``,
  from :data:`ALERT` (0.25) ``alert``; a window of fewer than :data:`MIN_ROWS` (1,000) current
  rows is ``too_few_rows`` whatever its value, since small windows show PSI near 0.1 with no
  drift at all; a reference of fewer than :data:`MIN_ROWS` rows is ``too_few_rows`` too.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number

__all__ = [
    "ALERT",
    "BINS",
    "EPSILON",
    "MIN_ROWS",
    "STATUSES",
    "WARN",
    "PsiResult",
    "bin_shares",
    "population_stability",
    "psi",
    "psi_status",
    "quantile_edges",
]

BINS = 10
EPSILON = 1e-4
WARN = 0.1
ALERT = 0.25
MIN_ROWS = 1000
STATUSES = ("ok", "warn", "alert", "too_few_rows")


class PsiResult(NamedTuple):
    """One PSI with the rows on each side and its :func:`psi_status`."""

    psi: float | None  # None when either side has no row
    reference_rows: int
    current_rows: int
    status: str

    def to_dict(self) -> dict[str, object]:
        return self._asdict()


def quantile_edges(reference: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The inner bin edges: the reference's quantiles 1/bins .. (bins-1)/bins, deduplicated.

    ``len(edges) + 1`` bins follow: ``(-inf, e_0)``, ``[e_0, e_1)``, ..., ``[e_last, inf)``.

    Edges are values of the reference (NumPy's ``inverted_cdf`` quantiles), so a 0/1 flag
    gets the bins ``(-inf, 0)``, ``[0, 1)`` and ``[1, inf)``: one per value, none between.

    >>> quantile_edges(np.arange(100.0), bins=4).tolist()
    [24.0, 49.0, 74.0]
    >>> quantile_edges(np.array([0.0, 0.0, 0.0, 1.0]), bins=10).tolist()
    [0.0, 1.0]
    """
    check_int("bins", bins, "quantile_edges", low=2)
    values = _finite(reference, "quantile_edges")
    if not len(values):
        return np.empty(0)
    return np.unique(np.quantile(values, np.arange(1, bins) / bins, method="inverted_cdf"))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of ``values`` in each bin of :func:`quantile_edges` (sums to 1; all 0 when empty).

    >>> bin_shares(np.array([-5.0, 0.5, 1.0, 9.0]), np.array([0.0, 1.0])).tolist()
    [0.25, 0.25, 0.5]
    """
    values = _finite(values, "bin_shares")
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / len(values) if len(values) else counts.astype(np.float64)


def psi(reference: np.ndarray, current: np.ndarray, *, bins: int = BINS, epsilon: float = EPSILON) -> float:
    """The PSI of ``current`` against ``reference`` (module docstring); NaN when either is empty.

    >>> rng = np.random.default_rng(0)
    >>> round(psi(rng.normal(size=20000), rng.normal(size=20000)), 3) < 0.01
    True
    >>> round(psi(rng.normal(size=20000), rng.normal(1.0, 1.0, size=20000)), 1)
    0.9
    """
    check_number("epsilon", epsilon, "psi", low=0, low_open=True)
    edges = quantile_edges(reference, bins)
    expected = bin_shares(reference, edges)
    actual = bin_shares(current, edges)
    if not expected.sum() or not actual.sum():
        return math.nan
    expected = np.where(expected > 0, expected, epsilon)
    actual = np.where(actual > 0, actual, epsilon)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi_status(value: float | None, current_rows: int, reference_rows: int = MIN_ROWS) -> str:
    """``ok``, ``warn``, ``alert`` or ``too_few_rows`` (module docstring).

    >>> psi_status(0.3, 500), psi_status(0.3, 1000), psi_status(0.12, 1000), psi_status(0.01, 5000)
    ('too_few_rows', 'alert', 'warn', 'ok')
    """
    if current_rows < MIN_ROWS or reference_rows < MIN_ROWS or value is None or not math.isfinite(value):
        return "too_few_rows"
    if value >= ALERT:
        return "alert"
    return "warn" if value >= WARN else "ok"


def population_stability(
    reference: np.ndarray, current: np.ndarray, *, bins: int = BINS, epsilon: float = EPSILON
) -> PsiResult:
    """:func:`psi` with the rows on each side (missing values left out) and its status.

    >>> rng = np.random.default_rng(1)
    >>> population_stability(rng.normal(size=5000), rng.normal(3.0, 1.0, size=500)).status
    'too_few_rows'
    """
    reference = _finite(reference, "population_stability")
    current = _finite(current, "population_stability")
    value = psi(reference, current, bins=bins, epsilon=epsilon)
    shown = None if math.isnan(value) else value
    return PsiResult(shown, len(reference), len(current), psi_status(shown, len(current), len(reference)))


def _finite(values: np.ndarray, where: str) -> np.ndarray:
    """``values`` as 1-D float64 without NaN; infinities are refused (a bug upstream, not drift)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InvalidParameterError(f"{where} needs a 1-D array of values, got shape {array.shape}.")
    array = array[~np.isnan(array)]
    if np.isinf(array).any():
        raise InvalidParameterError(
            f"{where}: {int(np.isinf(array).sum())} infinite value(s); PSI needs finite numbers. "
            "Check the feature that produced them."
        )
    return array
