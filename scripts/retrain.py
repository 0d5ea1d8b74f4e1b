"""Retrain the ranker and promote it only if it is not worse than production; list or roll back versions.

    python scripts/retrain.py [--db-url URL] [--artifacts DIR] [--seed 42] [--margin 0.01] [--keep 5]
                              [--now ISO-TIME] [--variant NAME] [--learn-from interactions|log]
                              [--debias none|unbiased|position] [--json]
    python scripts/retrain.py --list [--artifacts DIR] [--variant NAME] [--json]
    python scripts/retrain.py --rollback [VERSION] [--artifacts DIR] [--variant NAME] [--json]

Exit codes: 0 promoted (or listed, rolled back); 3 the candidate was refused (production stays;
the reason, with the numbers, is printed); 1 an error (one line on stderr); 2 bad arguments.
See docs/retraining.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.retrain import DEBIAS, DEFAULT_MARGIN, LogFit, format_result, log_candidate, retrain  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402
from ranking.registry import DEFAULT_KEEP, format_versions, list_versions, rollback  # noqa: E402
from retrieval.experiments import variant_folder  # noqa: E402

REFUSED = 3
"""Exit code of a refused candidate: not an error, but a cron job should notice it."""
_PREVIOUS = ""  # --rollback without a version: the one before the live one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split, the model and the bootstrap (default: 42)")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="promote when the lower end of the paired 95%% interval of the NDCG@10 difference "
                             f"(candidate - production) is >= -MARGIN (default: {DEFAULT_MARGIN})")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP,
                        help=f"versions kept for rollback, the live one included (default: {DEFAULT_KEEP})")
    parser.add_argument("--now", metavar="ISO-TIME",
                        help="read the data as of this UTC time, e.g. 2026-01-31T00:00:00 (default: all of it)")
    parser.add_argument("--variant", metavar="NAME",
                        help="work on A/B variant NAME's ranker (DIR/variants/NAME/ranker), not the control's")
    parser.add_argument("--learn-from", choices=("interactions", "log"), default="interactions",
                        help="train the candidate on the requests and their outcomes (default), or on the "
                             "logged lists (what was shown, requested, accepted, successful)")
    parser.add_argument("--debias", choices=DEBIAS, default="none",
                        help="with --learn-from log: position-bias correction (default: none)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (a list for --list)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="print the kept versions and exit")
    action.add_argument("--rollback", nargs="?", const=_PREVIOUS, metavar="VERSION",
                        help="point the ranker link back at VERSION (a folder name from --list; "
                             "default: the version before the live one) and exit")
    args = parser.parse_args(argv)
    if args.debias != "none" and args.learn_from != "log":
        parser.error("--debias corrects the position bias of logged lists; add --learn-from log")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        folder = Path(args.artifacts) if args.variant is None else variant_folder(args.artifacts, args.variant)
        if args.list:
            records = list_versions(folder)
            print(json.dumps([r.to_dict() for r in records], indent=2) if args.json else format_versions(records))
            return 0
        if args.rollback is not None:
            record = rollback(folder, args.rollback or None)
            print(json.dumps(record.to_dict(), indent=2) if args.json
                  else f"Rolled back: {record.version} (model version {record.model_version}) is live in {folder}.")
            return 0
        fit = log_candidate(args.debias, 10, args.seed, LogFit()) if args.learn_from == "log" else None
        result = retrain(
            args.db_url, args.artifacts, now=args.now, seed=args.seed, margin=args.margin, keep=args.keep,
            variant=args.variant, fit_candidate=fit, progress=sys.stderr.isatty(),
        )
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else format_result(result))
    return 0 if result["promoted"] else REFUSED


if __name__ == "__main__":
    sys.exit(main())
