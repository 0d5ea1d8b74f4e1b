"""The A/B report folder: strict JSON, Markdown and self-contained HTML in the report's style."""

from __future__ import annotations

import json

import pytest

from eval.ab import AB_FILES, analyze_experiment, write_ab_report
from eval.ab.rendering import summary_markdown
from eval.report.rendering import PAGE_STYLE
from eval.report.schema import json_ready
from mentor_match.errors import InvalidParameterError

HALF = {"control": 0.5, "b": 0.5}


@pytest.fixture(scope="module")
def planted_report(planted_experiment_builder) -> dict:
    frames = planted_experiment_builder(1500, success_rate={"control": 0.3, "b": 0.5}, shares=HALF, seed=21)
    return analyze_experiment(frames, HALF, control="control", n_boot=300, seed=0)


@pytest.fixture(scope="module")
def mismatched_report(planted_experiment_builder) -> dict:
    frames = planted_experiment_builder(
        4000, success_rate={"control": 0.3, "b": 0.5}, shares={"control": 0.4, "b": 0.6}, seed=22,
        request_rate=0.3, exact_split=True,
    )
    return analyze_experiment(frames, HALF, control="control", n_boot=200, seed=0)


def test_the_folder_holds_the_json_the_pages_and_the_plot(planted_report, tmp_path):
    written = write_ab_report(planted_report, tmp_path)
    assert {path.name for path in written.values()} == set(AB_FILES.values())
    assert json.loads((tmp_path / "ab_report.json").read_text()) == json.loads(
        json.dumps(json_ready(planted_report))
    )
    assert (tmp_path / "ab_lift.png").read_bytes()[1:4] == b"PNG"
    markdown = (tmp_path / "ab_report.md").read_text()
    for section in ("## Verdict", "## Arms", "## Each variant against control", "## Sample-ratio check",
                    "## Interference: mentors shared between arms", "## Data checks", "## How to read this"):
        assert section in markdown
    assert "![Relative lift over control with bootstrap intervals](ab_lift.png)" in markdown
    html = (tmp_path / "ab_report.html").read_text()
    assert PAGE_STYLE in html  # the evaluation report's style sheet
    assert 'src="data:image/png;base64,' in html  # self-contained
    assert "<td>b</td>" in html and "better" in html


def test_the_verdict_table_reads_the_primary_metric(planted_report):
    summary = summary_markdown(planted_report)
    successes = next(c for c in planted_report["comparisons"] if c["metric"] == "successes_per_mentee")
    row = next(line for line in summary.splitlines() if line.startswith("| b |"))
    assert f"{successes['relative_lift']:+.1%}" in row and row.endswith("| better |")


def test_a_failed_srm_check_says_plainly_that_the_verdict_is_withheld(mismatched_report, tmp_path):
    assert not mismatched_report["srm"]["passed"]
    write_ab_report(mismatched_report, tmp_path)
    for name in ("ab_report.md", "ab_report.html"):
        page = (tmp_path / name).read_text()
        assert "The verdict is withheld" in page
        assert "Sample-ratio mismatch" in page
        assert "FAILED: the verdict is withheld" in page
        assert "better" not in page
    assert "| b | withheld |" in summary_markdown(mismatched_report)
    assert json.loads((tmp_path / "ab_report.json").read_text())["verdict"] is None


def test_without_a_lift_to_draw_the_plot_is_skipped_and_a_stale_one_removed(planted_report, tmp_path):
    (tmp_path / "ab_lift.png").write_bytes(b"old")
    no_lift = dict(planted_report, comparisons=[
        dict(c, relative_lift=None, lift_ci_low=None, lift_ci_high=None) for c in planted_report["comparisons"]
    ])
    written = write_ab_report(no_lift, tmp_path)
    assert "plot" not in written and not (tmp_path / "ab_lift.png").exists()
    assert "## Plots" not in (tmp_path / "ab_report.md").read_text()


def test_a_report_missing_keys_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InvalidParameterError, match="lacks key.*verdict"):
        write_ab_report({"experiment": "x", "generated_at": "now"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()
