"""The real MiniLM encoder: meaning, shape, normalisation, order, empty text, identity."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from embeddings import Encoder, default_model_dir
from mentor_match.errors import ArtifactError, InvalidParameterError


def test_paraphrase_is_nearer_than_unrelated_text(encoder):
    a, b, c = encoder.encode([
        "I help junior engineers prepare for system design interviews.",
        "Mentoring new software developers to get ready for architecture interview rounds.",
        "My grandmother's recipe for plum cake needs fresh yeast.",
    ])
    assert a @ b > a @ c + 0.3


def test_vectors_are_unit_length_float32_with_the_model_dimension(encoder):
    vectors = encoder.encode(["data engineering", "product management", "a"], progress=False)
    assert encoder.dim == 384
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_length_sorted_batching_restores_input_order(encoder, monkeypatch):
    texts = [
        "short",
        "a much longer text about distributed systems, kubernetes operators and on-call",
        "medium length about python",
    ]
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    monkeypatch.setattr(encoder, "batch_size", 2)  # several batches, sorted by length
    forward = encoder.encode(texts)
    # bfloat16 rounds differently with padding; a wrong order would be off by ~0.1-1.
    atol = 1e-5 if encoder.precision == "float32" else 5e-3
    np.testing.assert_allclose(forward, one_by_one, atol=atol)
    np.testing.assert_allclose(encoder.encode(texts[::-1]), forward[::-1], atol=atol)


def test_empty_or_missing_text_encodes_to_the_zero_vector(encoder):
    vectors = encoder.encode(["", "   ", None, float("nan"), "machine learning"])
    assert not vectors[:4].any()
    assert np.linalg.norm(vectors[4]) == pytest.approx(1.0, abs=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_bad_input_is_refused_with_a_clear_message(encoder):
    with pytest.raises(InvalidParameterError, match="Wrap it"):
        encoder.encode("one string")
    with pytest.raises(InvalidParameterError, match="item 1 is int"):
        encoder.encode(["ok", 3])
    with pytest.raises(InvalidParameterError, match="batch_size"):
        Encoder(batch_size=0)


def test_progress_bar_only_when_asked(encoder, capfd):
    encoder.encode(["a", "b"], progress=False)
    assert "Batches" not in capfd.readouterr().err
    encoder.encode(["a", "b"], progress=True)
    assert "Batches" in capfd.readouterr().err


def test_identity_is_stable_and_changes_with_the_model_files(encoder, tmp_path):
    assert Encoder().identity == encoder.identity
    assert encoder.identity.startswith("all-MiniLM-L6-v2@")
    source = default_model_dir()
    copy = tmp_path / "all-MiniLM-L6-v2"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    for weights in source.glob("*.safetensors"):
        (copy / weights.name).symlink_to(weights)
    assert Encoder(copy).identity == encoder.identity  # same files, same identity
    config = copy / "config.json"
    config.write_text(config.read_text() + "\n")
    assert Encoder(copy).identity != encoder.identity


def test_a_folder_without_a_model_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="No sentence-transformers model"):
        Encoder(tmp_path / "nowhere")


def test_bfloat16_batches_keep_the_float32_vectors(encoder):
    # More texts than a query, so the batch path (and its precision) is used.
    texts = [f"Mentoring engineers in topic number {i}: career growth and code review" for i in range(40)]
    reference = Encoder(precision="float32").encode(texts)
    fast = Encoder(precision="bfloat16").encode(texts)
    cosine = np.einsum("ij,ij->i", reference, fast)
    assert cosine.min() > 0.999
    assert not np.array_equal(reference, fast)  # bfloat16 arithmetic really ran
    assert encoder.precision in ("float32", "bfloat16")
    # A query's few texts go through the bfloat16 copy of the model: a little further off.
    one = Encoder(precision="bfloat16").encode(texts[:1])
    assert float(one[0] @ reference[0]) > 0.995 and not np.array_equal(one[0], reference[0])
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)


def test_unknown_precision_is_refused():
    with pytest.raises(InvalidParameterError, match="precision.*float32"):
        Encoder(precision="int4")
