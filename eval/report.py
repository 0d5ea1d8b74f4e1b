"""The offline evaluation report: its public key list, validation, and rendering.

``write_report(report, out_dir, curves=...)`` writes ``report.json`` (the dict itself,
a public format), ``report.md``, ``report.html`` (one self-contained file, plots inlined
as base64 PNG) and the PNG plots.

The report dict (required keys: :data:`REPORT_KEYS`)::

    {"generated_at": "2026-01-01T00:00:00+00:00",
     "data": {"mentors", "mentees", "interactions", "test_mentees"},
     "models": {<name>: {"accuracy", "precision", "recall", "f1", "roc_auc", "gauc",
                         "ndcg@5", "ndcg@10", "map@10", "mrr", "ndcg@10_ci": [low, high]}},
     "pipeline": {"ndcg@10", "ndcg@10_exact", "ndcg@10_stage1_only", "ndcg@10_random",
                  "ndcg@10_oracle", "stage1_recall": {"10": ..., "500": ...},
                  "coverage", "gini"},
     # optional:
     "comparisons": [{"a", "b", "metric", "mean_diff", "ci_low", "ci_high", "p_value"}],
     "notes": ["free text shown under the title"]}

``models`` must name every model of :data:`MODEL_NAMES` (more are allowed). A metric that
does not apply is ``None`` (JSON null); NaN is written as null too, so the file is strict
JSON. ``stage1_recall`` maps a candidate count K (as a string) to either a number or a
mapping ``{reference: recall}`` such as ``{"oracle": 0.9, "exact": 0.95}``.

The plots' input, ``curves`` (each key optional; a missing one skips its plot)::

    {"roc": {model: (y_true, y_score)},
     "ndcg_at_k": {model: {"k": [...], "mean": [...], "low": [...], "high": [...]}},
     "stage1_recall": {"k": [...], "oracle": [...], "exact": [...]},
     "feature_importance": {feature: gain},
     "calibration": {model: (y_true, y_prob)}}

``ndcg_curve`` builds the ``ndcg_at_k`` entry and ``ranking_summary`` a model's ranking
metrics, so an evaluation protocol only has to produce scores.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import (
    ArrayLike,
    average_precision_per_query,
    ndcg_at_ks_per_query,
    reciprocal_rank_per_query,
)
from eval.plots import (
    plot_calibration,
    plot_feature_importance,
    plot_ndcg_at_k,
    plot_roc,
    plot_stage1_recall,
)
from eval.stats import bootstrap_ci, bootstrap_means
from mentor_match.errors import InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "MODEL_NAMES",
    "PLOT_FILES",
    "REPORT_KEYS",
    "ndcg_curve",
    "ranking_summary",
    "validate_report",
    "write_report",
]

MODEL_NAMES = ("logistic_regression", "random_forest", "xgboost_classifier", "xgboost_ranker")
CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "gauc")
RANKING_KEYS = ("ndcg@5", "ndcg@10", "map@10", "mrr", "ndcg@10_ci")
PIPELINE_ROWS = {
    "ndcg@10_oracle": "oracle (ground-truth order; upper bound)",
    "ndcg@10": "two-stage pipeline (stage 1 + ranker)",
    "ndcg@10_exact": "ranker over all mentors (no stage 1)",
    "ndcg@10_stage1_only": "stage 1 alone (similarity order)",
    "ndcg@10_random": "random order",
}
REPORT_KEYS: dict[str, Any] = {
    "generated_at": None,
    "data": ("mentors", "mentees", "interactions", "test_mentees"),
    "models": {name: CLASSIFICATION_KEYS + RANKING_KEYS for name in MODEL_NAMES},
    "pipeline": (*PIPELINE_ROWS, "stage1_recall", "coverage", "gini"),
}
"""The public key list of report.json: a key -> None (a leaf), a tuple of leaf keys, or a
nested mapping."""

PLOT_FILES = {
    "roc": "roc.png",
    "ndcg_at_k": "ndcg_at_k.png",
    "stage1_recall": "stage1_recall.png",
    "feature_importance": "feature_importance.png",
    "calibration": "calibration.png",
}
_PLOTTERS: dict[str, Callable[[Any, Path], Path]] = {
    "roc": plot_roc,
    "ndcg_at_k": plot_ndcg_at_k,
    "stage1_recall": plot_stage1_recall,
    "feature_importance": plot_feature_importance,
    "calibration": plot_calibration,
}
_PLOT_TITLES = {
    "roc": "ROC curves of all models",
    "ndcg_at_k": "NDCG@K by model with 95% confidence bands",
    "stage1_recall": "Stage-1 recall against K",
    "feature_importance": "Ranker feature importance",
    "calibration": "Calibration of the classifiers",
}
HOW_TO_READ = (
    "Classification view: how well each model separates observed good matches from the "
    "rest on held-out pairs; GAUC is the mean AUC per mentee, which is what ranking needs.",
    "Ranking view: per held-out mentee, how high the mentee's best mentors come in each "
    "model's order (graded relevance). The interval is a 95% bootstrap over mentees; "
    "overlapping intervals alone do not mean 'no difference': read the paired comparison, "
    "which scores both models on the same mentees.",
    "End-to-end view: the deployed pipeline over all eligible mentors, scored with the "
    "synthetic ground truth. Oracle is the ceiling and random the floor; the gap between "
    "the pipeline and the exact ranker is the price of stage-1 retrieval.",
    "Stage-1 recall: the share of the reference top 10 that survives candidate retrieval "
    "at K candidates in similarity order; the 'pre-ranked' row is what the ranker scores: "
    "the default candidates chosen by the pre-ranker from the wider pool.",
    "Coverage and Gini: how much of the catalogue gets recommended and how concentrated "
    "recommendations are on few mentors (0 even, near 1 all on one), since mentors have "
    "limited capacity.",
)


# --------------------------------------------------------------------------- building blocks


def ndcg_curve(
    y_true: ArrayLike,
    scores_by_model: Mapping[str, ArrayLike],
    groups: ArrayLike,
    ks: Sequence[int] = range(1, 21),
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, dict[str, list[float]]]:
    """Mean NDCG@K per model for each K, with percentile bootstrap bands over queries.

    Every model and K share the same resamples of queries (the ones
    :func:`eval.stats.bootstrap_ci` draws with the same seed), so bands of different models
    are comparable. Returns the ``curves["ndcg_at_k"]`` structure.
    """
    if not scores_by_model:
        raise InvalidParameterError("ndcg_curve needs at least one model in 'scores_by_model'.")
    ks = [int(k) for k in ks]
    tables = {
        model: ndcg_at_ks_per_query(y_true, scores, ks, groups).to_numpy()
        for model, scores in scores_by_model.items()
    }
    stacked = np.hstack(list(tables.values()))
    means = bootstrap_means(stacked, n_boot=n_boot, seed=seed)
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    curves = {}
    for i, (model, table) in enumerate(tables.items()):
        cols = slice(i * len(ks), (i + 1) * len(ks))
        curves[model] = {
            "k": ks,
            "mean": table.mean(axis=0).tolist(),
            "low": low[cols].tolist(),
            "high": high[cols].tolist(),
        }
    return curves


def ranking_summary(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """A model's ranking-view entries of report["models"][name]: NDCG@5/10, MAP@10, MRR, CI.

    Means over queries (every query counts; one without relevant items scores 0) and the
    percentile bootstrap interval of NDCG@10, as :func:`eval.stats.bootstrap_ci` gives it.
    """
    ndcg = ndcg_at_ks_per_query(y_true, y_score, [5, 10], groups)
    low, high = bootstrap_ci(ndcg[10], n_boot=n_boot, alpha=alpha, seed=seed)
    return {
        "ndcg@5": float(ndcg[5].mean()),
        "ndcg@10": float(ndcg[10].mean()),
        "map@10": float(average_precision_per_query(y_true, y_score, 10, groups).mean()),
        "mrr": float(reciprocal_rank_per_query(y_true, y_score, groups).mean()),
        "ndcg@10_ci": [float(low), float(high)],
    }


# --------------------------------------------------------------------------- validation


def _missing(node: Any, spec: Any, path: str) -> list[str]:
    if spec is None:
        return []
    if not isinstance(node, Mapping):
        return [f"{path} (must be a mapping)"]
    keys = spec.items() if isinstance(spec, Mapping) else ((key, None) for key in spec)
    found = []
    for key, child in keys:
        where = f"{path}.{key}" if path else key
        if key not in node:
            found.append(where)
        else:
            found.extend(_missing(node[key], child, where))
    return found


def validate_report(report: Mapping[str, Any]) -> None:
    """Raise InvalidParameterError naming every key of :data:`REPORT_KEYS` the report lacks.

    Also checks the shapes readers rely on: ``ndcg@10_ci`` is ``[low, high]`` and
    ``stage1_recall`` maps candidate counts (strings of ints) to recalls.
    """
    if not isinstance(report, Mapping):
        raise InvalidParameterError(
            f"A report must be a mapping (dict). Got {type(report).__name__}."
        )
    problems = _missing(report, REPORT_KEYS, "")
    models = report.get("models")
    for name, metrics in models.items() if isinstance(models, Mapping) else ():
        ci = metrics.get("ndcg@10_ci") if isinstance(metrics, Mapping) else None
        if ci is not None and (isinstance(ci, str | bytes) or len(ci) != 2):
            problems.append(f"models.{name}.ndcg@10_ci (must be [low, high])")
    pipeline = report.get("pipeline")
    if isinstance(pipeline, Mapping) and "stage1_recall" in pipeline:
        recall = pipeline["stage1_recall"]
        if not isinstance(recall, Mapping) or not recall:
            problems.append("pipeline.stage1_recall (must map K, as a string, to a recall)")
        elif not all(str(k).isdigit() for k in recall):
            problems.append(
                "pipeline.stage1_recall (keys must be candidate counts; "
                f"got {sorted(map(str, recall))})"
            )
    if problems:
        raise InvalidParameterError(
            f"The report lacks or misshapes {len(problems)} key(s) of the public format: "
            f"{', '.join(problems)}. Fill them (None where a metric does not apply)."
        )


# --------------------------------------------------------------------------- JSON


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, NaN/inf -> None, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


# --------------------------------------------------------------------------- tables


@dataclass
class _Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    extra: list[str] = field(default_factory=list)


def _fmt(value: Any) -> str:
    """A metric cell: three decimals, 'n/a' for a missing or non-finite value."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return "n/a" if value is None else str(value)
    return f"{float(value):.3f}" if math.isfinite(float(value)) else "n/a"


