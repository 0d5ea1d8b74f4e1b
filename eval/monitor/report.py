"""The monitor report: service health per variant and day, drift against the training
snapshot, and the alerts that make ``scripts/monitor.py`` exit 3.

Everything is counted by the **list**: a list belongs to the day (UTC) and variant it was
served in, and an outcome event to the list it came from (events carry their request's list
id, :mod:`db.outcomes`); list-less events are left out. Per variant and day:

* ``lists``; ``requested`` events and the ``request_rate`` (requested / lists);
* ``accepted`` events and the ``acceptance_rate`` (accepted / requested; None without a
  request). Requests not yet answered count in the denominator, so the last days read low
  until their answers arrive: leave a lag in ``--until`` for the answer time;
* ``successful_matches``: ``ended`` events with ``success`` true;
* ``latency_ms``: p50, p95 and p99 of the lists' ``latency_ms`` (linear interpolation).

The acceptance alert compares each variant's acceptance rate over the window with the
previous period of the same length: a relative fall of more than ``drop_alert`` (0.2: from
40% to under 32%) alerts when both periods have at least :data:`MIN_REQUESTS` requests
(fewer: ``too_few_requests``, never alerting).

Drift compares, per variant, the impressions of the window (each feature of
:data:`ranking.features.FEATURES` from the slots' logged ``features``, the served ``score``
from the slots' ``score``) with two references, by
:func:`eval.monitor.psi.population_stability`:

* ``training``: the snapshot published with the variant's ranker (:mod:`ranking.snapshot`);
* ``previous``: the variant's impressions of the previous period.

Both are reported; the one named by ``drift_reference`` alerts (a feature or the score at
``alert`` status; a window under 1,000 impressions never does). The default is ``previous``:
against the training snapshot a healthy service shows large PSI by construction, since the
training rows are the pairs mentees contacted with mentor aggregates as of each request,
while impressions are the ranker's top k with the aggregates as of now (docs/monitoring.md
has the numbers).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from db.log_reading import LogFrames
from eval.monitor.psi import ALERT, BINS, MIN_ROWS, WARN, population_stability
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_number
from ranking.features import FEATURES
from ranking.snapshot import TrainingSample

logger = logging.getLogger(__name__)

__all__ = [
    "DROP_ALERT",
    "MIN_REQUESTS",
    "MONITOR_FORMAT",
    "PERCENTILES",
    "DRIFT_REFERENCE",
    "DRIFT_REFERENCES",
    "acceptance_check",
    "daily_health",
    "drift_check",
    "impressions",
    "monitor_report",
    "period_health",
]

MONITOR_FORMAT = "mentor-match-monitor/1"
DROP_ALERT = 0.2
DRIFT_REFERENCES = ("previous", "training")
DRIFT_REFERENCE = "previous"
"""Which reference's PSI alerts (both are reported); see the module docstring for why."""
MIN_REQUESTS = 20
PERCENTILES = (50, 95, 99)


def _window(lists: pd.DataFrame, since: datetime, until: datetime) -> pd.DataFrame:
    created = pd.to_datetime(lists["created_at"])
    return lists[(created >= pd.Timestamp(since)) & (created < pd.Timestamp(until))]


def _health(lists: pd.DataFrame, events: pd.DataFrame) -> dict[str, Any]:
    """The counts, rates and latency percentiles of ``lists`` and their ``events``."""
    mine = events[events["list_id"].isin(set(lists["list_id"]))]
    kinds = mine["kind"]
    requested = int((kinds == "requested").sum())
    accepted = int((kinds == "accepted").sum())
    success = int(((kinds == "ended") & mine["success"].fillna(False).astype(bool)).sum())
    latency = lists["latency_ms"].to_numpy(dtype=np.float64)
    return {
        "lists": len(lists),
        "requested": requested,
        "request_rate": requested / len(lists) if len(lists) else None,
        "accepted": accepted,
        "acceptance_rate": accepted / requested if requested else None,
        "successful_matches": success,
        "latency_ms": {
            f"p{q}": float(np.percentile(latency, q)) if len(latency) else None for q in PERCENTILES
        },
    }


