"""Batch scoring past one machine, measured: one process beside a Dask LocalCluster of 1 and N workers.

A base world (``base_mentors`` x ``base_mentees``, real MiniLM texts, the ranker trained on it)
gives a catalogue of ``n_mentors`` copies (:func:`eval.benchmark.catalogue.make_catalogue`),
written to a throw-away SQLite database with the base mentees, indexed as
``scripts/build_index.py`` would (``auto``, tuned) and published with the ranker: the artifacts
a nightly job reads. Then, over the same mentees:

* **one process**: :meth:`retrieval.Recommender.recommend_batch` as ``scripts/batch_score.py``
  runs it without ``--scheduler``, with the libraries' default threads and on one thread;
* **Dask, W workers** (one thread each, the index memory-mapped): the cluster's start, each
  worker's load of the artifacts, then :func:`retrieval.distributed.recommend_batch_distributed`
  end to end (a job also refreshes each worker's mentors once);
* **per partition** (one task of ``batch`` mentees on a warm worker): seconds and the worker's
  peak resident memory above its level before the task (sampled every 2 ms), the figures a
  paper model multiplies out (docs/scaling.md).

Throughputs are mentees per second, medians of ``repeats`` runs; the load average before and
after is kept beside them (other work on the machine slows every figure); nothing is asserted.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.benchmark.config import K
from eval.benchmark.timing import single_threaded
from mentor_match.validation import check_int

logger = logging.getLogger(__name__)

__all__ = ["measure_distributed"]

SAMPLE_S = 0.002
"""Seconds between the resident-memory samples taken while a partition runs."""


def measure_distributed(
    n_mentors: int = 100_000, *, workers: tuple[int, ...] = (1, 2), base_mentors: int = 2000,
    base_mentees: int = 2000, batch: int = 512, repeats: int = 3, seed: int = 42, encoder=None,
) -> dict[str, Any]:
    """The figures of the module docstring for a catalogue of ``n_mentors`` and the
    ``base_mentees`` mentees, top :data:`~eval.benchmark.config.K` of 200 candidates each."""
    from embeddings import Encoder
    from mentor_match.cluster import require_dask

    func = "measure_distributed"
    n_mentors = check_int("n_mentors", n_mentors, func, low=100)
    repeats = check_int("repeats", repeats, func)
    batch = check_int("batch", batch, func)
    require_dask()
    encoder = Encoder() if encoder is None else encoder
    with tempfile.TemporaryDirectory(prefix="mm-dist-") as work:
        started = time.perf_counter()
        db_url, served, index_spec = _published_catalogue(Path(work), n_mentors, base_mentors, base_mentees,
                                                          seed, encoder)
        prepare_s = time.perf_counter() - started
        from retrieval.distributed import all_mentee_ids

        ids = all_mentee_ids(db_url)
        load_start = list(os.getloadavg())
        result: dict[str, Any] = {
            "mentors": n_mentors, "mentees": len(ids), "k": K, "candidates": 200, "batch": batch,
            "repeats": repeats, "index_spec": index_spec, "prepare_s": round(prepare_s, 1),
            "single_process": _single_process(served, db_url, ids, batch, repeats),
            "dask": {},
        }
        for count in workers:
            logger.info("Dask LocalCluster with %d worker(s)", count)
            result["dask"][str(count)] = _on_cluster(count, served, db_url, ids, batch, repeats)
        result["load_average"] = {"start": load_start, "end": list(os.getloadavg()), "cores": os.cpu_count()}
    one = result["single_process"]["one_thread_mentees_per_s"]
    for figures in result["dask"].values():
        figures["speedup_vs_one_thread"] = round(figures["mentees_per_s"] / one, 2)
    return result


def _published_catalogue(
    work: Path, n: int, base_mentors: int, base_mentees: int, seed: int, encoder,
) -> tuple[str, Path, str]:
    """(database URL, artifacts folder, index spec): ``n`` mentor copies and the base mentees
    in SQLite, their index published with the base world's ranker and embedding cache
    (:func:`eval.benchmark.served.served_world`)."""
    from eval.benchmark.served import served_world

    world = served_world(work, n, base_mentors=base_mentors, base_mentees=base_mentees, seed=seed,
                         encoder=encoder, email="bench")
    return world.db_url, world.artifacts, world.spec


def _single_process(served: Path, db_url: str, ids: list[int], batch: int, repeats: int) -> dict[str, Any]:
    """recommend_batch in this process: load time, mentees per second with the default threads
    and on one thread (medians)."""
    from retrieval import Recommender

    started = time.perf_counter()
    rec = Recommender.load(served, db_url, log=False, refresh_interval=None)
    load_s = time.perf_counter() - started
    try:
        rec.recommend_batch(ids[:batch], K, progress=False)  # warm-up
        threads = _median_seconds(lambda: rec.recommend_batch(ids, K, batch_size=batch, progress=False), repeats)
        with single_threaded():
            one = _median_seconds(lambda: rec.recommend_batch(ids, K, batch_size=batch, progress=False), repeats)
    finally:
        rec.close()
    return {"load_s": round(load_s, 2), "default_threads_s": round(threads, 2),
            "default_threads_mentees_per_s": round(len(ids) / threads, 1),
            "one_thread_s": round(one, 2), "one_thread_mentees_per_s": round(len(ids) / one, 1)}


def _on_cluster(count: int, served: Path, db_url: str, ids: list[int], batch: int, repeats: int) -> dict[str, Any]:
    """A LocalCluster of ``count`` one-thread workers: start, per-worker load, the job end to
    end (median), and each partition's seconds and peak memory on a warm worker."""
    from mentor_match.cluster import connect
    from retrieval.distributed import Job, partitions, recommend_batch_distributed

    started = time.perf_counter()
    with connect(f"local:{count}", timeout=60) as client:
        start_s = time.perf_counter() - started
        job = Job.make(served, db_url, None)
        loads = list(client.run(_load, job).values())
        run = lambda: recommend_batch_distributed(client, served, db_url, ids, K, batch_size=batch)  # noqa: E731
        run()  # warm-up: a first job per worker
        seconds = _median_seconds(run, repeats)
        options = {"k": K, "candidates": None, "pool": None, "batch_size": batch}
        futures = [client.submit(_partition_cost, job, part, options, pure=False)
                   for part in partitions(ids, batch, batch)]
        costs = client.gather(futures)
    full = [c for c in costs if c["mentees"] == batch] or costs
    return {
        "workers": count,
        "cluster_start_s": round(start_s, 2),
        "worker_load_s": round(statistics.median(w["load_s"] for w in loads), 2),
        "worker_rss_after_load_bytes": int(statistics.median(w["rss_after_load"] for w in loads)),
        "worker_rss_before_load_bytes": int(statistics.median(w["rss_before_load"] for w in loads)),
        "job_s": round(seconds, 2),
        "mentees_per_s": round(len(ids) / seconds, 1),
        "partition": {
            "mentees": int(statistics.median(c["mentees"] for c in full)),
            "seconds_median": round(statistics.median(c["seconds"] for c in full), 3),
            "seconds_max": round(max(c["seconds"] for c in full), 3),
            "peak_extra_bytes_median": int(statistics.median(c["peak_extra"] for c in full)),
            "peak_extra_bytes_max": int(max(c["peak_extra"] for c in full)),
            "worker_peak_rss_bytes": int(max(c["peak_rss"] for c in full)),
            "count": len(costs),
        },
    }


def _median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _load(job) -> dict[str, float]:
    """On a worker: load the job's recommender (timed) and the resident memory before and after."""
    import psutil

    from retrieval.distributed import worker_recommender

    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    worker_recommender(job)
    return {"load_s": time.perf_counter() - started, "rss_before_load": before,
            "rss_after_load": process.memory_info().rss}


def _partition_cost(job, mentee_ids: np.ndarray, options: dict[str, Any]) -> dict[str, float]:
    """On a worker: one partition through recommend_batch, its seconds and the peak resident
    memory above the level before it (sampled every :data:`SAMPLE_S` seconds)."""
    import psutil

    from retrieval.distributed import worker_recommender

    rec = worker_recommender(job)
    process = psutil.Process()
    before = process.memory_info().rss
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_S):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    rec.recommend_batch(mentee_ids.tolist(), **options, progress=False)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], process.memory_info().rss)
    return {"mentees": len(mentee_ids), "seconds": seconds, "peak_extra": peak[0] - before, "peak_rss": peak[0]}
