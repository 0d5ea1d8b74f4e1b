"""Index folders: round trip, refusal of damaged or foreign folders, atomic publishing."""

from __future__ import annotations

import json
import os
import time

import faiss
import numpy as np
import pytest

from index import MentorIndex, publish_index, read_manifest
from mentor_match.artifacts import STALE_TMP_SECONDS
from mentor_match.errors import ArtifactError


def unit_vectors(n: int, seed: int, dim: int = 384) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_index(n: int = 300, seed: int = 0, spec: str = "HNSW32") -> MentorIndex:
    ids = np.arange(n, dtype=np.int64) * 3 + 11
    return MentorIndex.build(
        ids,
        unit_vectors(n, seed),
        spec,
        encoder_identity="all-MiniLM-L6-v2@test",
        fingerprint={"rows": n, "newest_update": None, "sha256": "x" * 64},
        content_hashes=ids * 17,
    )


@pytest.fixture()
def saved(tmp_path):
    index = make_index()
    index.save(tmp_path / "index")
    return index, tmp_path / "index"


def test_save_load_round_trips_ids_vectors_and_results(saved):
    index, folder = saved
    loaded = MentorIndex.load(folder, expected_encoder="all-MiniLM-L6-v2@test", expected_dim=384)
    np.testing.assert_array_equal(loaded.ids, index.ids)
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    np.testing.assert_array_equal(loaded.content_hashes, index.content_hashes)
    queries = unit_vectors(5, 9)
    got = loaded.search(queries, 20, exclude=[index.ids[:50]] * len(queries))
    want = index.search(queries, 20, exclude=[index.ids[:50]] * len(queries))
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.scores, want.scores)
    manifest = loaded.manifest
    assert manifest["spec"] == "HNSW32" and manifest["search_params"]["efSearch"] >= 128
    assert (manifest["encoder"], manifest["dim"], manifest["count"]) == (
        "all-MiniLM-L6-v2@test", 384, 300)
    assert manifest["fingerprint"]["rows"] == 300 and "faiss" in manifest["versions"]
    assert set(manifest["files"]) == {"index.faiss", "ids.npy", "vectors.npy", "content.npy"}


def test_truncated_index_file_is_refused(saved):
    _, folder = saved
    data = (folder / "index.faiss").read_bytes()
    (folder / "index.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"index.faiss .* truncated.*build_index.py"):
        MentorIndex.load(folder)


def test_changed_bytes_fail_the_checksum(saved):
    _, folder = saved
    data = bytearray((folder / "vectors.npy").read_bytes())
    data[-1] ^= 0xFF
    (folder / "vectors.npy").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="vectors.npy .* checksum"):
        MentorIndex.load(folder)


@pytest.mark.parametrize("edit", ["count", "encoder", "garbage"])
def test_edited_manifest_is_refused(saved, edit):
    _, folder = saved
    path = folder / "manifest.json"
    if edit == "garbage":
        path.write_text(path.read_text()[:40])
        match = "truncated or was edited"
    else:
        manifest = json.loads(path.read_text())
        manifest[edit] = 299 if edit == "count" else "another-model@1"
        path.write_text(json.dumps(manifest))
        match = "edited after the build"
    with pytest.raises(ArtifactError, match=match):
        MentorIndex.load(folder)


def test_missing_folder_or_file_is_refused(saved, tmp_path):
    _, folder = saved
    with pytest.raises(ArtifactError, match="No index at .*build_index.py"):
        MentorIndex.load(tmp_path / "nowhere")
    (folder / "ids.npy").unlink()
    with pytest.raises(ArtifactError, match="missing ids.npy"):
        MentorIndex.load(folder)


def test_another_encoder_or_dimension_is_refused(saved):
    _, folder = saved

    class OtherEncoder:
        identity = "paraphrase-mpnet@abc"

    with pytest.raises(ArtifactError, match="built with encoder .*paraphrase-mpnet@abc"):
        MentorIndex.load(folder, expected_encoder=OtherEncoder())
    with pytest.raises(ArtifactError, match="384-d vectors, but the encoder makes 768-d"):
        MentorIndex.load(folder, expected_dim=768)


def test_publish_swaps_in_the_new_index_and_keeps_one_previous(tmp_path):
    artifacts = tmp_path / "artifacts"
    for seed in range(3):
        path = publish_index(make_index(n=100 + seed, seed=seed), artifacts)
        assert MentorIndex.load(path).manifest["count"] == 100 + seed
    versions = [p for p in artifacts.iterdir() if p.name.startswith(".index-") and p.is_dir()]
    assert len(versions) == 2  # the live one and the one before it
    assert not list(artifacts.glob(".index-tmp-*"))


def test_an_exception_mid_build_leaves_the_last_good_index(tmp_path, monkeypatch):
    artifacts = tmp_path / "artifacts"
    publish_index(make_index(n=120), artifacts)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full while writing the FAISS index")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        publish_index(make_index(n=150, seed=1), artifacts)
    monkeypatch.undo()
    assert MentorIndex.load(artifacts / "index").manifest["count"] == 120
    assert not list(artifacts.glob(".index-tmp-*"))


def test_a_plain_index_folder_is_replaced_and_unwritable_targets_fail_cleanly(tmp_path):
    artifacts = tmp_path / "artifacts"
    make_index(n=50).save(artifacts / "index")  # e.g. copied by hand
    publish_index(make_index(n=60), artifacts)
    assert read_manifest(artifacts / "index")["count"] == 60
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ArtifactError, match="Cannot write to the artifacts folder"):
        publish_index(make_index(n=10), blocker / "artifacts")


def test_stale_temporary_folders_of_killed_builds_are_removed(tmp_path):
    artifacts = tmp_path / "artifacts"
    killed, running = artifacts / ".index-tmp-killed", artifacts / ".index-tmp-running"
    killed.mkdir(parents=True)
    running.mkdir()
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(killed, (old, old))  # left by a build killed over an hour ago
    publish_index(make_index(n=20), artifacts)
    assert not killed.exists() and running.exists()  # a younger one may be a build in progress
