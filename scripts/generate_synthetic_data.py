"""Generate the synthetic mentoring world into a database, or refresh an existing one.

    python scripts/generate_synthetic_data.py [--db-url URL] [--mentors 2000] [--mentees 5000]
        [--interactions-per-mentee 8] [--seed 42] [--reset] [--refresh FRACTION] [--json]

Into non-empty tables it refuses and changes nothing unless --reset is given. --refresh
0.05 changes about 5% of the mentors of an existing database and adds about 1% new ones.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import get_engine  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402
from synthetic import generate_world, refresh_world, summarize, write_world  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--mentors", type=int, default=2000, help="number of mentors (default: 2000)")
    parser.add_argument("--mentees", type=int, default=5000, help="number of mentees (default: 5000)")
    parser.add_argument("--interactions-per-mentee", type=int, default=8,
                        help="logged contacts per mentee (default: 8)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    parser.add_argument("--reset", action="store_true", help="drop and refill non-empty tables")
    parser.add_argument("--refresh", type=float, metavar="FRACTION",
                        help="instead of generating, refresh this share of an existing database's mentors")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        engine = get_engine(args.db_url)
        refreshed = None
        if args.refresh is not None:
            refreshed = refresh_world(engine, fraction=args.refresh, seed=args.seed)
        else:
            world = generate_world(args.mentors, args.mentees, args.interactions_per_mentee, args.seed)
            write_world(engine, world, reset=args.reset, progress=not args.json)
        summary = summarize(engine)
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if refreshed is not None:
        summary["refresh"] = refreshed
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"database: {engine.url.render_as_string(hide_password=True)}")
        for key, value in summary.items():
            print(f"  {key:<24} {value:.3f}" if isinstance(value, float) else f"  {key:<24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
