"""Recommend mentors: an interactive menu, or one query from the command line.

    python scripts/inference.py                       # interactive menu
    python scripts/inference.py --mentee-id 42 [43 ...] [--k 10] [--json]
    python scripts/inference.py --goals "get into deep learning for medical images"
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import pandas as pd

from mentor_match.errors import MentorMatchError
from retrieval import Recommender, format_recommendations

PAGE = 20
MENU = """
  1) Recommendations for a mentee id
  2) View all mentees
  3) Recommendations for a random mentee
  q) Quit
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--mentee-id", type=int, nargs="+", help="recommend for these mentees and exit")
    target.add_argument("--goals", help="recommend for an ad-hoc mentee with these goals and exit")
    parser.add_argument("--k", type=int, default=10, help="how many mentors (default: 10)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        recommender = Recommender.load(args.artifacts, db_url=args.db_url)
        if args.mentee_id is None and args.goals is None:
            return interactive(recommender, k=args.k)
        if args.goals is not None:
            results = {None: recommender.recommend(profile={"goals": args.goals}, k=args.k)}
        else:
            results = {m: recommender.recommend(mentee_id=m, k=args.k) for m in args.mentee_id}
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([
            {"mentee_id": m, "mentor_id": r.mentor_id, "name": r.name, "rank": r.rank,
             "score": r.score, "reasons": r.reasons}
            for m, recs in results.items() for r in recs
        ], indent=2))
        return 0
    for mentee_id, recs in results.items():
        if mentee_id is not None:
            mentee = recommender.mentee(mentee_id)
            print(f"\nMentee {mentee_id} ({mentee['current_level']}): {mentee['goals']}")
        print(format_recommendations(recs, recommender.mentor_domains))
    return 0


def interactive(recommender: Recommender, k: int) -> int:
    """The menu of the original guide. Bad input is answered and the menu goes on."""
    page = 0
    while True:
        print(MENU)
        choice = _ask("Choose: ")
        if choice is None or choice.lower() in {"q", "quit", "exit", "4"}:
            print("Bye.")
            return 0
        try:
            if choice == "1":
                raw = _ask("Mentee id: ")
                if raw is None:
                    print("Bye.")
                    return 0
                try:
                    mentee_id = int(raw)
                except ValueError:
                    first = recommender.mentee_page(0, 1).frame["mentee_id"]
                    example = f" such as {first.iloc[0]}" if len(first) else ""
                    print(f"'{raw}' is not a number; enter a mentee id{example}.")
                    continue
                _show(recommender, mentee_id, k)
            elif choice == "2":
                start = page * PAGE
                shown, total = recommender.mentee_page(start, PAGE)
                if shown.empty and start:
                    page, start = 0, 0
                    shown, total = recommender.mentee_page(0, PAGE)
                print(mentees_overview(shown).to_string(index=False))
                print(f"-- mentees {start + 1}-{start + len(shown)} of {total}; choose 2 again for more --")
                page += 1
            elif choice == "3":
                total = recommender.mentee_page(0, 1).total
                if total == 0:
                    print("No mentees in the database yet.")
                    continue
                picked = recommender.mentee_page(random.randrange(total), 1).frame
                _show(recommender, int(picked["mentee_id"].iloc[0]), k)
            else:
                print(f"Unknown choice {choice!r}: enter 1, 2, 3 or q.")
        except MentorMatchError as exc:
            print(f"error: {exc}")


def mentees_overview(mentees: pd.DataFrame) -> pd.DataFrame:
    """One line per mentee for browsing: id, name, level, desired domains, goals (the
    mentees are read from the database page by page, so new sign-ups show at once)."""
    return pd.DataFrame({
        "mentee_id": mentees["mentee_id"].to_numpy(),
        "name": mentees["name"].to_numpy(),
        "level": mentees["current_level"].to_numpy(),
        "domains": mentees["desired_domains"].map(", ".join).to_numpy(),
        "goals": mentees["goals"].str.slice(0, 60).to_numpy(),
    })


def _show(recommender: Recommender, mentee_id: int, k: int) -> None:
    mentee = recommender.mentee(mentee_id)  # unknown ids fail here, before any work
    print(f"\nMentee {mentee_id} ({mentee['current_level']}): {mentee['goals']}")
    recs = recommender.recommend(mentee_id=mentee_id, k=k)
    print(format_recommendations(recs, recommender.mentor_domains))


def _ask(prompt: str) -> str | None:
    try:
        return input(prompt).strip()
    except (EOFError, KeyboardInterrupt):
        print()
        return None


if __name__ == "__main__":
    sys.exit(main())
