"""An A/B test end to end on a generated world, in one command.

    python scripts/ab_demo.py [--out DIR] [--mentors 400] [--mentees 1200] [--k 5]
                              [--seed 0] [--boot 1000] [--json]

Generates a world into DIR/ab_demo.db, builds the index, trains two rankers (the control
and the variant 'shallow'), serves every mentee once through a 50/50 experiment with
logging on, draws the outcomes of the logged lists from the world's hidden truth, posts
them, and writes the A/B report into DIR/report. Prints the verdict and where the report
is (or, with --json, the whole summary). See docs/ab-testing.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.ab.demo import run_ab_demo  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="demo/ab", help="folder for the database, artifacts and report (default: demo/ab)")
    parser.add_argument("--mentors", type=int, default=400, help="mentors in the world (default: 400)")
    parser.add_argument("--mentees", type=int, default=1200, help="mentees in the world, each served once (default: 1200)")
    parser.add_argument("--k", type=int, default=5, help="list length (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world, the models and the outcomes (default: 0)")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap and permutation resamples (default: 1000)")
    parser.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = run_ab_demo(
            args.out, mentors=args.mentors, mentees=args.mentees, k=args.k, seed=args.seed,
            n_boot=args.boot,
        )
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(Path(summary["report"]["md"]).read_text().split("## Arms")[0].rstrip())
    print(f"\n{summary['lists']} lists logged ({summary['dropped']} dropped), {summary['events']} outcome events; "
          f"steps took {summary['seconds']} s.")
    print(f"Report: {summary['report']['html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