def _count(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, int | np.integer) else _fmt(value)


def _fmt_ci(ci: Any) -> str:
    if ci is None:
        return "n/a"
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def _fmt_p(p: Any) -> str:
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{float(p):.3f}"


def _model_order(models: Mapping[str, Any]) -> list[str]:
    return [m for m in MODEL_NAMES if m in models] + [m for m in models if m not in MODEL_NAMES]


def _tables(report: Mapping[str, Any]) -> list[_Table]:
    data, models, pipeline = report["data"], report["models"], report["pipeline"]
    order = _model_order(models)
    tables = [
        _Table(
            "Data",
            ["mentors", "mentees", "interactions", "held-out mentees"],
            [[_count(data[k]) for k in ("mentors", "mentees", "interactions", "test_mentees")]],
        ),
        _Table(
            "Classification view (held-out pairs)",
            ["model", "accuracy", "precision", "recall", "F1", "ROC-AUC", "GAUC"],
            [[m] + [_fmt(models[m].get(k)) for k in CLASSIFICATION_KEYS] for m in order],
        ),
        _Table(
            "Ranking view (per held-out mentee, graded relevance)",
            ["model", "NDCG@5", "NDCG@10", "NDCG@10 95% CI", "MAP@10", "MRR"],
            [
                [
                    m,
                    _fmt(models[m].get("ndcg@5")),
                    _fmt(models[m].get("ndcg@10")),
                    _fmt_ci(models[m].get("ndcg@10_ci")),
                    _fmt(models[m].get("map@10")),
                    _fmt(models[m].get("mrr")),
                ]
                for m in order
            ],
            note="Means over held-out mentees; a mentee without a relevant mentor scores 0.",
        ),
    ]
    comparisons = report.get("comparisons") or []
    if comparisons:
        tables.append(
            _Table(
                "Paired comparison (same mentees; a minus b)",
                ["a", "b", "metric", "mean difference", "95% CI", "p-value"],
                [
                    [
                        c["a"],
                        c["b"],
                        c["metric"],
                        _fmt(c["mean_diff"]),
                        _fmt_ci([c["ci_low"], c["ci_high"]]),
                        _fmt_p(c["p_value"]),
                    ]
                    for c in comparisons
                ],
                note="CI: paired bootstrap over mentees; p-value: Wilcoxon signed-rank test.",
            )
        )
    tables.append(
        _Table(
            "End-to-end view (all eligible mentors, synthetic ground truth)",
            ["ordering", "NDCG@10"],
            [[label, _fmt(pipeline[key])] for key, label in PIPELINE_ROWS.items()],
            extra=[
                f"Catalogue coverage of the top 10: {_fmt(pipeline['coverage'])}",
                f"Gini of recommendations over mentors: {_fmt(pipeline['gini'])}",
            ],
        )
    )
    recall = pipeline["stage1_recall"]
    ks = sorted(recall, key=lambda k: int(k))
    references = list(
        dict.fromkeys(r for k in ks if isinstance(recall[k], Mapping) for r in recall[k])
    )
    if references:
        rows = [[str(k)] + [_fmt(recall[k].get(r)) for r in references] for k in ks]
        headers = ["K candidates"] + [f"{r} top 10 recall" for r in references]
        chosen = pipeline.get("stage1_recall_preranked")
        if isinstance(chosen, Mapping):  # the candidates the ranker scores, after pre-ranking
            rows.append([f"{chosen.get('candidates')} pre-ranked"]
                        + [_fmt(chosen.get(r)) for r in references])
    else:
        rows = [[str(k), _fmt(recall[k])] for k in ks]
        headers = ["K candidates", "recall"]
    tables.append(_Table("Stage-1 recall", headers, rows))
    return tables


