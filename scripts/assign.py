"""Assign a cohort of mentees to mentors in one batch: the most expected successful matches under the seats.

    python scripts/assign.py (--mentees ids.csv | --all-seeking) [--db-url URL] [--artifacts DIR]
                             [--per-mentee 1] [--candidates 50] [--banned pairs.csv] [--required pairs.csv]
                             [--min-new-mentors 0] [--max-share S] [--no-reasons]
                             [--out assignment.csv] [--report report.json]
                             [--scheduler local[:N] | tcp://HOST:8786]

--mentees reads a CSV with a mentee_id column; --all-seeking takes every active mentee without a
running mentorship. --banned and --required read CSVs with mentee_id and mentor_id columns. The
pairs are scored by the reciprocal heads in DIR/heads (scripts/train.py publishes them). Writes the
table (mentee_id, mentor_id, expected_match, required, reasons) as CSV and the report as JSON,
each to a temporary file renamed into place; on any error nothing is written. The database is
not changed. --scheduler (the `distributed` extra) finds the stage-1 candidates on a Dask cluster
(retrieval/distributed.py; the same candidates as here), then scores and solves here. Exit codes:
0 done; 2 bad input (one line on stderr; an unusable --scheduler too); 1 another error.
See docs/cohort-assignment.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import get_engine  # noqa: E402
from db.loading import read_id_columns  # noqa: E402
from mentor_match.artifacts import write_files_atomically  # noqa: E402
from mentor_match.errors import (  # noqa: E402
    ClusterError,
    DataValidationError,
    InvalidParameterError,
    MentorMatchError,
    UnknownEntityError,
)
from ranking.heads import ReciprocalModel  # noqa: E402
from retrieval import Recommender  # noqa: E402
from retrieval.cohort import assign_cohort, seeking_mentee_ids  # noqa: E402

BAD_INPUT = 2
"""Exit code of input the command refuses (unknown ids, bad files or parameters)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    cohort = parser.add_mutually_exclusive_group(required=True)
    cohort.add_argument("--mentees", metavar="CSV", help="the cohort: a CSV with a mentee_id column")
    cohort.add_argument("--all-seeking", action="store_true",
                        help="the cohort: every active mentee with no running (accepted) mentorship")
    parser.add_argument("--per-mentee", type=int, default=1, help="mentors per mentee at most (default: 1)")
    parser.add_argument("--candidates", type=int, default=50, help="candidates per mentee from stage 1 (default: 50)")
    parser.add_argument("--banned", metavar="CSV", help="pairs never assigned (mentee_id, mentor_id columns)")
    parser.add_argument("--required", metavar="CSV", help="pairs always assigned (mentee_id, mentor_id columns)")
    parser.add_argument("--min-new-mentors", type=int, default=0,
                        help="at least this many assignments to mentors with no history (default: 0)")
    parser.add_argument("--max-share", type=float,
                        help="no mentor takes more than floor(S x cohort size) mentees (default: no cap)")
    parser.add_argument("--no-reasons", action="store_true", help="leave the reasons column empty (faster)")
    parser.add_argument("--out", default="assignment.csv", help="the table, CSV (default: assignment.csv)")
    parser.add_argument("--report", default="report.json", help="the report, JSON (default: report.json)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="find the candidates on a Dask cluster: local, local:N or tcp://HOST:PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        banned, required = _pairs(args.banned, "--banned"), _pairs(args.required, "--required")
        recommender = Recommender.load(args.artifacts, db_url=args.db_url, log=False, refresh_interval=None)
        try:
            if args.all_seeking:
                engine = get_engine(args.db_url)
                try:
                    mentee_ids = seeking_mentee_ids(engine)
                finally:
                    engine.dispose()
            else:
                mentee_ids = _ids(args.mentees)
            heads = ReciprocalModel.load(Path(args.artifacts) / "heads")
            found = _candidates_on_cluster(args, mentee_ids) if args.scheduler else None
            done = assign_cohort(
                recommender, mentee_ids, heads=heads, per_mentee=args.per_mentee, candidates=args.candidates,
                found=found,
                banned=banned, required=required, min_new_mentors=args.min_new_mentors,
                max_share=args.max_share, reasons=not args.no_reasons,
            )
        finally:
            recommender.close()
        write_files_atomically({
            Path(args.out): lambda f: done.table.to_csv(f, index=False),
            Path(args.report): lambda f: json.dump(done.report, f, indent=2),
        })
    except (InvalidParameterError, UnknownEntityError, DataValidationError, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = done.report
    print(f"Assigned {report['assigned']} of {report['demand']} places ({report['mentees']} mentees, "
          f"{report['seats']['total']} free seats): expected matches {report['expected_matches']:.2f} of "
          f"{report['unconstrained_expected_matches']:.2f} unconstrained; {report['unmatched']['count']} "
          f"mentee(s) short; {report['blocking_pairs']['count']} blocking pair(s).")
    print(f"Wrote {args.out} and {args.report}.")
    return 0


def _candidates_on_cluster(args: argparse.Namespace, mentee_ids: list[int]) -> pd.DataFrame:
    """The cohort's stage-1 candidates, found on the cluster of --scheduler."""
    from mentor_match.cluster import connect
    from retrieval.cohort import BATCH
    from retrieval.distributed import retrieve_distributed

    with connect(args.scheduler) as client:
        return retrieve_distributed(client, args.artifacts, args.db_url, mentee_ids, args.candidates,
                                    batch_size=BATCH)


def _ids(path: str) -> list[int]:
    frame = read_id_columns(path, "--mentees", ("mentee_id",))
    return frame["mentee_id"].tolist()


def _pairs(path: str | None, flag: str) -> pd.DataFrame:
    if path is None:
        return pd.DataFrame({"mentee_id": [], "mentor_id": []}, dtype="int64")
    return read_id_columns(path, flag, ("mentee_id", "mentor_id"))


if __name__ == "__main__":
    sys.exit(main())
