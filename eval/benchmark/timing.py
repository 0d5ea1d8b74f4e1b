"""How the benchmark times things: single-threaded runs, warm-up, percentiles, memory, hot spots."""

from __future__ import annotations

import cProfile
import pstats
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from eval.benchmark.config import WARMUP_QUERIES


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


def timed(call: Callable[[Any], Any], items: Sequence) -> tuple[np.ndarray, list]:
    """Milliseconds per call of ``call(item)`` after a few warm-up calls, and the results.

    >>> milliseconds, results = timed(lambda x: x * 2, [1, 2, 3])
    >>> results, milliseconds.shape
    ([2, 4, 6], (3,))
    """
    for item in list(items)[:WARMUP_QUERIES]:
        call(item)
    times, results = np.empty(len(items)), []
    for i, item in enumerate(items):
        started = time.perf_counter()
        results.append(call(item))
        times[i] = (time.perf_counter() - started) * 1000.0
    return times, results


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The ``q``-th percentile of ``values`` (linear interpolation), rounded to 3 decimals.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> percentile([10.0, 20.0, 30.0], 95)
    29.0
    """
    return round(float(np.percentile(values, q)), 3)


def peak_rss() -> int:
    """The process's peak resident memory in bytes (Linux reports ru_maxrss in KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def hot_spots(run: Callable[[], Any], per: int) -> list[dict[str, Any]]:
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
