"""The measurements: one catalogue size beside brute force, the index build, the rebuild.

Numbers are reported, never asserted: they depend on the machine and its load.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from db.engine import get_engine
from eval.benchmark.catalogue import BaseWorld, copy_cosine, gain_lookup, make_catalogue
from eval.benchmark.config import (
    BATCH_PAIRS,
    BRUTEFORCE_MIN_QUERIES,
    OTHER_STAGE1,
    PROFILE_QUERIES,
    RECALL_K,
    BenchmarkConfig,
    K,
)
from eval.benchmark.stages import profile_of, recommender_over, scored_candidates, stage1_candidates
from eval.benchmark.timing import hot_spots, peak_rss, percentile, single_threaded, timed
from eval.metrics import ndcg_at_k
from eval.stats import paired_comparison
from index.spec import DEFAULT_POOL
from retrieval import DEFAULT_CANDIDATES
from synthetic import generate_world, refresh_world, write_world

logger = logging.getLogger(__name__)

REFRESH_FRACTION = 0.05


def measure_rebuild(config: BenchmarkConfig, work: Path, encoder) -> tuple[Any, Path, dict[str, Any]]:
    """Generate and write the base world, build its index cold, train the ranker, then time a
    rebuild after a 5% refresh (the embedding cache keeps the unchanged texts).

    Returns (the generated world, the artifacts folder in ``work``, the rebuild figures).
    """
    from eval.training_run import run_training
    from index import build_index_from_db

    world = generate_world(
        config.base_mentors, config.base_mentees, config.interactions_per_mentee, seed=config.seed
    )
    db_url = f"sqlite:///{work / 'base.db'}"
    artifacts = work / "artifacts"
    engine = get_engine(db_url)
    try:
        write_world(engine, world, reset=True, progress=False)
        encoder.dim  # noqa: B018 - load the model first: "cold" means an empty cache, not a cold disk
        logger.info("cold index build of %d mentors, %d mentees", len(world.mentors), len(world.mentees))
        started = time.perf_counter()
        cold = build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
        cold_s = time.perf_counter() - started
        logger.info("training the ranker on the base world")
        run_training(db_url, artifacts, seed=config.seed, encoder=encoder, progress=False)
        refreshed = refresh_world(engine, fraction=REFRESH_FRACTION, seed=config.seed)
        started = time.perf_counter()
        warm = build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
        refresh_s = time.perf_counter() - started
    finally:
        engine.dispose()
    rebuild = {
        "cold_s": round(cold_s, 3),
        "refresh_s": round(refresh_s, 3),
        "speedup": round(cold_s / refresh_s, 1),
        "mentors": warm.mentors,
        "mentees": warm.mentees,
        "encoded_cold": cold.encoded + cold.mentees_encoded,
        "encoded_refresh": warm.encoded + warm.mentees_encoded,
        "refresh": {key: refreshed[key] for key in ("new_bios", "new_availability", "new_mentors")},
    }
    return world, artifacts, rebuild


def measure_size(base: BaseWorld, n: int, config: BenchmarkConfig, encoder) -> dict[str, Any]:
    """Every per-size number of the issue for a catalogue of ``n`` mentors."""
    from index.build import search_recall

    rng = np.random.default_rng([config.seed, n])
    mentors, vectors, source = make_catalogue(base, n, config.noise, rng)
    cosines = copy_cosine(base, vectors, source, rng)
    mentee_ids = base.mentees["mentee_id"].to_numpy()
    queries = rng.choice(mentee_ids, config.queries, replace=config.queries > len(mentee_ids))

    def recommender_on(index):
        return recommender_over(index, base.ranker, mentors, base.mentees, base.goal_vectors, encoder)

    index, build_s, rejected = build_like_operator(
        mentors["mentor_id"].to_numpy(), vectors, base.goal_vectors, encoder.identity
    )
    del vectors  # the index holds it
    if rejected is not None:  # what the approximate index that 'auto' dropped would have given
        approximate = recommender_on(rejected[0])
        with single_threaded(base.ranker):
            ann_ms, _ = timed(lambda mentee: approximate.recommend(mentee_id=int(mentee), k=K), queries[:200])
        del approximate
        rejected = {"spec": rejected[0].spec, "search_params": rejected[0].search_params,
                    "recall@100_sample": rejected[1], "p50_ms_known": percentile(ann_ms, 50)}
        gc.collect()
    with tempfile.TemporaryDirectory(prefix="mm-bench-index-") as folder:
        index.save(Path(folder))
        index_bytes = {path.name: path.stat().st_size for path in Path(folder).iterdir()}
    recommender = recommender_on(index)
    rss = psutil.Process().memory_info().rss
    eligible = int((mentors["current_mentees"] < mentors["max_mentees"]).sum())  # all are active
    query_vectors = base.goal_vectors[pd.Index(mentee_ids).get_indexer(queries)]
    recall = search_recall(index, np.unique(query_vectors, axis=0), RECALL_K)

    profiles = [profile_of(base.mentees, mentee) for mentee in queries]
    n_brute = int(np.clip(config.bruteforce_pairs // max(eligible, 1), BRUTEFORCE_MIN_QUERIES, config.queries))
    brute = queries[:n_brute]
    gains_of = gain_lookup(base, brute, source)
    with single_threaded(base.ranker):
        known_ms, lists = timed(lambda mentee: recommender.recommend(mentee_id=int(mentee), k=K), queries)
        adhoc_ms, _ = timed(lambda profile: recommender.recommend(profile=profile, k=K), profiles)
        core_ms, _ = timed(lambda mentee: _two_stage_core(recommender, int(mentee)), queries)
        other = {
            name: timed(lambda mentee, kw=kw: recommender.recommend(mentee_id=int(mentee), k=K, **kw), brute)
            for name, kw in OTHER_STAGE1.items()
        }
        brute_ms, per_mentee = brute_force_runs(
            recommender, brute, {"two_stage": lists[:n_brute], **{name: run[1] for name, run in other.items()}},
            gains_of,
        )
        sample = queries[:PROFILE_QUERIES]
        hot = hot_spots(lambda: [recommender.recommend(mentee_id=int(mentee), k=K) for mentee in sample], len(sample))

    n_batch = int(np.clip(BATCH_PAIRS // n, min(200, config.batch_mentees), config.batch_mentees))
    batch = rng.choice(mentee_ids, min(n_batch, len(mentee_ids)), replace=False)
    started = time.perf_counter()
    recommender.recommend_batch(batch, k=K, progress=False)
    batch_s = time.perf_counter() - started
    sample = batch[:256]
    batch_hot = hot_spots(lambda: recommender.recommend_batch(sample, k=K, progress=False), len(sample))
    candidates = stage1_candidates(recommender, brute)
    sources = pd.Series(source[candidates["mentor_id"].to_numpy() - 1])
    candidate_sources = float(sources.groupby(candidates["mentee_id"].to_numpy()).nunique().mean())

    p50_known, p50_brute, p50_core = (percentile(ms, 50) for ms in (known_ms, brute_ms, core_ms))
    ndcg = {name: round(float(values.mean()), 4) for name, values in per_mentee.items()}
    gap = paired_comparison(per_mentee["two_stage"], per_mentee["bruteforce"], seed=config.seed)
    return {
        "p50_ms_known": p50_known,
        "p95_ms_known": percentile(known_ms, 95),
        "p99_ms_known": percentile(known_ms, 99),
        "p50_ms_adhoc": percentile(adhoc_ms, 50),
        "p95_ms_adhoc": percentile(adhoc_ms, 95),
        "p99_ms_adhoc": percentile(adhoc_ms, 99),
        "bruteforce_p50_ms": p50_brute,
        "bruteforce_p95_ms": percentile(brute_ms, 95),
        "speedup": round(p50_brute / p50_known, 1),
        "p50_ms_known_core": p50_core,
        "speedup_core": round(p50_brute / p50_core, 1),
        "ndcg@10_two_stage": ndcg["two_stage"],
        "ndcg@10_bruteforce": ndcg["bruteforce"],
        "ndcg@10_ratio": round(ndcg["two_stage"] / ndcg["bruteforce"], 4) if ndcg["bruteforce"] else None,
        # The ratio's 95% interval: the paired bootstrap interval of the per-mentee
        # difference, over the brute-force mean.
        "ndcg@10_ratio_ci95": [round(1 + gap[end] / ndcg["bruteforce"], 4) for end in ("ci_low", "ci_high")]
        if ndcg["bruteforce"] else None,
        "ndcg@10_diff_p_value": round(gap["p_value"], 4),
        "candidates": DEFAULT_CANDIDATES,
        "pool": DEFAULT_POOL,
        **{f"ndcg@10_two_stage_{c}": ndcg[c] for c in OTHER_STAGE1},
        **{f"p50_ms_known_{c}": percentile(other[c][0], 50) for c in OTHER_STAGE1},
        "candidate_sources": round(candidate_sources, 1),
        "batch_mentees_per_s": round(len(batch) / batch_s, 1),
        "ann_recall@100": round(recall, 4),
        "index_build_s": round(build_s, 3),
        "index_bytes": int(sum(index_bytes.values())),
        "rss_bytes": int(rss),
        "queries": len(queries),
        "bruteforce_queries": n_brute,
        "batch_mentees": len(batch),
        "eligible_mentors": eligible,
        "index_spec": index.spec,
        "search_params": index.search_params,
        "rejected_ann": rejected,
        "index_files_bytes": index_bytes,
        "vectors_bytes": int(index.vectors.nbytes),
        "rss_peak_bytes": peak_rss(),
        "copy_cosine": cosines,
        "profile_known": hot,
        "profile_batch": batch_hot,
    }


def build_like_operator(
    ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray, identity: str
) -> tuple[Any, float, tuple[Any, float] | None]:
    """The index :func:`index.build_index_from_db` makes with spec ``auto``: nprobe (or
    efSearch) tuned until recall@100 reaches the target on a query sample, else exact search
    (Flat).

    Returns (index, seconds including tuning and any fallback, (the dropped approximate index,
    its recall) or None).
    """
    from index import MentorIndex
    from index.build import RECALL_TARGET, tune_for_recall

    started = time.perf_counter()
    index = MentorIndex.build(ids, vectors, "auto", encoder_identity=identity)
    index, recall = tune_for_recall(index, queries, auto=False)
    rejected = None
    if recall is not None and recall < RECALL_TARGET:
        logger.info("%s reaches recall@100 %.3f only; exact search instead, as 'auto' does", index.spec, recall)
        rejected = (index, recall)
        index = MentorIndex.build(ids, vectors, "Flat", encoder_identity=identity)
    return index, time.perf_counter() - started, rejected


def _top_k(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The ``K`` ids of highest score, best first (ties in input order)."""
    top = np.argpartition(-scores, min(K, len(scores)) - 1)[:K]
    return ids[top[np.argsort(-scores[top], kind="stable")]]


