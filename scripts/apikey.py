"""Create, list and revoke the REST service's API keys (stored as SHA-256 hashes only).

    python scripts/apikey.py [--db-url URL] create --scopes read,feedback [--name NAME]
    python scripts/apikey.py [--db-url URL] list
    python scripts/apikey.py [--db-url URL] revoke PREFIX

``create`` prints the key once: it is not stored and cannot be shown again. Scopes: read
(lists, mentors), feedback (outcomes), admin (reload). A revoked key is refused within the
service's key cache time (MENTOR_MATCH_KEY_CACHE_SECONDS, default 5 s), without a restart.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import get_engine  # noqa: E402
from db.migrate import check_revision  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402
from service.keys import create_key, list_keys, revoke_key  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it once")
    create.add_argument("--scopes", required=True, help="comma-separated: read, feedback, admin")
    create.add_argument("--name", help="who or what the key is for")
    commands.add_parser("list", help="every key: prefix, scopes, name, created, revoked")
    revoke = commands.add_parser("revoke", help="revoke the key with this prefix")
    revoke.add_argument("prefix")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        engine = get_engine(args.db_url)
        try:
            check_revision(engine)
            if args.command == "create":
                key, row = create_key(engine, args.scopes.split(","), args.name)
                print(key)
                print(f"prefix {row.prefix}, scopes {','.join(row.scopes)}: store the key now, it is not shown again.",
                      file=sys.stderr)
            elif args.command == "list":
                for row in list_keys(engine):
                    revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M:%S}" if row.revoked else "active"
                    print(f"{row.prefix}  {','.join(row.scopes):<19}  {row.created_at:%Y-%m-%d %H:%M:%S}  "
                          f"{revoked:<27}  {row.name or ''}".rstrip())
            else:
                row = revoke_key(engine, args.prefix)
                print(f"{row.prefix}: revoked {row.revoked_at:%Y-%m-%d %H:%M:%S}")
        finally:
            engine.dispose()
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
