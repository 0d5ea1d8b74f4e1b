"""The platform simulator: weeks of a mentoring market played through the real engine.

    python scripts/simulate.py [--db-url URL] [--weeks 12] [--policies random,similarity,ranker]
                               [--seeds 3] [--report DIR] [--json] [--k 10] [--mentors 2000]
                               [--mentees 5000] [--ab ranker,random] [--work DIR]
                               [--retrain-every N] [--learn-from interactions|log]
                               [--debias none|unbiased|position] [--retrain-margin 0.01]
                               [--explore-epsilon 0.2] [--explore-temperature 1.0]
                               [--off-policy ranker_explore,similarity]

Without --db-url each seed generates a world (--mentors, --mentees) and each market is played
in a SQLite file of its own under --work (a temporary folder by default). With --db-url the
world is read from that database, which must hold a generated world with its hidden truth
(scripts/generate_synthetic_data.py), and every market is replayed in it from that state:
afterwards it holds the last market. --ab variant,control also plays the two policies in one
shared market split by mentee and compares the A/B estimate with the separate markets.
--retrain-every N retrains the ranker every N weeks through the promotion guard, from the
interactions or (--learn-from log) from the logged lists, with --debias. --off-policy
logging,target estimates the target's rates per list from the exploring logging policy's log
and sets them beside the target's own market (both must be among --policies). The policies
logistic_regression, random_forest and xgboost_classifier serve the offline evaluation's
baselines as the ranker is served (same candidates, ordered by the model's probability):
--policies ranker,logistic_regression,random_forest,xgboost_classifier measures all four models.
Writes simulation.json, simulation.md, simulation.html and the plots into --report and
prints the headline table (or, with --json, the whole result). See docs/simulation.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.simulator.config import POLICIES, SimulationConfig  # noqa: E402
from eval.simulator.rendering import simulation_markdown  # noqa: E402
from eval.simulator.run import simulate  # noqa: E402
from eval.simulator.writing import write_simulation  # noqa: E402
from mentor_match.errors import InvalidParameterError, MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db-url", help="a database holding a generated world, replayed per market (default: "
                                         "a generated world per seed in SQLite files)")
    parser.add_argument("--weeks", type=int, default=12, help="weeks per market (default: 12)")
    parser.add_argument("--policies", default="random,similarity,ranker",
                        help=f"comma-separated, of {', '.join(POLICIES)} (default: random,similarity,ranker)")
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds (0, 1, ...; default: 3)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed (default: 0): --first-seed 2 --seeds 1 plays seed 2 alone")
    parser.add_argument("--cohort", action="store_true",
                        help="also assign week 1's seekers in one cohort round and judge it against the bound")
    parser.add_argument("--price-floor", type=float, default=0.0,
                        help="the market policies show no mentor whose P(seat still free) is below this (default: 0)")
    parser.add_argument("--cohort-candidates", type=int, default=200,
                        help="candidates per mentee of the cohort round (default: 200)")
    parser.add_argument("--price-weight", type=float, default=1.0,
                        help="weight of the congestion price of the market policies (default: 1)")
    parser.add_argument("--report", default="reports/simulation", help="output folder (default: reports/simulation)")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument("--k", type=int, default=10, help="list length (default: 10)")
    parser.add_argument("--mentors", type=int, default=2000, help="mentors of a generated world (default: 2000)")
    parser.add_argument("--mentees", type=int, default=5000, help="mentees of a generated world (default: 5000)")
    parser.add_argument("--requests-per-week", type=int, default=3, help="requests per mentee and week (default: 3)")
    parser.add_argument("--position-curve", default="reciprocal", help="reciprocal or exponential (default: reciprocal)")
    parser.add_argument("--ab", help="variant,control: also play them in one shared market as an A/B test")
    parser.add_argument("--retrain-every", type=int, default=0, help="weeks between retrainings (default: 0, never)")
    parser.add_argument("--learn-from", default="interactions",
                        help="what a retraining learns from: interactions or log (default: interactions)")
    parser.add_argument("--debias", default="none",
                        help="position bias of learning from the log: none, unbiased or position (default: none)")
    parser.add_argument("--retrain-margin", type=float, default=0.01,
                        help="the promotion guard's margin in NDCG@10; 1 promotes every candidate (default: 0.01)")
    parser.add_argument("--explore-epsilon", type=float, default=0.2,
                        help="share of ranker_explore's lists sampled by Plackett-Luce (default: 0.2)")
    parser.add_argument("--explore-temperature", type=float, default=1.0,
                        help="ranker_explore's Plackett-Luce temperature (default: 1.0)")
    parser.add_argument("--off-policy", help="logging,target: estimate target from logging's log, e.g. "
                                             "ranker_explore,similarity")
    parser.add_argument("--work", help="folder for the markets' databases and artifacts (default: temporary)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.seeds < 1:
            raise InvalidParameterError(f"--seeds must be at least 1. Got {args.seeds}.")
        ab = None if args.ab is None else tuple(p.strip() for p in args.ab.split(","))
        off_policy = None if args.off_policy is None else tuple(p.strip() for p in args.off_policy.split(","))
        if args.first_seed < 0:
            raise InvalidParameterError(f"--first-seed must be at least 0. Got {args.first_seed}.")
        config = SimulationConfig(
            weeks=args.weeks, k=args.k, seeds=tuple(range(args.first_seed, args.first_seed + args.seeds)),
            policies=tuple(p.strip() for p in args.policies.split(",") if p.strip()),
            mentors=args.mentors, mentees=args.mentees, requests_per_week=args.requests_per_week,
            position_curve=args.position_curve, ab=ab, retrain_every=args.retrain_every,
            learn_from=args.learn_from, debias=args.debias, retrain_margin=args.retrain_margin,
            explore_epsilon=args.explore_epsilon, explore_temperature=args.explore_temperature,
            off_policy=off_policy, price_weight=args.price_weight, price_floor=args.price_floor,
            cohort=args.cohort, cohort_candidates=args.cohort_candidates,
        ).checked()
        result = simulate(config, db_url=args.db_url, work=args.work, progress=not args.quiet)
        written = write_simulation(result, args.report)
    except MentorMatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    page = simulation_markdown(result)
    print(page.split("## Successful matches per week")[0].rstrip())
    print(f"\nRun time {result['seconds']['total']:.0f} s. Report: {written['html']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
