"""Speed, memory and scale of the two-stage recommender, measured beside brute force (issue 7).

For each catalogue size N: query latency of :meth:`retrieval.Recommender.recommend` for a
known mentee (cached goal vector) and for an ad-hoc profile (goals encoded per query),
single-threaded; the same mentees scored by brute force (pair features and the ranker over
every eligible mentor, as the original guide's inference does) with the NDCG@10 of both
against the synthetic ground truth; batch throughput of ``recommend_batch``; ANN recall@100
against exact search; index build time, size on disk and process memory. Once per run: the
encoder's throughput against plain sentence-transformers, and a cold index build against a
rebuild after a 5% data refresh.

Large catalogues are not encoded text by text. A base world of generated mentors and
mentees is written to a throw-away SQLite database and encoded with the real MiniLM (that
is the cold build); a catalogue of N mentors samples the base's active mentors with
replacement, each copy with a new id, its source's profile and ground truth, and the
source's bio vector plus Gaussian noise (``noise`` per dimension), renormalised. The ranker
is trained once on the base world by :func:`ranking.training.run_training`, the code of
``scripts/train.py``. The index is built as :func:`index.build_index_from_db` builds it:
``auto`` spec, nprobe (or efSearch) tuned until recall@100 reaches 0.99 on a query sample.

The encoder section compares plain sentence-transformers with :class:`embeddings.Encoder` in
float32 and in bfloat16 (autocast; 2.5x faster on CPUs with AMX, where ``precision="auto"``
picks it).

Numbers are reported, never asserted: they depend on the machine and its load, which the
result records (``machine.load_average_start`` / ``_end``).
"""

from __future__ import annotations

import cProfile
import gc
import json
import logging
import os
import platform
import pstats
import resource
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd
import psutil
from threadpoolctl import threadpool_limits

from db.engine import get_engine
from eval.metrics import ndcg_at_k
from eval.stats import paired_comparison
from index.spec import DEFAULT_POOL
from mentor_match.errors import InvalidParameterError
from retrieval import DEFAULT_CANDIDATES
from synthetic import generate_world, refresh_world, true_match_probability, write_world

logger = logging.getLogger(__name__)

