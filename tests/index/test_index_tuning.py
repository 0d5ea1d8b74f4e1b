"""Build-time checks: recall tuning of approximate indexes and self-retrieval."""

from __future__ import annotations

import numpy as np

from index import MentorIndex
from index import spec as spec_module
from index.build import (
    DEPTH_RECALL_TARGET,
    RECALL_TARGET,
    search_recall,
    self_retrieval,
    tune_for_recall,
)


def unit_vectors(n: int, seed: int, dim: int = 384) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def hnsw(n: int = 4000, ef: int = 16) -> MentorIndex:
    return MentorIndex.build(
        np.arange(n), unit_vectors(n, 0), "HNSW32", encoder_identity="t", params={"efSearch": ef}
    )


def test_tuning_raises_ef_search_until_recall_reaches_the_target():
    index = hnsw()
    queries = unit_vectors(100, 1)
    assert search_recall(index, queries) < RECALL_TARGET  # efSearch 16 is not enough here
    tuned, recall = tune_for_recall(index, queries, auto=False)
    assert recall >= RECALL_TARGET and tuned.search_params["efSearch"] > 16
    assert tuned.manifest["recall_at_100"] == recall
    assert index.search_params["efSearch"] == 16  # the original is untouched


def test_auto_falls_back_to_flat_when_recall_cannot_be_reached(monkeypatch):
    monkeypatch.setattr(spec_module, "HNSW_EF_SEARCH_MAX", 16)
    queries = unit_vectors(50, 2)
    kept, recall = tune_for_recall(hnsw(), queries, auto=False)
    assert kept.spec == "HNSW32" and recall < RECALL_TARGET
    flat, recall = tune_for_recall(hnsw(), queries, auto=True)
    assert flat.spec == "Flat" and recall is None
    assert search_recall(flat, queries) == 1.0


def test_ivf_tuning_keeps_the_smallest_nprobe_that_reaches_the_target():
    # Clustered vectors, as in a catalogue where many mentors share a specialty.
    centres = unit_vectors(64, 4)
    rng = np.random.default_rng(5)
    vectors = centres[rng.integers(0, 64, 6000)] + 0.03 * rng.standard_normal((6000, 384))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    index = MentorIndex.build(np.arange(6000), vectors, "IVF256,Flat", encoder_identity="t",
                              params={"nprobe": 256})
    queries = vectors[:100] + 0.01
    tuned, recall = tune_for_recall(index, queries, auto=True)
    nprobe = tuned.search_params["nprobe"]
    assert tuned.spec == "IVF256,Flat" and recall >= RECALL_TARGET and nprobe < 256
    depth = spec_module.DEFAULT_POOL  # the depth a query reads
    assert search_recall(tuned, queries, depth) >= DEPTH_RECALL_TARGET
    assert tuned.manifest[f"recall_at_{depth}"] >= DEPTH_RECALL_TARGET
    if nprobe > 256 // spec_module.IVF_NPROBE_TUNE_FROM:  # the next smaller setting fell short
        smaller = tuned.with_search_params(nprobe=nprobe // 2)
        assert (search_recall(smaller, queries) < RECALL_TARGET
                or search_recall(smaller, queries, depth) < DEPTH_RECALL_TARGET)


def test_self_retrieval_counts_identical_twins_as_found():
    vectors = np.repeat(unit_vectors(20, 3), 15, axis=0)  # every bio 15 times
    index = MentorIndex.build(np.arange(300), vectors, "Flat", encoder_identity="t")
    assert self_retrieval(index) == 1.0
