"""Writing the monitor folder: monitor.json, monitor.md and monitor.html, each atomically.

Every file is first written into a hidden staging folder inside the target and then moved in
by ``os.replace``, the JSON last, so cron never reads a half-written report and a failure
leaves the previous files whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.monitor.rendering import monitor_html, monitor_markdown
from eval.report.schema import json_ready
from mentor_match.errors import InvalidParameterError

__all__ = ["MONITOR_FILES", "MONITOR_KEYS", "validate_monitor", "write_monitor"]

MONITOR_KEYS: tuple[str, ...] = (
    "format", "generated_at", "window", "previous_window", "settings", "daily", "variants",
    "drift", "alerts", "status",
)
"""The top-level keys of monitor.json (docs/monitoring.md documents each)."""
MONITOR_FILES = {"md": "monitor.md", "html": "monitor.html", "json": "monitor.json"}


def validate_monitor(report: Mapping[str, Any]) -> None:
    """InvalidParameterError naming the missing keys, if ``report`` lacks any of :data:`MONITOR_KEYS`.

    >>> validate_monitor({"format": "x"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The monitor report lacks key(s) generated_at, ...; build it with eval.monitor.monitor_report.
    """
    missing = [key for key in MONITOR_KEYS if key not in report]
    if missing:
        raise InvalidParameterError(
            f"The monitor report lacks key(s) {', '.join(missing)}; build it with eval.monitor.monitor_report."
        )


def write_monitor(report: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Validate ``report`` and write the folder; returns the paths written (keys of
    :data:`MONITOR_FILES`). The JSON is strict (NaN written as null)."""
    validate_monitor(report)
    try:
        text = json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(f"The monitor report holds a value JSON cannot write ({error}).") from error
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".monitor-", dir=out))
    written: dict[str, Path] = {}
    try:
        (staging / MONITOR_FILES["md"]).write_text(monitor_markdown(report), encoding="utf-8")
        (staging / MONITOR_FILES["html"]).write_text(monitor_html(report), encoding="utf-8")
        (staging / MONITOR_FILES["json"]).write_text(text, encoding="utf-8")
        for key, name in MONITOR_FILES.items():  # the JSON last: it vouches for the rest
            os.replace(staging / name, out / name)
            written[key] = out / name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
