"""The encoder's measurement: throughput against plain sentence-transformers, closeness of the
vectors, one goal's latency, and the two-stage quality with each set of vectors."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from eval.benchmark.catalogue import BaseWorld
from eval.benchmark.config import BenchmarkConfig, K
from eval.benchmark.stages import recommender_over
from eval.benchmark.timing import percentile, single_threaded, timed

WARMUP_TEXTS = 32
"""Texts encoded once before timing a backend: more than a query's, so the batched path warms."""


def measure_encoder(base: BaseWorld, encoder, config: BenchmarkConfig) -> dict[str, Any]:
    """Texts per second of plain sentence-transformers (the reference) and of
    :class:`embeddings.Encoder` in float32 and in bfloat16 on the same base bios and goals;
    how close the vectors at ``encoder``'s precision come to the reference's, and the
    two-stage NDCG@10 on the base world with its vectors and with the reference's."""
    import torch
    from sentence_transformers import SentenceTransformer

    from embeddings import Encoder, agreement
    from embeddings.encoder import quiet_weight_loading

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = pd.concat([base.mentors["bio"], base.mentees["goals"]]).tolist()
    rng = np.random.default_rng([config.seed, 7])
    picks = rng.choice(len(texts), config.encoder_texts, replace=config.encoder_texts > len(texts))
    texts = [texts[i] for i in picks]
    with quiet_weight_loading():
        reference = SentenceTransformer(str(encoder.model_dir), device="cpu", local_files_only=True)
    by_precision = {
        precision: Encoder(encoder.model_dir, precision=precision) for precision in ("float32", "bfloat16")
    }
    backends: dict[str, Callable] = {
        "reference": lambda batch: reference.encode(batch, normalize_embeddings=True, convert_to_numpy=True),
        **{
            f"torch-{precision}": lambda batch, model=model: model.encode(batch, progress=False)
            for precision, model in by_precision.items()
        },
    }
    seconds, vectors = {}, {}
    for name, encode in backends.items():
        encode(texts[:WARMUP_TEXTS])
        started = time.perf_counter()
        vectors[name] = np.asarray(encode(texts), dtype=np.float32)
        seconds[name] = time.perf_counter() - started
    backend = f"torch-{encoder.precision}"  # the precision the measured encoder runs at
    close = agreement(vectors[backend], vectors["reference"])
    bfloat16 = agreement(vectors["torch-bfloat16"], vectors["torch-float32"])
    result = {
        "backend": backend,
        "texts_per_s_reference": round(len(texts) / seconds["reference"], 1),
        "texts_per_s": round(len(texts) / seconds[backend], 1),
        "mean_cosine": round(close.mean, 6),
        "min_cosine": round(close.min, 6),
        "ratio": round(seconds["reference"] / seconds[backend], 2),
        "texts": len(texts),
        "threads": torch.get_num_threads(),
        "texts_per_s_by_backend": {k: round(len(texts) / v, 1) for k, v in seconds.items()},
        "precision_reason": encoder.precision_reason,
        "bfloat16_vs_float32": {"mean_cosine": round(bfloat16.mean, 6), "min_cosine": round(bfloat16.min, 6)},
    }
    # One goal at a time on one thread: the encoding inside an ad-hoc query (see
    # embeddings.encoder.SINGLE_THREAD_MAX for how the encoder runs it).
    goals = base.mentees["goals"].tolist()[:50]
    with single_threaded():
        result["single_goal_p50_ms"] = {
            name: percentile(timed(lambda goal, encode=backends[name]: encode([goal]), goals)[0], 50)
            for name in ("reference", backend)
        }
    sample = rng.choice(base.mentees["mentee_id"].to_numpy(), min(200, len(base.mentees)), replace=False)
    bios, goals = base.mentors["bio"].tolist(), base.mentees["goals"].tolist()
    for key, encode in (("pipeline_ndcg@10_reference", backends["reference"]),
                        ("pipeline_ndcg@10", backends[backend])):
        result[key] = _pipeline_ndcg(base, encode(bios), encode(goals), encoder.identity, sample)
    return result


def _pipeline_ndcg(base: BaseWorld, bios: np.ndarray, goals: np.ndarray, identity: str, sample) -> float:
    """Two-stage NDCG@10 (ground-truth gains) on the base world with the given vectors."""
    from eval.protocol import pipeline_view
    from index import MentorIndex

    index = MentorIndex.build(base.mentors["mentor_id"].to_numpy(), bios, "Flat", encoder_identity=identity)
    recommender = recommender_over(index, base.ranker, base.mentors, base.mentees, goals)
    view, _ = pipeline_view(recommender, sample, k=K, truth=(base.mentees, base.mentors))
    return round(view["ndcg@10"], 4)
