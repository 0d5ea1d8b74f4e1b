"""The A/B report as tables and pages, in the evaluation report's style.

The tables are rows of formatted cells (:class:`eval.report.tables.Table`, its number
formats); the pages are laid out by :func:`eval.report.rendering.markdown_page` and
:func:`~eval.report.rendering.html_page`, so both reports read and look alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.report.rendering import html_page, markdown_page
from eval.report.tables import Table, format_count, format_interval, format_metric, format_p_value
from mentor_match.text import format_table

__all__ = ["AB_HOW_TO_READ", "METRIC_LABELS", "ab_tables", "render_ab_html", "render_ab_markdown", "summary_markdown"]

METRIC_LABELS = {
    "requests_per_list": "requests per list",
    "acceptance_rate": "acceptance rate of requests",
    "successes_per_mentee": "successful matches per mentee",
}
AB_HOW_TO_READ = (
    "Arms: mentees are assigned to arms by a salted hash of their id, so the mentee is the "
    "unit of the test. Requests per list: requests made / lists served. Acceptance rate: "
    "accepted / requested (a request still unanswered counts as not accepted, so read it "
    "once mentors had time to answer). Successful matches per mentee: mentorships that ended "
    "with success / mentees in the arm.",
    "Outcomes count for the arm of the mentee: those recorded with a list of the experiment, "
    "and those recorded without a list from the mentee's first list in the experiment on.",
    "Intervals are percentile bootstraps over mentees (95% unless settings.alpha says otherwise; resampled within each arm, the "
    "ratios recomputed from the resampled sums); the p-value is a two-sided permutation test "
    "of arm labels over mentees. A difference is called when its interval excludes 0.",
    "Sample-ratio check: a chi-square test of mentees per arm against the configured shares "
    "(alpha 0.001). When it fails, mentees were lost or added unevenly (assignment, logging), "
    "the arms are not comparable and no verdict is given.",
    "Interference: mentors are shared between arms. A variant that sends its mentees to the "
    "mentors the control's mentees want takes seats from the control, so a mentee-split test "
    "can be biased (usually towards a larger effect than shipping would give). The higher the "
    "share of requests to mentors requested from several arms, the more this can matter.",
)
PLOT_TITLE = "Relative lift over control with bootstrap intervals"


def ab_tables(report: Mapping[str, Any]) -> list[Table]:
    """The sections of the A/B page, in order: verdict, arms, comparisons, checks.

    >>> report = {"control": "a", "shares": {"a": 0.5, "b": 0.5}, "verdict": None,
    ...           "verdict_withheld": ["SRM failed."], "comparisons": [],
    ...           "settings": {"primary_metric": "successes_per_mentee"}}
    >>> table = ab_tables(report)[0]
    >>> table.title, table.rows, table.extra
    ('Verdict', [['b', 'withheld']], ['SRM failed.'])
    """
    tables = [_verdict_table(report)]
    if "variants" in report:
        tables += [
            _arms_table(report),
            _comparisons_table(report),
            _srm_table(report["srm"]),
            _interference_table(report),
            _data_table(report["data"]),
        ]
    return tables


def summary_markdown(report: Mapping[str, Any]) -> str:
    """The verdict, the arms and the comparisons as Markdown tables (what the script prints)."""
    lines = []
    for table in ab_tables(report)[:3]:
        lines += [f"## {table.title}", "", format_table(table.headers, table.rows, markdown=True)]
        if table.note:
            lines += ["", table.note]
        lines += [f"- {item}" for item in table.extra] + [""]
    return "\n".join(lines)


def render_ab_markdown(report: Mapping[str, Any], plot: Path | None) -> str:
    """ab_report.md: the tables, the lift plot linked by file name, how to read it."""
    return markdown_page(
        _title(report), report["generated_at"], report.get("notes", []), ab_tables(report),
        {PLOT_TITLE: plot} if plot is not None else {}, AB_HOW_TO_READ,
    )


def render_ab_html(report: Mapping[str, Any], plot: Path | None) -> str:
    """ab_report.html: the same page, self-contained (the plot inlined)."""
    return html_page(
        _title(report), report["generated_at"], report.get("notes", []), ab_tables(report),
        {PLOT_TITLE: plot} if plot is not None else {}, AB_HOW_TO_READ,
    )


def _title(report: Mapping[str, Any]) -> str:
    return f"mentor-match A/B report: {report.get('experiment', '?')}"


def _level(report: Mapping[str, Any]) -> str:
    """The interval's level as a header reads it, e.g. '95%'."""
    return f"{1.0 - report['settings']['alpha']:.0%}"


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):+.1%}"


