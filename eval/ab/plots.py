"""The A/B report's plot: each variant's relative lift over control, per metric, with its interval.

Drawn with the evaluation plots' figure style (:func:`eval.plots.figure`, Agg canvas, no
``pyplot``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.plots import figure

__all__ = ["plot_lifts"]


def plot_lifts(comparisons: Sequence[Mapping], labels: Mapping[str, str], path: Path) -> Path | None:
    """One row per (variant, metric): the relative lift as a point, its interval as a bar.

    ``comparisons`` are the report's entries; those without a lift (control value 0) are
    skipped, and with none left nothing is drawn (None).

    >>> comparison = {"variant": "b", "metric": "m", "relative_lift": 0.1,
    ...               "lift_ci_low": 0.02, "lift_ci_high": 0.2}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_lifts([comparison], {"m": "metric"}, Path(folder) / "ab_lift.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    drawn = [c for c in comparisons if c["relative_lift"] is not None and c["lift_ci_low"] is not None]
    if not drawn:
        return None
    fig, ax = figure("Lift over control (bar: bootstrap interval over mentees)",
                     size=(6.4, 1.4 + 0.45 * len(drawn)))
    positions = list(range(len(drawn)))[::-1]
    for y, comparison in zip(positions, drawn, strict=True):
        lift = 100.0 * comparison["relative_lift"]
        low, high = 100.0 * comparison["lift_ci_low"], 100.0 * comparison["lift_ci_high"]
        excludes_zero = low > 0 or high < 0
        color = "tab:blue" if excludes_zero else "tab:grey"
        ax.errorbar(lift, y, xerr=[[lift - low], [high - lift]], fmt="o", color=color, capsize=4)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(positions)
    ax.set_yticklabels([f"{c['variant']}: {labels.get(c['metric'], c['metric'])}" for c in drawn])
    ax.set_xlabel("relative lift over control (%)")
    fig.savefig(path)
    return path
