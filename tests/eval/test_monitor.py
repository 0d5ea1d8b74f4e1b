"""Monitoring's parts on planted data: PSI against a computation by hand, the statuses, the
acceptance alert, drift against a sample with a known shift, the training snapshot's folder,
and the report's pages and atomic writing. The end-to-end runs on a served world are in
tests/scripts/test_monitor_script.py."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sqlalchemy import create_engine

from db.loading import create_schema
from eval.monitor import (
    MONITOR_KEYS,
    monitor_report,
    population_stability,
    psi,
    psi_status,
    run_monitor,
)
from eval.monitor.psi import EPSILON, bin_shares, quantile_edges
from eval.monitor.report import acceptance_check, drift_check
from eval.monitor.writing import write_monitor
from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.features import FEATURES
from ranking.snapshot import TrainingSample, load_training_sample, save_training_sample


def psi_by_hand(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """The textbook PSI with plain loops: decile edges of the reference (values of it), the
    outer bins open, epsilon for an empty bin."""
    ordered = np.sort(reference)
    edges = []
    for i in range(1, bins):
        edge = ordered[math.ceil(len(ordered) * i / bins) - 1]  # the inverted-CDF quantile
        if not edges or edge != edges[-1]:
            edges.append(edge)

    def shares(values):
        counts = [0] * (len(edges) + 1)
        for value in values:
            counts[sum(value >= edge for edge in edges)] += 1
        return [c / len(values) if c else EPSILON for c in counts]

    expected, actual = shares(reference), shares(current)
    return sum((a - e) * math.log(a / e) for a, e in zip(actual, expected, strict=True))


def test_identical_samples_have_psi_zero():
    values = np.random.default_rng(0).normal(size=5000)
    assert psi(values, values) == 0.0
    assert psi(values, values.copy()[::-1]) == 0.0


def test_psi_equals_the_computation_by_hand_on_planted_distributions():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=4000)
    for current in (rng.normal(size=3000), rng.normal(0.5, 1.0, size=3000), rng.exponential(size=3000),
                    rng.integers(0, 3, size=3000).astype(float)):
        assert psi(reference, current) == pytest.approx(psi_by_hand(reference, current), rel=1e-12, abs=1e-15)
    flags, later = (rng.random(4000) < 0.3).astype(float), (rng.random(3000) < 0.6).astype(float)
    assert quantile_edges(flags).tolist() == [0.0, 1.0]  # a 0/1 flag: one bin per value
    assert psi(flags, later) == pytest.approx(psi_by_hand(flags, later), rel=1e-12)
    assert psi(flags, later) > 0.25


def test_a_shifted_normal_gives_the_known_decile_psi():
    # With decile bins of N(0, 1) the shares of N(1, 1) are known exactly; large samples approach it.
    edges = norm.ppf(np.arange(1, 10) / 10)
    actual = np.diff(np.concatenate([[0.0], norm.cdf(edges - 1.0), [1.0]]))
    known = float(np.sum((actual - 0.1) * np.log(actual / 0.1)))
    rng = np.random.default_rng(2)
    measured = psi(rng.normal(size=200_000), rng.normal(1.0, 1.0, size=200_000))
    assert known == pytest.approx(0.926, abs=0.001)
    assert measured == pytest.approx(known, abs=0.02)
    assert psi_status(measured, 200_000) == "alert"


def test_the_formula_is_symmetric_in_the_two_shares():
    rng = np.random.default_rng(3)
    reference, current = rng.normal(size=3000), rng.normal(0.7, 1.3, size=3000)
    edges = quantile_edges(reference)
    e, a = bin_shares(reference, edges), bin_shares(current, edges)
    forward = np.sum((a - e) * np.log(a / e))
    backward = np.sum((e - a) * np.log(e / a))
    assert forward == pytest.approx(backward) == pytest.approx(psi(reference, current))
    assert forward > 0


def test_values_beyond_the_reference_land_in_the_open_outer_bins():
    reference = np.arange(1000.0)
    edges = quantile_edges(reference)
    shares = bin_shares(np.array([-1e9, 1e9, 1e9, 500.0]), edges)
    assert shares[0] == 0.25 and shares[-1] == 0.5 and shares.sum() == pytest.approx(1.0)
    # Everything above the reference: the top bin holds it all, the empty ones take epsilon.
    # The deciles of 0..999 are 99, 199, ..., 899: the reference's shares are 0.099, 0.1 x 8, 0.101.
    assert edges.tolist() == [99.0 + 100 * i for i in range(9)]
    value = psi(reference, np.full(1000, 5000.0))
    expected = ((EPSILON - 0.099) * math.log(EPSILON / 0.099) + 8 * (EPSILON - 0.1) * math.log(EPSILON / 0.1)
                + (1 - 0.101) * math.log(1 / 0.101))
    assert value == pytest.approx(expected)


def test_a_window_of_500_rows_never_alerts_however_far_it_moved():
    rng = np.random.default_rng(4)
    reference = rng.normal(size=5000)
    for shift in (0.0, 1.0, 10.0):
        result = population_stability(reference, rng.normal(shift, 1.0, size=500))
        assert result.status == "too_few_rows" and result.current_rows == 500
    assert population_stability(reference, rng.normal(10.0, 1.0, size=1000)).status == "alert"
    assert psi_status(0.12, 1000) == "warn" and psi_status(0.099, 1000) == "ok" and psi_status(0.25, 1000) == "alert"


def test_missing_values_are_left_out_and_infinite_ones_refused():
    rng = np.random.default_rng(5)
    reference = rng.normal(size=2000)
    current = np.concatenate([rng.normal(size=1000), np.full(300, np.nan)])
    assert population_stability(reference, current).current_rows == 1000
    with pytest.raises(InvalidParameterError, match="infinite"):
        psi(reference, np.array([np.inf, 1.0]))
    assert population_stability(reference, np.empty(0)).psi is None


def test_acceptance_falls_beyond_the_ratio_alert_and_small_periods_do_not():
    before = {"requested": 200, "acceptance_rate": 0.5}
    assert acceptance_check({"requested": 200, "acceptance_rate": 0.41}, before)["status"] == "ok"
    assert acceptance_check({"requested": 200, "acceptance_rate": 0.40}, before)["status"] == "ok"  # exactly 20%
    assert acceptance_check({"requested": 200, "acceptance_rate": 0.39}, before)["status"] == "alert"
    assert acceptance_check({"requested": 200, "acceptance_rate": 0.39}, before, 0.3)["status"] == "ok"
    assert acceptance_check({"requested": 10, "acceptance_rate": 0.0}, before)["status"] == "too_few_requests"
    assert acceptance_check(None, before)["status"] == "too_few_requests"


def _sample(rng, rows: int, shift: float = 0.0) -> TrainingSample:
    features = pd.DataFrame({name: rng.normal(size=rows) for name in FEATURES})
    features["mentor_rating"] += shift
    return TrainingSample(features, rng.normal(size=rows), rows)


def test_drift_against_a_sample_with_a_known_shift_names_the_feature():
    rng = np.random.default_rng(6)
    reference = _sample(rng, 5000)
    entry = drift_check(reference, _sample(rng, 2000, shift=1.5))
    assert entry["status"] == "alert" and entry["features"]["mentor_rating"]["status"] == "alert"
    assert all(v["status"] == "ok" for k, v in entry["features"].items() if k != "mentor_rating")
    assert drift_check(reference, _sample(rng, 2000))["status"] == "ok"
    assert drift_check(reference, _sample(rng, 500, shift=1.5))["status"] == "too_few_rows"


def test_the_training_snapshot_reads_back_and_refuses_an_edited_file(tmp_path):
    rng = np.random.default_rng(7)
    sample = _sample(rng, 50)
    save_training_sample(tmp_path / "ranker" / "training_sample", sample)
    read = load_training_sample(tmp_path / "ranker")
    pd.testing.assert_frame_equal(read.features, sample.features)
    np.testing.assert_array_equal(read.scores, sample.scores)
    manifest = json.loads((tmp_path / "ranker" / "training_sample" / "manifest.json").read_text())
    assert manifest["columns"] == list(FEATURES) and manifest["rows"] == 50
    np.save(tmp_path / "ranker" / "training_sample" / "scores.npy", np.zeros(50))
    with pytest.raises(ArtifactError, match="scores.npy .* does not match its checksum"):
        load_training_sample(tmp_path / "ranker")
    with pytest.raises(ArtifactError, match="Retrain with scripts/train.py"):
        load_training_sample(tmp_path / "elsewhere")


def test_an_empty_log_gives_a_quiet_report_whose_pages_are_written_atomically(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'mm.db'}"
    create_schema(create_engine(db_url))
    report, written = run_monitor(
        db_url, tmp_path / "artifacts", since=datetime(2026, 3, 1), until=datetime(2026, 3, 8), out_dir=tmp_path / "out"
    )
    assert set(report) == set(MONITOR_KEYS) and report["status"] == "ok" and report["alerts"] == []
    assert report["previous_window"] == {"since": "2026-02-22T00:00:00", "until": "2026-03-01T00:00:00"}
    assert sorted(path.name for path in written.values()) == ["monitor.html", "monitor.json", "monitor.md"]
    assert json.loads(written["json"].read_text()) == json.loads(json.dumps(report))
    assert "No alert." in written["md"].read_text()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []  # no staging left
    # A report JSON cannot hold changes nothing on disk.
    before = written["json"].read_text()
    with pytest.raises(InvalidParameterError, match="JSON cannot write"):
        write_monitor({**report, "alerts": [object()]}, tmp_path / "out")
    assert written["json"].read_text() == before


def test_the_window_must_end_after_it_starts():
    frames = None
    with pytest.raises(InvalidParameterError, match="must end after it starts"):
        monitor_report(frames, {}, since=datetime(2026, 3, 8), until=datetime(2026, 3, 1))
    with pytest.raises(InvalidParameterError, match="drift_reference"):
        monitor_report(frames, {}, since=datetime(2026, 3, 1), until=datetime(2026, 3, 8), drift_reference="last")
