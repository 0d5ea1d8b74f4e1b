"""The public format of report.json: its key list, its validation, and strict-JSON values.

See :mod:`eval.report` for the layout of the dict. A metric that does not apply is ``None``
(JSON null); NaN and infinities are written as null too, so the file is strict JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mentor_match.errors import InvalidParameterError

__all__ = [
    "CLASSIFICATION_KEYS",
    "MODEL_NAMES",
    "PIPELINE_ROWS",
    "PLOT_FILES",
    "RANKING_KEYS",
    "REPORT_KEYS",
    "json_ready",
    "validate_report",
]

MODEL_NAMES = ("logistic_regression", "random_forest", "xgboost_classifier", "xgboost_ranker")
CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "threshold", "roc_auc", "average_precision", "gauc")
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
"""The PNG written for each key of ``curves`` (see :func:`eval.report.write_report`)."""


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

    >>> try:
    ...     validate_report({"generated_at": "2026-01-01T00:00:00+00:00"})
    ... except InvalidParameterError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    The report lacks or misshapes 3 key(s) of the public format: data, models, pipeline. ...
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


def json_ready(value: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays unwrapped, NaN/inf -> None, tuples -> lists.

    >>> json_ready({"ndcg@10": np.float64(0.8), "ci": (0.7, float("nan")), "n": np.int64(3)})
    {'ndcg@10': 0.8, 'ci': [0.7, None], 'n': 3}
    """
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value
