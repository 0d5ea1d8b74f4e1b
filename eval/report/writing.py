"""Writing the report folder: report.json, report.md, report.html and one PNG per curve."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eval.plots import (
    plot_calibration,
    plot_feature_importance,
    plot_ndcg_at_k,
    plot_roc,
    plot_stage1_recall,
)
from eval.report.rendering import render_html, render_markdown
from eval.report.schema import PLOT_FILES, json_ready, validate_report
from eval.report.tables import report_tables
from mentor_match.errors import InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = ["write_report"]

_PLOTTERS: dict[str, Callable[[Any, Path], Path]] = {
    "roc": plot_roc,
    "ndcg_at_k": plot_ndcg_at_k,
    "stage1_recall": plot_stage1_recall,
    "feature_importance": plot_feature_importance,
    "calibration": plot_calibration,
}


def write_report(
    report: Mapping[str, Any],
    out_dir: str | Path,
    *,
    curves: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Validate ``report`` and write report.json/.md/.html plus a PNG per curve given.

    Returns the written paths: ``{"json", "md", "html"}`` and one entry per plot drawn
    (keys of :data:`~eval.report.schema.PLOT_FILES`). A curve that is missing or empty
    skips its plot, and a stale PNG of that name from an earlier run is removed so it
    cannot be mistaken for this run's.

    The smallest valid report: every public key present, None where nothing was measured.

    >>> from eval.report.schema import MODEL_NAMES, REPORT_KEYS
    >>> report = {
    ...     "generated_at": "2026-01-01T00:00:00+00:00",
    ...     "data": {"mentors": 500, "mentees": 1000, "interactions": 9000, "test_mentees": 200},
    ...     "models": {name: dict.fromkeys(REPORT_KEYS["models"][name]) for name in MODEL_NAMES},
    ...     "pipeline": dict.fromkeys(REPORT_KEYS["pipeline"]) | {"stage1_recall": {"200": 0.88}},
    ... }
    >>> curves = {"stage1_recall": {"k": [200], "exact": [0.88]}}  # the other plots are skipped
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_report(report, folder, curves=curves)
    ...     sorted(path.name for path in written.values())
    ['report.html', 'report.json', 'report.md', 'stage1_recall.png']
    """
    validate_report(report)
    curves = dict(curves or {})
    unknown = sorted(set(curves) - set(PLOT_FILES))
    if unknown:
        raise InvalidParameterError(
            f"write_report got unknown curves {unknown}; the known ones are {sorted(PLOT_FILES)}."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Path] = {}
    for name, filename in PLOT_FILES.items():
        path = out / filename
        if curves.get(name):
            plots[name] = _PLOTTERS[name](curves[name], path)
        else:
            path.unlink(missing_ok=True)
            logger.info("No %s curve given; skipping %s", name, filename)
    tables = report_tables(report)
    written = {
        "json": out / "report.json",
        "md": out / "report.md",
        "html": out / "report.html",
    }
    written["json"].write_text(json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n")
    written["md"].write_text(render_markdown(report, tables, plots))
    written["html"].write_text(render_html(report, tables, plots))
    return written | plots
