"""The monitor report as tables and pages, in the evaluation report's style.

Tables are :class:`eval.report.tables.Table` rows of formatted cells; the pages are laid out by
:func:`eval.report.rendering.markdown_page` and :func:`~eval.report.rendering.html_page`, so the
monitor, simulation, A/B and evaluation reports read and look alike. Rates read as
percentages, PSI with three decimals, latencies in milliseconds with one; a value the report
lacks reads "-".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eval.report.rendering import html_page, markdown_page
from eval.report.tables import Table, format_count

__all__ = ["HOW_TO_READ", "monitor_html", "monitor_markdown", "monitor_tables"]

TITLE = "mentor-match monitoring"
MISSING = "-"
HOW_TO_READ = [
    "Each list counts on the day (UTC) and in the variant it was served; each outcome event "
    "counts with the list it came from.",
    "Request rate: requested events per list. Acceptance rate: accepted / requested; requests "
    "not yet answered count, so the last days read low until their answers arrive.",
    "Acceptance alert: a relative fall of more than the set ratio against the previous period "
    "of the same length, when both periods have enough requests.",
    "PSI: population stability index against the ranker's training snapshot, 10 quantile bins of "
    "the snapshot. Below 0.1 stable, 0.1 to 0.25 warn, 0.25 and above alert. Windows under "
    "1,000 impressions are 'too few rows' and never alert: small windows show PSI near 0.1 "
    "with no drift at all.",
    "Exit code of scripts/monitor.py: 0 no alert, 1 error, 3 at least one alert.",
]


def _rate(value: Any) -> str:
    return MISSING if value is None else f"{value:.1%}"


def _number(value: Any, digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _health_cells(entry: Mapping[str, Any] | None) -> list[str]:
    if entry is None:
        return [MISSING] * 8
    latency = entry.get("latency_ms") or {}
    return [
        format_count(entry["lists"]), format_count(entry["requested"]), _number(entry["request_rate"], 3),
        _rate(entry["acceptance_rate"]), format_count(entry["successful_matches"]),
        *(_number(latency.get(key), 1) for key in ("p50", "p95", "p99")),
    ]


_HEALTH_HEADERS = ["lists", "requested", "request rate", "acceptance", "successful matches",
                   "p50 ms", "p95 ms", "p99 ms"]


def monitor_tables(report: Mapping[str, Any]) -> list[Table]:
    """The alerts, the variants over the window against the previous period, drift per
    variant, and the daily rows.

    >>> report = {"alerts": [], "variants": {}, "drift": {}, "daily": [], "window": {"since": "a", "until": "b"}}
    >>> [table.title for table in monitor_tables(report)]
    ['Alerts', 'Variants: this period against the previous one', 'Per day and variant']
    """
    alerts = report.get("alerts") or []
    tables = [Table(
        "Alerts", ["kind", "variant", "what", "value"],
        [[a["kind"], a["variant"], a["what"], _number(a.get("value"), 3)] for a in alerts],
        note="No alert." if not alerts else "\n".join(a["message"] for a in alerts),
    )]
    rows = []
    for variant, entry in (report.get("variants") or {}).items():
        check = entry["acceptance"]
        for period in ("current", "previous"):
            cells = _health_cells(entry[period])
            last = (f"{check['change']:+.1%} ({check['status']})" if check["change"] is not None
                    else check["status"]) if period == "current" else ""
            rows.append([variant, period, *cells, last])
    window = report.get("window") or {}
    tables.append(Table(
        "Variants: this period against the previous one",
        ["variant", "period", *_HEALTH_HEADERS, "acceptance change"], rows,
        note=f"This period: {window.get('since')} to {window.get('until')} (UTC, end excluded).",
    ))
    alerting = (report.get("settings") or {}).get("drift_reference")
    for variant, entry in (report.get("drift") or {}).items():
        for reference in ("previous", "training"):
            tables.append(_drift_table(variant, reference, entry[reference], entry, reference == alerting))
    tables.append(Table(
        "Per day and variant", ["day", "variant", *_HEALTH_HEADERS],
        [[row["day"], row["variant"], *_health_cells(row)] for row in report.get("daily") or []],
    ))
    return tables


_REFERENCE_TITLES = {"previous": "the previous period", "training": "the training snapshot"}


def _drift_table(
    variant: str, reference: str, result: Mapping[str, Any], entry: Mapping[str, Any], alerting: bool
) -> Table:
    title = f"Drift of {variant} against {_REFERENCE_TITLES[reference]}"
    role = "this reference alerts" if alerting else "reported only, does not alert"
    if not result.get("available"):
        return Table(title, ["status"], [["unavailable"]], note=f"{result.get('reason') or ''} ({role})")
    rows = [
        [name, _number(value["psi"], 3), format_count(value["reference_rows"]),
         format_count(value["current_rows"]), value["status"]]
        for name, value in [*result["features"].items(), ("score", result["score"])]
    ]
    return Table(
        title, ["feature", "PSI", "reference rows", "impressions", "status"], rows,
        note=(f"Overall: {result['status']} ({role}). Models served in the window: "
              f"{', '.join(entry.get('model_versions') or []) or MISSING}."),
    )


def _notes(report: Mapping[str, Any]) -> list[str]:
    window = report.get("window") or {}
    return [f"Status: {report.get('status', MISSING)}. Window {window.get('since')} to {window.get('until')}."]


def monitor_markdown(report: Mapping[str, Any]) -> str:
    """monitor.md: the tables of :func:`monitor_tables` as one Markdown page."""
    return markdown_page(TITLE, report.get("generated_at"), _notes(report), monitor_tables(report), {}, HOW_TO_READ)


def monitor_html(report: Mapping[str, Any]) -> str:
    """monitor.html: the same page, self-contained."""
    return html_page(TITLE, report.get("generated_at"), _notes(report), monitor_tables(report), {}, HOW_TO_READ)
