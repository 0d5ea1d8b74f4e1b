"""Held-out evaluation of the reciprocal model's two heads (:mod:`ranking.heads`).

Each head is judged on its own rows of the held-out part (by default ``test``: after the
time cut, mentees never trained on): separation (ROC-AUC, average precision), fit of the
probabilities (log-loss) and calibration (expected calibration error, reliability curve),
beside the base rate a constant prediction would give. ``match`` judges the product
P(accept) x P(success) on the held-out requests whose end is known (declined ones count 0,
completed ones their ``successful_match``; accepted pairs still running are left out).

:func:`evaluate_heads` returns a JSON-able dict (keys below) and writes ``reliability.png``::

    {"part", "n_bins", "strategy", "calibration", "plot",
     "heads": {"accept": METRICS, "success": METRICS}, "match": METRICS}
    METRICS = {"n", "base_rate", "mean_predicted", "roc_auc", "average_precision",
               "log_loss", "ece", "reliability": {"mean_predicted", "observed", "counts", "lower", "upper"}}

``roc_auc`` and ``average_precision`` are ``None`` (JSON null) when the rows hold one class
only: they are undefined there, and a NaN would poison a mean silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, log_loss

from eval.metrics import ReliabilityCurve, expected_calibration_error, reliability_curve, roc_auc
from eval.metrics.ranked import ArrayLike
from eval.plots import plot_reliability
from mentor_match.errors import ArtifactError, InvalidParameterError
from mentor_match.validation import check_choice
from ranking.heads import CALIBRATION, HEADS, PARTS, HeadsData, ReciprocalModel

__all__ = ["PLOT_FILE", "evaluate_heads", "head_metrics"]

PLOT_FILE = "reliability.png"


def head_metrics(
    y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10, strategy: str = "uniform"
) -> dict[str, Any]:
    """Separation, log-loss and calibration of probabilities ``y_prob`` for 0/1 ``y_true``.

    >>> metrics = head_metrics([1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4], n_bins=2)
    >>> {key: metrics[key] for key in ("n", "base_rate", "roc_auc", "ece")}
    {'n': 4, 'base_rate': 0.5, 'roc_auc': 1.0, 'ece': 0.25}
    """
    curve = reliability_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    labels = np.asarray(y_true, dtype=np.float64)
    probabilities = np.asarray(y_prob, dtype=np.float64)
    both = 0 < labels.sum() < len(labels)
    return {
        "n": len(labels),
        "base_rate": float(labels.mean()),
        "mean_predicted": float(probabilities.mean()),
        "roc_auc": roc_auc(labels, probabilities) if both else None,
        "average_precision": float(average_precision_score(labels, probabilities)) if both else None,
        "log_loss": float(log_loss(labels, probabilities, labels=[0, 1])),
        "ece": expected_calibration_error(labels, probabilities, n_bins=n_bins, strategy=strategy),
        "reliability": curve.to_dict(),
    }


def evaluate_heads(
    model: ReciprocalModel,
    data: HeadsData,
    folder: str | Path,
    *,
    part: str = "test",
    n_bins: int = 10,
    strategy: str = "uniform",
) -> dict[str, Any]:
    """Each head's metrics on ``part`` of ``data`` and ``match``'s, plus ``folder/reliability.png``.

    ``data`` must be the :class:`ranking.heads.HeadsData` the model was trained from (its
    ``test`` rows are the ones the heads never saw). Returns the dict of the module docstring.

    >>> import tempfile
    >>> from db import Dataset
    >>> from ranking.heads import build_heads_data, train_heads
    >>> from synthetic import generate_world
    >>> world = generate_world(n_mentors=40, n_mentees=120, interactions_per_mentee=6, seed=2)
    >>> data = build_heads_data(Dataset(world.mentors, world.mentees, world.interactions), seed=2)
    >>> model = train_heads(data, seed=2, n_jobs=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     result = evaluate_heads(model, data, folder)
    ...     (Path(folder) / result["plot"]).is_file()
    True
    >>> sorted(result["heads"]), result["heads"]["accept"]["n"] == len(data.rows("accept", "test"))
    (['accept', 'success'], True)
    """
    check_choice("part", part, "evaluate_heads", PARTS)
    folder = Path(folder)
    results: dict[str, dict[str, Any]] = {}
    curves: dict[str, ReliabilityCurve] = {}
    for head in HEADS:
        X, y = data.labelled(head, part)
        if not len(y):
            raise InvalidParameterError(
                f"evaluate_heads: the {part} part has no rows for the {head} head; evaluate on "
                "a split with held-out resolved requests (more data or another seed)."
            )
        probability = model.predict_accept(X) if head == "accept" else model.predict_success(X)
        results[head] = head_metrics(y, probability, n_bins=n_bins, strategy=strategy)
        curves[f"P({head})"] = reliability_curve(y, probability, n_bins=n_bins, strategy=strategy)
    rows = data.rows("accept", part)
    requests = data.requests.iloc[rows]
    known = (requests["status"] == "declined").to_numpy() | requests["ended"].to_numpy()
    match = None
    if known.any():
        match_probability = model.predict_match(data.features.iloc[rows[known]])
        match = head_metrics(requests["successful"].to_numpy()[known], match_probability,
                             n_bins=n_bins, strategy=strategy)
        curves["P(match)"] = reliability_curve(
            requests["successful"].to_numpy()[known], match_probability, n_bins=n_bins, strategy=strategy
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        plot_reliability(curves, folder / PLOT_FILE, title=f"Reliability of the reciprocal heads ({part})")
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write {PLOT_FILE} into {str(folder)!r}: {exc.strerror or exc}. Make it "
            "writable or pass another folder."
        ) from None
    return {
        "part": part,
        "n_bins": n_bins,
        "strategy": strategy,
        "calibration": CALIBRATION,
        "plot": PLOT_FILE,
        "heads": results,
        "match": match,
    }
