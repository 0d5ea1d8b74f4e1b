"""Upgrade a database to this code's schema (Alembic migrations in db/migrations); print what it did.

    python scripts/migrate.py [--db-url URL] [--revision head] [--show]

A database made before migrations existed (tables, no alembic_version) is recognised and
upgraded; an empty one gets every table. Every row is kept. All in one transaction: a
failure leaves the database as it was.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import get_engine  # noqa: E402
from db.migrate import current_revision, head_revision, upgrade  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--revision", default="head", help="revision to upgrade to (default: head)")
    parser.add_argument("--show", action="store_true", help="print the current and the head revision; change nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        engine = get_engine(args.db_url)
        try:
            if args.show:
                url = engine.url.render_as_string(hide_password=True)
                print(f"{url}: at {current_revision(engine) or 'no recorded revision'}; head is {head_revision()}")
                return 0
            print(upgrade(engine, args.revision).describe())
        finally:
            engine.dispose()
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
