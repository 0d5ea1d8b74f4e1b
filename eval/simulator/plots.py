"""The simulation report's plots, in the evaluation plots' style (:func:`eval.plots.figure`).

Each function takes a validated ``simulation.json`` dict and a path, draws one PNG and
returns the path, or None when the result holds nothing to draw (the writer then removes a
stale file of that name). A policy keeps its colour in every plot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from eval.plots import figure
from eval.simulator.market import gini, lorenz_curve, mean_and_se

__all__ = [
    "PLOT_FILES",
    "draw_plots",
    "plot_cumulative",
    "plot_lorenz",
    "plot_matches_per_week",
    "plot_utilisation",
]

PLOT_FILES = {
    "matches_per_week": "simulation_matches.png",
    "cumulative": "simulation_cumulative.png",
    "utilisation": "simulation_utilisation.png",
    "lorenz": "simulation_lorenz.png",
}
"""The PNG written for each plot, beside simulation.json."""


def _colours(result: Mapping[str, Any]) -> dict[str, str]:
    return {policy: f"C{i % 10}" for i, policy in enumerate(result["policies"])}


def _weekly(entry: Mapping[str, Any], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(week, mean, se) of one policy's weekly ``metric``; NaN where a week lacks it."""
    weeks = [w for w in entry.get("weeks") or [] if w.get("week") is not None]
    x = np.array([float(w["week"]) for w in weeks])

    def value(week: Mapping[str, Any], key: str) -> float:
        cell = week.get(metric)
        item = cell.get(key) if isinstance(cell, Mapping) else None
        return float("nan") if item is None else float(item)

    return x, np.array([value(w, "mean") for w in weeks]), np.array([value(w, "se") for w in weeks])


