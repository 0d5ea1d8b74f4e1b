"""The A/B analysis on hand-made logs: planted effects, SRM, references (scipy), data errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import bootstrap

from eval.ab import AB_REPORT_KEYS, analyze_experiment
from eval.ab.inference import SUM_COLUMNS, bootstrap_sums, metric_values, permutation_p_value
from eval.report.schema import json_ready
from mentor_match.errors import DataValidationError, InvalidParameterError

HALF = {"control": 0.5, "b": 0.5}
START = pd.Timestamp("2026-03-02 09:00")


def _comparison(report: dict, metric: str, variant: str = "b") -> dict:
    return next(c for c in report["comparisons"] if c["metric"] == metric and c["variant"] == variant)


def test_a_planted_lift_in_successes_is_detected_and_called_better(planted_experiment_builder):
    frames = planted_experiment_builder(3000, success_rate={"control": 0.30, "b": 0.45}, shares=HALF, seed=1)
    report = analyze_experiment(frames, HALF, control="control", n_boot=1000, seed=0)
    successes = _comparison(report, "successes_per_mentee")
    assert successes["ci_low"] > 0 and successes["p_value"] < 0.01 and successes["significant"]
    assert successes["lift_ci_low"] > 0
    assert report["verdict"] == {"b": "better"} and report["verdict_withheld"] == []
    # the success rate per accepted request was planted at +50%: the lift's interval holds it
    accepted = {arm: report["variants"][arm]["accepted"] for arm in HALF}
    planted = (0.45 * accepted["b"] / report["variants"]["b"]["mentees"]) / (
        0.30 * accepted["control"] / report["variants"]["control"]["mentees"]
    ) - 1
    assert successes["lift_ci_low"] < planted < successes["lift_ci_high"]


def test_a_planted_harm_is_called_worse(planted_experiment_builder):
    frames = planted_experiment_builder(3000, success_rate={"control": 0.45, "b": 0.30}, shares=HALF, seed=2)
    report = analyze_experiment(frames, HALF, control="control", n_boot=1000, seed=0)
    assert _comparison(report, "successes_per_mentee")["ci_high"] < 0
    assert report["verdict"] == {"b": "worse"}


def test_a_null_effect_is_not_called(planted_experiment_builder):
    frames = planted_experiment_builder(3000, success_rate={"control": 0.35, "b": 0.35}, shares=HALF, seed=3)
    report = analyze_experiment(frames, HALF, control="control", n_boot=1000, seed=0)
    for metric in ("requests_per_list", "acceptance_rate", "successes_per_mentee"):
        comparison = _comparison(report, metric)
        assert comparison["ci_low"] < 0 < comparison["ci_high"], metric
        assert comparison["p_value"] > 0.05 and not comparison["significant"]
    assert report["verdict"] == {"b": "no detectable difference"}


def test_arm_metrics_are_the_ratios_of_the_arms_event_counts(planted_experiment_builder):
    frames = planted_experiment_builder(400, success_rate={"control": 0.3, "b": 0.5}, shares=HALF, seed=4)
    report = analyze_experiment(frames, HALF, control="control", n_boot=200, seed=0)
    arm_of_list = frames.lists.set_index("list_id")["variant"]
    events = frames.events.assign(variant=frames.events["list_id"].map(arm_of_list))
    for arm in HALF:
        mine = events[events["variant"] == arm]
        requested = int((mine["kind"] == "requested").sum())
        accepted = int((mine["kind"] == "accepted").sum())
        successes = int(((mine["kind"] == "ended") & mine["success"].fillna(False)).sum())
        lists = int((frames.lists["variant"] == arm).sum())
        mentees = frames.lists.loc[frames.lists["variant"] == arm, "mentee_id"].nunique()
        entry = report["variants"][arm]
        assert (entry["lists"], entry["mentees"], entry["requests"]) == (lists, mentees, requested)
        assert entry["requests_per_list"] == pytest.approx(requested / lists)
        assert entry["acceptance_rate"] == pytest.approx(accepted / requested)
        assert entry["successes_per_mentee"] == pytest.approx(successes / mentees)
        low, high = entry["successes_per_mentee_ci"]
        assert low < entry["successes_per_mentee"] < high


@pytest.mark.parametrize(("split", "passes"), [((0.45, 0.55), False), ((0.5, 0.5), True)])
def test_a_planted_45_55_split_trips_the_srm_check_and_withholds_the_verdict(
    planted_experiment_builder, split, passes
):
    frames = planted_experiment_builder(
        10_000, success_rate={"control": 0.3, "b": 0.45}, shares=dict(zip(HALF, split, strict=True)),
        seed=5, request_rate=0.3, exact_split=True,
    )
    report = analyze_experiment(frames, HALF, control="control", n_boot=200, seed=0)
    assert report["srm"]["observed"] == {"control": round(split[0] * 10_000), "b": round(split[1] * 10_000)}
    assert report["srm"]["passed"] is passes
    if passes:
        assert report["srm"]["p_value"] > 0.5 and report["verdict"] is not None
    else:
        assert report["srm"]["p_value"] < 1e-6
        assert report["verdict"] is None
        assert len(report["verdict_withheld"]) == 1
        assert "Sample-ratio mismatch" in report["verdict_withheld"][0]
        assert "control 4,500, b 5,500" in report["verdict_withheld"][0]


def test_the_interval_of_a_mean_metric_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(0)
    control = rng.poisson(0.4, 600).astype(float)
    variant = rng.poisson(0.5, 500).astype(float)

    def rows(successes: np.ndarray) -> np.ndarray:
        ones = np.ones_like(successes)
        return np.column_stack([ones, ones, ones, ones, successes])  # SUM_COLUMNS order

    n_boot = 5000
    mine_control = metric_values(bootstrap_sums(rows(control), n_boot=n_boot, seed=1), "successes_per_mentee")
    mine_variant = metric_values(bootstrap_sums(rows(variant), n_boot=n_boot, seed=2), "successes_per_mentee")
    mine = np.quantile(mine_variant - mine_control, [0.025, 0.975])
    reference = bootstrap(
        (variant, control), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis),
        method="percentile", n_resamples=n_boot, rng=np.random.default_rng(3),
    ).confidence_interval
    width = reference.high - reference.low
    assert mine[0] == pytest.approx(reference.low, abs=0.05 * width)
    assert mine[1] == pytest.approx(reference.high, abs=0.05 * width)


def test_the_interval_of_a_ratio_metric_agrees_with_scipy_bootstrap_over_mentees():
    rng = np.random.default_rng(1)

    def arm(n: int, accept: float) -> np.ndarray:
        requests = rng.poisson(1.5, n).astype(float)
        accepted = rng.binomial(requests.astype(int), accept).astype(float)
        return np.column_stack([np.ones(n), np.ones(n), requests, accepted, np.zeros(n)])

    control, variant = arm(500, 0.5), arm(450, 0.6)
    pooled = np.concatenate([variant, control])
    acceptance = SUM_COLUMNS.index("accepted"), SUM_COLUMNS.index("requests")

    def difference(x, y, axis):  # x, y: positions of mentees in ``pooled``
        sx, sy = pooled[x.astype(int)].sum(axis=-2), pooled[y.astype(int)].sum(axis=-2)
        return sx[..., acceptance[0]] / sx[..., acceptance[1]] - sy[..., acceptance[0]] / sy[..., acceptance[1]]

    reference = bootstrap(
        (np.arange(len(variant), dtype=float), np.arange(len(variant), len(pooled), dtype=float)),
        difference, method="percentile", n_resamples=4000, rng=np.random.default_rng(2),
    ).confidence_interval
    n_boot = 4000
    mine = np.quantile(
        metric_values(bootstrap_sums(variant, n_boot=n_boot, seed=3), "acceptance_rate")
        - metric_values(bootstrap_sums(control, n_boot=n_boot, seed=4), "acceptance_rate"),
        [0.025, 0.975],
    )
    width = reference.high - reference.low
    assert mine[0] == pytest.approx(reference.low, abs=0.05 * width)
    assert mine[1] == pytest.approx(reference.high, abs=0.05 * width)


def test_the_permutation_p_value_equals_the_exact_enumeration_of_splits():
    # per mentee: mentees, lists, requests, accepted, successes
    variant = np.array([[1, 1, 2, 1, 1], [1, 2, 3, 2, 2], [1, 1, 1, 1, 1], [1, 1, 2, 0, 0]], dtype=float)
    control = np.array([[1, 1, 2, 0, 0], [1, 1, 1, 0, 0], [1, 2, 3, 1, 1], [1, 1, 2, 1, 0]], dtype=float)
    pooled = np.concatenate([variant, control])
    for metric in ("acceptance_rate", "successes_per_mentee", "requests_per_list"):
        observed = metric_values(variant.sum(0), metric) - metric_values(control.sum(0), metric)
        null = []
        for chosen in itertools.combinations(range(8), 4):
            rest = [i for i in range(8) if i not in chosen]
            null.append(metric_values(pooled[list(chosen)].sum(0), metric) - metric_values(pooled[rest].sum(0), metric))
        null = np.array(null)
        tolerance = 1e-14 * max(1.0, abs(observed))  # scipy's tie tolerance
        greater = np.mean(null >= observed - tolerance)
        less = np.mean(null <= observed + tolerance)
        exact = min(1.0, 2 * min(greater, less))
        # more resamples than the 70 distinct splits: scipy enumerates them all
        assert permutation_p_value(variant, control, metric, n_resamples=1000, seed=0) == pytest.approx(exact)


def test_the_shared_mentor_share_on_a_hand_made_log(log_frames_builder):
    lists = [
        {"list_id": "l1", "mentee_id": 1, "variant": "control"},
        {"list_id": "l2", "mentee_id": 2, "variant": "control"},
        {"list_id": "l3", "mentee_id": 3, "variant": "b"},
    ]
    events = [
        {"event_id": "e1", "list_id": "l1", "mentee_id": 1, "mentor_id": 10, "kind": "requested"},
        {"event_id": "e2", "list_id": "l2", "mentee_id": 2, "mentor_id": 11, "kind": "requested"},
        {"event_id": "e3", "list_id": "l3", "mentee_id": 3, "mentor_id": 10, "kind": "requested"},
        {"event_id": "e4", "list_id": "l3", "mentee_id": 3, "mentor_id": 12, "kind": "requested"},
        {"event_id": "e5", "list_id": "l1", "mentee_id": 1, "mentor_id": 10, "kind": "accepted"},
    ]
    report = analyze_experiment(log_frames_builder(lists, events), HALF, control="control", n_boot=100)
    # mentor 10 is requested from both arms: 2 of the 4 requests went to them
    assert report["interference"] == {
        "requests": 4, "mentors_requested": 3, "shared_mentors": 1, "shared_request_share": 0.5,
        "by_variant": {"b": 0.5},
    }
    assert any("50.0% of the requests" in note for note in report["notes"])


def test_a_mentee_served_from_two_arms_is_reported_left_out_and_withholds_the_verdict(
    planted_experiment_builder, log_frames_builder
):
    frames = planted_experiment_builder(400, success_rate={"control": 0.3, "b": 0.3}, shares=HALF, seed=6)
    mentee = int(frames.lists["mentee_id"].iloc[0])
    arm = frames.lists["variant"].iloc[0]
    other = "b" if arm == "control" else "control"
    extra = frames.lists.iloc[[0]].assign(list_id="f" * 32, variant=other)
    frames = frames._replace(lists=pd.concat([frames.lists, extra], ignore_index=True))
    report = analyze_experiment(frames, HALF, control="control", n_boot=200)
    assert report["data"]["mentees_in_several_arms"] == 1
    assert report["data"]["mentees_in_several_arms_examples"] == [mentee]
    assert report["data"]["mentees"] == 399
    assert sum(report["variants"][v]["mentees"] for v in HALF) == 399
    assert report["verdict"] is None
    assert "served from more than one arm (e.g. mentee" in report["verdict_withheld"][0]


def test_list_less_outcomes_count_for_the_mentees_arm_from_their_first_list_on(log_frames_builder):
    lists = [
        {"list_id": "l1", "mentee_id": 1, "variant": "control", "created_at": START},
        {"list_id": "l2", "mentee_id": 2, "variant": "b", "created_at": START},
    ]
    before, after = START - pd.Timedelta(days=1), START + pd.Timedelta(days=1)
    events = [
        {"event_id": "a", "list_id": None, "mentee_id": 2, "mentor_id": 5, "kind": "ended",
         "success": True, "occurred_at": before},
        {"event_id": "b", "list_id": None, "mentee_id": 2, "mentor_id": 6, "kind": "ended",
         "success": True, "occurred_at": after},
        {"event_id": "c", "list_id": "l2", "mentee_id": 2, "mentor_id": 6, "kind": "requested",
         "occurred_at": START + pd.Timedelta(hours=1)},
    ]
    report = analyze_experiment(log_frames_builder(lists, events), HALF, control="control", n_boot=100)
    assert report["variants"]["b"]["successes"] == 1 and report["variants"]["b"]["requests"] == 1
    assert report["variants"]["control"]["successes"] == 0
    assert report["data"]["events_before_exposure"] == 1 and report["data"]["events_counted"] == 2


def test_the_report_is_strict_json_and_reproducible_with_its_seed(planted_experiment_builder):
    frames = planted_experiment_builder(300, success_rate={"control": 0.3, "b": 0.4}, shares=HALF, seed=7)
    first = analyze_experiment(frames, HALF, control="control", n_boot=300, seed=11)
    again = analyze_experiment(frames, HALF, control="control", n_boot=300, seed=11)
    other = analyze_experiment(frames, HALF, control="control", n_boot=300, seed=12)
    assert tuple(first) == AB_REPORT_KEYS
    text = json.dumps(json_ready(first), allow_nan=False)
    assert json.loads(text)["variants"]["b"]["mentees"] == first["variants"]["b"]["mentees"]
    strip = lambda report: {k: v for k, v in json_ready(report).items() if k != "generated_at"}  # noqa: E731
    assert strip(first) == strip(again)
    assert strip(first)["comparisons"] != strip(other)["comparisons"]


def test_three_arms_compare_each_variant_with_control(planted_experiment_builder):
    shares = {"control": 0.5, "b": 0.25, "c": 0.25}
    frames = planted_experiment_builder(
        3000, success_rate={"control": 0.3, "b": 0.3, "c": 0.5}, shares=shares, seed=8
    )
    report = analyze_experiment(frames, shares, control="control", n_boot=500)
    assert [(c["variant"], c["metric"]) for c in report["comparisons"]] == [
        (v, m) for v in ("b", "c") for m in ("requests_per_list", "acceptance_rate", "successes_per_mentee")
    ]
    assert report["verdict"] == {"b": "no detectable difference", "c": "better"}
    assert set(report["interference"]["by_variant"]) == {"b", "c"}


@pytest.mark.parametrize(
    ("shares", "control", "error", "message"),
    [
        ({"control": 0.9, "b": 0.2}, "control", InvalidParameterError, "must sum to 1. Got 1.1"),
        ({"control": 1.0}, "control", InvalidParameterError, "at least two variant names"),
        ({"control": 0.5, "b": 0.5}, "a", InvalidParameterError, "'control' parameter .* Got 'a'"),
        ({"control": 0.5, "c": 0.5}, "control", DataValidationError, r"variant\(s\) 'b' \(\d+ lists\)"),
    ],
)
def test_bad_shares_or_control_are_clear_errors(planted_experiment_builder, shares, control, error, message):
    frames = planted_experiment_builder(50, success_rate={"control": 0.3, "b": 0.3}, shares=HALF, seed=9)
    with pytest.raises(error, match=message):
        analyze_experiment(frames, shares, control=control, n_boot=100)


def test_lists_of_two_experiments_are_refused(log_frames_builder):
    lists = [
        {"list_id": "l1", "mentee_id": 1, "variant": "control", "experiment": "one"},
        {"list_id": "l2", "mentee_id": 2, "variant": "b", "experiment": "two"},
    ]
    with pytest.raises(InvalidParameterError, match=r"2 experiment\(s\) \('one', 'two'\).*load_log"):
        analyze_experiment(log_frames_builder(lists, []), HALF, control="control", n_boot=100)
