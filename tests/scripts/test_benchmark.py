"""scripts/benchmark.py and the eval.benchmark harness: the --quick run's JSON has every public
key, catalogues copy their sources, the config refuses bad values with one message shape.

Nothing here asserts a time: timings depend on the machine and its load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval.benchmark import (
    ENCODER_KEYS,
    FORMAT,
    REBUILD_KEYS,
    REFRESH_KEYS,
    SIZE_KEYS,
    BaseWorld,
    BenchmarkConfig,
    gain_lookup,
    make_catalogue,
    run_benchmark,
)
from mentor_match.errors import InvalidParameterError
from synthetic import generate_world, true_match_probability

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_writes_every_public_key(tmp_path, encoder):
    config = replace(BenchmarkConfig.quick(seed=3), sizes=(1000,), queries=8, batch_mentees=50)
    result = run_benchmark(config, tmp_path / "bench", encoder=encoder)

    written = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert written == json.loads(json.dumps(result))
    assert written["format"] == FORMAT == "mentor-match-benchmark/1"
    assert set(written) >= {"machine", "sizes", "encoder", "rebuild", "targets", "notes"}
    size = written["sizes"]["1000"]
    assert set(SIZE_KEYS) <= set(size), set(SIZE_KEYS) - set(size)
    assert set(ENCODER_KEYS) <= set(written["encoder"])
    assert set(REBUILD_KEYS) <= set(written["rebuild"])
    refresh = written["refresh"]
    assert set(REFRESH_KEYS) <= set(refresh) and refresh["mentors"] == 1000
    # Each repeat changed 1% (10) of the mentors and added 0.1% (1); the lists served from the
    # database per query equal those served from frames.
    assert [(r["changed"], r["added"], r["removed"]) for r in refresh["refreshes"]] == [(10, 1, 0)] * 3
    assert refresh["same_lists_frames_db"] == 1.0
    # Values that do not depend on the clock: quality, sizes, counts.
    assert size["index_spec"] == "Flat" and size["ann_recall@100"] == 1.0
    assert 0 < size["ndcg@10_two_stage"] <= 1 and 0 < size["ndcg@10_bruteforce"] <= 1
    low, high = size["ndcg@10_ratio_ci95"]
    assert low - 1e-3 <= size["ndcg@10_ratio"] <= high + 1e-3
    assert size["index_bytes"] > size["vectors_bytes"] == 1000 * 384 * 4
    assert size["rss_bytes"] > 0 and size["queries"] == 8 and size["bruteforce_queries"] == 8
    assert written["encoder"]["mean_cosine"] > 0.99  # the project's encoder vs plain ST
    # The precision the encoder chose is recorded with its reason, beside the check behind it.
    assert written["encoder"]["backend"] == f"torch-{encoder.precision}"
    assert written["encoder"]["precision_reason"] == encoder.precision_reason
    assert written["encoder"]["bfloat16_vs_float32"]["min_cosine"] >= 0.999
    assert written["rebuild"]["encoded_cold"] > written["rebuild"]["encoded_refresh"] > 0
    targets = {t["target"]: t["met"] for t in written["targets"]}
    assert len(targets) == 11
    overhead = refresh["log_overhead_ms_p50"]
    assert targets["Logging every list adds <= 0.3 ms to the recommend p50 (paired median, ms)"] is (overhead <= 0.3)
    assert refresh["p50_ms_log_on"] > 0 and refresh["p50_ms_log_off"] > 0
    assert targets["N=100,000: p50 known mentee <= 5 ms"] is None  # size not run
    table = (tmp_path / "bench" / "benchmark.md").read_text()
    assert "| 1,000 | Flat |" in table and "| target | measured | met |" in table
    assert "Live catalogue at 1,000 mentors" in table and "a paired median overhead of" in table
    assert f"Precision: {encoder.precision_reason}." in table


def test_catalogue_copies_profiles_truth_and_gains(tmp_path):
    world = generate_world(60, 30, 2, seed=5)
    mentees, mentors = world.with_truth()
    mentors = mentors[mentors["active"]].reset_index(drop=True)
    rng = np.random.default_rng(0)
    bios = rng.standard_normal((len(mentors), 384)).astype(np.float32)
    bios /= np.linalg.norm(bios, axis=1, keepdims=True)
    base = BaseWorld(mentors, mentees, bios, bios[:0], ranker=None, rebuild={})

    catalogue, vectors, source = make_catalogue(base, 500, 0.03, np.random.default_rng(1))

    assert catalogue["mentor_id"].tolist() == list(range(1, 501))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.einsum("ij,ij->i", vectors, bios[source])
    assert 0.8 < cosine.mean() < 0.95  # moved by the noise, still close to the source
    copied = mentors.iloc[source].reset_index(drop=True)
    for column in ("domains", "skills", "true_subspecialties", "latent", "experience_years"):
        assert catalogue[column].tolist() == copied[column].tolist()
    # A copy's ground-truth gain is its source's: the lookup equals the direct computation.
    wanted = mentees["mentee_id"].to_numpy()[:4]
    gains_of = gain_lookup(base, wanted, source)
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(wanted, 500), "mentor_id": np.tile(catalogue["mentor_id"], 4)
    })
    direct = true_match_probability(mentees, catalogue, pairs)["p_match"].to_numpy()
    looked_up = np.concatenate([gains_of(m, catalogue["mentor_id"].to_numpy()) for m in wanted])
    np.testing.assert_array_equal(looked_up, direct)


@pytest.mark.parametrize(
    "field, value", [("sizes", (50,)), ("queries", 0), ("noise", 1.5), ("base_mentors", True)]
)
def test_bad_config_names_the_parameter(field, value):
    with pytest.raises(InvalidParameterError, match=field):
        replace(BenchmarkConfig(), **{field: value}).checked()


def test_config_messages_follow_the_project_shape():
    with pytest.raises(InvalidParameterError) as error:
        replace(BenchmarkConfig(), queries=0).checked()
    assert str(error.value) == "The 'queries' parameter of the benchmark must be an int >= 1. Got 0."
    with pytest.raises(InvalidParameterError) as error:
        replace(BenchmarkConfig(), sizes=(10_000, 50)).checked()
    assert str(error.value) == (
        "The 'sizes' parameter of the benchmark must be catalogue sizes >= 100, e.g. "
        "10000,100000. Got [10000, 50]."
    )
    with pytest.raises(InvalidParameterError, match="sizes"):
        replace(BenchmarkConfig(), sizes=()).checked()
    assert replace(BenchmarkConfig(), sizes=[np.int64(2000)]).checked().sizes == (2000,)


def test_script_turns_bad_sizes_into_one_line_and_exit_1(tmp_path):
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--sizes", "10000,lots", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "benchmark: --sizes must be comma-separated catalogue sizes, e.g. 10000,100000. "
        "Got '10000,lots'."
    ]
    assert not (tmp_path / "benchmark.json").exists()
