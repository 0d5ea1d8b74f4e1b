"""Score many mentees in one batch (the nightly job): each mentee's top k mentors, on one machine or a Dask cluster.

    python scripts/batch_score.py [--db-url URL] [--artifacts DIR] [--mentees ids.csv]
                                  [--k 10] [--candidates 200] [--experiment experiment.json]
                                  [--scheduler local[:N] | tcp://HOST:8786] [--timeout 10] [--partition-size N]
                                  [--batch-size 512]
                                  [--out lists/ | lists.csv]

Scores every mentee in the database, or those of --mentees (a CSV with a mentee_id column), as
Recommender.recommend_batch does: columns mentee_id, rank, mentor_id, score, similarity, list_id.
--out ending in .csv writes one CSV file; any other --out is a folder of Parquet files (one per
partition). Either is written beside its place and renamed into it only when complete.

Without --scheduler it runs in this process (a tqdm progress bar above 2,000 mentees). With --scheduler (the
`distributed` extra: pip install -e '.[distributed]') the mentees are split into partitions
that the cluster's workers score, each worker loading DIR once with the index memory-mapped
(DIR, and a Parquet --out, at the same path on every worker); Dask's progress bar shows the tasks
(above 2,000 mentees). The result
is the same either way, except list_id (a fresh id per list). Neither path writes the
recommendation log, and an experiment with a priced ("market") variant is refused on a cluster
(see docs/scaling.md). Exit codes: 0 done; 2 bad input (one line on stderr); 1 another error.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.loading import read_id_columns  # noqa: E402
from mentor_match.artifacts import write_files_atomically  # noqa: E402
from mentor_match.errors import (  # noqa: E402
    ClusterError,
    DataValidationError,
    InvalidParameterError,
    MentorMatchError,
    UnknownEntityError,
)
from retrieval import Recommender  # noqa: E402
from retrieval.distributed import all_mentee_ids, recommend_batch_distributed  # noqa: E402
from retrieval.stages import PROGRESS_FROM  # noqa: E402

BAD_INPUT = 2
"""Exit code of input the command refuses (unknown ids, bad files, parameters or --scheduler)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    parser.add_argument("--mentees", metavar="CSV", help="a CSV with a mentee_id column (default: every mentee)")
    parser.add_argument("--k", type=int, default=10, help="mentors per mentee (default: 10)")
    parser.add_argument("--candidates", type=int, help="candidates the ranker scores per mentee (default: 200)")
    parser.add_argument("--experiment", metavar="JSON", help="serve each mentee from its arm of this experiment")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on a Dask cluster: local, local:N (N worker processes here) or tcp://HOST:PORT")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds to wait for the scheduler to answer (default: 10)")
    parser.add_argument("--partition-size", type=int,
                        help="mentees per task on a cluster (default: 4 tasks per worker), rounded up to whole batches")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="mentees per search and scoring call (default: 512)")
    parser.add_argument("--out", default="lists", help="a folder of Parquet files, or a file ending in .csv (default: lists)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    started = time.perf_counter()
    out = Path(args.out)
    try:
        mentee_ids = _ids(args.mentees) if args.mentees else all_mentee_ids(args.db_url)
        if args.scheduler:
            where = _on_cluster(args, mentee_ids, out)
        else:
            where = "in this process"
            with Recommender.load(args.artifacts, db_url=args.db_url, log=False, refresh_interval=None,
                                  experiment=args.experiment) as rec:
                lists = rec.recommend_batch(mentee_ids, args.k, args.candidates, batch_size=args.batch_size,
                                            progress=len(mentee_ids) > PROGRESS_FROM)
            _write(lists, out)
    except (InvalidParameterError, UnknownEntityError, DataValidationError, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Scored {len(mentee_ids)} mentees (top {args.k}) {where} in {time.perf_counter() - started:.1f} s; "
          f"wrote {out}.")
    return 0


def _on_cluster(args: argparse.Namespace, mentee_ids: list[int], out: Path) -> str:
    """Score on the cluster of ``--scheduler``, the Parquet files written by the workers (a
    CSV gathered here); returns where it ran, in words."""
    from mentor_match.cluster import connect, worker_count

    options = {"k": args.k, "candidates": args.candidates, "partition_size": args.partition_size,
               "batch_size": args.batch_size, "experiment": args.experiment,
               "progress": len(mentee_ids) > PROGRESS_FROM}
    with connect(args.scheduler, timeout=args.timeout) as client:
        where = f"on {worker_count(client)} Dask worker(s)"
        if out.suffix.lower() == ".csv":
            _write(recommend_batch_distributed(client, args.artifacts, args.db_url, mentee_ids, **options), out)
        else:
            _replace_folder(out, lambda temp: recommend_batch_distributed(
                client, args.artifacts, args.db_url, mentee_ids, out=temp, **options))
    if options["progress"]:
        print()  # after Dask's progress bar
    return where


def _write(lists: pd.DataFrame, out: Path) -> None:
    """``lists`` as one CSV file, or one Parquet file in a folder, renamed into place when complete."""
    if out.suffix.lower() == ".csv":
        write_files_atomically({out: lambda handle: lists.to_csv(handle, index=False)})
    else:
        _replace_folder(out, lambda temp: lists.to_parquet(temp / "part.0.parquet", index=False))


def _replace_folder(out: Path, fill) -> None:
    """Fill a new folder beside ``out`` and put it in ``out``'s place only once it is complete
    (a folder already there is replaced)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    old = out.parent / f"{temp.name}.old"
    try:
        fill(temp)
        if out.exists():
            os.replace(out, old)
        os.replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _ids(path: str) -> list[int]:
    return read_id_columns(path, "--mentees", ("mentee_id",))["mentee_id"].tolist()


if __name__ == "__main__":
    sys.exit(main())
