"""The simulation report as tables and pages, in the evaluation report's style.

The tables are rows of formatted cells (:class:`eval.report.tables.Table`); the pages are laid
out by :func:`eval.report.rendering.markdown_page` and :func:`~eval.report.rendering.html_page`,
so the simulation, A/B and evaluation reports read and look alike. Numbers read one way
everywhere (:func:`format_mean_se`): counts with one decimal, shares as percentages, Gini
with three decimals, each with its standard error over seeds; a figure the result lacks
reads "-".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.report.rendering import html_page, markdown_page
from eval.report.tables import Table

__all__ = [
    "HOW_TO_READ",
    "METRIC_KINDS",
    "METRIC_LABELS",
    "PLOT_TITLES",
    "format_mean_se",
    "simulation_html",
    "simulation_markdown",
    "simulation_tables",
]

TITLE = "mentor-match platform simulation"
MISSING = "-"

METRIC_LABELS = {
    "successful_matches": "successful matches",
    "mentorships_started": "mentorships started",
    "requests": "requests",
    "acceptance_rate": "acceptance rate",
    "requests_to_full": "requests to full mentors",
    "bound": "capacity bound (expected matches)",
    "share_of_bound": "share of the bound",
    "matched_within_2_weeks": "matched within 2 weeks",
    "matched_within_4_weeks": "matched within 4 weeks",
    "still_waiting": "still waiting at the end",
    "utilisation": "utilisation (filled seats / seats)",
    "coverage": "coverage (mentors shown)",
    "gini_requests": "Gini of requests",
    "gini_impressions": "Gini of impressions",
    "seekers": "seekers (looking, no mentor)",
    "expected_matches": "expected matches of the pairs started (true p_match)",
    "lists": "lists served",
    "mean_weeks_to_match": "mean weeks to a mentor (of those matched)",
    "ndcg_truth": "NDCG@k of the lists against the truth (gain p_match)",
    "new_mentor_impressions": "impressions of mentors who joined during the run (cold start)",
}
"""How each metric of ``simulation.json`` is named on the page (unknown ones by their key)."""

METRIC_KINDS = {
    **dict.fromkeys(
        ("successful_matches", "mentorships_started", "requests", "requests_to_full", "bound",
         "still_waiting", "seekers", "expected_matches", "lists", "mean_weeks_to_match"), "count"),
    **dict.fromkeys(
        ("acceptance_rate", "share_of_bound", "matched_within_2_weeks", "matched_within_4_weeks",
         "utilisation", "coverage", "new_mentor_impressions"), "share"),
    **dict.fromkeys(("gini_requests", "gini_impressions"), "index"),
}
"""How each metric's numbers read: 'count' (one decimal), 'share' (percent), 'index' (three
decimals). Metrics not listed read as 'index'."""

HEADLINE = (
    "successful_matches", "share_of_bound", "requests_to_full", "acceptance_rate", "utilisation",
    "gini_requests", "matched_within_2_weeks", "matched_within_4_weeks", "still_waiting",
)
"""The headline table's columns after the policy, in order."""

PLOT_TITLES = {
    "matches_per_week": "Successful matches per week, per policy",
    "cumulative": "Cumulative successful matches against the cumulative capacity bound",
    "utilisation": "Mentor utilisation per week, per policy",
    "lorenz": "Lorenz curve of requests over mentors",
}
"""The caption of each plot (keys of :data:`eval.simulator.plots.PLOT_FILES`)."""

