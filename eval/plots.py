"""PNG plots of the evaluation report, drawn with matplotlib's object API (Agg canvas).

No ``pyplot``: figures are plain objects, so nothing here touches global matplotlib state
or needs a display. Each function takes one entry of the report's ``curves`` mapping (see
:mod:`eval.report`) and writes one PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_curve

from eval.metrics import ReliabilityCurve, reliability_curve, roc_auc
from mentor_match.errors import InvalidParameterError

__all__ = [
    "figure",
    "plot_calibration",
    "plot_feature_importance",
    "plot_ndcg_at_k",
    "plot_roc",
    "plot_stage1_recall",
]

MAX_FEATURES = 20


def figure(title: str, size: tuple[float, float] = (6.4, 4.4)) -> tuple[Figure, object]:
    """A figure of the reports' style (size, dpi, grid) with one titled axes, on an Agg canvas."""
    fig = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _pair(entry: Sequence, curve: str, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Unpack a (y_true, y_score) entry of ``curves[curve][model]``."""
    if len(entry) != 2:
        raise InvalidParameterError(
            f"curves['{curve}']['{model}'] must be a pair (y_true, y_score). "
            f"Got {len(entry)} items."
        )
    y_true, y_score = (np.asarray(a, dtype=float).ravel() for a in entry)
    if len(y_true) != len(y_score):
        raise InvalidParameterError(
            f"curves['{curve}']['{model}'] has {len(y_true)} labels but {len(y_score)} scores; "
            "pass one score per held-out pair."
        )
    return y_true, y_score


def plot_roc(roc: Mapping[str, Sequence], path: Path) -> Path:
    """ROC curve of every model on one chart, AUC in the legend.

    >>> roc = {"ranker": ([1, 0, 1, 0], [0.9, 0.8, 0.4, 0.1])}  # (labels, scores) per model
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_roc(roc, Path(folder) / "roc.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    fig, ax = figure("ROC curves on held-out pairs")
    for model, entry in roc.items():
        y_true, y_score = _pair(entry, "roc", model)
        fpr, tpr, _ = roc_curve(y_true > 0, y_score)
        ax.plot(fpr, tpr, label=f"{model} (AUC {roc_auc(y_true, y_score):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path)
    return path


def plot_ndcg_at_k(curves: Mapping[str, Mapping[str, Sequence[float]]], path: Path) -> Path:
    """Mean NDCG@K against K per model, with its bootstrap confidence band.

    One entry per model as :func:`eval.report.ndcg_curve` builds it:

    >>> curve = {"k": [1, 5, 10], "mean": [0.5, 0.6, 0.7], "low": [0.4, 0.5, 0.6],
    ...          "high": [0.6, 0.7, 0.8]}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_ndcg_at_k({"ranker": curve}, Path(folder) / "ndcg_at_k.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    fig, ax = figure("NDCG@K by model (band: 95% bootstrap CI over mentees)")
    for model, curve in curves.items():
        missing = [key for key in ("k", "mean", "low", "high") if key not in curve]
        if missing:
            raise InvalidParameterError(
                f"curves['ndcg_at_k']['{model}'] lacks {missing}; "
                "build it with eval.report.ndcg_curve."
            )
        (line,) = ax.plot(curve["k"], curve["mean"], marker="o", markersize=3, label=model)
        ax.fill_between(curve["k"], curve["low"], curve["high"], color=line.get_color(), alpha=0.2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("K")
    ax.set_ylabel("NDCG@K")
    ax.legend(fontsize="small")
    fig.savefig(path)
    return path


def plot_stage1_recall(recall: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Share of a reference top 10 (oracle, exact ranker) found in the top-K candidates.

    >>> recall = {"k": [10, 50, 200], "oracle": [0.4, 0.7, 0.9], "exact": [0.5, 0.8, 0.95]}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_stage1_recall(recall, Path(folder) / "stage1_recall.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    if "k" not in recall:
        raise InvalidParameterError(
            "curves['stage1_recall'] needs 'k' (the candidate counts) beside one list per "
            "reference, e.g. {'k': [10, 50], 'oracle': [0.4, 0.8]}."
        )
    fig, ax = figure("Stage-1 recall: reference top 10 inside the top-K candidates")
    for name, values in recall.items():
        if name != "k":
            ax.plot(recall["k"], values, marker="o", label=f"{name} top 10")
    ax.set_xscale("log")
    ax.set_xticks(list(recall["k"]), labels=[str(k) for k in recall["k"]])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("K candidates from stage 1 (log scale)")
    ax.set_ylabel("recall")
    ax.legend(fontsize="small")
    fig.savefig(path)
    return path


def plot_feature_importance(importance: Mapping[str, float], path: Path) -> Path:
    """Horizontal bars of the ranker's feature importance (the largest MAX_FEATURES).

    >>> importance = {"similarity": 30.5, "skill_overlap": 12.0, "tz_gap": 4.2}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_feature_importance(importance, Path(folder) / "importance.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    ranked = sorted(importance.items(), key=lambda item: item[1], reverse=True)[:MAX_FEATURES]
    names = [name for name, _ in ranked][::-1]
    values = [float(value) for _, value in ranked][::-1]
    fig, ax = figure("Ranker feature importance", size=(6.4, 1.2 + 0.28 * len(names)))
    ax.barh(names, values)
    ax.set_xlabel("importance")
    fig.savefig(path)
    return path


def plot_calibration(calibration: Mapping[str, Sequence], path: Path, *, n_bins: int = 10) -> Path:
    """Reliability diagram of the classifiers: observed positive rate against predicted
    probability (:func:`plot_reliability` over :func:`eval.metrics.reliability_curve`).

    >>> calibration = {"logistic_regression": ([1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4])}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_calibration(calibration, Path(folder) / "calibration.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    curves = {}
    for model, entry in calibration.items():
        y_true, y_prob = _pair(entry, "calibration", model)
        if y_prob.min() < 0 or y_prob.max() > 1:
            raise InvalidParameterError(
                f"curves['calibration']['{model}'] has scores outside [0, 1]; pass probabilities "
                "(predict_proba[:, 1]), and leave out models whose scores are not probabilities."
            )
        curves[model] = reliability_curve(y_true > 0, y_prob, n_bins=n_bins)
    return plot_reliability(curves, path, title="Calibration of the classifiers")


def plot_reliability(curves: Mapping[str, ReliabilityCurve], path: str | Path, *, title: str) -> Path:
    """Reliability diagram: observed share of positives against mean prediction, per curve.

    Marker areas grow with the bins' row counts, so a point made of three rows does not
    look as sure as one made of three hundred.

    >>> import tempfile
    >>> curve = reliability_curve([1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4], n_bins=2)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_reliability({"accept": curve}, Path(folder) / "r.png", title="Heads")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    fig, ax = figure(title)
    for name, curve in curves.items():
        sizes = 12 + 120 * curve.counts / max(int(curve.counts.max()), 1)
        (line,) = ax.plot(curve.mean_predicted, curve.observed, label=name)
        ax.scatter(curve.mean_predicted, curve.observed, s=sizes, color=line.get_color(), alpha=0.7)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed share of positives")
    ax.legend(fontsize="small", loc="upper left")
    path = Path(path)
    fig.savefig(path)
    return path
