"""Train the XGBoost ranker and the guide's three baselines; print the comparison table.

    python scripts/train.py [--db-url URL] [--artifacts DIR] [--seed 42] [--cv 5] [--tune] [--json]
                            [--variant NAME] [--no-heads] [--scheduler ADDRESS|local[:N]]

The reciprocal heads (P(accept), P(success)) are trained too and published beside the ranker,
for A/B variants scored by "reciprocal" or "blend"; --no-heads skips them.

--scheduler trains the XGBoost ranker on a Dask cluster instead (features per partition by
mentee, DaskXGBRanker; needs the distributed extra) and publishes the same ranker folder; the
baselines' table, --cv, --tune and the heads stay single-machine (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.distributed_training import format_distributed_report, run_distributed_training  # noqa: E402
from eval.training_run import format_report, run_training  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the split and the models (default: 42)")
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="also run K-fold cross-validation grouped by mentee (K >= 2)")
    parser.add_argument("--tune", action="store_true", help="small grouped grid search per model first")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--split", choices=("time", "mentee"), default="time",
                        help="time: train before a cut, test the latest period (default); mentee: by mentee only")
    parser.add_argument("--aggregates", choices=("as-of", "now"), default="as-of",
                        help="mentor aggregates as of each request (default), or as the table holds them "
                             "now (leaky: only to measure the leak)")
    parser.add_argument("--variant", metavar="NAME",
                        help="publish the ranker as A/B variant NAME (DIR/variants/NAME/ranker), not as the control")
    parser.add_argument("--no-heads", action="store_true",
                        help="do not train or publish the reciprocal heads (DIR/heads or DIR/variants/NAME/heads)")
    parser.add_argument("--scheduler", metavar="ADDRESS|local[:N]",
                        help="train the ranker on a Dask cluster: a scheduler address (tcp://HOST:8786) or local[:N] "
                             "(N worker processes here); needs pip install -e '.[distributed]'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.scheduler is None:
        run, render = run_training, format_report
        options = {"cv": args.cv, "tune": args.tune, "heads": not args.no_heads}
    else:  # the ranker on Dask, published as usual; the rest stays on one machine
        single_only = [flag for flag, on in (("--cv", args.cv), ("--tune", args.tune)) if on]
        if single_only:
            print(f"error: {' and '.join(single_only)} run on one machine; drop --scheduler or drop them",
                  file=sys.stderr)
            return 1
        run, render = partial(run_distributed_training, args.scheduler), format_distributed_report
        options = {}
    try:
        report = run(
            db_url=args.db_url,
            artifacts=args.artifacts,
            seed=args.seed,
            progress=sys.stderr.isatty(),
            variant=args.variant,
            split=args.split,
            point_in_time=args.aggregates == "as-of",
            **options,
        )
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
