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

The modules, by concept: :mod:`eval.report.schema` (the key list, validation, strict JSON),
:mod:`eval.report.summaries` (ranking entries and the NDCG@K curve from scores),
:mod:`eval.report.tables` (the rows of formatted cells), :mod:`eval.report.rendering`
(Markdown and HTML pages) and :mod:`eval.report.writing` (the folder on disk).
"""

from eval.report.rendering import HOW_TO_READ
from eval.report.schema import (
    CLASSIFICATION_KEYS,
    MODEL_NAMES,
    PIPELINE_ROWS,
    PLOT_FILES,
    RANKING_KEYS,
    REPORT_KEYS,
    validate_report,
)
from eval.report.summaries import ndcg_curve, ranking_summary
from eval.report.writing import write_report

__all__ = [
    "CLASSIFICATION_KEYS",
    "HOW_TO_READ",
    "MODEL_NAMES",
    "PIPELINE_ROWS",
    "PLOT_FILES",
    "RANKING_KEYS",
    "REPORT_KEYS",
    "ndcg_curve",
    "ranking_summary",
    "validate_report",
    "write_report",
]
