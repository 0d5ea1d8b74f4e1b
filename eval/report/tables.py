"""The report's tables as rows of formatted cells, shared by the Markdown and HTML pages.

Each number reads with three decimals, counts with thousands separators, and a metric
that does not apply (``None``, NaN) as "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eval.report.schema import CLASSIFICATION_KEYS, MODEL_NAMES, PIPELINE_ROWS, REPORT_KEYS

__all__ = ["Table", "format_count", "format_interval", "format_metric", "format_p_value", "report_tables"]


@dataclass
class Table:
    """One section of the report: a titled table, a note under it and bullet lines."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    extra: list[str] = field(default_factory=list)


def format_metric(value: Any) -> str:
    """A metric cell: three decimals, 'n/a' for a missing or non-finite value.

    >>> format_metric(0.87512), format_metric(None), format_metric(float("nan"))
    ('0.875', 'n/a', 'n/a')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "n/a" if value is None else str(value)
    return f"{float(value):.3f}" if math.isfinite(float(value)) else "n/a"


def format_count(value: Any) -> str:
    """A count cell with thousands separators (non-integers read as metrics).

    >>> format_count(9000), format_count(np.int64(120))
    ('9,000', '120')
    """
    return f"{int(value):,}" if isinstance(value, int | np.integer) else format_metric(value)


def format_interval(ci: Any) -> str:
    """An interval cell, '[low, high]' with three decimals each; 'n/a' without one.

    >>> format_interval((0.12345, 0.5)), format_interval(None)
    ('[0.123, 0.500]', 'n/a')
    """
    if ci is None:
        return "n/a"
    return f"[{format_metric(ci[0])}, {format_metric(ci[1])}]"


def format_p_value(p: Any) -> str:
    """A p-value cell: three decimals, '< 0.001' below that, 'n/a' without one.

    >>> format_p_value(0.0412), format_p_value(0.0002), format_p_value(None)
    ('0.041', '< 0.001', 'n/a')
    """
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{float(p):.3f}"


def _model_order(models: Mapping[str, Any]) -> list[str]:
    return [m for m in MODEL_NAMES if m in models] + [m for m in models if m not in MODEL_NAMES]


def _stage1_recall_table(pipeline: Mapping[str, Any]) -> Table:
    recall = pipeline["stage1_recall"]
    ks = sorted(recall, key=lambda k: int(k))
    references = list(
        dict.fromkeys(r for k in ks if isinstance(recall[k], Mapping) for r in recall[k])
    )
    if references:
        rows = [[str(k)] + [format_metric(recall[k].get(r)) for r in references] for k in ks]
        headers = ["K candidates"] + [f"{r} top 10 recall" for r in references]
        chosen = pipeline.get("stage1_recall_preranked")
        if isinstance(chosen, Mapping):  # the candidates the ranker scores, after pre-ranking
            rows.append(
                [f"{chosen.get('candidates')} pre-ranked"]
                + [format_metric(chosen.get(r)) for r in references]
            )
    else:
        rows = [[str(k), format_metric(recall[k])] for k in ks]
        headers = ["K candidates", "recall"]
    return Table("Stage-1 recall", headers, rows)


def _base_rate_note(base_rate: Any) -> str:
    """How to read accuracy and the thresholds (with the base rate where the report has it)."""
    note = "Each model decides at its F1-optimal threshold on validation; average precision is the PR-AUC."
    if base_rate is None:
        return note
    return (f"Base rate {float(base_rate):.1%} successful: predicting no for every pair scores "
            f"accuracy {1 - float(base_rate):.3f}. {note}")


def report_tables(report: Mapping[str, Any]) -> list[Table]:
    """The tables of a validated report, in page order (the comparison only if it has one)."""
    data, models, pipeline = report["data"], report["models"], report["pipeline"]
    order = _model_order(models)
    tables = [
        Table(
            "Data",
            ["mentors", "mentees", "interactions", "held-out mentees"],
            [[format_count(data[k]) for k in REPORT_KEYS["data"]]],
        ),
        Table(
            "Classification view (held-out pairs)",
            ["model", "accuracy", "precision", "recall", "F1", "threshold", "ROC-AUC", "average precision", "GAUC"],
            [[m] + [format_metric(models[m].get(k)) for k in CLASSIFICATION_KEYS] for m in order],
            note=_base_rate_note(data.get("test_base_rate")),
        ),
        Table(
            "Ranking view (per held-out mentee, graded relevance)",
            ["model", "NDCG@5", "NDCG@10", "NDCG@10 95% CI", "MAP@10", "MRR"],
            [
                [
                    m,
                    format_metric(models[m].get("ndcg@5")),
                    format_metric(models[m].get("ndcg@10")),
                    format_interval(models[m].get("ndcg@10_ci")),
                    format_metric(models[m].get("map@10")),
                    format_metric(models[m].get("mrr")),
                ]
                for m in order
            ],
            note="Means over held-out mentees; a mentee without a relevant mentor scores 0.",
        ),
    ]
    comparisons = report.get("comparisons") or []
    if comparisons:
        tables.append(
            Table(
                "Paired comparison (same mentees; a minus b)",
                ["a", "b", "metric", "mean difference", "95% CI", "p-value"],
                [
                    [
                        c["a"],
                        c["b"],
                        c["metric"],
                        format_metric(c["mean_diff"]),
                        format_interval([c["ci_low"], c["ci_high"]]),
                        format_p_value(c["p_value"]),
                    ]
                    for c in comparisons
                ],
                note="CI: paired bootstrap over mentees; p-value: Wilcoxon signed-rank test.",
            )
        )
    tables.append(
        Table(
            "End-to-end view (all eligible mentors, synthetic ground truth)",
            ["ordering", "NDCG@10"],
            [[label, format_metric(pipeline[key])] for key, label in PIPELINE_ROWS.items()],
            extra=[
                f"Catalogue coverage of the top 10: {format_metric(pipeline['coverage'])}",
                f"Gini of recommendations over mentors: {format_metric(pipeline['gini'])}",
            ],
        )
    )
    every = _every_model_table(pipeline)
    if every is not None:
        tables.append(every)
    tables.append(_stage1_recall_table(pipeline))
    return tables


def _every_model_table(pipeline: Mapping[str, Any]) -> Table | None:
    """Each model over all eligible mentors against the truth, with the ranker's paired lead
    (absent from reports written before every model was judged end to end)."""
    summary = pipeline.get("models_end_to_end")
    if not summary:
        return None
    lead = {c["b"]: c for c in pipeline.get("models_end_to_end_comparisons") or []}
    rows = []
    for name in _model_order(summary):
        row = summary[name]
        c = lead.get(name)
        rows.append([
            name, format_metric(row["ndcg@10"]), format_interval(row["ndcg@10_ci"]),
            "" if c is None else format_metric(c["mean_diff"]),
            "" if c is None else format_interval([c["ci_low"], c["ci_high"]]),
            "" if c is None else format_p_value(c["p_value"]),
        ])
    return Table(
        "Every model end to end (all eligible mentors, synthetic ground truth)",
        ["model", "NDCG@10", "95% CI", "ranker minus model", "95% CI", "p-value"],
        rows,
        note="Each model scores the same eligible pairs with the same features; paired bootstrap over mentees.",
    )