HOW_TO_READ = (
    "Each policy ran in its own market on the same generated world with the same seeds "
    "(separate markets): the clean comparison. Every figure is the mean over seeds, and "
    "'± x' its standard error (std over seeds / sqrt(seeds)); with one seed there is none.",
    "Successful matches: mentorships that started and succeed (success is drawn at the start "
    "from the truth; it is revealed when they end, possibly after the horizon). The capacity bound is, each "
    "week, the most expected matches that week's free seats and active seekers allowed (a "
    "maximum-weight b-matching on the true p_match); share of the bound = successful "
    "matches / bound, the headline figure. A ranker that sends everyone to the same few "
    "mentors wastes seats and scores low here even when each list looks relevant.",
    "Requests to full mentors: requests sent to a mentor with no free seat (always "
    "declined): the cost of congestion. Utilisation: filled seats / seats. Coverage: share "
    "of mentors shown at least once. Gini: 0 when requests (or impressions) are spread "
    "evenly over mentors, near 1 when they all go to one.",
    "Matched within 2 / 4 weeks: share of mentees whose first mentorship started within that "
    "many weeks of starting to look; still waiting: mentees looking at the end of the run.",
    "NDCG@k against the truth: each served list scored with the true p_match as gain, against the "
    "best k of the mentee's eligible mentors that week: per-mentee relevance, blind to congestion.",
    "Retraining, when present: every scheduled retraining went through the promotion guard (NDCG@10 "
    "on held-out mentees' interactions, against the ranker in production); refused candidates "
    "left the ranker in place. The learned examination curve of unbiased LambdaMART stands next "
    "to the simulator's true one (both over position 1).",
    "The off-policy check, when present, estimated the target policy's counts per list from the "
    "exploring logging policy's log (IPS, SNIPS, IIPS) and sets them beside the target's own market.",
    "The A/B section, when present, ran the first two policies in one shared market with "
    "mentees split between them. Mentors are shared, so the split test can misread the "
    "difference that shipping would give; compare it with the separate-markets difference.",
    "docs/simulation.md documents every key of simulation.json.",
)


def format_mean_se(entry: Any, kind: str = "count") -> str:
    """A cell for ``{"mean": m, "se": s}`` (or a bare number): '444.0 ± 12.3', '-' if missing.

    ``kind`` is 'count' (one decimal, thousands separators), 'share' (percent, one
    decimal) or 'index' (three decimals). A missing or non-finite SE is left out.

    >>> format_mean_se({"mean": 444.0, "se": 12.34}), format_mean_se({"mean": 0.127, "se": 0.004}, "share")
    ('444.0 ± 12.3', '12.7% ± 0.4%')
    >>> format_mean_se({"mean": 0.51234, "se": None}, "index"), format_mean_se(None), format_mean_se(3)
    ('0.512', '-', '3.0')
    """
    if isinstance(entry, Mapping):
        mean, se = entry.get("mean"), entry.get("se")
    else:
        mean, se = entry, None
    mean, se = _finite(mean), _finite(se)
    if mean is None:
        return MISSING
    text = _format_number(mean, kind)
    return text if se is None else f"{text} ± {_format_number(se, kind)}"


def simulation_tables(result: Mapping[str, Any]) -> list[Table]:
    """The sections of the page, in order: headline, per week, every total, A/B, settings, run time.

    >>> result = {"settings": {"weeks": 1, "seeds": [0]}, "metrics": ["successful_matches"],
    ...           "policies": {"random": {"total": {"successful_matches": {"mean": 5.0, "se": None}},
    ...                                   "weeks": [], "per_seed": []}}, "ab": None, "seconds": {}}
    >>> table = simulation_tables(result)[0]
    >>> table.title, table.rows[0][:3]
    ('Successful matches and the capacity bound', ['random', '5.0', '-'])
    """
    tables = [_headline_table(result), _weeks_table(result), _totals_table(result)]
    if result.get("ab"):
        tables.append(_ab_table(result["ab"]))
    if result.get("retraining"):
        tables += _retraining_tables(result["retraining"])
    if result.get("off_policy"):
        tables.append(_off_policy_table(result["off_policy"]))
    if result.get("cohort"):
        tables.append(_cohort_table(result["cohort"]))
    tables.append(_settings_table(result.get("settings") or {}))
    if result.get("seconds"):
        tables.append(_seconds_table(result["seconds"]))
    return tables