def _plot_weekly(result: Mapping[str, Any], metric: str, title: str, ylabel: str, path: Path,
                 *, percent: bool = False) -> Path | None:
    colours = _colours(result)
    series = {p: _weekly(e, metric) for p, e in result["policies"].items()}
    series = {p: s for p, s in series.items() if np.isfinite(s[1]).any()}
    if not series:
        return None
    fig, ax = figure(title)
    scale = 100.0 if percent else 1.0
    for policy, (x, mean, se) in series.items():
        ax.plot(x, scale * mean, marker="o", markersize=3, color=colours[policy], label=policy)
        band = np.isfinite(se) & np.isfinite(mean)
        if band.any():
            ax.fill_between(x[band], scale * (mean - se)[band], scale * (mean + se)[band],
                            color=colours[policy], alpha=0.2, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("week")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    fig.savefig(path)
    return path


def plot_matches_per_week(result: Mapping[str, Any], path: Path) -> Path | None:
    """Successful matches per week, one line per policy, its ±SE band over seeds.

    >>> result = {"policies": {"ranker": {"weeks": [
    ...     {"week": 1, "successful_matches": {"mean": 30.0, "se": 2.0}},
    ...     {"week": 2, "successful_matches": {"mean": 35.0, "se": 1.5}}]}}}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_matches_per_week(result, Path(folder) / "m.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    return _plot_weekly(result, "successful_matches",
                        "Successful matches per week (band: ±1 SE over seeds)",
                        "successful matches", path)


def plot_utilisation(result: Mapping[str, Any], path: Path) -> Path | None:
    """Mentor utilisation (filled seats over seats) per week and policy, in percent, ±SE band.

    >>> result = {"policies": {"ranker": {"weeks": [{"week": 1, "successful_matches": {"mean": 3.0}}]}}}
    >>> plot_utilisation(result, Path("unused.png")) is None  # no utilisation in the result
    True
    """
    return _plot_weekly(result, "utilisation", "Mentor utilisation per week (band: ±1 SE over seeds)",
                        "filled seats / seats (%)", path, percent=True)


def _cumulative(entry: Mapping[str, Any], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(week, mean, se) of the cumulative sum of ``metric``.

    From the seeds' own weeks when every seed has the metric every week (so the SE is that
    of the cumulative figure), else the cumulative sum of the weekly means, without a band.
    """
    seeds = entry.get("per_seed") or []
    rows = []
    for seed in seeds:
        weeks = sorted(seed.get("weeks") or [], key=lambda w: w.get("week", 0))
        rows.append([w.get(metric) for w in weeks])
    try:
        totals = np.cumsum(np.array(rows, dtype=float), axis=1)  # None reads as NaN
    except (TypeError, ValueError):  # ragged: seeds ran different weeks
        totals = None
    if totals is not None and totals.ndim == 2 and totals.size and np.isfinite(totals).all():
        weeks = sorted(seeds[0]["weeks"], key=lambda w: w.get("week", 0))
        x = np.array([float(w["week"]) for w in weeks])
        pairs = [mean_and_se(totals[:, i]) for i in range(totals.shape[1])]
        return x, np.array([p.mean for p in pairs]), np.array([p.se for p in pairs])
    x, mean, _ = _weekly(entry, metric)
    return x, np.cumsum(mean), np.full(len(x), np.nan)


def plot_cumulative(result: Mapping[str, Any], path: Path) -> Path | None:
    """Cumulative successful matches per policy (solid, ±SE band over seeds) and each
    policy's cumulative capacity bound (dashed, same colour, no band), on one panel.

    >>> week = lambda w, m, b: {"week": w, "successful_matches": {"mean": m, "se": None},
    ...                         "bound": {"mean": b, "se": None}}
    >>> result = {"policies": {"random": {"weeks": [week(1, 20.0, 80.0), week(2, 25.0, 75.0)]}}}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_cumulative(result, Path(folder) / "c.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    colours = _colours(result)
    drawn = False
    fig, ax = figure("Cumulative successful matches (solid) and capacity bound (dashed)")
    for policy, entry in result["policies"].items():
        for metric, style, label in (("successful_matches", "-", policy),
                                     ("bound", "--", f"{policy}: bound")):
            x, mean, se = _cumulative(entry, metric)
            if not np.isfinite(mean).any():
                continue
            drawn = True
            ax.plot(x, mean, linestyle=style, marker="o" if style == "-" else None, markersize=3,
                    color=colours[policy], label=label)
            band = np.isfinite(se) & np.isfinite(mean) & (style == "-")  # the bound's would clutter
            if band.any():
                ax.fill_between(x[band], (mean - se)[band], (mean + se)[band],
                                color=colours[policy], alpha=0.15, linewidth=0)
    if not drawn:
        return None
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("week")
    ax.set_ylabel("cumulative expected / realised matches")
    ax.legend(fontsize="small")
    fig.savefig(path)
    return path


def plot_lorenz(result: Mapping[str, Any], path: Path) -> Path | None:
    """Lorenz curve of requests over mentors per policy, every seed's mentors pooled (each
    (seed, mentor) one point of the population), with the line of equality; Gini in the legend.

    >>> result = {"policies": {"ranker": {"per_seed": [
    ...     {"seed": 0, "requests_per_mentor": [0, 0, 1, 9]},
    ...     {"seed": 1, "requests_per_mentor": [0, 2, 2, 6]}]}}}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = plot_lorenz(result, Path(folder) / "l.png")
    ...     path.read_bytes()[1:4]
    b'PNG'
    """
    colours = _colours(result)
    pooled = {}
    seeds = 0
    for policy, entry in result["policies"].items():
        counts = [seed.get("requests_per_mentor") for seed in entry.get("per_seed") or []]
        counts = [np.asarray(c, dtype=float) for c in counts if c is not None and len(c)]
        if counts:
            pooled[policy] = np.concatenate(counts)
            seeds = max(seeds, len(counts))
    if not pooled:
        return None
    which = "one seed" if seeds == 1 else f"{seeds} seeds pooled"
    fig, ax = figure(f"Lorenz curve of requests over mentors ({which})", size=(5.6, 5.0))
    for policy, counts in pooled.items():
        population, share = lorenz_curve(counts)
        ax.plot(population, share, color=colours[policy],
                label=f"{policy} (Gini {gini(counts):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="equality")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("share of mentors, least requested first")
    ax.set_ylabel("share of requests")
    ax.legend(fontsize="small", loc="upper left")
    fig.savefig(path)
    return path


_PLOTTERS: dict[str, Callable[[Mapping[str, Any], Path], Path | None]] = {
    "matches_per_week": plot_matches_per_week,
    "cumulative": plot_cumulative,
    "utilisation": plot_utilisation,
    "lorenz": plot_lorenz,
}


def draw_plots(result: Mapping[str, Any], folder: Path) -> dict[str, Path]:
    """Every plot the result can show, under :data:`PLOT_FILES` names in ``folder``.

    >>> result = {"policies": {"ranker": {"weeks": [], "per_seed": [
    ...     {"seed": 0, "requests_per_mentor": [1, 3]}]}}}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sorted(draw_plots(result, Path(folder)))
    ['lorenz']
    """
    drawn = {}
    for name, plotter in _PLOTTERS.items():
        path = plotter(result, Path(folder) / PLOT_FILES[name])
        if path is not None:
            drawn[name] = path
    return drawn
