"""The monitor job behind ``scripts/monitor.py``: read the log, find each variant's training
snapshot, build the report (:func:`eval.monitor.report.monitor_report`) and write it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from db.engine import get_engine
from db.log_reading import load_log
from eval.monitor.report import DRIFT_REFERENCE, DROP_ALERT, check_window, monitor_report
from eval.monitor.writing import write_monitor
from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.snapshot import TrainingSample, load_training_sample
from retrieval.experiments import variant_folder

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_DAYS", "parse_time", "ranker_folder", "run_monitor"]

DEFAULT_DAYS = 7
"""The window when only one end (or neither) is given: the 7 days before ``until``."""


def parse_time(value: str, name: str) -> datetime:
    """An ISO date or date-time as naive UTC (an aware time is converted).

    >>> parse_time("2026-03-01", "since"), parse_time("2026-03-01T12:00:00+02:00", "until")
    (datetime.datetime(2026, 3, 1, 0, 0), datetime.datetime(2026, 3, 1, 10, 0))
    """
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"The '{name}' parameter must be an ISO date or date-time such as 2026-03-01 or "
            f"2026-03-01T06:00:00. Got {value!r}."
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def ranker_folder(artifacts: str | Path, variant: str) -> Path:
    """The ranker a variant is served by: its own (``variants/<name>/ranker``) when published,
    else the control's ``artifacts/ranker``."""
    try:
        own = variant_folder(artifacts, variant) / "ranker"
    except InvalidParameterError:
        own = None
    return own if own is not None and own.exists() else Path(artifacts) / "ranker"


def run_monitor(
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    out_dir: str | Path | None = None,
    drop_alert: float = DROP_ALERT,
    drift_reference: str = DRIFT_REFERENCE,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Build the monitor report of ``[since, until)`` (naive UTC; default: the 7 days up to
    now) and write it into ``out_dir`` (nothing written when None); returns the report and
    the paths written. ``drift_reference`` names the PSI that alerts (``previous`` or
    ``training``; both are reported). A variant whose ranker has no training snapshot has its drift marked
    unavailable with the reason; the rest of the report stands."""
    until = until if until is not None else datetime.now(timezone.utc).replace(tzinfo=None)
    since = since if since is not None else until - timedelta(days=DEFAULT_DAYS)
    check_window(since, until)
    engine = get_engine(db_url)
    try:
        # The two periods compared, read in the database (a long log is not read whole).
        frames = load_log(engine, since=since - (until - since), until=until)
    finally:
        engine.dispose()
    samples: dict[str, TrainingSample | str] = {}
    for variant in sorted(set(frames.lists["variant"])):
        folder = ranker_folder(artifacts, variant)
        try:
            samples[variant] = load_training_sample(folder)
        except ArtifactError as exc:
            logger.warning("No drift for variant %r: %s", variant, exc)
            samples[variant] = str(exc)
    report = monitor_report(
        frames, samples, since=since, until=until, drop_alert=drop_alert, drift_reference=drift_reference
    )
    written = write_monitor(report, out_dir) if out_dir is not None else {}
    return report, written