def simulation_markdown(result: Mapping[str, Any], plots: Mapping[str, Path] | None = None) -> str:
    """simulation.md: the tables, each plot linked by its file name beside the page.

    ``plots`` maps keys of :data:`PLOT_TITLES` to the PNGs drawn (none: no plot section).

    >>> result = {"generated_at": "2026-01-01", "settings": {}, "metrics": [], "ab": None,
    ...           "policies": {"ranker": {"total": {"successful_matches": {"mean": 444.0, "se": 12.3}},
    ...                                   "weeks": [], "per_seed": []}}, "notes": [], "seconds": {}}
    >>> "| ranker | 444.0 ± 12.3 |" in simulation_markdown(result)
    True
    """
    return markdown_page(
        TITLE, result.get("generated_at"), result.get("notes") or [], simulation_tables(result),
        _figures(plots), HOW_TO_READ,
    )


def simulation_html(result: Mapping[str, Any], plots: Mapping[str, Path] | None = None) -> str:
    """simulation.html: the same page, self-contained (every plot inlined as a base64 PNG).

    >>> result = {"generated_at": "2026-01-01", "settings": {}, "metrics": [], "ab": None,
    ...           "policies": {"ranker": {"total": {"successful_matches": {"mean": 444.0, "se": 12.3}},
    ...                                   "weeks": [], "per_seed": []}}, "notes": [], "seconds": {}}
    >>> "<td>444.0 ± 12.3</td>" in simulation_html(result)
    True
    """
    return html_page(
        TITLE, result.get("generated_at"), result.get("notes") or [], simulation_tables(result),
        _figures(plots), HOW_TO_READ,
    )


def _figures(plots: Mapping[str, Path] | None) -> dict[str, Path]:
    return {PLOT_TITLES.get(name, name): path for name, path in (plots or {}).items()}


