"""The persistent embedding cache: reuse, order, interrupted writes, deletion, speed."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from embeddings import CachedEncoder, EmbeddingCache, text_keys
from embeddings import cache as cache_module
from mentor_match.errors import InvalidParameterError

TEXTS = ["backend engineering in Go", "UX research for healthcare", "ML for search ranking"]


class HashVectors:
    """A deterministic text -> unit vector map for tests of cache logic at a scale
    (100k texts) that the real model cannot encode in a test run; meaning plays no part."""

    identity = "hash-vectors@test"
    dim = 8

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, *, progress=None):
        self.calls += 1
        raw = np.array(
            [np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], np.uint16) for t in texts],
            dtype=np.float32,
        ).reshape(len(texts), self.dim) + 1.0
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)


def test_second_call_encodes_nothing_and_returns_the_same_vectors(encoder, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    first = cache.get_or_encode(encoder, TEXTS)
    assert (first.encoded, first.cached) == (3, 0)
    np.testing.assert_allclose(first.vectors, encoder.encode(TEXTS), atol=1e-6)
    again = EmbeddingCache(tmp_path / "cache").get_or_encode(encoder, TEXTS[::-1])  # a new process
    assert (again.encoded, again.cached) == (0, 3)
    np.testing.assert_array_equal(again.vectors, first.vectors[::-1])


def test_only_new_texts_are_encoded_and_duplicates_once(encoder, tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_encode(encoder, TEXTS[:2])
    result = cache.get_or_encode(encoder, [TEXTS[2], TEXTS[0], TEXTS[2], ""])
    assert (result.encoded, result.cached) == (2, 2)  # TEXTS[2] and "" are new
    np.testing.assert_array_equal(result.vectors[0], result.vectors[2])
    assert not result.vectors[3].any()  # empty text: the zero vector, as the encoder gives
    assert cache.get_or_encode(encoder, []).vectors.shape == (0, 384)


def test_keys_depend_on_encoder_identity_and_text():
    a, b = text_keys("model-a", ["x", "y"])
    assert a != b and text_keys("model-b", ["x"])[0] != a
    assert a == hashlib.sha256(b"model-a\0x").digest()
    assert text_keys("m", [None])[0] == text_keys("m", [""])[0]  # missing text is empty text
    with pytest.raises(InvalidParameterError, match="item 0 is int"):
        text_keys("m", [42])


def test_interrupted_and_corrupt_writes_are_ignored(encoder, tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.get_or_encode(encoder, TEXTS[:1])
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (folder / ".tmp-crashed.npz").write_bytes(b"PK\x03\x04 half a shard")
    (folder / "shard-truncated.npz").write_bytes(b"PK\x03\x04 not really a zip")
    result = EmbeddingCache(tmp_path).get_or_encode(encoder, TEXTS)
    assert (result.encoded, result.cached) == (2, 1)
    np.testing.assert_allclose(result.vectors, encoder.encode(TEXTS), atol=1e-6)


def test_a_write_that_fails_midway_leaves_no_shard(encoder, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.np, "savez", disk_full)
    with pytest.raises(OSError):
        EmbeddingCache(tmp_path).get_or_encode(encoder, TEXTS)
    monkeypatch.undo()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert EmbeddingCache(tmp_path).get_or_encode(encoder, TEXTS).encoded == 3


def test_deleting_the_cache_only_costs_re_encoding(encoder, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    first = cache.get_or_encode(encoder, TEXTS)
    shutil.rmtree(tmp_path / "cache")
    again = EmbeddingCache(tmp_path / "cache").get_or_encode(encoder, TEXTS)
    assert again.encoded == 3
    np.testing.assert_allclose(again.vectors, first.vectors, atol=1e-6)


def test_cached_encoder_counts_and_exposes_the_encoder(encoder, tmp_path):
    cached = CachedEncoder(encoder, EmbeddingCache(tmp_path))
    assert (cached.identity, cached.dim) == (encoder.identity, 384)
    cached.encode(TEXTS)
    vectors = cached.encode(TEXTS[:2])
    assert (cached.encoded, cached.cached) == (3, 2)
    assert vectors.shape == (2, 384)


def test_many_shards_are_compacted_without_losing_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "COMPACT_ABOVE", 3)
    source = HashVectors()
    cache = EmbeddingCache(tmp_path)
    texts = [f"text {i}" for i in range(10)]
    for text in texts:
        cache.get_or_encode(source, [text])
    assert len(list(tmp_path.rglob("shard-*.npz"))) <= 3
    result = EmbeddingCache(tmp_path).get_or_encode(source, texts)
    assert result.encoded == 0
    np.testing.assert_array_equal(result.vectors, source.encode(texts))


def test_100k_lookups_are_served_from_the_cache(tmp_path):
    """A catalogue-sized second pass: every text from disk, nothing re-encoded.

    Its speed is reported by scripts/benchmark.py (rebuild), not asserted here."""
    source = HashVectors()
    texts = [f"mentor bio number {i}" for i in range(100_000)]
    first = EmbeddingCache(tmp_path).get_or_encode(source, texts)
    result = EmbeddingCache(tmp_path).get_or_encode(source, texts)  # load shards + look up
    assert (result.encoded, result.cached, source.calls) == (0, 100_000, 1)
    np.testing.assert_array_equal(result.vectors, first.vectors)
