"""The training run on a Dask cluster behind ``scripts/train.py --scheduler``: load, split,
features per partition, ``DaskXGBRanker``, judge, publish the usual ranker folder.

:func:`run_distributed_training` is :func:`eval.training_run.run_training`'s ranker path for a
log too big for one machine. It loads the database and builds the labelled pairs and their
as-of mentor state on the driver, splits them there (:func:`ranking.training.split_pairs`: no
mentee in two parts, the test period after the training one), and hands each part to the
cluster partitioned by mentee (:mod:`ranking.distributed`): features per partition through
:func:`ranking.features.pair_features`, the XGBoost ``rank:pairwise`` ranker with the project's
parameters (:func:`ranking.training.make_ranker`) early-stopped on the validation mentees. The
held-out NDCG@5/10 is measured with :mod:`eval.metrics` on the test mentees' features (gathered:
the test part is the smallest), the pre-ranker is distilled, and the ranker is published with
:func:`ranking.training.publish_ranker` (the same folder, manifest and training snapshot), so
serving loads it unchanged.

What stays on one machine: the three classifier baselines, tuning and cross-validation (the
comparison table) and the reciprocal heads; heads published earlier stay in place.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from db.fingerprint import training_fingerprints
from db.loading import read_dataset
from eval.metrics import ndcg_at_k
from mentor_match.cluster import connect, parse_scheduler, require_dask, worker_count
from mentor_match.text import format_table
from ranking.distributed import (
    QUERY,
    RELEVANCE,
    ROWS_PER_PARTITION,
    feature_inputs,
    fit_on_dask,
    partition_by_query,
    partition_features,
    request_frame,
    share_inputs,
)
from ranking.features import FEATURES
from ranking.snapshot import SAMPLE_ROWS, draw_training_sample
from ranking.training import (
    build_training_pairs,
    distil_preranker,
    make_ranker,
    publish_ranker,
    split_pairs,
)
from retrieval.experiments import variant_folder

if TYPE_CHECKING:  # pragma: no cover
    from embeddings import Encoder

__all__ = ["format_distributed_report", "run_distributed_training"]

HEADS_SKIPPED = (
    "not trained on Dask (the reciprocal heads train on one machine: scripts/train.py without --scheduler)"
)


def run_distributed_training(
    scheduler: str,
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    seed: int = 42,
    encoder: Encoder | None = None,
    progress: bool = True,
    params: dict[str, Any] | None = None,
    variant: str | None = None,
    split: str = "time",
    point_in_time: bool = True,
    npartitions: int | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Train the XGBoost ranker on the Dask cluster ``scheduler`` (``local``, ``local:N`` or an
    address, :func:`mentor_match.cluster.connect`) and publish it as ``artifacts/ranker`` (or the
    A/B variant's ranker).

    Returns a json-able dict: scheduler, workers, partitions (per part), train_pairs,
    validation_pairs, test_pairs, train_mentees, test_mentees, models {"xgboost_ranker":
    {"ndcg@5", "ndcg@10"}} on the held-out mentees, best_iteration, feature_importance {feature:
    share of gain}, preranker, ranker_path, heads {path None, skipped}, seed, split,
    point_in_time, seconds. ``params`` override the ranker's parameters
    (:func:`ranking.training.make_ranker`); ``npartitions`` defaults to the smallest multiple of the
    worker count with at most :data:`ranking.distributed.ROWS_PER_PARTITION` training rows each. A scheduler
    that cannot be used raises :class:`mentor_match.errors.ClusterError`.
    """
    started = time.perf_counter()
    require_dask()  # a missing extra or a malformed --scheduler fails before the data is read
    parse_scheduler(scheduler)
    artifacts = Path(artifacts)
    publish_to = artifacts if variant is None else variant_folder(artifacts, variant)
    dataset = read_dataset(db_url)
    pairs = build_training_pairs(dataset)
    if encoder is None:
        from embeddings import Encoder

        encoder = Encoder()
    parts = split_pairs(pairs, split, seed)
    groups = pairs["mentee_id"].to_numpy()
    inputs = feature_inputs(dataset, pairs, encoder, artifacts / "cache", progress, point_in_time=point_in_time)
    requests = request_frame(dataset, pairs, point_in_time=point_in_time)
    with connect(scheduler, timeout=timeout) as client:
        workers = worker_count(client)
        inputs = share_inputs(client, inputs)  # once for the three parts, held until the end
        per_worker = -(-len(parts.train) // (ROWS_PER_PARTITION * workers))  # a multiple of the workers
        train_n = npartitions or workers * max(per_worker, 1)
        train = partition_features(client, partition_by_query(requests.iloc[parts.train], train_n, client), inputs,
                                   progress=progress)
        valid = None
        if len(parts.validation):
            valid = partition_features(client, partition_by_query(requests.iloc[parts.validation], workers, client),
                                       inputs, progress=progress)
        ranker = fit_on_dask(client, make_ranker(seed, **(params or {})), train, valid)
        held_out = partition_features(client, partition_by_query(requests.iloc[parts.test], workers, client), inputs,
                                      progress=progress)
        test = held_out.compute()
        share = min(1.0, 2.0 * SAMPLE_ROWS / max(len(parts.train), 1))
        sampled = train.sample(frac=share, random_state=seed).compute() if share < 1 else train.compute()
        partitions = {"train": int(train.npartitions), "validation": int(valid.npartitions) if valid is not None else 0,
                      "test": int(held_out.npartitions)}
    scores = ranker.predict(test[list(FEATURES)])
    metrics = {f"ndcg@{k}": ndcg_at_k(test[RELEVANCE].to_numpy(), scores, k, groups=test[QUERY].to_numpy())
               for k in (5, 10)}
    preranker = distil_preranker(ranker, dataset, np.unique(groups[parts.train]), encoder, artifacts / "cache", seed)
    importance = ranker.feature_importance("gain")
    total = importance.sum()
    shares = importance / total if total > 0 else importance
    metadata = {
        "encoder": encoder.identity,
        "seed": seed,
        "training_data": {
            **training_fingerprints(dataset),
            "pairs": {"train": len(parts.train), "validation": len(parts.validation), "test": len(parts.test)},
            "split": split,
            "point_in_time": point_in_time,
            "trained_until": str(pairs["created_at"].to_numpy()[parts.train].max()),
        },
        "trained_on": {"scheduler": scheduler, "workers": workers, "partitions": partitions},
        "metrics": metrics,
        "preranker": preranker.to_dict(),
        "variant": variant,
    }
    sample = draw_training_sample(sampled[list(FEATURES)], ranker, seed=seed)
    sample = sample._replace(total_rows=len(parts.train))
    path = publish_ranker(ranker, publish_to, metadata=metadata, importance=importance, sample=sample)
    return {
        "scheduler": scheduler,
        "workers": workers,
        "partitions": partitions,
        "train_pairs": len(parts.train),
        "validation_pairs": len(parts.validation),
        "test_pairs": len(parts.test),
        "train_mentees": int(len(np.unique(groups[parts.train]))),
        "test_mentees": int(len(np.unique(groups[parts.test]))),
        "models": {"xgboost_ranker": metrics},
        "best_iteration": int(ranker.best_iteration_),
        "feature_importance": {k: float(v) for k, v in shares.items()},
        "preranker": preranker.to_dict(),
        "ranker_path": str(path),
        "heads": {"path": None, "skipped": HEADS_SKIPPED},
        "seed": seed,
        "split": split,
        "point_in_time": point_in_time,
        "seconds": round(time.perf_counter() - started, 2),
    }


def format_distributed_report(report: dict[str, Any]) -> str:
    """The distributed run as text: data, cluster, the ranker's held-out NDCG, where it went.

    >>> report = {"scheduler": "local:2", "workers": 2, "partitions": {"train": 2, "validation": 2, "test": 2},
    ...     "train_pairs": 80, "validation_pairs": 8, "test_pairs": 20, "train_mentees": 10,
    ...     "test_mentees": 3, "models": {"xgboost_ranker": {"ndcg@5": 0.5, "ndcg@10": 0.625}},
    ...     "best_iteration": 12, "feature_importance": {"domain_overlap": 0.4},
    ...     "ranker_path": "artifacts/ranker", "heads": {"skipped": "not trained"}, "seconds": 1.0}
    >>> print(format_distributed_report(report).splitlines()[3])
    Model           NDCG@5  NDCG@10
    """
    metrics = report["models"]["xgboost_ranker"]
    top = list(report["feature_importance"].items())[:5]
    return "\n".join([
        f"Training set: {report['train_pairs']} pairs ({report['train_mentees']} mentees), "
        f"validation: {report['validation_pairs']} pairs; test set: {report['test_pairs']} pairs "
        f"({report['test_mentees']} mentees, none seen in training)",
        f"Trained on Dask ({report['scheduler']}, {report['workers']} workers, "
        f"{report['partitions']['train']} training partitions by mentee); {report['best_iteration']} trees",
        "",
        format_table(["Model", "NDCG@5", "NDCG@10"],
                     [["XGBoost Ranker", f"{metrics['ndcg@5']:.4f}", f"{metrics['ndcg@10']:.4f}"]]),
        "",
        f"Reciprocal heads: {report['heads']['skipped']}",
        "Top ranker features (share of gain): " + ", ".join(f"{k} {v:.2f}" for k, v in top),
        f"Ranker saved to {report['ranker_path']} ({report['seconds']:.1f} s)",
    ])
