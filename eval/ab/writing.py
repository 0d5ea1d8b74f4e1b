"""Writing the A/B report folder: ab_report.json, ab_report.md, ab_report.html, ab_lift.png."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.ab.plots import plot_lifts
from eval.ab.rendering import METRIC_LABELS, render_ab_html, render_ab_markdown
from eval.report.schema import json_ready
from mentor_match.errors import InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = ["AB_FILES", "AB_REPORT_KEYS", "validate_ab_report", "write_ab_report"]

AB_REPORT_KEYS: tuple[str, ...] = (
    "generated_at", "experiment", "control", "shares", "settings", "data", "variants",
    "comparisons", "srm", "interference", "verdict", "verdict_withheld", "notes",
)
"""The top-level keys of ab_report.json (each documented in :mod:`eval.ab`)."""

AB_FILES = {"json": "ab_report.json", "md": "ab_report.md", "html": "ab_report.html", "plot": "ab_lift.png"}


def validate_ab_report(report: Mapping[str, Any]) -> None:
    """InvalidParameterError naming the missing keys, if ``report`` lacks any of :data:`AB_REPORT_KEYS`.

    >>> validate_ab_report({"experiment": "x"})
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The A/B report lacks key(s) generated_at, control, shares, settings, data, variants, comparisons, srm, interference, verdict, verdict_withheld, notes; build it with eval.ab.analyze_experiment.
    """
    missing = [key for key in AB_REPORT_KEYS if key not in report]
    if missing:
        raise InvalidParameterError(
            f"The A/B report lacks key(s) {', '.join(missing)}; build it with eval.ab.analyze_experiment."
        )


def write_ab_report(report: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Validate ``report`` and write the folder; returns the paths written (keys of :data:`AB_FILES`).

    The JSON is strict (NaN written as null). Without a lift to draw (e.g. a control value
    of 0) the plot is skipped and a stale ab_lift.png of an earlier run removed.
    """
    validate_ab_report(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_path = out / AB_FILES["plot"]
    plot = plot_lifts(report["comparisons"], METRIC_LABELS, plot_path)
    if plot is None:
        plot_path.unlink(missing_ok=True)
        logger.info("No lift with an interval to draw; skipping %s", plot_path.name)
    written = {key: out / AB_FILES[key] for key in ("json", "md", "html")}
    written["json"].write_text(json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n")
    written["md"].write_text(render_ab_markdown(report, plot))
    written["html"].write_text(render_ab_html(report, plot))
    return written | ({"plot": plot} if plot is not None else {})
