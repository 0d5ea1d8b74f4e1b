"""Speed, memory and scale of the two-stage recommender, measured beside brute force (issue 7).

A harness, not library API: ``scripts/benchmark.py`` runs it. For each catalogue size N:
query latency of :meth:`retrieval.Recommender.recommend` for a known mentee (cached goal
vector) and for an ad-hoc profile (goals encoded per query), single-threaded; the same
mentees scored by brute force (pair features and the ranker over every eligible mentor, as
the original guide's inference does) with the NDCG@10 of both against the synthetic ground
truth; batch throughput of ``recommend_batch``; ANN recall@100 against exact search; index
build time, size on disk and process memory. Once per run: the encoder's throughput against
plain sentence-transformers, and a cold index build against a rebuild after a 5% refresh.

Large catalogues are not encoded text by text: a generated base world is written to a
throw-away SQLite database, indexed with the real MiniLM (the cold build) and used to train
the ranker with :func:`eval.training_run.run_training`; a catalogue of N mentors copies its
active mentors with noisy vectors (:mod:`eval.benchmark.catalogue`). The index is built as
:func:`index.build_index_from_db` builds it: ``auto`` spec, search tuned to recall@100 0.99.

Modules: :mod:`~eval.benchmark.config` (what to measure, the public keys),
:mod:`~eval.benchmark.catalogue` (base world, scaled catalogues, ground-truth gains),
:mod:`~eval.benchmark.timing` (single-threaded timed runs, percentiles, memory, hot spots),
:mod:`~eval.benchmark.stages` (the recommender calls beyond ``recommend``),
:mod:`~eval.benchmark.measure` (per-size figures, brute force, rebuild),
:mod:`~eval.benchmark.encoding` (the encoder), :mod:`~eval.benchmark.refresh` (the live
catalogue: refresh, reload, per-query reads), :mod:`~eval.benchmark.render` (targets,
Markdown, notes) and :mod:`~eval.benchmark.run` (the entry point).

Numbers are reported, never asserted: they depend on the machine and its load, which the
result records (``machine.load_average_start`` / ``_end``).
"""

from eval.benchmark.catalogue import BaseWorld, gain_lookup, load_base_world, make_catalogue
from eval.benchmark.config import (
    ENCODER_KEYS,
    FORMAT,
    REBUILD_KEYS,
    REFRESH_KEYS,
    SIZE_KEYS,
    BenchmarkConfig,
)
from eval.benchmark.render import check_targets, format_markdown
from eval.benchmark.run import machine_info, run_benchmark, write_results
from eval.benchmark.timing import percentile, single_threaded, timed

__all__ = [
    "ENCODER_KEYS",
    "FORMAT",
    "REBUILD_KEYS",
    "REFRESH_KEYS",
    "SIZE_KEYS",
    "BaseWorld",
    "BenchmarkConfig",
    "check_targets",
    "format_markdown",
    "gain_lookup",
    "load_base_world",
    "machine_info",
    "make_catalogue",
    "percentile",
    "run_benchmark",
    "single_threaded",
    "timed",
    "write_results",
]
