"""The simulation report folder: strict JSON that round-trips, pages with the numbers put in,
self-contained HTML, refusals before anything is written, and rewrites that leave no half file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from eval.report.rendering import PAGE_STYLE
from eval.report.schema import json_ready
from eval.simulator.market import mean_and_se
from eval.simulator.plots import PLOT_FILES
from eval.simulator.writing import (
    SIMULATION_FILES,
    SIMULATION_FORMAT,
    SIMULATION_KEYS,
    load_simulation,
    validate_simulation,
    write_simulation,
)
from mentor_match.errors import InvalidParameterError

WEEKLY = ("successful_matches", "mentorships_started", "requests", "acceptance_rate",
          "requests_to_full", "bound", "share_of_bound", "utilisation", "coverage",
          "gini_requests", "gini_impressions", "seekers")
TOTAL_ONLY = ("matched_within_2_weeks", "matched_within_4_weeks", "still_waiting")

# Planted totals per (policy, seed): the page must show their mean ± SE over the two seeds.
PLANTED = {
    "ranker": {"successful_matches": (440.0, 448.0), "share_of_bound": (0.25, 0.26),
               "requests_to_full": (900.0, 910.0), "matched_within_2_weeks": (0.30, 0.34)},
    "random": {"successful_matches": (730.0, 744.0), "share_of_bound": (0.41, 0.43),
               "requests_to_full": (100.0, 120.0), "matched_within_2_weeks": (0.50, 0.52)},
}


def _seed_run(policy: str, seed: int, rng: np.random.Generator, weeks: int = 3) -> dict:
    planted = {metric: values[seed] for metric, values in PLANTED[policy].items()}
    matches = planted["successful_matches"]
    week_rows = []
    for week in range(1, weeks + 1):
        row = {"week": week}
        for metric in WEEKLY:
            row[metric] = float(rng.uniform(0.1, 0.9)) if metric in (
                "acceptance_rate", "share_of_bound", "utilisation", "coverage",
                "gini_requests", "gini_impressions") else float(rng.integers(50, 400))
        row["successful_matches"] = matches / weeks + week  # weeks sum to near the total
        week_rows.append(row)
    total = {metric: float(rng.uniform(0.2, 0.8)) for metric in WEEKLY + TOTAL_ONLY}
    total.update(planted)
    total["bound"] = matches / planted["share_of_bound"]
    return {"seed": seed, "total": total, "weeks": week_rows,
            "requests_per_mentor": rng.poisson(3.0, size=40).tolist()}


def _aggregate(values: list[float]) -> dict:
    mean, se = mean_and_se(values)
    return {"mean": mean, "se": se}


def make_result(policies=("ranker", "random"), seeds=(0, 1), *, ab=True) -> dict:
    """A result in the simulator's format, its means and SEs aggregated from the seeds' runs."""
    rng = np.random.default_rng(7)
    out = {}
    for policy in policies:
        runs = [_seed_run(policy, seed, rng) for seed in seeds]
        total = {m: _aggregate([r["total"][m] for r in runs]) for m in WEEKLY + TOTAL_ONLY}
        weeks = [
            {"week": i + 1} | {m: _aggregate([r["weeks"][i][m] for r in runs]) for m in WEEKLY}
            for i in range(len(runs[0]["weeks"]))
        ]
        out[policy] = {"total": total, "weeks": weeks, "per_seed": runs}
    return {
        "format": SIMULATION_FORMAT,
        "generated_at": "2026-03-01T12:00:00+00:00",
        "settings": {"weeks": 3, "k": 10, "seeds": list(seeds), "policies": list(policies),
                     "requests_per_week": 3, "position_curve": "reciprocal",
                     "position_strength": 1.0, "retrain_every": None,
                     "world": {"mentors": 40, "mentees": 120, "interactions_per_mentee": 8},
                     "db_url": "sqlite:///sim.db"},
        "metrics": list(WEEKLY + TOTAL_ONLY),
        "policies": out,
        "ab": {"policies": ["ranker", "random"], "shares": {"ranker": 0.5, "random": 0.5},
               "report": {"verdict": {"random": "better"}},
               "ab_difference": {"mean": -0.090, "se": 0.010},
               "separate_markets_difference": {"mean": -0.060, "se": 0.005},
               "metric": "successful matches per mentee"} if ab else None,
        "notes": ["The bound is restricted to each mentee's top 200 mentors by truth."],
        "seconds": {"total": 12.5, "bound": 3.25},
    }


@pytest.fixture()
def result() -> dict:
    return make_result()


def _row(page: str, first_cell: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| {first_cell} |"))


def test_every_file_is_written_and_the_json_round_trips(result, tmp_path):
    written = write_simulation(result, tmp_path / "report")
    names = set(SIMULATION_FILES.values()) | set(PLOT_FILES.values())
    assert {path.name for path in written.values()} == names
    assert {path.name for path in (tmp_path / "report").iterdir()} == names  # no staging left over
    for key in PLOT_FILES:
        assert written[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = json.loads(json.dumps(json_ready(result)))
    assert json.loads(written["json"].read_text()) == expected
    assert load_simulation(tmp_path / "report") == expected
    assert load_simulation(written["json"]) == expected
    assert set(expected) == set(SIMULATION_KEYS)


def test_the_headline_table_shows_each_policys_planted_totals_with_their_se(result, tmp_path):
    page = write_simulation(result, tmp_path)["md"].read_text()
    ranker, random = _row(page, "ranker"), _row(page, "random")
    # (440 + 448) / 2 = 444, SE = std([440, 448], ddof=1) / sqrt(2) = 4
    for cell in ("444.0 ± 4.0", "25.5% ± 0.5%", "905.0 ± 5.0", "32.0% ± 2.0%"):
        assert f"| {cell} |" in ranker
    for cell in ("737.0 ± 7.0", "42.0% ± 1.0%", "110.0 ± 10.0", "51.0% ± 1.0%"):
        assert f"| {cell} |" in random
    assert "mean ± standard error over 2 seeds (0, 1)" in page
    assert "> The bound is restricted to each mentee's top 200 mentors by truth." in page


def test_the_week_table_has_each_policys_matches_and_bound_and_lacking_figures_read_dash(result, tmp_path):
    result["policies"]["random"]["weeks"][1].pop("bound")
    page = write_simulation(result, tmp_path)["md"].read_text()
    header = _row(page, "week")
    assert header == "| week | ranker: matches | ranker: bound | random: matches | random: bound |"
    week2 = _row(page, "2").split(" | ")
    ranker_week2 = result["policies"]["ranker"]["weeks"][1]
    matches = ranker_week2["successful_matches"]
    assert week2[1] == f"{matches['mean']:,.1f} ± {matches['se']:,.1f}"
    assert week2[4].rstrip(" |") == "-"
    assert len([line for line in page.splitlines() if re.match(r"\| [123] \|", line)]) == 3


def test_the_ab_section_sets_the_split_test_beside_the_separate_markets(result, tmp_path):
    page = write_simulation(result, tmp_path)["md"].read_text()
    assert "## One shared market as an A/B test: ranker against random" in page
    assert "| A/B test (one shared market, mentees split) | -0.090 ± 0.010 |" in page
    assert "| separate markets | -0.060 ± 0.005 |" in page
    assert "| gap (A/B minus separate) | -0.030 ± 0.011 |" in page  # hypot(0.010, 0.005)
    assert "overstates the difference (1.50 times the separate-markets difference)" in page
    assert "more than two standard errors" in page
    assert "The A/B report's verdict on random: better." in page


def test_without_an_ab_run_or_with_one_seed_the_page_says_so(tmp_path):
    result = make_result(seeds=(0,), ab=False)
    page = write_simulation(result, tmp_path)["md"].read_text()
    assert "A/B" not in page.split("## How to read this")[0]
    assert "one seed (0): no standard error" in page
    assert "| 440.0 |" in _row(page, "ranker") and "±" not in _row(page, "ranker")


def test_the_html_page_is_self_contained(result, tmp_path):
    html = write_simulation(result, tmp_path)["html"].read_text()
    assert PAGE_STYLE in html
    sources = re.findall(r'\b(?:src|href)\s*=\s*["\']([^"\']*)', html)
    assert len(sources) == len(PLOT_FILES)
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert "<link" not in html and "<script" not in html
    assert "<td>444.0 ± 4.0</td>" in html


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("policies"), r"policies \(missing\)"),
        (lambda r: r.pop("generated_at") and r.pop("seconds"), r"generated_at \(missing\), seconds"),
        (lambda r: r.update(format="mentor-match-simulation/0"), "format 'mentor-match-simulation/0'"),
        (lambda r: r.update(policies={}), r"policies \(empty"),
        (lambda r: r["policies"]["ranker"].pop("weeks"), r"policies.ranker.weeks \(missing\)"),
        (lambda r: r["ab"].pop("ab_difference"), r"ab.ab_difference \(missing\)"),
        (lambda r: r.update(notes="one note"), r"notes \(must be a list"),
    ],
)
def test_a_bad_result_is_refused_before_anything_is_written(result, tmp_path, change, message):
    change(result)
    with pytest.raises(InvalidParameterError, match=message):
        write_simulation(result, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(InvalidParameterError, match=message):
        validate_simulation(result)


def test_writing_twice_replaces_the_first_run_cleanly(tmp_path):
    first = make_result()
    write_simulation(first, tmp_path)
    second = make_result(policies=("ranker",))
    second["policies"]["ranker"]["total"]["successful_matches"] = {"mean": 999.5, "se": 1.5}
    for seed in second["policies"]["ranker"]["per_seed"]:
        seed.pop("requests_per_mentor")  # nothing for the Lorenz curve this time
    written = write_simulation(second, tmp_path)
    assert "lorenz" not in written and not (tmp_path / PLOT_FILES["lorenz"]).exists()
    assert {p.name for p in tmp_path.iterdir()} == {p.name for p in written.values()}
    page = written["md"].read_text()
    assert "999.5 ± 1.5" in page and "| random |" not in page and "444.0 ± 4.0" not in page
    assert load_simulation(tmp_path)["policies"].keys() == {"ranker"}


@pytest.mark.parametrize("breakage", ["unwritable value", "bad counts mid-write"])
def test_a_failing_write_leaves_the_previous_folder_as_it_was(tmp_path, breakage):
    write_simulation(make_result(), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    broken = make_result()
    if breakage == "unwritable value":
        broken["settings"]["db_url"] = object()
    else:  # passes validation, fails while the Lorenz curve is drawn in the staging folder
        broken["policies"]["random"]["per_seed"][0]["requests_per_mentor"] = [3, -1]
    with pytest.raises(InvalidParameterError):
        write_simulation(broken, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_loading_refuses_a_truncated_file_and_a_foreign_format(result, tmp_path):
    path = write_simulation(result, tmp_path)["json"]
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(InvalidParameterError, match="not valid JSON"):
        load_simulation(tmp_path)
    path.write_text(json.dumps(json_ready(result) | {"format": "other/2"}))
    with pytest.raises(InvalidParameterError, match="format 'other/2'"):
        load_simulation(path)


def _retraining() -> dict:
    stat = {"mean": 1.0, "se": None}
    return {"learn_from": "log", "debias": "unbiased", "label": "relevance", "every": 2, "margin": 0.01,
            "true_examination": [1.0, 0.5, 1 / 3],
            "policies": {"ranker": {"promoted": stat, "refused": {"mean": 0.0, "se": None},
                                    "skipped": {"mean": 0.0, "se": None},
                                    "learned_examination": [{"mean": 1.0, "se": None}, {"mean": 0.42, "se": None},
                                                            {"mean": 0.3, "se": None}]}}}


def test_a_result_from_before_retraining_and_the_off_policy_check_still_reads(result, tmp_path):
    assert "retraining" not in result and "off_policy" not in result
    write_simulation(result, tmp_path)
    assert "retraining" not in load_simulation(tmp_path)


def test_the_retraining_section_sets_the_learned_curve_beside_the_true_one(result, tmp_path):
    result["retraining"], result["off_policy"] = _retraining(), None
    page = write_simulation(result, tmp_path)["md"].read_text()
    assert "## Retraining" in page and "| ranker | 1.0 | 0.0 | 0.0 |" in page
    assert "| 2 | 0.500 | 0.420 |" in page
    assert load_simulation(tmp_path)["retraining"]["true_examination"][1] == 0.5


@pytest.mark.parametrize(("key", "value", "message"), [
    ("retraining", ["not", "a", "mapping"], r"retraining \(must be null or a mapping\)"),
    ("retraining", {"learn_from": "log"}, r"retraining.debias \(missing\)"),
    ("off_policy", {"logging": "ranker_explore", "target": "ranker"}, r"off_policy.summary \(missing\)"),
])
def test_a_misshapen_retraining_or_off_policy_block_is_refused(result, tmp_path, key, value, message):
    result[key] = value
    with pytest.raises(InvalidParameterError, match=message):
        write_simulation(result, tmp_path / "out")
    assert not (tmp_path / "out").exists()
