"""Catalogues at scale from one small base world: copies of real mentors with nearby vectors.

A catalogue of N mentors samples the base's active mentors with replacement, each copy with
a new id, its source's profile and ground truth, and the source's bio vector plus Gaussian
noise, renormalised. The ground truth reads only fields a copy shares with its source, so
one (mentees x base mentors) gain table serves every size (:func:`gain_lookup`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthetic import true_match_probability

BLOCK_ROWS = 65_536
"""Catalogue vectors are made in blocks of this many rows, so the temporaries stay small."""


@dataclass
class BaseWorld:
    """The base world: profiles with ground truth, their real embeddings, the trained ranker."""

    mentors: pd.DataFrame  # active mentors with truth columns
    mentees: pd.DataFrame  # with truth columns
    bio_vectors: np.ndarray  # aligned with mentors
    goal_vectors: np.ndarray  # aligned with mentees
    ranker: Any
    rebuild: dict[str, Any]


def load_base_world(world, artifacts: Path, encoder, rebuild: dict[str, Any]) -> BaseWorld:
    """The base world after its index build and training: the generated ``world``'s active
    mentors and mentees with truth, their vectors from the build's embedding cache in
    ``artifacts``, and the ranker trained there."""
    from embeddings import EmbeddingCache
    from ranking.models import Ranker

    mentees, mentors = world.with_truth()
    mentors = mentors[mentors["active"]].reset_index(drop=True)
    cache = EmbeddingCache(artifacts / "cache")
    bios = cache.get_or_encode(encoder, mentors["bio"].tolist(), progress=False).vectors
    goals = cache.get_or_encode(encoder, mentees["goals"].tolist(), progress=False).vectors
    ranker = Ranker.load(artifacts / "ranker")  # the whole model lives in memory from here
    return BaseWorld(mentors, mentees, bios, goals, ranker, rebuild)


def make_catalogue(
    base: BaseWorld, n: int, noise: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``n`` mentors sampled from the base (new ids 1..n, source fields and truth), their
    vectors (source bio vector + N(0, noise^2) per dimension, renormalised) and the source
    row of each."""
    source = rng.integers(0, len(base.mentors), n)
    mentors = (
        base.mentors.drop(columns=["bio", "email"])
        .iloc[source]
        .assign(mentor_id=np.arange(1, n + 1, dtype=np.int64))
        .reset_index(drop=True)
    )
    dim = base.bio_vectors.shape[1]
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, BLOCK_ROWS):
        rows = source[start : start + BLOCK_ROWS]
        noisy = rng.standard_normal((len(rows), dim), dtype=np.float32) * np.float32(noise)
        block = base.bio_vectors[rows] + noisy
        vectors[start : start + len(rows)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return mentors, vectors, source


def gain_lookup(base: BaseWorld, mentee_ids: np.ndarray, source: np.ndarray) -> Callable:
    """``gains_of(mentee_id, mentor_ids)``: ground-truth ``p_match`` of catalogue pairs.

    A copy's gain is its source's, so one (mentees x base mentors) table serves every
    catalogue size. Catalogue mentor ids are 1..n (see :func:`make_catalogue`).
    """
    mentees = base.mentees[base.mentees["mentee_id"].isin(mentee_ids)].reset_index(drop=True)
    grid = pd.DataFrame({
        "mentee_id": np.repeat(mentees["mentee_id"].to_numpy(), len(base.mentors)),
        "mentor_id": np.tile(base.mentors["mentor_id"].to_numpy(), len(mentees)),
    })
    table = true_match_probability(mentees, base.mentors, grid)["p_match"].to_numpy()
    table = table.reshape(len(mentees), len(base.mentors))
    row_of = pd.Index(mentees["mentee_id"])

    def gains_of(mentee_id: int, mentor_ids: np.ndarray) -> np.ndarray:
        return table[row_of.get_loc(mentee_id), source[mentor_ids - 1]]

    return gains_of


def copy_cosine(base: BaseWorld, vectors: np.ndarray, source: np.ndarray, rng) -> dict[str, float]:
    """Mean cosine of catalogue vectors with their source's bio vector, and between two copies
    of one source (how far the noise moves them; see :data:`~eval.benchmark.config.NOISE_SIGMA`)."""
    rows = rng.choice(len(vectors), min(2000, len(vectors)), replace=False)
    to_source = np.einsum("ij,ij->i", vectors[rows], base.bio_vectors[source[rows]])
    order = np.argsort(source, kind="stable")
    same = np.flatnonzero(source[order][1:] == source[order][:-1])[:2000]
    siblings = np.einsum("ij,ij->i", vectors[order[same]], vectors[order[same + 1]])
    return {
        "to_source": round(float(to_source.mean()), 4),
        "between_copies": round(float(siblings.mean()), 4) if len(same) else None,
    }