def daily_health(frames: LogFrames, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """One row per (day, variant) with lists in ``[since, until)``: ``day`` (ISO date),
    ``variant`` and the health keys of the module docstring; sorted by day, then variant."""
    lists = _window(frames.lists, since, until)
    days = pd.to_datetime(lists["created_at"]).dt.floor("D")
    rows = []
    for (day, variant), part in lists.groupby([days, lists["variant"]], sort=True):
        rows.append({"day": day.date().isoformat(), "variant": str(variant), **_health(part, frames.events)})
    return rows


def period_health(frames: LogFrames, since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
    """The health keys per variant over the whole of ``[since, until)``."""
    lists = _window(frames.lists, since, until)
    return {
        str(variant): _health(part, frames.events)
        for variant, part in lists.groupby("variant", sort=True)
    }


def acceptance_check(
    current: Mapping[str, Any] | None, previous: Mapping[str, Any] | None, drop_alert: float = DROP_ALERT
) -> dict[str, Any]:
    """The acceptance alert of one variant: {current, previous (rates or None), change
    (current / previous - 1, or None), status ("ok", "alert", "too_few_requests")}.

    >>> acceptance_check({"requested": 100, "acceptance_rate": 0.3}, {"requested": 100, "acceptance_rate": 0.4})
    {'current': 0.3, 'previous': 0.4, 'change': -0.25, 'status': 'alert'}
    >>> acceptance_check({"requested": 100, "acceptance_rate": 0.35}, {"requested": 5, "acceptance_rate": 0.9})["status"]
    'too_few_requests'
    """
    now = (current or {}).get("acceptance_rate")
    before = (previous or {}).get("acceptance_rate")
    change = None if now is None or not before else now / before - 1
    enough = min((current or {}).get("requested", 0), (previous or {}).get("requested", 0)) >= MIN_REQUESTS
    if not enough or change is None:
        status = "too_few_requests"
    else:
        status = "alert" if change < -drop_alert - 1e-12 else "ok"
    return {"current": now, "previous": before, "change": None if change is None else round(change, 12),
            "status": status}


def impressions(frames: LogFrames, variant: str, since: datetime, until: datetime) -> TrainingSample:
    """The slots of ``variant``'s lists in ``[since, until)`` as a sample: one column per
    feature of :data:`~ranking.features.FEATURES` from the logged ``features`` (NaN where a
    slot lacks one) and the served ``score``; ``total_rows`` is the slot count."""
    lists = _window(frames.lists, since, until)
    lists = lists[lists["variant"] == variant]
    slots = frames.slots[frames.slots["list_id"].isin(set(lists["list_id"]))]
    logged = [value if isinstance(value, Mapping) else {} for value in slots["features"]]
    served = pd.DataFrame.from_records(logged, columns=list(FEATURES)) if logged else \
        pd.DataFrame(columns=list(FEATURES))
    features = served.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    return TrainingSample(features, slots["score"].to_numpy(dtype=np.float64), len(slots))


def drift_check(reference: TrainingSample, current: TrainingSample) -> dict[str, Any]:
    """PSI of every feature of :data:`~ranking.features.FEATURES` and of the score between
    ``reference`` and ``current``: {available (True), reason (None), reference_rows,
    impressions, features {name: PsiResult dict}, score (PsiResult dict), status (the worst:
    alert > warn > ok > too_few_rows)}. A feature the reference lacks compares as empty."""
    features: dict[str, dict[str, Any]] = {}
    for name in FEATURES:
        before = reference.features[name].to_numpy() if name in reference.features else np.empty(0)
        features[name] = population_stability(before, current.features[name].to_numpy()).to_dict()
    score = population_stability(reference.scores, current.scores).to_dict()
    statuses = [entry["status"] for entry in features.values()] + [score["status"]]
    return {
        "available": True,
        "reason": None,
        "reference_rows": len(reference.scores),
        "impressions": len(current.scores),
        "features": features,
        "score": score,
        "status": next(s for s in ("alert", "warn", "ok", "too_few_rows") if s in statuses),
    }


def _unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason, "status": "unavailable"}


def check_window(since: datetime, until: datetime) -> None:
    """:class:`InvalidParameterError` unless the monitored window ends after it starts."""
    if not until > since:
        raise InvalidParameterError(
            f"The monitored window must end after it starts; got since={since.isoformat()} and "
            f"until={until.isoformat()}. Pass --since earlier than --until."
        )


def monitor_report(
    frames: LogFrames,
    samples: Mapping[str, TrainingSample | str],
    *,
    since: datetime,
    until: datetime,
    drop_alert: float = DROP_ALERT,
    drift_reference: str = DRIFT_REFERENCE,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The monitor report (docs/monitoring.md lists its keys) of the log in ``frames``.

    ``samples`` maps each variant to the training snapshot of its ranker, or to the reason
    there is none (a message); a variant served in the window and missing from ``samples``
    has its drift marked unavailable. Times are naive UTC; the previous period is the same
    length just before ``since``.
    """
    drop_alert = check_number("drop_alert", drop_alert, "monitor_report", low=0, high=1, low_open=True)
    drift_reference = check_choice("drift_reference", drift_reference, "monitor_report", DRIFT_REFERENCES)
    check_window(since, until)
    previous_since = since - (until - since)
    current = period_health(frames, since, until)
    previous = period_health(frames, previous_since, since)
    variants: dict[str, Any] = {}
    alerts: list[dict[str, Any]] = []
    for variant in sorted(set(current) | set(previous)):
        check = acceptance_check(current.get(variant), previous.get(variant), drop_alert)
        variants[variant] = {"current": current.get(variant), "previous": previous.get(variant),
                             "acceptance": check}
        if check["status"] == "alert":
            alerts.append({
                "kind": "acceptance_drop", "variant": variant, "what": "acceptance_rate",
                "value": check["change"],
                "message": (f"Acceptance rate of {variant!r} fell {-check['change']:.0%} against the "
                            f"previous period ({check['previous']:.1%} -> {check['current']:.1%}; "
                            f"alert above {drop_alert:.0%})."),
            })
    drift: dict[str, Any] = {}
    for variant in sorted(current):
        now = impressions(frames, variant, since, until)
        lists = _window(frames.lists, since, until)
        sample = samples.get(variant, f"No training snapshot was found for variant {variant!r}.")
        before = impressions(frames, variant, previous_since, since)
        drift[variant] = entry = {
            "impressions": now.total_rows,
            "model_versions": sorted(str(v) for v in lists.loc[lists["variant"] == variant, "model_version"].unique()),
            "training": _unavailable(sample) if isinstance(sample, str) else drift_check(sample, now),
            "previous": drift_check(before, now) if before.total_rows else _unavailable(
                f"No impression of {variant!r} in the previous period."
            ),
        }
        chosen = entry[drift_reference]
        if not chosen["available"]:
            continue
        named = {**{f"feature {k}": v for k, v in chosen["features"].items()}, "score": chosen["score"]}
        for what, result in named.items():
            if result["status"] == "alert":
                alerts.append({
                    "kind": "drift", "variant": variant, "what": what, "value": result["psi"],
                    "message": (f"PSI of {what} for {variant!r} against the {drift_reference} "
                                f"reference is {result['psi']:.3f} over {result['current_rows']} "
                                f"impressions (alert at {ALERT})."),
                })
    warnings = [v for v, e in drift.items() if e[drift_reference]["status"] == "warn"]
    status = "alert" if alerts else "warn" if warnings else "ok"
    return {
        "format": MONITOR_FORMAT,
        "generated_at": (generated_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "previous_window": {"since": previous_since.isoformat(), "until": since.isoformat()},
        "settings": {"drop_alert": drop_alert, "min_requests": MIN_REQUESTS, "psi_warn": WARN,
                     "psi_alert": ALERT, "psi_min_rows": MIN_ROWS, "psi_bins": BINS,
                     "drift_reference": drift_reference},
        "daily": daily_health(frames, since, until),
        "variants": variants,
        "drift": drift,
        "alerts": alerts,
        "status": status,
    }