def _verdict_table(report: Mapping[str, Any]) -> Table:
    primary = report["settings"]["primary_metric"]
    label = METRIC_LABELS.get(primary, primary)
    withheld = list(report.get("verdict_withheld") or [])
    if report.get("verdict") is None:
        rows = [[v, "withheld"] for v in report.get("shares", {}) if v != report["control"]]
        return Table(
            "Verdict", ["variant", "verdict"], rows,
            note="The verdict is withheld: the checks below failed, so the arms cannot be compared.",
            extra=withheld,
        )
    rows = []
    for comparison in report["comparisons"]:
        if comparison["metric"] != primary:
            continue
        rows.append([
            comparison["variant"],
            _percent(comparison["relative_lift"]),
            f"[{_percent(comparison['lift_ci_low'])}, {_percent(comparison['lift_ci_high'])}]",
            format_p_value(comparison["p_value"]),
            report["verdict"][comparison["variant"]],
        ])
    return Table(
        "Verdict",
        ["variant", f"lift in {label}", f"{_level(report)} interval", "p-value", f"verdict against {report['control']}"],
        rows,
        note=f"Primary metric: {label}. 'better' or 'worse' when the {_level(report)} interval of "
        "the difference excludes 0.",
    )


def _arms_table(report: Mapping[str, Any]) -> Table:
    rows = []
    ci = f"{_level(report)} CI"
    for variant, arm in report["variants"].items():
        name = f"{variant} (control)" if variant == report["control"] != "control" else variant
        rows.append([
            name,
            format_count(arm["mentees"]),
            f"{format_metric(arm['share_observed'])} / {format_metric(arm['share_expected'])}",
            format_count(arm["lists"]),
            format_count(arm["requests"]),
            format_metric(arm["requests_per_list"]),
            format_interval(arm["requests_per_list_ci"]),
            format_metric(arm["acceptance_rate"]),
            format_interval(arm["acceptance_rate_ci"]),
            format_metric(arm["successes_per_mentee"]),
            format_interval(arm["successes_per_mentee_ci"]),
        ])
    return Table(
        "Arms",
        ["variant", "mentees", "share (seen / set)", "lists", "requests", "requests per list", ci,
         "acceptance rate", ci, "successes per mentee", ci],
        rows,
    )


def _comparisons_table(report: Mapping[str, Any]) -> Table:
    rows = [
        [
            c["variant"],
            METRIC_LABELS.get(c["metric"], c["metric"]),
            format_metric(c["control_value"]),
            format_metric(c["variant_value"]),
            format_metric(c["difference"]),
            format_interval(None if c["ci_low"] is None else (c["ci_low"], c["ci_high"])),
            _percent(c["relative_lift"]),
            format_p_value(c["p_value"]),
        ]
        for c in report["comparisons"]
    ]
    return Table(
        f"Each variant against {report['control']}",
        ["variant", "metric", "control", "variant value", "difference", f"{_level(report)} CI", "lift", "p-value"],
        rows,
        note="Difference: variant minus control. Interval: percentile bootstrap over mentees; "
        "p-value: permutation test of arm labels over mentees.",
    )


def _srm_table(srm: Mapping[str, Any]) -> Table:
    rows = [
        [variant, format_count(srm["observed"][variant]), f"{srm['expected'][variant]:,.1f}"]
        for variant in srm["observed"]
    ]
    outcome = "passed" if srm["passed"] else "FAILED: the verdict is withheld"
    return Table(
        "Sample-ratio check", ["variant", "mentees", "expected"], rows,
        note=f"Chi-square {format_metric(srm['statistic'])}, p = {format_p_value(srm['p_value'])} "
        f"against alpha {srm['alpha']}: {outcome}.",
    )


def _interference_table(report: Mapping[str, Any]) -> Table:
    shared = report["interference"]
    rows = [
        ["requests", format_count(shared["requests"])],
        ["mentors requested", format_count(shared["mentors_requested"])],
        ["mentors requested from several arms", format_count(shared["shared_mentors"])],
        ["share of requests to those mentors", format_metric(shared["shared_request_share"])],
    ]
    rows += [
        [f"share of requests shared by {report['control']} and {variant}", format_metric(share)]
        for variant, share in shared["by_variant"].items()
    ]
    return Table(
        "Interference: mentors shared between arms", ["", "value"], rows,
        note="Mentees are split, mentors are not; see 'How to read this'.",
    )


def _data_table(data: Mapping[str, Any]) -> Table:
    rows = [
        ["lists served", format_count(data["lists"])],
        ["mentees analysed", format_count(data["mentees"])],
        ["events read / counted", f"{format_count(data['events'])} / {format_count(data['events_counted'])}"],
        ["list-less events before exposure (left out)", format_count(data["events_before_exposure"])],
        ["lists of ad-hoc profiles (left out)", format_count(data["ad_hoc_lists"])],
        ["mentees served from several arms (left out)", format_count(data["mentees_in_several_arms"])],
    ]
    examples = data.get("mentees_in_several_arms_examples") or []
    extra = [f"mentees in several arms, e.g.: {', '.join(str(i) for i in examples)}"] if examples else []
    return Table("Data checks", ["", "count"], rows, extra=extra)
