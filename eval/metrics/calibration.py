"""Calibration of predicted probabilities: the reliability curve and the expected calibration error.

A model is calibrated when, among the rows it gives probability ``p``, a share ``p`` is
positive. Both functions here bin the rows by their predicted probability and compare, per
bin, the mean prediction with the observed share of positives.

Conventions:

- Bins: ``strategy="uniform"`` cuts [0, 1] into ``n_bins`` equal widths; ``"quantile"`` puts
  the edges at the quantiles of the predictions (about equal counts; tied predictions can
  leave a bin empty). A prediction on an inner edge falls in the lower bin (bins are
  ``(a, b]``, the first ``[0, b]``), exactly as ``sklearn.calibration.calibration_curve``
  bins, so the two agree on the same input (tested).
- Empty bins are left out of the curve and weigh nothing in the error.
- ``y_true`` holds 0/1 labels; ``y_prob`` probabilities in [0, 1]. Empty input is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.metrics.ranked import ArrayLike, as_labels_and_scores
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_int

__all__ = ["STRATEGIES", "ReliabilityCurve", "expected_calibration_error", "reliability_curve"]

STRATEGIES = ("uniform", "quantile")


@dataclass(frozen=True)
class ReliabilityCurve:
    """The non-empty bins of a reliability diagram, in increasing order of prediction.

    ``mean_predicted`` and ``observed`` are the mean prediction and the share of positives
    of each bin, ``counts`` its rows, ``lower``/``upper`` its edges; ``edges`` are all
    ``n_bins + 1`` edges, empty bins included.
    """

    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    edges: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        """The curve as JSON values (lists of floats; counts as ints)."""
        return {
            "mean_predicted": self.mean_predicted.tolist(),
            "observed": self.observed.tolist(),
            "counts": [int(c) for c in self.counts],
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
        }


def _checked(y_true: ArrayLike, y_prob: ArrayLike, func: str) -> tuple[np.ndarray, np.ndarray]:
    labels, probabilities = as_labels_and_scores(y_true, y_prob, func)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise InvalidParameterError(
            f"The 'y_true' parameter of {func} must hold 0/1 labels. "
            f"Got values {sorted(set(np.unique(labels).tolist()) - {0.0, 1.0})[:5]}."
        )
    if probabilities.min() < 0 or probabilities.max() > 1:
        raise InvalidParameterError(
            f"The 'y_prob' parameter of {func} must hold probabilities in [0, 1]. Got values in "
            f"[{probabilities.min():.4g}, {probabilities.max():.4g}]; pass predicted "
            "probabilities, not raw scores or margins."
        )
    return labels, probabilities


def reliability_curve(
    y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10, strategy: str = "uniform"
) -> ReliabilityCurve:
    """Mean prediction against observed share of positives, per non-empty bin, with counts.

    ``observed`` and ``mean_predicted`` equal what ``sklearn.calibration.calibration_curve``
    returns for the same input, bins and strategy; the counts and edges come beside them,
    so that a plot or an error can weigh the bins.

    Two bins of width one half; the lower one holds 0.1, 0.2, 0.4 (one positive of three):

    >>> curve = reliability_curve([0, 0, 1, 1, 1], [0.1, 0.2, 0.4, 0.8, 0.9], n_bins=2)
    >>> curve.mean_predicted.round(3).tolist(), curve.observed.round(3).tolist(), curve.counts.tolist()
    ([0.233, 0.85], [0.333, 1.0], [3, 2])
    """
    func = "reliability_curve"
    n_bins = check_int("n_bins", n_bins, func)
    check_choice("strategy", strategy, func, STRATEGIES)
    labels, probabilities = _checked(y_true, y_prob, func)
    if strategy == "quantile":
        edges = np.percentile(probabilities, np.linspace(0.0, 100.0, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], probabilities)  # (a, b]: calibration_curve's rule
    counts = np.bincount(bins, minlength=n_bins)
    predicted_sum = np.bincount(bins, weights=probabilities, minlength=n_bins)
    positive_sum = np.bincount(bins, weights=labels, minlength=n_bins)
    full = counts > 0
    return ReliabilityCurve(
        mean_predicted=predicted_sum[full] / counts[full],
        observed=positive_sum[full] / counts[full],
        counts=counts[full],
        lower=edges[:-1][full],
        upper=edges[1:][full],
        edges=edges,
    )


def expected_calibration_error(
    y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10, strategy: str = "uniform"
) -> float:
    """Expected calibration error: the count-weighted mean gap between prediction and outcome.

    ``ECE = sum over bins b of (n_b / n) * |observed_b - mean_predicted_b|``, with the bins
    of :func:`reliability_curve`. 0 is perfect; a model that always predicts the base rate
    also scores 0 (ECE measures calibration, not separation: report it beside AUC).

    The example of :func:`reliability_curve`: (3/5) x |0.333 - 0.233| + (2/5) x |1 - 0.85|:

    >>> round(expected_calibration_error([0, 0, 1, 1, 1], [0.1, 0.2, 0.4, 0.8, 0.9], n_bins=2), 4)
    0.12
    """
    curve = reliability_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    weights = curve.counts / curve.counts.sum()
    return float(np.sum(weights * np.abs(curve.observed - curve.mean_predicted)))
