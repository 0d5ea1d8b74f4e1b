"""Measure speed, memory and scale of the two-stage recommender beside brute force.

    python scripts/benchmark.py [--sizes 10000,100000,1000000] [--queries 500]
                                [--out reports/benchmark] [--quick] [--seed 42]

Writes benchmark.json (a public format) and benchmark.md into --out and prints the table.
--assignment measures only the cohort solver (100,000 mentees x 10,000 mentors x 200 candidates,
three runs, about a minute) and the congestion prices on the query path (100,000 mentors, 200
candidates, 2,000 queries), and writes assignment.json into --out.
--distributed measures only batch scoring in one process beside a Dask LocalCluster of 1 and 2
workers (the `distributed` extra) at the first of --sizes (default 100,000 mentors; --quick: 2,000),
with per-partition seconds and memory, and writes distributed.json into --out (docs/scaling.md).
--quick runs a reduced set (one catalogue of 2,000 mentors, 20 queries) in about two minutes;
--sizes and --queries still override it. The full default run takes about 15 minutes and
4-5 GB of memory at 1,000,000 mentors.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.benchmark import BenchmarkConfig, format_markdown, run_benchmark  # noqa: E402
from mentor_match.errors import InvalidParameterError, MentorMatchError  # noqa: E402


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidParameterError(
            f"--sizes must be comma-separated catalogue sizes, e.g. 10000,100000. Got {text!r}."
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="catalogue sizes, comma-separated (default: 10000,100000,1000000)")
    parser.add_argument("--queries", type=int, help="query mentees per size (default: 500)")
    parser.add_argument("--out", default="reports/benchmark", help="output folder (default: reports/benchmark)")
    parser.add_argument("--quick", action="store_true", help="reduced set for a smoke test (~2 minutes)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the data and the sampling (default: 42)")
    parser.add_argument("--assignment", action="store_true",
                        help="measure only the cohort solver (100k mentees x 10k mentors x 200 candidates) and the prices")
    parser.add_argument("--distributed", action="store_true",
                        help="measure only batch scoring in one process vs a Dask LocalCluster of 1 and 2 workers")
    args = parser.parse_args(argv)
    if args.assignment:
        return _assignment(args.out, args.seed)
    if args.distributed:
        return _distributed(args)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("eval.benchmark").setLevel(logging.INFO)  # progress of the long stages
    try:
        config = BenchmarkConfig.quick(args.seed) if args.quick else BenchmarkConfig(seed=args.seed)
        if args.sizes:
            config = replace(config, sizes=parse_sizes(args.sizes))
        if args.queries is not None:
            config = replace(config, queries=args.queries)
        result = run_benchmark(config, args.out)
    except MentorMatchError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    print(format_markdown(result))
    print(f"\nWrote {Path(args.out) / 'benchmark.json'} and benchmark.md ({result['seconds']:.0f} s).")
    return 0


def _assignment(out: str, seed: int) -> int:
    """The cohort solver's figures (eval.benchmark.assignment), printed and written as JSON."""
    from eval.benchmark.assignment import measure_assignment
    from eval.benchmark.prices import measure_prices

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        result = measure_assignment(runs=3, seed=seed)
        result["prices"] = measure_prices(seed=seed)
    except MentorMatchError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(result, indent=2)
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "assignment.json").write_text(text + "\n")
    print(text)
    print(f"\nWrote {Path(out) / 'assignment.json'}.")
    return 0


def _distributed(args: argparse.Namespace) -> int:
    """Batch scoring on one process and on Dask (eval.benchmark.distributed), printed and written as JSON."""
    from eval.benchmark.distributed import measure_distributed

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        n = parse_sizes(args.sizes)[0] if args.sizes else (2000 if args.quick else 100_000)
        small = {"base_mentors": 200, "base_mentees": 300, "repeats": 1} if args.quick else {}
        result = measure_distributed(n, seed=args.seed, **small)
    except MentorMatchError as exc:
        print(f"benchmark: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(result, indent=2)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "distributed.json").write_text(text + "\n")
    print(text)
    print(f"\nWrote {Path(args.out) / 'distributed.json'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
