"""eval.report: the public key list, validation, and the JSON/Markdown/HTML/PNG files."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
from datetime import datetime, timezone

import numpy as np
import pytest

from eval.metrics import classification_metrics, gauc, ndcg_at_k, ndcg_per_query
from eval.report import (
    MODEL_NAMES,
    PLOT_FILES,
    REPORT_KEYS,
    ndcg_curve,
    ranking_summary,
    validate_report,
    write_report,
)
from eval.stats import bootstrap_ci, compare_to_reference
from mentor_match.errors import InvalidParameterError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STAGE1_KS = [10, 20, 50, 100, 200, 500]


@pytest.fixture(scope="module")
def held_out():
    """120 mentees x 15 mentors, graded gains, four models of decreasing noise."""
    rng = np.random.default_rng(42)
    groups = np.repeat(np.arange(120), 15)
    y_true = rng.integers(0, 4, len(groups))
    scores = {
        model: y_true + rng.normal(0, noise, len(groups))
        for model, noise in zip(MODEL_NAMES, (3.0, 2.5, 2.0, 1.0), strict=True)
    }
    return y_true, scores, groups


def _all_keys(spec, prefix=""):
    if spec is None:
        return [prefix]
    items = spec.items() if isinstance(spec, dict) else ((key, None) for key in spec)
    return [
        path for key, child in items for path in _all_keys(child, f"{prefix}.{key}".lstrip("."))
    ]


def _lookup(report, path):
    node = report
    for part in path.split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def report_and_curves(held_out):
    y_true, scores, groups = held_out
    models = {}
    for model, score in scores.items():
        prob = 1.0 / (1.0 + np.exp(-(score - 1.5)))
        models[model] = (
            classification_metrics(y_true > 1, prob > 0.5, prob)
            | {"gauc": gauc(y_true > 1, score, groups), "threshold": 0.5}
            | ranking_summary(y_true, score, groups, n_boot=200)
        )
    models["xgboost_ranker"]["accuracy"] = float("nan")  # not applicable -> null
    per_query = {
        model: ndcg_per_query(y_true, score, 10, groups) for model, score in scores.items()
    }
    report = {
        "generated_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "data": {
            "mentors": 500,
            "mentees": 1000,
            "interactions": np.int64(9000),
            "test_mentees": 120,
        },
        "models": models,
        "pipeline": {
            "ndcg@10": 0.81,
            "ndcg@10_exact": 0.83,
            "ndcg@10_stage1_only": np.float64(0.55),
            "ndcg@10_random": 0.21,
            "ndcg@10_oracle": 1.0,
            "stage1_recall": {
                str(k): {"oracle": min(1.0, k / 300), "exact": min(1.0, k / 200)} for k in STAGE1_KS
            },
            "coverage": 0.64,
            "gini": 0.37,
        },
        "comparisons": compare_to_reference(per_query, n_boot=200),
        "notes": ["Synthetic test data."],
    }
    prob = {m: 1.0 / (1.0 + np.exp(-(s - 1.5))) for m, s in scores.items() if m != "xgboost_ranker"}
    curves = {
        "roc": {m: (y_true > 1, s) for m, s in scores.items()},
        "ndcg_at_k": ndcg_curve(y_true, scores, groups, n_boot=200),
        "stage1_recall": {
            "k": STAGE1_KS,
            "oracle": [min(1.0, k / 300) for k in STAGE1_KS],
            "exact": [min(1.0, k / 200) for k in STAGE1_KS],
        },
        "feature_importance": {"skill_overlap": 12.0, "similarity": 30.5, "tz_gap": 4.2},
        "calibration": {m: (y_true > 1, p) for m, p in prob.items()},
    }
    return report, curves


@pytest.fixture(scope="module")
def written(report_and_curves, tmp_path_factory):
    report, curves = report_and_curves
    out = tmp_path_factory.mktemp("report")
    return out, write_report(report, out, curves=curves)


def test_report_files_exist_with_every_public_key(written, report_and_curves):
    out, paths = written
    assert set(paths) == {"json", "md", "html"} | set(PLOT_FILES)
    for path in paths.values():
        assert path.parent == out and path.stat().st_size > 0
    loaded = json.loads(paths["json"].read_text())
    validate_report(loaded)
    for key in _all_keys(REPORT_KEYS):
        _lookup(loaded, key)  # KeyError names a missing key
    assert set(loaded["models"]) == set(MODEL_NAMES)
    assert loaded["generated_at"] == "2026-01-02T03:04:05+00:00"
    assert loaded["models"]["xgboost_ranker"]["accuracy"] is None
    assert loaded["data"]["interactions"] == 9000
    report, _ = report_and_curves
    assert (
        loaded["models"]["random_forest"]["ndcg@10_ci"]
        == report["models"]["random_forest"]["ndcg@10_ci"]
    )
    assert loaded["pipeline"]["stage1_recall"]["500"] == {"oracle": 1.0, "exact": 1.0}
    assert len(loaded["comparisons"]) == 3


def test_html_is_self_contained_with_every_plot_inlined(written):
    _, paths = written
    page = paths["html"].read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(PLOT_FILES)
    for data in images:
        assert base64.b64decode(data).startswith(PNG_SIGNATURE)
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing fetched from elsewhere
    for heading in (
        "Classification view",
        "Ranking view",
        "Paired comparison",
        "End-to-end view",
        "Stage-1 recall",
        "How to read this",
    ):
        assert heading in page


def test_markdown_has_the_tables_and_links_the_plots(written, report_and_curves):
    _, paths = written
    text = paths["md"].read_text()
    report, _ = report_and_curves
    ranker = report["models"]["xgboost_ranker"]
    low, high = ranker["ndcg@10_ci"]
    assert f"| xgboost_ranker | n/a | {ranker['precision']:.3f} |" in text
    assert f"[{low:.3f}, {high:.3f}]" in text
    assert "| 500 | 1.000 | 1.000 |" in text  # stage-1 recall row, oracle then exact
    assert "Gini of recommendations over mentors: 0.370" in text
    for filename in PLOT_FILES.values():
        assert f"]({filename})" in text
    for path in (p for name, p in written[1].items() if name in PLOT_FILES):
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_missing_curves_are_skipped_and_stale_plots_removed(written, report_and_curves, tmp_path):
    report, curves = report_and_curves
    out = tmp_path / "rerun"
    out.mkdir()
    for png in written[0].glob("*.png"):  # plots of an earlier, complete run
        shutil.copy(png, out / png.name)
    partial = write_report(report, out, curves={"ndcg_at_k": curves["ndcg_at_k"], "roc": {}})
    assert set(partial) == {"json", "md", "html", "ndcg_at_k"}
    assert sorted(p.name for p in out.glob("*.png")) == ["ndcg_at_k.png"]
    assert partial["html"].read_text().count("data:image/png;base64,") == 1
    bare = write_report(report, tmp_path / "bare")
    assert set(bare) == {"json", "md", "html"}
    assert "data:image/png" not in bare["html"].read_text()


def test_validate_report_names_every_missing_key(report_and_curves):
    report, _ = report_and_curves
    broken = copy.deepcopy(report)
    del broken["models"]["random_forest"]["gauc"]
    del broken["pipeline"]["gini"]
    del broken["models"]["xgboost_classifier"]
    broken["models"]["logistic_regression"]["ndcg@10_ci"] = [0.1]
    with pytest.raises(InvalidParameterError) as err:
        validate_report(broken)
    message = str(err.value)
    for key in (
        "models.random_forest.gauc",
        "pipeline.gini",
        "models.xgboost_classifier",
        "models.logistic_regression.ndcg@10_ci",
    ):
        assert key in message
    with pytest.raises(InvalidParameterError, match="generated_at"):
        validate_report({k: v for k, v in report.items() if k != "generated_at"})
    bad_recall = copy.deepcopy(report)
    bad_recall["pipeline"]["stage1_recall"] = {"top10": 0.5}
    with pytest.raises(InvalidParameterError, match="candidate counts"):
        validate_report(bad_recall)


def test_bad_curves_are_refused_with_the_fix(report_and_curves, tmp_path):
    report, curves = report_and_curves
    with pytest.raises(InvalidParameterError, match="unknown curves \\['roc_curves'\\]"):
        write_report(report, tmp_path, curves={"roc_curves": curves["roc"]})
    y, _ = curves["calibration"]["logistic_regression"]
    with pytest.raises(InvalidParameterError, match="outside \\[0, 1\\]"):
        write_report(report, tmp_path, curves={"calibration": {"xgboost_ranker": (y, y * 3.0)}})


def test_ndcg_curve_means_and_bands_match_the_metric_functions(held_out):
    y_true, scores, groups = held_out
    curve = ndcg_curve(y_true, scores, groups, ks=[1, 5, 10], n_boot=300, seed=4)
    assert set(curve) == set(MODEL_NAMES)
    ranker = curve["xgboost_ranker"]
    assert ranker["k"] == [1, 5, 10]
    assert ranker["mean"][2] == pytest.approx(
        ndcg_at_k(y_true, scores["xgboost_ranker"], 10, groups)
    )
    low, high = bootstrap_ci(
        ndcg_per_query(y_true, scores["xgboost_ranker"], 10, groups), n_boot=300, seed=4
    )
    assert (ranker["low"][2], ranker["high"][2]) == pytest.approx((low, high))
    assert all(
        lo <= m <= hi
        for lo, m, hi in zip(ranker["low"], ranker["mean"], ranker["high"], strict=True)
    )
    # The least noisy model ranks best at K = 10.
    assert ranker["mean"][2] > curve["logistic_regression"]["mean"][2]


def test_ranking_summary_matches_the_metric_functions(held_out):
    y_true, scores, groups = held_out
    summary = ranking_summary(y_true, scores["random_forest"], groups, n_boot=300, seed=4)
    assert summary["ndcg@5"] == pytest.approx(ndcg_at_k(y_true, scores["random_forest"], 5, groups))
    ci = bootstrap_ci(
        ndcg_per_query(y_true, scores["random_forest"], 10, groups), n_boot=300, seed=4
    )
    assert summary["ndcg@10_ci"] == pytest.approx(list(ci))
    assert set(summary) == {"ndcg@5", "ndcg@10", "map@10", "mrr", "ndcg@10_ci"}
