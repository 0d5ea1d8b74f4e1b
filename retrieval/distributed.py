"""Batch scoring and stage-1 candidates on a Dask cluster: the nightly jobs past one machine.

:func:`recommend_batch_distributed` and :func:`retrieve_distributed` split the mentees into
partitions of whole batches (:func:`dask.dataframe.from_map`, one task per partition). Each
worker process loads the published artifacts once (:meth:`Recommender.load
<retrieval.recommender.Recommender.load>` with the index memory-mapped, ``mmap=True``, as
the service's workers map it), keeps that recommender for every later partition of
the same artifacts, database and experiment, and runs the single-machine
:meth:`~retrieval.recommender.Recommender.recommend_batch` or
:meth:`~retrieval.recommender.Recommender.retrieve` on its partition. The artifacts folder is
shared by path: every worker must see it at the same path and reach the same database.

What the results promise, and what they do not:

* **Equal to one machine.** Row for row and column for column the single-machine result with
  the same ``batch_size``, except ``list_id``, which is a fresh random id per list wherever it
  is made. Partitions are whole batches (with an experiment, whole batches of one arm's mentees,
  as ``recommend_batch`` makes them), so each FAISS search and XGBoost call sees the rows it
  sees on one machine: the same shapes, the same floating-point results.
* **No log.** Workers load with ``log=False``: the lists scored here are not written to the
  recommendation log, and outcomes posted with their ``list_id`` do not join a logged list.
* **No priced arms.** A variant scored by ``market`` prices each mentee by the lists served
  before it, one after another, which partitions cannot reproduce; such an experiment is
  refused with :class:`~mentor_match.errors.InvalidParameterError` naming the fix. Unpriced A/B
  arms split exactly (a mentee's arm is a salted hash of its id).
* **Failures.** A worker that dies loses only the partitions it held; the scheduler reruns them
  elsewhere (Dask's ``distributed.scheduler.allowed-failures`` times per partition), so the
  result still has every mentee once.
* **Fresh mentors per job.** A worker that already holds a recommender refreshes its mentors
  from the database once per job (the first partition of the job it runs); a newly published
  index or ranker (another target of the artifacts' links) is loaded anew.

Dask is imported inside the functions: this module imports without the ``distributed`` extra.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int
from retrieval.experiments import MARKET_SCORE, Experiment
from retrieval.live import artifact_links
from retrieval.recommender import Recommender

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from distributed import Client

__all__ = [
    "BATCH_META", "CANDIDATE_META", "Job", "all_mentee_ids", "partitions", "recommend_batch_distributed",
    "retrieve_distributed", "worker_recommender",
]

BATCH_META = {"mentee_id": np.int64, "rank": np.int64, "mentor_id": np.int64, "score": float,
              "similarity": float, "list_id": object}
"""Columns and dtypes of :func:`recommend_batch_distributed` (those of ``recommend_batch``)."""
CANDIDATE_META = {"mentee_id": np.int64, "mentor_id": np.int64, "similarity": float}
"""Columns and dtypes of :func:`retrieve_distributed` (those of ``retrieve``)."""
PARTITIONS_PER_WORKER = 4
"""Default partitions per worker: enough to balance uneven workers and to lose little to a
dead one, few enough that the per-task overhead stays small."""


@dataclass(frozen=True)
class Job:
    """What a worker needs to serve one job: where the artifacts are (an absolute path every
    worker sees), the database, the experiment file, the published versions (the targets of the
    artifacts' links when the job started) and the job's id (to refresh once per job)."""

    artifacts: str
    db_url: str | None
    experiment: str | None
    versions: tuple[str, ...]
    job_id: str

    @classmethod
    def make(
        cls, artifacts: str | Path, db_url: str | None, experiment: str | Path | None = None,
        arms: Experiment | None = None,
    ) -> Job:
        """The job over ``artifacts``; ``arms``: the experiment loaded from the file ``experiment``."""
        folder = Path(artifacts).absolute()
        versions = tuple(sorted(artifact_links(folder, arms).values()))
        return cls(str(folder), db_url, None if experiment is None else str(Path(experiment).absolute()),
                   versions, uuid.uuid4().hex)


def partitions(mentee_ids: Sequence[int], batch_size: int, partition_size: int) -> list[np.ndarray]:
    """``mentee_ids`` cut into consecutive partitions of ``partition_size`` rounded up to whole
    batches of ``batch_size`` (the last may be shorter).

    >>> [p.tolist() for p in partitions(range(7), 2, 3)]
    [[0, 1, 2, 3], [4, 5, 6]]
    """
    ids = np.asarray(list(mentee_ids), dtype=np.int64)
    size = -(-partition_size // batch_size) * batch_size
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def recommend_batch_distributed(
    client: Client, artifacts: str | Path, db_url: str | None, mentee_ids: Sequence[int], k: int = 10,
    candidates: int | None = None, *, pool: int | None = None, batch_size: int = 512,
    partition_size: int | None = None, experiment: str | Path | None = None, out: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame | Path:
    """:meth:`Recommender.recommend_batch` of ``mentee_ids`` on the cluster of ``client``: the
    top ``k`` per mentee, columns :data:`BATCH_META`, in the single-machine order (see the
    module's docstring for what is equal, and why the workers write no log).

    ``partition_size``: mentees per task (default: the mentees shared out as
    :data:`PARTITIONS_PER_WORKER` partitions per worker), rounded up to whole batches.
    ``experiment``: an experiment JSON file (refused when a variant is priced). ``out``: write
    one Parquet file per partition into this folder (a path every worker sees) instead of
    gathering the frame on the client, and return the folder; with several arms the files
    hold one arm's mentees after another's (sort by the mentees' order to read them as one
    machine's). ``progress``: Dask's progress bar.
    """
    func = "recommend_batch_distributed"
    k = check_int("k", k, func)
    batch_size = check_int("batch_size", batch_size, func)
    arms = None if experiment is None else Experiment.load(experiment)
    _refuse_priced(arms, experiment)
    job = Job.make(artifacts, db_url, experiment, arms)
    run = _PartitionCall("recommend_batch", job, {"k": k, "candidates": candidates, "pool": pool,
                                                  "batch_size": batch_size})
    ids = [int(i) for i in mentee_ids]
    size = _partition_size(client, len(ids), partition_size, func)
    if arms is None or len(arms.variants) == 1:
        return _run(client, run, partitions(ids, batch_size, size), BATCH_META, out, progress)
    # Each arm's mentees in batches of their own, as recommend_batch makes them; then back in
    # the order asked for (on the client; Parquet files hold one arm's mentees after another's).
    assigned = np.asarray(arms.assign_many(ids), dtype=object)
    parts = [part for name in arms.shares
             for part in partitions(np.asarray(ids, np.int64)[assigned == name], batch_size, size)]
    found = _run(client, run, parts, BATCH_META, out, progress)
    if out is not None:
        return found
    position = {mentee: i for i, mentee in enumerate(ids)}
    order = np.argsort(found["mentee_id"].map(position).to_numpy(), kind="stable")
    return found.iloc[order].reset_index(drop=True)


def retrieve_distributed(
    client: Client, artifacts: str | Path, db_url: str | None, mentee_ids: Sequence[int],
    candidates: int | None = None, *, pool: int | None = None, batch_size: int = 512,
    partition_size: int | None = None, progress: bool = False,
) -> pd.DataFrame:
    """:meth:`Recommender.retrieve` of ``mentee_ids`` on the cluster of ``client``: stage 1
    alone, columns :data:`CANDIDATE_META`, equal to the single-machine frame (same
    ``batch_size``): the candidates :func:`retrieval.cohort.assign_cohort` scores when given
    them as ``found``."""
    func = "retrieve_distributed"
    batch_size = check_int("batch_size", batch_size, func)
    job = Job.make(artifacts, db_url)
    run = _PartitionCall("retrieve", job, {"candidates": candidates, "pool": pool, "batch_size": batch_size})
    ids = [int(i) for i in mentee_ids]
    size = _partition_size(client, len(ids), partition_size, func)
    return _run(client, run, partitions(ids, batch_size, size), CANDIDATE_META, None, progress)


def all_mentee_ids(db_url: str | None) -> list[int]:
    """Every mentee's id in the database, in id order (what a nightly job scores by default)."""
    from sqlalchemy import select

    from db.connection import connect
    from db.engine import get_engine
    from db.schema import mentees

    engine = get_engine(db_url)
    try:
        with connect(engine) as conn:
            return [int(m) for m in conn.execute(select(mentees.c.mentee_id).order_by(mentees.c.mentee_id)).scalars()]
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- the client side
def _partition_size(client: Client, mentees: int, partition_size: int | None, func: str) -> int:
    """``partition_size`` checked, or by default the mentees shared out as
    :data:`PARTITIONS_PER_WORKER` partitions per worker of ``client``'s cluster."""
    from mentor_match.cluster import worker_count

    if partition_size is None:
        return max(1, -(-mentees // (PARTITIONS_PER_WORKER * worker_count(client))))
    return check_int("partition_size", partition_size, func)


def _run(
    client: Client, run: _PartitionCall, parts: list[np.ndarray], meta: dict[str, Any], out: str | Path | None,
    progress: bool,
) -> pd.DataFrame | Path:
    """``run`` over the partitions ``parts`` on the cluster (one task each), gathered in their
    order (or written to ``out``, one Parquet file per partition), with Dask's progress bar
    when ``progress``."""
    import dask
    import dask.dataframe as dd
    from distributed import progress as show_progress

    empty = pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in meta.items()})
    if not parts:
        return empty
    with dask.config.set({"dataframe.convert-string": False}):  # list_id stays object, as on one machine
        frame = dd.from_map(run, parts, meta=empty, enforce_metadata=False, label=run.method)
        if out is not None:
            folder = Path(out)
            written = client.compute(frame.to_parquet(folder, write_index=False, schema=_arrow_schema(meta),
                                                      compute=False))
            if progress:
                show_progress(written)
            written.result()
            return folder
        frame = client.persist(frame)
        if progress:
            show_progress(frame)
        return frame.compute().reset_index(drop=True)


def _arrow_schema(meta: dict[str, Any]):
    """The Parquet files' schema: the frame's dtypes, object columns (ids) as strings."""
    import pyarrow as pa

    return pa.schema([(name, pa.string() if kind is object else pa.from_numpy_dtype(np.dtype(kind)))
                      for name, kind in meta.items()])


def _refuse_priced(experiment: Experiment | None, path: str | Path | None) -> None:
    """Raise when a variant of ``experiment`` is priced (its lists depend on the ones before)."""
    priced = [] if experiment is None else [v.name for v in experiment.variants if v.score == MARKET_SCORE]
    if priced:
        raise InvalidParameterError(
            f"The experiment {str(path)!r} has priced variant(s) {priced} (score {MARKET_SCORE!r}): "
            "their lists are priced one after another, which partitions cannot reproduce. Batch-score "
            "that experiment on one machine (no --scheduler), or one without the priced variants."
        )


# ---------------------------------------------------------------------------- the worker side
_LOADED: dict[tuple[str, str | None, str | None], _Loaded] = {}
_LOCK = threading.Lock()


@dataclass
class _Loaded:
    """A worker's recommender for one (artifacts, database, experiment), with the published
    versions it was loaded from and the last job it served."""

    recommender: Recommender
    versions: tuple[str, ...]
    job_id: str


def worker_recommender(job: Job) -> Recommender:
    """This worker process's recommender for ``job``: loaded once and reused; loaded again when
    the artifacts were published anew, refreshed once per new job. The index is mapped
    read-only (shared by the workers of a node)."""
    key = (job.artifacts, job.db_url, job.experiment)
    with _LOCK:
        held = _LOADED.get(key)
        if held is not None and held.versions != job.versions:
            held.recommender.close()
            held = None
        if held is None:
            loaded = Recommender.load(job.artifacts, db_url=job.db_url, log=False, refresh_interval=None,
                                      experiment=job.experiment, mmap=True)  # as the service's workers map it
            held = _LOADED[key] = _Loaded(loaded, job.versions, job.job_id)
        elif held.job_id != job.job_id:
            held.recommender.refresh()
            held.job_id = job.job_id
        return held.recommender


@dataclass(frozen=True)
class _PartitionCall:
    """One partition's work, as the task Dask ships: ``method`` of the worker's recommender on
    the partition's mentee ids with ``options``."""

    method: str
    job: Job
    options: dict[str, Any]

    def __call__(self, mentee_ids: np.ndarray) -> pd.DataFrame:
        call: Callable[..., pd.DataFrame] = getattr(worker_recommender(self.job), self.method)
        return call(mentee_ids.tolist(), **self.options, progress=False)