def _finite(value: Any) -> float | None:
    """``value`` as a finite float (numpy scalars too), else None (missing, NaN, text, bool)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _format_number(value: float, kind: str) -> str:
    if kind == "count":
        return f"{value:,.1f}"
    if kind == "share":
        return f"{100.0 * value:.1f}%"
    return f"{value:.3f}"


def _cell(values: Mapping[str, Any] | None, metric: str) -> str:
    return format_mean_se((values or {}).get(metric), METRIC_KINDS.get(metric, "index"))


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _seed_note(result: Mapping[str, Any]) -> str:
    settings = result.get("settings") or {}
    seeds = settings.get("seeds")
    weeks = settings.get("weeks")
    span = f"over {weeks} weeks" if weeks is not None else "over the run"
    if not seeds:
        return f"Totals {span}; '±': standard error over seeds."
    listed = ", ".join(str(seed) for seed in seeds)
    if len(seeds) == 1:
        return f"Totals {span}, one seed ({listed}): no standard error."
    return f"Totals {span}; mean ± standard error over {len(seeds)} seeds ({listed})."


def _headline_table(result: Mapping[str, Any]) -> Table:
    rows = [
        [policy] + [_cell(entry.get("total"), metric) for metric in HEADLINE]
        for policy, entry in result["policies"].items()
    ]
    return Table(
        "Successful matches and the capacity bound",
        ["policy"] + [_label(metric) for metric in HEADLINE],
        rows,
        note=_seed_note(result) + " Share of the bound: successful matches / the capacity "
        "bound's expected matches, the headline figure.",
    )


def _weeks_table(result: Mapping[str, Any]) -> Table:
    policies = result["policies"]
    by_week: dict[Any, dict[str, Mapping[str, Any]]] = {}
    for policy, entry in policies.items():
        for week in entry.get("weeks") or []:
            by_week.setdefault(week.get("week"), {})[policy] = week
    headers = ["week"]
    for policy in policies:
        headers += [f"{policy}: matches", f"{policy}: bound"]
    rows = []
    for week in sorted(by_week, key=lambda w: (w is None, w)):
        row = [MISSING if week is None else str(week)]
        for policy in policies:
            values = by_week[week].get(policy)
            row += [_cell(values, "successful_matches"), _cell(values, "bound")]
        rows.append(row)
    return Table(
        "Successful matches per week",
        headers,
        rows,
        note="Each policy's own market: its successful matches and that week's capacity bound "
        "(which depends on the seats and seekers the policy left).",
    )


def _totals_table(result: Mapping[str, Any]) -> Table:
    policies = result["policies"]
    metrics = list(result.get("metrics") or [])
    for entry in policies.values():  # a metric the list forgot still shows
        metrics += [m for m in (entry.get("total") or {}) if m not in metrics]
    rows = [[_label(metric)] + [_cell(entry.get("total"), metric) for entry in policies.values()]
            for metric in metrics]
    return Table("Every total", ["metric", *policies], rows, note=_seed_note(result))


def _ab_table(ab: Mapping[str, Any]) -> Table:
    names = list(ab.get("policies") or ["?", "?"])
    first, second = (names + ["?", "?"])[:2]
    metric = str(ab.get("metric", "the metric"))
    split = ab.get("ab_difference") or {}
    separate = ab.get("separate_markets_difference") or {}
    gap = _gap(split, separate)
    rows = [
        ["A/B test (one shared market, mentees split)", format_mean_se(split, "index")],
        ["separate markets", format_mean_se(separate, "index")],
        ["gap (A/B minus separate)", format_mean_se(gap, "index")],
    ]
    shares = ab.get("shares") or {}
    extra = [_gap_sentence(first, second, split, separate, gap)]
    if shares:
        extra.append("Arms: " + ", ".join(f"{name} {format_mean_se(share, 'share')}"
                                           for name, share in shares.items()) + " of the mentees.")
    verdict = (ab.get("report") or {}).get("verdict") if isinstance(ab.get("report"), Mapping) else None
    if isinstance(verdict, Mapping):
        extra += [f"The A/B report's verdict on {name}: {value}." for name, value in verdict.items()]
    return Table(
        f"One shared market as an A/B test: {first} against {second}",
        ["estimate", f"difference in {metric} ({first} minus {second})"],
        rows,
        note="Mean ± standard error over seeds. The gap's standard error treats the two "
        "estimates as independent.",
        extra=extra,
    )


def _gap(split: Mapping[str, Any], separate: Mapping[str, Any]) -> dict[str, float | None]:
    a, b = _finite(split.get("mean")), _finite(separate.get("mean"))
    if a is None or b is None:
        return {"mean": None, "se": None}
    se_a, se_b = _finite(split.get("se")), _finite(separate.get("se"))
    se = None if se_a is None or se_b is None else math.hypot(se_a, se_b)
    return {"mean": a - b, "se": se}


def _gap_sentence(first: str, second: str, split: Mapping[str, Any], separate: Mapping[str, Any],
                  gap: Mapping[str, Any]) -> str:
    a, b, difference = _finite(split.get("mean")), _finite(separate.get("mean")), gap["mean"]
    if difference is None:
        return "Without both estimates the gap cannot be read."
    head = (f"The mentee-split A/B test puts {first} minus {second} at "
            f"{format_mean_se(split, 'index')}; separate markets at {format_mean_se(separate, 'index')}.")
    if a == b:
        return head + " They agree."
    if b == 0:
        direction = "finds a difference where separate markets find none"
    elif (a > 0) != (b > 0) and a != 0:
        direction = "gets the sign wrong"
    else:
        direction = (f"{'overstates' if abs(a) > abs(b) else 'understates'} the difference "
                     f"({abs(a) / abs(b):.2f} times the separate-markets difference)")
    sentence = f"{head} The A/B test {direction}."
    se = gap["se"]
    if se is not None:
        if abs(difference) > 2 * se:
            sentence += " The gap is more than two standard errors: the shared market biases the test."
        else:
            sentence += " The gap is within two standard errors of 0 at these seeds."
    return sentence


def _retraining_tables(retraining: Mapping[str, Any]) -> list[Table]:
    policies = retraining.get("policies") or {}
    source = retraining.get("learn_from")
    if source == "log":
        source = f"the logged lists (label {retraining.get('label')}, debias {retraining.get('debias')})"
    rows = [[policy] + [format_mean_se(entry.get(outcome), "count") for outcome in ("promoted", "refused", "skipped")]
            for policy, entry in policies.items()]
    tables = [Table(
        "Retraining",
        ["policy", "promoted", "refused", "skipped (too little data)"],
        rows,
        note=f"Retrained every {retraining.get('every')} week(s) from {source}, through the promotion guard "
        f"(margin {retraining.get('margin')} NDCG@10). Counts per market, mean ± SE over seeds.",
    )]
    true = list(retraining.get("true_examination") or [])
    learned = {policy: entry["learned_examination"] for policy, entry in policies.items()
               if entry.get("learned_examination")}
    if true and learned:
        rows = [[str(position), f"{value:.3f}"]
                + [format_mean_se(curve[position - 1], "index") if position <= len(curve) else MISSING
                   for curve in learned.values()]
                for position, value in enumerate(true, start=1)]
        tables.append(Table(
            "Examination by position: learned against true",
            ["position", "true (simulator)", *(f"{policy}: learned" for policy in learned)],
            rows,
            note="Unbiased LambdaMART's examination ratio of the last retraining (position 1 = 1), mean ± SE "
            "over seeds, beside the simulator's examination probability over position 1's.",
        ))
    return tables


def _off_policy_table(check: Mapping[str, Any]) -> Table:
    target, logging_policy = check.get("target"), check.get("logging")
    rows = []
    for scope, rewards in (check.get("summary") or {}).items():
        for reward, entry in rewards.items():
            actual = entry.get("actual")
            for name in ("ips", "snips", "iips"):
                estimate = entry.get(name) or {}
                rows.append([scope.replace("_", " "), reward, name, format_mean_se(estimate.get("estimate"), "index"),
                             format_mean_se(actual, "index"), format_mean_se(estimate.get("difference"), "index"),
                             str(estimate.get("covered", MISSING))])
    seeds = check.get("per_seed") or []
    support = [s.get("support") for s in seeds if s.get("support") is not None]
    extra = []
    if support:
        extra.append(f"Support: {100 * sum(support) / len(support):.1f}% of {target}'s slots name a mentor among "
                     f"{logging_policy}'s candidates; the rest no estimate can see.")
    return Table(
        f"Off-policy check: {target} estimated from {logging_policy}'s log",
        ["lists", "reward", "estimator", "estimate per list", f"{target}'s own market", "difference",
         "interval covers"],
        rows,
        note=f"{logging_policy} explored with epsilon {check.get('epsilon')} at temperature "
        f"{check.get('temperature')}. Mean ± SE over seeds; 'interval covers': seeds whose 95% interval "
        "held the actual count. A missing estimate had no support or too few lists.",
        extra=extra,
    )


def _cohort_table(cohort: Mapping[str, Any]) -> Table:
    summary = cohort.get("summary") or {}
    rows = [
        ["seekers / free seats", f"{format_mean_se(summary.get('seekers'))} / {format_mean_se(summary.get('free_seats'))}"],
        ["mentees assigned", format_mean_se(summary.get("assigned"))],
        ["expected successful matches, by the truth", format_mean_se(summary.get("expected"))],
        ["... as the model expected them", format_mean_se(summary.get("model_expected"))],
        ["the capacity bound", format_mean_se(summary.get("bound"))],
        ["share of the bound", format_mean_se(summary.get("share_of_bound"), "share")],
        ["successful matches, one draw", format_mean_se(summary.get("realised"))],
    ]
    return Table("Cohort assignment: one round with the learned scores", ["figure", "value"], rows,
                 note="Every seeker of week 1 assigned at once (retrieval.cohort.assign_cohort, the heads' P(match), "
                 "OR-Tools min-cost flow), judged by the true p_match; mean ± SE over seeds.")


def _setting_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ", ".join(_setting_value(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items += _flatten(value, f"{name}.")
        else:
            items.append((name, value))
    return items


def _settings_table(settings: Mapping[str, Any]) -> Table:
    rows = [[name, _setting_value(value)] for name, value in _flatten(settings)]
    return Table("Settings", ["setting", "value"], rows)


def _seconds_table(seconds: Mapping[str, Any]) -> Table:
    rows = []
    for name, value in seconds.items():
        number = _finite(value)
        rows.append([str(name), MISSING if number is None else f"{number:,.1f} s"])
    return Table("Run time", ["step", "seconds"], rows)
