"""Offline evaluation: classification, ranking and end-to-end views, written as a report.

    python scripts/evaluate.py [--db-url URL] [--artifacts DIR] [--report DIR] [--k 10]
                               [--seed 42] [--pipeline-mentees 300] [--json]

Needs the mentor index (scripts/build_index.py). The models are trained here on the
training mentees with the split of scripts/train.py and judged on the held-out ones.
Writes report.json, report.md, report.html (self-contained) and PNG plots into DIR.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.protocol import evaluate, headline_tables  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    parser.add_argument("--report", default="reports/latest", help="report folder (default: reports/latest)")
    parser.add_argument("--k", type=int, default=10, help="length of the recommendation lists (default: 10)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split, models and samples (default: 42)")
    parser.add_argument("--pipeline-mentees", type=int, default=300,
                        help="held-out mentees in the end-to-end view (default: 300)")
    parser.add_argument("--json", action="store_true", help="print report.json instead of tables")
    parser.add_argument("--split", choices=("time", "mentee"), default="time",
                        help="time: train before a cut, test the latest period (default); mentee: by mentee only")
    parser.add_argument("--aggregates", choices=("as-of", "now"), default="as-of",
                        help="mentor aggregates as of each request (default), or as the table holds them "
                             "now (leaky: only to measure the leak)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = evaluate(
            args.db_url,
            args.artifacts,
            args.report,
            k=args.k,
            seed=args.seed,
            pipeline_mentees=args.pipeline_mentees,
            progress=not args.json and sys.stderr.isatty(),
            split=args.split,
            point_in_time=args.aggregates == "as-of",
        )
    except MentorMatchError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
        return 0
    print(headline_tables(report))
    print(f"\nReport: {Path(args.report) / 'report.html'} (and report.md, report.json, PNGs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