K = 10
RECALL_K = 100
WARMUP_QUERIES = 5
PROFILE_QUERIES = 50
"""Known-mentee queries run under cProfile per size (after the timed ones) for the hot spots."""
NOISE_SIGMA = 0.03
"""Per-dimension noise on copied bio vectors. A copy keeps cosine ~0.86 with its source and two
copies of one source ~0.74: below the median nearest *distinct* generated bio (~0.81), so
neighbours are not trivial duplicates, while a copy still reads like its source's bio."""
BRUTEFORCE_MIN_QUERIES = 20
BATCH_PAIRS = 200_000_000
"""Budget of (mentee x catalogue) work for the batch measurement: all ``batch_mentees`` up to
100,000 mentors, 200 at 1,000,000 (where exact search makes a batch take minutes)."""
OTHER_STAGE1 = {"200": {"candidates": 200, "pool": 200}, "1000": {"candidates": 1000, "pool": 1000}}
"""Stage 1 also measured without pre-ranking on the brute-force mentees: the nearest 200
or the nearest 1,000 mentors all scored by the ranker, beside the default (the nearest
:data:`index.spec.DEFAULT_POOL`, pre-ranked to 200)."""
FORMAT = "mentor-match-benchmark/1"
SIZE_KEYS = (
    "p50_ms_known", "p95_ms_known", "p99_ms_known", "p50_ms_adhoc", "bruteforce_p50_ms",
    "speedup", "ndcg@10_two_stage", "ndcg@10_bruteforce", "batch_mentees_per_s",
    "ann_recall@100", "index_build_s", "index_bytes", "rss_bytes",
)
ENCODER_KEYS = ("backend", "texts_per_s_reference", "texts_per_s", "mean_cosine", "min_cosine")
REBUILD_KEYS = ("cold_s", "refresh_s")
"""The public keys of benchmark.json (issue 7); more keys may be added, none removed."""


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to measure. :meth:`quick` is the reduced set for smoke tests (< 2 minutes)."""

    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    queries: int = 500
    seed: int = 42
    base_mentors: int = 2000
    base_mentees: int = 2000
    interactions_per_mentee: int = 8
    encoder_texts: int = 1000
    batch_mentees: int = 2000
    bruteforce_pairs: int = 30_000_000
    """Budget of pairs scored by brute force per size: fewer brute-force queries at large N
    (300 at 100,000 mentors, about a minute). The NDCG ratio's 95% interval is +-1.7% with
    300 mentees and narrows with their square root: the 50 of an earlier budget (+-4%)
    could not tell a 1% gap from none."""
    noise: float = NOISE_SIGMA

    @classmethod
    def quick(cls, seed: int = 42) -> BenchmarkConfig:
        return cls(
            sizes=(2000,), queries=20, seed=seed, base_mentors=200, base_mentees=200,
            encoder_texts=64, batch_mentees=200, bruteforce_pairs=100_000,
        )

    def checked(self) -> BenchmarkConfig:
        """Self, after validating every field (InvalidParameterError naming the bad one)."""
        sizes = tuple(self.sizes)
        if not sizes or any(_bad_int(n, 100) for n in sizes):
            raise InvalidParameterError(
                f"The 'sizes' parameter of the benchmark must be catalogue sizes >= 100, e.g. "
                f"10000,100000. Got {list(sizes)!r}."
            )
        for name, low in (("queries", 1), ("base_mentors", 20), ("base_mentees", 20),
                          ("interactions_per_mentee", 2), ("encoder_texts", 1),
                          ("batch_mentees", 1), ("bruteforce_pairs", 1)):
            if _bad_int(getattr(self, name), low):
                raise InvalidParameterError(
                    f"The '{name}' parameter of the benchmark must be an int >= {low}. "
                    f"Got {getattr(self, name)!r}."
                )
        if not isinstance(self.noise, (int, float)) or not 0 <= self.noise < 1:
            raise InvalidParameterError(
                f"The 'noise' parameter of the benchmark must be a number in [0, 1). Got {self.noise!r}."
            )
        return replace(self, sizes=tuple(int(n) for n in sizes))


@dataclass
class BaseWorld:
    """The base world: profiles with ground truth, their real embeddings, the trained ranker."""

    mentors: pd.DataFrame  # active mentors with truth columns
    mentees: pd.DataFrame  # with truth columns
    bio_vectors: np.ndarray  # aligned with mentors
    goal_vectors: np.ndarray  # aligned with mentees
    ranker: Any
    rebuild: dict[str, Any]


# --------------------------------------------------------------------------- entry point


def run_benchmark(
    config: BenchmarkConfig | None = None,
    out: str | Path = "reports/benchmark",
    *,
    encoder=None,
) -> dict[str, Any]:
    """Run every measurement of ``config``; write ``benchmark.json`` and ``benchmark.md`` to ``out``.

    ``encoder`` (an :class:`embeddings.Encoder`) defaults to the shipped MiniLM. Returns the
    result as written to ``benchmark.json``.
    """
    from embeddings import Encoder

    config = (config or BenchmarkConfig()).checked()
    out = Path(out)
    started = time.perf_counter()
    encoder = encoder or Encoder()
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="mm-bench-") as work:
        base = prepare_base(config, Path(work), encoder)
    result: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "config": asdict(config),
        "sizes": {},
        "encoder": {},
        "rebuild": base.rebuild,
    }
    logger.info("measuring the encoder on %d texts", config.encoder_texts)
    result["encoder"] = measure_encoder(base, encoder, config)
    for n in config.sizes:
        logger.info("catalogue of %d mentors", n)
        result["sizes"][str(n)] = measure_size(base, n, config, encoder)
        gc.collect()
        # Written after every size, so a long run that is stopped keeps what it measured.
        result["machine"]["load_average_end"] = list(os.getloadavg())
        result["targets"] = check_targets(result)
        result["notes"] = _notes(config, result)
        result["seconds"] = round(time.perf_counter() - started, 1)
        write_results(result, out)
    return result


def write_results(result: dict[str, Any], out: Path) -> None:
    """``benchmark.json`` (the public format) and ``benchmark.md`` (the table) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "benchmark.md").write_text(format_markdown(result) + "\n", encoding="utf-8")


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, library versions and the load when the run started."""
    import sentence_transformers
    import sklearn
    import torch
    import xgboost

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "load_average_start": list(os.getloadavg()),
        "versions": {
            "faiss": faiss.__version__,
            "xgboost": xgboost.__version__,
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit_learn": sklearn.__version__,
        },
    }


# --------------------------------------------------------------------------- base world


def prepare_base(config: BenchmarkConfig, work: Path, encoder) -> BaseWorld:
    """Generate, write and index the base world (cold build), train the ranker, then time a
    rebuild after a 5% refresh (the embedding cache keeps the unchanged texts)."""
    from embeddings import EmbeddingCache
    from eval.training_run import run_training
    from index import build_index_from_db
    from ranking.models import Ranker

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
        t0 = time.perf_counter()
        cold = build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
        cold_s = time.perf_counter() - t0
        logger.info("training the ranker on the base world")
        run_training(db_url, artifacts, seed=config.seed, encoder=encoder, progress=False)
        refreshed = refresh_world(engine, fraction=0.05, seed=config.seed)
        t0 = time.perf_counter()
        warm = build_index_from_db(db_url, artifacts, progress=False, encoder=encoder)
        refresh_s = time.perf_counter() - t0
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
        "refresh": {k: refreshed[k] for k in ("new_bios", "new_availability", "new_mentors")},
    }
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
    for start in range(0, n, 65_536):  # blocks keep the temporaries small at 1M x 384
        rows = source[start : start + 65_536]
        block = base.bio_vectors[rows] + rng.standard_normal((len(rows), dim), dtype=np.float32) * np.float32(noise)
        vectors[start : start + len(rows)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return mentors, vectors, source


# --------------------------------------------------------------------------- measurements


def measure_size(base: BaseWorld, n: int, config: BenchmarkConfig, encoder) -> dict[str, Any]:
    """Every per-size number of the issue for a catalogue of ``n`` mentors."""
    from index.build import search_recall
    from retrieval import Recommender

    rng = np.random.default_rng([config.seed, n])
    mentors, vectors, source = make_catalogue(base, n, config.noise, rng)
    copy_cosine = _copy_cosine(base, vectors, source, rng)
    mentee_ids = base.mentees["mentee_id"].to_numpy()
    queries = rng.choice(mentee_ids, config.queries, replace=config.queries > len(mentee_ids))

    def recommender_over(index):
        return Recommender.from_components(
            index, base.ranker, mentors, base.mentees, mentee_vectors=base.goal_vectors, encoder=encoder
        )

    index, build_s, rejected = build_like_operator(
        mentors["mentor_id"].to_numpy(), vectors, base.goal_vectors, encoder.identity
    )
    del vectors  # the index holds it
    if rejected is not None:  # what the approximate index that 'auto' dropped would have given
        approximate = recommender_over(rejected[0])
        with single_threaded(base.ranker):
            ann_ms, _ = _timed(lambda m: approximate.recommend(mentee_id=int(m), k=K), queries[:200])
        del approximate
        rejected = {"spec": rejected[0].spec, "search_params": rejected[0].search_params,
                    "recall@100_sample": rejected[1], "p50_ms_known": _pct(ann_ms, 50)}
        gc.collect()
    with tempfile.TemporaryDirectory(prefix="mm-bench-index-") as folder:
        index.save(Path(folder))
        index_bytes = {p.name: p.stat().st_size for p in Path(folder).iterdir()}
    recommender = recommender_over(index)
    rss = psutil.Process().memory_info().rss
    eligible = int((mentors["current_mentees"] < mentors["max_mentees"]).sum())  # all are active
    query_vectors = base.goal_vectors[pd.Index(mentee_ids).get_indexer(queries)]
    recall = search_recall(index, np.unique(query_vectors, axis=0), RECALL_K)

    profiles = [_profile(base.mentees, m) for m in queries]
    n_brute = int(np.clip(config.bruteforce_pairs // max(eligible, 1), BRUTEFORCE_MIN_QUERIES, config.queries))
    brute = queries[:n_brute]
    gains_of = gain_lookup(base, brute, source)
    with single_threaded(base.ranker):
        known_ms, lists = _timed(lambda m: recommender.recommend(mentee_id=int(m), k=K), queries)
        adhoc_ms, _ = _timed(lambda p: recommender.recommend(profile=p, k=K), profiles)
        core_ms, _ = _timed(lambda m: _two_stage_core(recommender, int(m)), queries)
        other = {
            c: _timed(lambda m, kw=kw: recommender.recommend(mentee_id=int(m), k=K, **kw), brute)
            for c, kw in OTHER_STAGE1.items()
        }
        brute_ms, per_mentee = _brute_force_runs(
            recommender, brute, {"two_stage": lists[:n_brute], **{c: v[1] for c, v in other.items()}},
            gains_of,
        )
        sample = queries[:PROFILE_QUERIES]
        hot = _hot_spots(lambda: [recommender.recommend(mentee_id=int(m), k=K) for m in sample], len(sample))

    n_batch = int(np.clip(BATCH_PAIRS // n, min(200, config.batch_mentees), config.batch_mentees))
    batch = rng.choice(mentee_ids, min(n_batch, len(mentee_ids)), replace=False)
    t0 = time.perf_counter()
    recommender.recommend_batch(batch, k=K, progress=False)
    batch_s = time.perf_counter() - t0
    sample = batch[:256]
    batch_hot = _hot_spots(lambda: recommender.recommend_batch(sample, k=K, progress=False), len(sample))
    candidates = recommender.retrieve(brute, progress=False)
    sources = pd.Series(source[candidates["mentor_id"].to_numpy() - 1])
    candidate_sources = float(sources.groupby(candidates["mentee_id"].to_numpy()).nunique().mean())

    p50_known, p50_brute, p50_core = _pct(known_ms, 50), _pct(brute_ms, 50), _pct(core_ms, 50)
    ndcg = {name: round(float(values.mean()), 4) for name, values in per_mentee.items()}
    gap = paired_comparison(per_mentee["two_stage"], per_mentee["bruteforce"], seed=config.seed)
    return {
        "p50_ms_known": p50_known,
        "p95_ms_known": _pct(known_ms, 95),
        "p99_ms_known": _pct(known_ms, 99),
        "p50_ms_adhoc": _pct(adhoc_ms, 50),
        "p95_ms_adhoc": _pct(adhoc_ms, 95),
        "p99_ms_adhoc": _pct(adhoc_ms, 99),
        "bruteforce_p50_ms": p50_brute,
        "bruteforce_p95_ms": _pct(brute_ms, 95),
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
        **{f"p50_ms_known_{c}": _pct(other[c][0], 50) for c in OTHER_STAGE1},
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
        "rss_peak_bytes": _peak_rss(),
        "copy_cosine": copy_cosine,
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

    t0 = time.perf_counter()
    index = MentorIndex.build(ids, vectors, "auto", encoder_identity=identity)
    index, recall = tune_for_recall(index, queries, auto=False)
    rejected = None
    if recall is not None and recall < RECALL_TARGET:
        logger.info("%s reaches recall@100 %.3f only; exact search instead, as 'auto' does", index.spec, recall)
        rejected = (index, recall)
        index = MentorIndex.build(ids, vectors, "Flat", encoder_identity=identity)
    return index, time.perf_counter() - t0, rejected


def measure_encoder(base: BaseWorld, encoder, config: BenchmarkConfig) -> dict[str, Any]:
    """Texts per second of plain sentence-transformers (the reference) and of
    :class:`embeddings.Encoder` in float32 and in bfloat16 on the same base bios and goals;
    how close the vectors at ``encoder``'s precision (``auto`` by default: bfloat16 where the
    CPU has AMX) come to the reference's, and the two-stage NDCG@10 on the base world with its vectors and with the
    reference's."""
    import torch
    from sentence_transformers import SentenceTransformer

    from embeddings import Encoder
    from embeddings.encoder import _quiet_weight_loading

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = pd.concat([base.mentors["bio"], base.mentees["goals"]]).tolist()
    rng = np.random.default_rng([config.seed, 7])
    picks = rng.choice(len(texts), config.encoder_texts, replace=config.encoder_texts > len(texts))
    texts = [texts[i] for i in picks]
    with _quiet_weight_loading():
        reference = SentenceTransformer(str(encoder.model_dir), device="cpu", local_files_only=True)
    by_precision = {p: Encoder(encoder.model_dir, precision=p) for p in ("float32", "bfloat16")}
    backends: dict[str, Callable] = {
        "reference": lambda t: reference.encode(t, normalize_embeddings=True, convert_to_numpy=True),
        **{f"torch-{p}": lambda t, e=e: e.encode(t, progress=False) for p, e in by_precision.items()},
    }
    seconds, vectors = {}, {}
    for name, encode in backends.items():
        encode(texts[:32])  # warm-up, past the query-sized path
        t0 = time.perf_counter()
        vectors[name] = np.asarray(encode(texts), dtype=np.float32)
        seconds[name] = time.perf_counter() - t0
    backend = f"torch-{encoder.precision}"  # the precision the measured encoder runs at
    cosine = np.einsum("ij,ij->i", vectors[backend], vectors["reference"])
    result = {
        "backend": backend,
        "texts_per_s_reference": round(len(texts) / seconds["reference"], 1),
        "texts_per_s": round(len(texts) / seconds[backend], 1),
        "mean_cosine": round(float(cosine.mean()), 6),
        "min_cosine": round(float(cosine.min()), 6),
        "ratio": round(seconds["reference"] / seconds[backend], 2),
        "texts": len(texts),
        "threads": torch.get_num_threads(),
        "texts_per_s_by_backend": {k: round(len(texts) / v, 1) for k, v in seconds.items()},
    }
    # One goal at a time on one thread: the encoding inside an ad-hoc query (float32 in
    # every Encoder, see embeddings.encoder.SINGLE_THREAD_MAX).
    goals = base.mentees["goals"].tolist()[:50]
    with single_threaded():
        result["single_goal_p50_ms"] = {
            name: _pct(_timed(lambda g, encode=backends[name]: encode([g]), goals)[0], 50)
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
    from retrieval import Recommender

    index = MentorIndex.build(base.mentors["mentor_id"].to_numpy(), bios, "Flat", encoder_identity=identity)
    recommender = Recommender.from_components(index, base.ranker, base.mentors, base.mentees, mentee_vectors=goals)
    view, _ = pipeline_view(recommender, sample, k=K, truth=(base.mentees, base.mentors))
    return round(view["ndcg@10"], 4)


# --------------------------------------------------------------------------- helpers


@contextmanager
def single_threaded(ranker=None) -> Iterator[None]:
    """FAISS, BLAS, torch and the ranker's XGBoost on one thread; restored afterwards."""
    import torch

    faiss_threads, torch_threads = faiss.omp_get_max_threads(), torch.get_num_threads()
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    if ranker is not None:
        ranker.booster_.set_param({"nthread": 1})
    try:
        with threadpool_limits(1):
            yield
    finally:
        faiss.omp_set_num_threads(faiss_threads)
        torch.set_num_threads(torch_threads)
        if ranker is not None:
            ranker.booster_.set_param({"nthread": 0})  # 0: all cores, XGBoost's default


def _timed(call: Callable[[Any], Any], items: Sequence) -> tuple[np.ndarray, list]:
    """Milliseconds per call of ``call(item)`` after a few warm-up calls, and the results."""
    for item in list(items)[:WARMUP_QUERIES]:
        call(item)
    times, results = np.empty(len(items)), []
    for i, item in enumerate(items):
        t0 = time.perf_counter()
        results.append(call(item))
        times[i] = (time.perf_counter() - t0) * 1000.0
    return times, results


def _brute_force(recommender, mentee_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every eligible mentor scored with pair features and the ranker, and the top k picked
    (what a query costs without stage 1): (mentor ids, scores, top k mentor ids)."""
    pairs = recommender.eligible_pairs([mentee_id])
    scores = recommender.score_pairs(pairs)
    ids = pairs["mentor_id"].to_numpy()
    top = np.argpartition(-scores, min(K, len(scores)) - 1)[:K]
    return ids, scores, ids[top[np.argsort(-scores[top], kind="stable")]]


def _two_stage_core(recommender, mentee_id: int) -> np.ndarray:
    """Stage 1 and stage 2 through the public API without the reasons that ``recommend`` words:
    the same work as :func:`_brute_force` on the retrieved candidates only."""
    pairs = recommender.retrieve([mentee_id], progress=False)
    scores = recommender.score_pairs(pairs)
    top = np.argpartition(-scores, min(K, len(scores)) - 1)[:K]
    return pairs["mentor_id"].to_numpy()[top[np.argsort(-scores[top], kind="stable")]]


def _brute_force_runs(
    recommender, mentee_ids: np.ndarray, lists: dict[str, list], gains_of: Callable
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Brute-force milliseconds per mentee, and NDCG@10 of each named set of two-stage
    lists and of the brute-force ranking ("bruteforce"), over all of each mentee's eligible
    mentors (a listed mentor scores 1/rank, the others 0), per mentee."""
    _brute_force(recommender, int(mentee_ids[0]))  # warm-up: one, these are the slow queries
    times = np.empty(len(mentee_ids))
    ndcg: dict[str, list[float]] = {name: [] for name in [*lists, "bruteforce"]}
    for i, mentee in enumerate(mentee_ids):
        t0 = time.perf_counter()
        ids, scores, _ = _brute_force(recommender, int(mentee))
        times[i] = (time.perf_counter() - t0) * 1000.0
        gains = gains_of(mentee, ids)
        position = pd.Index(ids)
        for name, per_mentee in lists.items():
            listed = np.zeros(len(ids))
            recommended = per_mentee[i]
            listed[position.get_indexer([r.mentor_id for r in recommended])] = [1.0 / r.rank for r in recommended]
            ndcg[name].append(ndcg_at_k(gains, listed, K))
        ndcg["bruteforce"].append(ndcg_at_k(gains, scores, K))
    return times, {name: np.asarray(values) for name, values in ndcg.items()}


def gain_lookup(base: BaseWorld, mentee_ids: np.ndarray, source: np.ndarray) -> Callable:
    """``gains_of(mentee_id, mentor_ids)``: ground-truth ``p_match`` of catalogue pairs.

    The ground truth reads only profile fields and hidden truth, which a copy shares with its
    source, so a copy's gain is its source's: one (mentees x base mentors) table serves every
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


def _profile(mentees: pd.DataFrame, mentee_id) -> dict[str, Any]:
    """The mentee's row as an ad-hoc profile (no id: the goals are encoded per query)."""
    from retrieval.recommender import PROFILE_FIELDS

    row = mentees.loc[mentees["mentee_id"] == mentee_id].iloc[0]
    return {name: row[name] for name in PROFILE_FIELDS}


def _hot_spots(run: Callable[[], Any], per: int) -> list[dict[str, Any]]:
    """Where ``run()`` spends its time: cProfile's top 10 functions by own time, per unit
    (``per`` queries or mentees in the run)."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    rows = sorted(pstats.Stats(profiler).stats.items(), key=lambda item: -item[1][2])[:10]
    return [
        {
            "function": f"{Path(file).name}:{line}({name})",
            "calls_per_unit": round(calls / per, 2),
            "own_ms": round(own * 1000.0 / per, 3),
            "cumulative_ms": round(cumulative * 1000.0 / per, 3),
        }
        for (file, line, name), (_, calls, own, cumulative, _) in rows
    ]


def _copy_cosine(base: BaseWorld, vectors: np.ndarray, source: np.ndarray, rng) -> dict[str, float]:
    """Mean cosine of catalogue vectors with their source's bio vector, and between two copies
    of one source (how far the noise moves them; see :data:`NOISE_SIGMA`)."""
    rows = rng.choice(len(vectors), min(2000, len(vectors)), replace=False)
    to_source = np.einsum("ij,ij->i", vectors[rows], base.bio_vectors[source[rows]])
    order = np.argsort(source, kind="stable")
    same = np.flatnonzero(source[order][1:] == source[order][:-1])[:2000]
    siblings = np.einsum("ij,ij->i", vectors[order[same]], vectors[order[same + 1]])
    return {
        "to_source": round(float(to_source.mean()), 4),
        "between_copies": round(float(siblings.mean()), 4) if len(same) else None,
    }


def _pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def _peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _bad_int(value, low: int) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low


# --------------------------------------------------------------------------- targets and text


def check_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 7 with the measured value and whether it is met (None: not run)."""
    sizes, enc, reb = result["sizes"], result["encoder"], result["rebuild"]
    mid, big = sizes.get("100000"), sizes.get("1000000")
    memory = result["machine"]["memory_bytes"]

    def at(size, key):
        return None if size is None else size[key]

    ratio = at(mid, "ndcg@10_ratio")
    rows = [
        ("N=100,000: p50 known mentee <= 5 ms", at(mid, "p50_ms_known"), lambda v: v <= 5),
        ("N=100,000: p50 ad-hoc (with encoding) <= 25 ms", at(mid, "p50_ms_adhoc"), lambda v: v <= 25),
        ("N=100,000: two-stage >= 50x faster than brute force", at(mid, "speedup"), lambda v: v >= 50),
        ("N=100,000: NDCG@10 at most 1% below brute force (ratio)", ratio, lambda v: v >= 0.99),
        ("N=1,000,000: p50 known mentee <= 10 ms", at(big, "p50_ms_known"), lambda v: v <= 10),
        ("N=1,000,000: ANN recall@100 >= 0.99", at(big, "ann_recall@100"), lambda v: v >= 0.99),
        ("N=1,000,000: fits comfortably in memory (RSS GiB, < half of RAM)",
         None if big is None else round(big["rss_bytes"] / 2**30, 2),
         lambda v: v * 2**30 < memory / 2),
        ("Batch >= 1,000 mentees/s at N=100,000", at(mid, "batch_mentees_per_s"), lambda v: v >= 1000),
        ("Encoder >= 2x plain sentence-transformers, mean cos >= 0.99, min >= 0.98, pipeline "
         "NDCG@10 within 1% (speed ratio)", enc.get("ratio"),
         lambda v: v >= 2 and enc["mean_cosine"] >= 0.99 and enc["min_cosine"] >= 0.98
         and enc.get("pipeline_ndcg@10", 1) >= 0.99 * enc.get("pipeline_ndcg@10_reference", 1)),
        ("Rebuild after a 5% refresh >= 10x faster than cold (speed ratio)", reb.get("speedup"),
         lambda v: v >= 10),
    ]
    return [
        {"target": name, "value": value, "met": None if value is None else bool(test(value))}
        for name, value, test in rows
    ]


def format_markdown(result: dict[str, Any]) -> str:
    """The README's benchmark section: one row per catalogue size, then encoder, rebuild, targets."""
    m = result["machine"]
    lines = [
        f"Measured {result['generated_at']} on {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_bytes'] / 2**30:.1f} GiB RAM; load average {m['load_average_start'][0]:.1f} "
        f"at the start and {m.get('load_average_end', [float('nan')])[0]:.1f} at the end "
        "(other jobs shared the cores). Query latencies are single-threaded.",
        "",
        "| mentors | index | known p50 / p95 / p99 (ms) | ad-hoc p50 (ms) | no-reasons p50 (ms) "
        "| brute force p50 (ms) | speed-up | NDCG@10 two-stage / brute (ratio, 95% CI) | batch (mentees/s) "
        "| recall@100 | build (s) | on disk (MB) | RSS (MB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, s in result["sizes"].items():
        spec = s["index_spec"] + "".join(f" {k}={v}" for k, v in s["search_params"].items())
        lines.append(
            f"| {int(n):,} | {spec} | {s['p50_ms_known']:.2f} / {s['p95_ms_known']:.2f} / "
            f"{s['p99_ms_known']:.2f} | {s['p50_ms_adhoc']:.1f} | {s['p50_ms_known_core']:.2f} | "
            f"{s['bruteforce_p50_ms']:.1f} (n={s['bruteforce_queries']}) | {s['speedup']:.1f}x "
            f"({s['speedup_core']:.1f}x) | {s['ndcg@10_two_stage']:.4f} / "
            f"{s['ndcg@10_bruteforce']:.4f} ({_ratio_text(s)}) | {s['batch_mentees_per_s']:.0f} | "
            f"{s['ann_recall@100']:.4f} | {s['index_build_s']:.1f} | {s['index_bytes'] / 1e6:.0f} | "
            f"{s['rss_bytes'] / 1e6:.0f} |"
        )
    lines += [
        "",
        "Stage-1 breadth, on the brute-force mentees:",
        "",
        "| mentors | pool pre-ranked to 200 | distinct source profiles in the 200 | NDCG@10: nearest "
        "200 / pool pre-ranked / nearest 1000 / brute force | known p50: nearest 200 / pre-ranked "
        "/ nearest 1000 (ms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, s in result["sizes"].items():
        lines.append(
            f"| {int(n):,} | {s['pool']} | {s['candidate_sources']:.1f} | "
            f"{s['ndcg@10_two_stage_200']:.4f} / {s['ndcg@10_two_stage']:.4f} / "
            f"{s['ndcg@10_two_stage_1000']:.4f} / {s['ndcg@10_bruteforce']:.4f} | "
            f"{s['p50_ms_known_200']:.2f} / {s['p50_ms_known']:.2f} / {s['p50_ms_known_1000']:.2f} |"
        )
    for n, s in result["sizes"].items():
        if s.get("rejected_ann"):
            a = s["rejected_ann"]
            lines.append(
                f"\nAt {int(n):,} mentors 'auto' dropped {a['spec']} "
                + "".join(f"{k}={v} " for k, v in a["search_params"].items())
                + f"(recall@100 {a['recall@100_sample']:.3f} on the build's query sample, known p50 "
                f"{a['p50_ms_known']:.2f} ms) for exact search."
            )
    e, r = result["encoder"], result["rebuild"]
    lines += [
        "",
        f"Encoder ({e['backend']}, {e['texts']} bios and goals, {e['threads']} threads): "
        f"{e['texts_per_s']:.0f} texts/s vs {e['texts_per_s_reference']:.0f} for plain "
        f"sentence-transformers ({e['ratio']:.2f}x); cosine to its vectors mean "
        f"{e['mean_cosine']:.4f}, min {e['min_cosine']:.4f}. Texts/s by backend: "
        + ", ".join(f"{k} {v:.0f}" for k, v in e["texts_per_s_by_backend"].items())
        + (f"; two-stage NDCG@10 on the base world {e['pipeline_ndcg@10']:.4f} with its vectors vs "
           f"{e['pipeline_ndcg@10_reference']:.4f} with the reference's."
           if "pipeline_ndcg@10" in e else ".")
        + " One goal, one thread (ms, p50): "
        + ", ".join(f"{k} {v:.1f}" for k, v in e["single_goal_p50_ms"].items()) + ".",
        f"Index build from the database ({r['mentors']} mentors, {r['mentees']} mentees): cold "
        f"{r['cold_s']:.1f} s ({r['encoded_cold']} texts encoded) vs {r['refresh_s']:.1f} s after "
        f"a 5% refresh ({r['encoded_refresh']} encoded): {r['speedup']:.1f}x.",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
    ]
    marks = {True: "yes", False: "**no**", None: "not run"}
    for t in result.get("targets", []):
        value = "-" if t["value"] is None else t["value"]
        lines.append(f"| {t['target']} | {value} | {marks[t['met']]} |")
    lines += ["", *[f"- {note}" for note in result.get("notes", [])]]
    return "\n".join(lines)


def _ratio_text(size: dict[str, Any]) -> str:
    ratio, ci = size["ndcg@10_ratio"], size["ndcg@10_ratio_ci95"]
    if ratio is None:
        return "-"
    return f"{ratio:.3f}, {ci[0]:.3f}-{ci[1]:.3f}"


def _notes(config: BenchmarkConfig, result: dict[str, Any]) -> list[str]:
    """How the numbers were made, in words (part of benchmark.json and benchmark.md)."""
    sizes = result["sizes"].values()
    cosines = ", ".join(
        f"{s['copy_cosine']['to_source']:.2f} / {s['copy_cosine']['between_copies'] or float('nan'):.2f}"
        for s in sizes
    )
    return [
        f"Catalogues are derived, not encoded one by one: {config.base_mentors} generated mentors "
        f"and {config.base_mentees} mentees (seed {config.seed}) are embedded with the real "
        "MiniLM; a catalogue of N mentors samples the active base mentors with replacement (new "
        f"ids, the source's profile and ground truth) with vector = source bio vector + "
        f"N(0, {config.noise}^2) per dimension, renormalised. Cosine of a copy with its source / "
        f"between two copies of one source, per size: {cosines}.",
        "The ranker is trained once on the base world (ranking.training.run_training, as "
        "scripts/train.py); the index is built with spec 'auto' and its search tuned to "
        "recall@100 >= 0.99 on a goal sample, as scripts/build_index.py does. Queries are the "
        "base mentees' goals; no interactions are carried over, so no mentor is excluded as "
        "already contacted. The ranker saw some of these mentees in training: NDCG here compares "
        "two orderings by one model, for held-out quality see scripts/evaluate.py.",
        f"Latency: {config.queries} mentees per size after {WARMUP_QUERIES} warm-up queries, k={K}, "
        "200 candidates for the ranker, pre-ranked (ranking.preranker) out of the nearest "
        f"{DEFAULT_POOL:,} (index.spec.DEFAULT_POOL); single-threaded "
        "(faiss.omp_set_num_threads(1), XGBoost nthread=1, BLAS and torch 1 thread). Known = cached goal vector; ad-hoc = the same mentee as a "
        "profile, goals encoded per query.",
        "Brute force = Recommender.eligible_pairs + score_pairs (pair features and the ranker "
        "over every eligible mentor) + top 10, timed the same way on the first "
        f"max({BRUTEFORCE_MIN_QUERIES}, {config.bruteforce_pairs:,} / eligible mentors) query "
        "mentees (n= in the table); speed-up = brute-force p50 / recommend() known p50, in "
        "brackets / no-reasons p50. No-reasons = Recommender.retrieve + score_pairs + top 10: "
        "the same two stages without the wording of reasons (per-feature contributions) that "
        "recommend() adds and brute force does not.",
        "Build = what scripts/build_index.py's 'auto' does: IVF{nlist},Flat from 50,000 "
        "mentors (index.spec.auto_nlist: 16 sqrt(N), at most N/39 and 4096), nprobe doubled "
        "from nlist/128 until recall@100 >= 0.99 and recall@1000 >= 0.97 on 200 goals, else "
        "exact search (Flat); the build time includes that tuning and any fallback.",
        "NDCG@10 over those brute-force mentees with the ground-truth p_match as gain over all of "
        "each mentee's eligible mentors (a good mentor that stage 1 misses counts against the "
        "two-stage list). The ground truth reads only fields a copy shares with its source, so "
        "a copy's gain is its source's. Copies of one source sit close together, so the "
        "nearest mentors hold few distinct source profiles at large N; the breadth table "
        "shows stage 1 with the nearest 200 and the nearest 1,000 scored without pre-ranking.",
        f"Batch = recommend_batch(k={K}) over up to {config.batch_mentees} mentees (fewer at "
        "1,000,000 mentors, see batch_mentees in the JSON) with all cores. "
        "recall@100 = index.search against exact search for the query goals. On disk = the "
        "index folder (FAISS file, ids, vectors); RSS = this process after the recommender is "
        "built (it also holds the encoder, the base world and the test harness).",
        "Encoder: the same bios and goals encoded by plain SentenceTransformer.encode (the "
        "reference) and by embeddings.Encoder. Rebuild: scripts/build_index.py's "
        "build_index_from_db on the base world with an empty embedding cache (model already "
        "loaded) vs again after synthetic.refresh_world(fraction=0.05).",
    ]
