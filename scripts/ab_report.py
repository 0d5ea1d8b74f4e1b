"""The A/B report of one experiment: arms, comparisons with intervals, the SRM check.

    python scripts/ab_report.py --db-url URL --experiment NAME --out DIR
                                [--config experiment.json | --shares control=0.9,b=0.1]
                                [--control NAME] [--boot 2000] [--seed 0]

The traffic shares come from the experiment config (--config, the file the recommender
serves the experiment from) or from --shares; the control is --control, else the config's,
else the first variant of --shares. Writes ab_report.json, ab_report.md, ab_report.html
and ab_lift.png into DIR and prints the verdict and the tables as Markdown.
See docs/ab-testing.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.ab import parse_shares, run_ab_report  # noqa: E402
from eval.ab.rendering import summary_markdown  # noqa: E402
from mentor_match.errors import InvalidParameterError, MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--experiment", required=True, help="the experiment's name, as logged on its lists")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="the experiment config file (JSON) with the variants' shares")
    source.add_argument("--shares", help="traffic shares as name=share pairs, e.g. control=0.9,b=0.1")
    parser.add_argument("--control", help="the control variant (default: the config's, or the first of --shares)")
    parser.add_argument("--out", required=True, help="folder for ab_report.json/.md/.html")
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap and permutation resamples (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (default: 0)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        shares, control = _shares_and_control(args)
        report, written = run_ab_report(
            args.db_url, experiment=args.experiment, shares=shares, control=control,
            out_dir=args.out, n_boot=args.boot, seed=args.seed,
        )
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary_markdown(report))
    print(f"Report: {written['html']} (and {written['md'].name}, {written['json'].name})")
    return 0


def _shares_and_control(args: argparse.Namespace) -> tuple[dict[str, float], str]:
    if args.config is not None:
        from retrieval.experiments import Experiment  # the serving side's config format

        experiment = Experiment.load(args.config)
        if experiment.name != args.experiment:
            raise InvalidParameterError(
                f"The config {args.config} is experiment {experiment.name!r}, not "
                f"{args.experiment!r}; pass the config of the experiment you analyse."
            )
        return dict(experiment.shares), args.control or experiment.control
    shares = parse_shares(args.shares)
    return shares, args.control or next(iter(shares))


if __name__ == "__main__":
    sys.exit(main())