def _markdown(report: Mapping[str, Any], tables: list[_Table], plots: dict[str, Path]) -> str:
    lines = [
        "# mentor-match offline evaluation",
        "",
        f"Generated {_jsonable(report['generated_at'])}.",
        "",
    ]
    lines += [f"> {note}" for note in report.get("notes", [])]
    for table in tables:
        lines += ["", f"## {table.title}", ""]
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(table.headers) - 1)) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        if table.note:
            lines += ["", table.note]
        if table.extra:
            lines += [""] + [f"- {item}" for item in table.extra]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{_PLOT_TITLES[name]}]({path.name})" for name, path in plots.items()]
    lines += ["", "## How to read this", ""] + [f"- {item}" for item in HOW_TO_READ]
    return "\n".join(lines) + "\n"


def _html(report: Mapping[str, Any], tables: list[_Table], plots: dict[str, Path]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>mentor-match offline evaluation</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;"
        "padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right}"
        "td:first-child{text-align:left}th{background:#f2f2f2}img{max-width:100%}</style>",
        "</head><body>",
        "<h1>mentor-match offline evaluation</h1>",
        f"<p>Generated {esc(str(_jsonable(report['generated_at'])))}.</p>",
    ]
    parts += [f"<blockquote>{esc(str(note))}</blockquote>" for note in report.get("notes", [])]
    for table in tables:
        parts.append(f"<h2>{esc(table.title)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in table.headers]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table>")
        if table.note:
            parts.append(f"<p>{esc(table.note)}</p>")
        if table.extra:
            parts.append(
                "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in table.extra) + "</ul>"
            )
    if plots:
        parts.append("<h2>Plots</h2>")
    for name, path in plots.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        title = esc(_PLOT_TITLES[name])
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{title}">'
            f"<figcaption>{title}</figcaption></figure>"
        )
    parts.append("<h2>How to read this</h2><ul>")
    parts += [f"<li>{esc(item)}</li>" for item in HOW_TO_READ]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- writing


def write_report(
    report: Mapping[str, Any],
    out_dir: str | Path,
    *,
    curves: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Validate ``report`` and write report.json/.md/.html plus a PNG per curve given.

    Returns the written paths: ``{"json", "md", "html"}`` and one entry per plot drawn
    (keys of :data:`PLOT_FILES`). A curve that is missing or empty skips its plot, and a
    stale PNG of that name from an earlier run is removed so it cannot be mistaken for
    this run's.
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
    tables = _tables(report)
    written = {
        "json": out / "report.json",
        "md": out / "report.md",
        "html": out / "report.html",
    }
    written["json"].write_text(json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n")
    written["md"].write_text(_markdown(report, tables, plots))
    written["html"].write_text(_html(report, tables, plots))
    return written | plots
