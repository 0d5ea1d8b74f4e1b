"""Ranker training at scale: one process against Dask with 1 and 2 workers, per-partition costs,
and the Dask ranker's NDCG against the single-machine one.

    python -m eval.benchmark.training_scale [--rows 1000000] [--trees 100] [--repeats 3] [--json PATH]

What it measures (medians of ``repeats`` runs; numbers are reported, never asserted):

* **time** to build the features and fit the ranker on a log of ``rows`` labelled impressions:
  in one process (:func:`ranking.features.pair_features` on the whole frame, then
  :meth:`ranking.ranker.Ranker.fit` with 1 thread and with every core), and on a
  :class:`distributed.LocalCluster` of 1 and 2 single-threaded workers
  (:mod:`ranking.distributed`: features per partition, ``DaskXGBRanker``); the cluster's
  start-up is timed apart, as overhead. Every fit grows exactly ``trees`` trees (no early
  stopping), so each path does the same work.
* **one partition's cost** (:data:`ranking.distributed.ROWS_PER_PARTITION` rows) in a fresh
  process: seconds for its features, seconds per tree of its fit, and the peak resident memory
  each step adds (sampled every 5 ms); the paper model in docs/scaling.md scales these.
* **the driver's serial step**: the as-of mentor state of a log of ``rows`` interactions
  (:func:`ranking.distributed.request_frame`), which stays on the driver.
* **the model**: held-out NDCG@10 of the single-machine and the Dask (2 workers) ranker on the
  generated world's own split (early stopping on, the project's parameters), with the paired
  bootstrap interval of the difference and the single model's own 95% bootstrap half-width
  over test mentees (the tolerance the tests use).

The log: a generated world (:func:`synthetic.generate_world`) gives the real labelled pairs and
their as-of mentor aggregates; to reach ``rows`` its training requests are repeated, each copy
under new mentee ids (copies of the mentee profiles) with the four as-of aggregates jittered by
1% multiplicative noise, so copies are distinct queries with near-identical content. The
similarity feature is NaN here (no encoder): it is one more column of the same cost.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from db import Dataset
from eval.metrics import ndcg_per_query
from eval.stats import bootstrap_ci, paired_comparison
from mentor_match.cluster import connect
from mentor_match.validation import check_int
from ranking.distributed import (
    QUERY,
    ROWS_PER_PARTITION,
    FeatureInputs,
    feature_inputs,
    features_block,
    fit_on_dask,
    partition_by_query,
    partition_features,
    request_frame,
    share_inputs,
)
from ranking.features import FEATURES, prepare_mentees, prepare_mentors
from ranking.history import AGGREGATES
from ranking.training import build_training_pairs, make_pair_frame, make_ranker, split_pairs
from synthetic import generate_world

WORLD = {"n_mentors": 1000, "n_mentees": 6000, "interactions_per_mentee": 10, "seed": 11}
"""The generated world behind the log (about 50,000 labelled pairs)."""
JITTER = 0.01


def scaled_log(rows: int, *, seed: int = 0) -> tuple[pd.DataFrame, FeatureInputs, Dataset]:
    """A request frame (:func:`ranking.distributed.request_frame`) of about ``rows`` training
    requests, the world's training part repeated under new mentee ids (see the module's
    docstring), and the profiles it refers to."""
    world = generate_world(**WORLD)
    dataset = Dataset(mentors=world.mentors, mentees=world.mentees, interactions=world.interactions)
    pairs = build_training_pairs(dataset)
    train = request_frame(dataset, pairs).iloc[split_pairs(pairs, "time", 42).train]
    copies = max(1, -(-rows // len(train)))
    offset = int(world.mentees["mentee_id"].max()) + 1
    rng = np.random.default_rng(seed)
    frames, mentees = [], []
    for copy in range(copies):
        part = train.copy()
        part["mentee_id"] = part["mentee_id"] + copy * offset
        if copy:
            noise = 1 + JITTER * rng.standard_normal((len(part), len(AGGREGATES)))
            part[list(AGGREGATES)] = part[list(AGGREGATES)].to_numpy() * noise
            part["acceptance_rate"] = part["acceptance_rate"].clip(0, 1)
        frames.append(part)
        mentees.append(world.mentees.assign(mentee_id=world.mentees["mentee_id"] + copy * offset))
    log = pd.concat(frames, ignore_index=True).iloc[:rows]
    inputs = FeatureInputs(prepare_mentees(pd.concat(mentees, ignore_index=True)), prepare_mentors(world.mentors))
    return log, inputs, dataset


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _timed(call) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def as_of_cost(rows: int, repeats: int = 3) -> dict[str, Any]:
    """Seconds of the driver's serial step, the as-of mentor state of ``rows`` requests
    (:func:`ranking.distributed.request_frame`) against a log of as many interactions: the
    world's interactions repeated under new mentee ids (same mentors, same times)."""
    world = generate_world(**WORLD)
    copies = max(1, -(-rows // len(world.interactions)))
    offset = int(world.mentees["mentee_id"].max()) + 1
    interactions = pd.concat(
        [world.interactions.assign(mentee_id=world.interactions["mentee_id"] + copy * offset) for copy in range(copies)],
        ignore_index=True,
    ).iloc[:rows]
    dataset = Dataset(mentors=world.mentors, mentees=world.mentees, interactions=interactions)
    pairs = build_training_pairs(dataset)
    seconds = [_timed(partial(request_frame, dataset, pairs))[0] for _ in range(repeats)]
    return {"interactions": len(interactions), "requests": len(pairs), "seconds": _median(seconds)}


def single_process(log: pd.DataFrame, inputs: FeatureInputs, trees: int, repeats: int) -> dict[str, Any]:
    """Features of the whole log in one call, then the fit with 1 thread and with every core."""
    frame = log.assign(**{QUERY: pd.factorize(log["mentee_id"])[0]})
    out: dict[str, Any] = {}
    features_s, fits = [], {1: [], None: []}
    for _ in range(repeats):
        seconds, X = _timed(lambda: features_block(frame, inputs))
        features_s.append(seconds)
        for threads in fits:
            ranker = make_ranker(0, n_jobs=threads, n_estimators=trees, early_stopping_rounds=None)
            seconds, _ = _timed(partial(ranker.fit, X[list(FEATURES)], X["relevance"], X[QUERY]))
            fits[threads].append(seconds)
    out["features_seconds"] = _median(features_s)
    out["fit_seconds_1_thread"] = _median(fits[1])
    out["fit_seconds_all_cores"] = _median(fits[None])
    return out


def on_dask(log: pd.DataFrame, inputs: FeatureInputs, workers: int, trees: int, repeats: int) -> dict[str, Any]:
    """Cluster start-up (workers started, the project imported on them), features per partition (persisted) and the Dask fit, on ``workers``."""
    npartitions = workers * max(1, -(-len(log) // (ROWS_PER_PARTITION * workers)))
    startup, features_s, fits = [], [], []
    for _ in range(repeats):
        started = time.perf_counter()
        with connect(f"local:{workers}") as client:
            client.wait_for_workers(workers)
            client.run(importlib.import_module, "ranking.distributed")  # the workers' imports: start-up too
            startup.append(time.perf_counter() - started)
            seconds, features = _timed(lambda: _persisted(client, log, inputs, npartitions))
            features_s.append(seconds)
            ranker = make_ranker(0, n_estimators=trees, early_stopping_rounds=None)
            seconds, _ = _timed(partial(fit_on_dask, client, ranker, features))
            fits.append(seconds)
    return {"workers": workers, "partitions": npartitions, "startup_seconds": _median(startup),
            "features_seconds": _median(features_s), "fit_seconds": _median(fits)}


def _persisted(client, log: pd.DataFrame, inputs: FeatureInputs, npartitions: int):
    from distributed import wait

    features = partition_features(client, partition_by_query(log, npartitions, client), inputs)
    wait(features)
    return features


class _PeakRss:
    """The process's peak resident memory above its level at entry, sampled every 5 ms by a
    thread (``ru_maxrss`` is a high-water mark since the process began, useless for a delta)."""

    def __enter__(self) -> _PeakRss:
        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def above_start(self) -> int:
        return int(self.peak - self.start)


def _one_partition(log: pd.DataFrame, inputs: FeatureInputs, trees: int) -> dict[str, Any]:
    """Runs in a fresh process: one partition's features and fit, and the memory each takes."""
    import xgboost  # noqa: F401 - loaded before measuring, as a worker has it loaded

    frame = log.assign(**{QUERY: pd.factorize(log["mentee_id"])[0]})
    with _PeakRss() as features_memory:
        features_seconds, X = _timed(partial(features_block, frame, inputs))
    ranker = make_ranker(0, n_jobs=1, n_estimators=trees, early_stopping_rounds=None)
    with _PeakRss() as fit_memory:
        fit_seconds, _ = _timed(partial(ranker.fit, X[list(FEATURES)], X["relevance"], X[QUERY]))
    return {
        "rows": len(frame), "features_seconds": round(features_seconds, 3),
        "fit_seconds_per_tree": round(fit_seconds / trees, 4),
        "feature_block_bytes": int(X.memory_usage(deep=True).sum()),
        "features_peak_rss_bytes": features_memory.above_start,
        "fit_peak_rss_bytes": fit_memory.above_start,
    }


def per_partition(log: pd.DataFrame, inputs: FeatureInputs, trees: int) -> dict[str, Any]:
    """:func:`_one_partition` on the first :data:`ROWS_PER_PARTITION` rows, in a spawned process."""
    part = log.iloc[:ROWS_PER_PARTITION]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_one_partition, part, inputs, trees).result()


def model_agreement(seed: int = 42) -> dict[str, Any]:
    """Held-out NDCG@10 of the single-machine and the Dask (2 workers) ranker on the world's own
    split, the project's parameters and early stopping; the paired difference and the single
    model's bootstrap half-width (the tests' tolerance)."""
    world = generate_world(**WORLD)
    dataset = Dataset(mentors=world.mentors, mentees=world.mentees, interactions=world.interactions)
    pairs = build_training_pairs(dataset)
    split = split_pairs(pairs, "time", seed)
    X = make_pair_frame(dataset, pairs, None, None, False)
    rel, mentee = pairs["relevance"], pairs["mentee_id"]
    single = make_ranker(seed).fit(
        X.iloc[split.train], rel.iloc[split.train], mentee.iloc[split.train],
        eval_set=(X.iloc[split.validation], rel.iloc[split.validation], mentee.iloc[split.validation]),
    )
    requests, inputs = request_frame(dataset, pairs), feature_inputs(dataset, pairs)
    with connect("local:2") as client:
        inputs = share_inputs(client, inputs)
        train = partition_features(client, partition_by_query(requests.iloc[split.train], 2, client), inputs)
        valid = partition_features(client, partition_by_query(requests.iloc[split.validation], 2, client), inputs)
        dask_ranker = fit_on_dask(client, make_ranker(seed), train, valid)
    test = split.test
    y, groups = rel.to_numpy()[test], mentee.to_numpy()[test]
    a = ndcg_per_query(y, dask_ranker.predict(X.iloc[test]), 10, groups)
    b = ndcg_per_query(y, single.predict(X.iloc[test]), 10, groups)
    low, high = bootstrap_ci(b, n_boot=2000, seed=0)
    return {
        "test_mentees": len(b), "train_pairs": len(split.train),
        "ndcg10_single": round(float(b.mean()), 4), "ndcg10_dask": round(float(a.mean()), 4),
        "trees_single": int(single.best_iteration_), "trees_dask": int(dask_ranker.best_iteration_),
        "paired_dask_minus_single": {k: round(v, 4) for k, v in paired_comparison(a, b, n_boot=2000).items()},
        "tolerance_half_width": round((high - low) / 2, 4),
    }


def measure_training_scale(rows: int = 1_000_000, trees: int = 100, repeats: int = 3) -> dict[str, Any]:
    """Every measurement of the module's docstring, as one json-able dict."""
    check_int("rows", rows, "measure_training_scale", low=1000)
    check_int("trees", trees, "measure_training_scale", low=1)
    check_int("repeats", repeats, "measure_training_scale", low=1)
    log, inputs, _ = scaled_log(rows)
    load = os.getloadavg()[0]  # other jobs on the machine share its cores: say how busy it was
    return {
        "load_average_at_start": round(load, 2),
        "rows": len(log), "queries": int(log["mentee_id"].nunique()), "trees": trees, "repeats": repeats,
        "rows_per_partition": ROWS_PER_PARTITION, "cores": multiprocessing.cpu_count(),
        "single_process": single_process(log, inputs, trees, repeats),
        "dask": [on_dask(log, inputs, workers, trees, repeats) for workers in (1, 2)],
        "per_partition": per_partition(log, inputs, trees),
        "as_of_on_the_driver": as_of_cost(rows, repeats),
        "model": model_agreement(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="labelled impressions in the log (default 1e6)")
    parser.add_argument("--trees", type=int, default=100, help="trees per timed fit (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing; the median is reported (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the result to PATH")
    args = parser.parse_args(argv)
    result = measure_training_scale(args.rows, args.trees, args.repeats)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