def _brute_force(recommender, mentee_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every eligible mentor scored with pair features and the ranker, and the top k picked
    (what a query costs without stage 1): (mentor ids, scores, top k mentor ids)."""
    ids, scores = scored_candidates(recommender, mentee_id, every_eligible=True)
    return ids, scores, _top_k(ids, scores)


def _two_stage_core(recommender, mentee_id: int) -> np.ndarray:
    """Stage 1 and stage 2 without the reasons that ``recommend`` words: the same work as
    :func:`_brute_force` on the retrieved candidates only."""
    ids, scores = scored_candidates(recommender, mentee_id, every_eligible=False)
    return _top_k(ids, scores)


def brute_force_runs(
    recommender, mentee_ids: np.ndarray, lists: dict[str, list], gains_of: Callable
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Brute-force milliseconds per mentee, and NDCG@10 of each named set of two-stage
    lists and of the brute-force ranking ("bruteforce"), over all of each mentee's eligible
    mentors (a listed mentor scores 1/rank, the others 0), per mentee."""
    _brute_force(recommender, int(mentee_ids[0]))  # warm-up: one, these are the slow queries
    times = np.empty(len(mentee_ids))
    ndcg: dict[str, list[float]] = {name: [] for name in [*lists, "bruteforce"]}
    for i, mentee in enumerate(mentee_ids):
        started = time.perf_counter()
        ids, scores, _ = _brute_force(recommender, int(mentee))
        times[i] = (time.perf_counter() - started) * 1000.0
        gains = gains_of(mentee, ids)
        position = pd.Index(ids)
        for name, per_mentee in lists.items():
            listed = np.zeros(len(ids))
            recommended = per_mentee[i]
            listed[position.get_indexer([rec.mentor_id for rec in recommended])] = [
                1.0 / rec.rank for rec in recommended
            ]
            ndcg[name].append(ndcg_at_k(gains, listed, K))
        ndcg["bruteforce"].append(ndcg_at_k(gains, scores, K))
    return times, {name: np.asarray(values) for name, values in ndcg.items()}
