"""Monitoring from cron: service health per variant and day, drift, and alerts.

    python scripts/monitor.py [--db-url URL] [--artifacts DIR] [--since ISO] [--until ISO]
                              [--out DIR] [--drop-alert 0.2] [--drift-reference previous|training]
                              [--json]

Reads the recommendation log and its outcomes over [--since, --until) (naive UTC; default:
the 7 days up to now) and reports per variant and day: lists, request rate, acceptance rate,
successful matches and latency percentiles; the PSI of each feature and of the score against
the previous period's impressions and against the training snapshot of the variant's ranker in
--artifacts (--drift-reference says which alerts); an acceptance rate that fell by
more than --drop-alert against the previous period. Writes monitor.json, monitor.md and
monitor.html into --out (when given) and prints the alerts, or the JSON with --json.

Exit code: 0 no alert, 1 error (message on stderr), 3 at least one alert.
See docs/monitoring.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.monitor import run_monitor  # noqa: E402
from eval.monitor.run import parse_time  # noqa: E402
from eval.report.schema import json_ready  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402

EXIT_OK, EXIT_ERROR, EXIT_ALERT = 0, 1, 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder with the ranker(s) (default: artifacts)")
    parser.add_argument("--since", help="window start, ISO date or date-time, UTC (default: --until minus 7 days)")
    parser.add_argument("--until", help="window end (excluded), ISO, UTC (default: now)")
    parser.add_argument("--out", help="folder for monitor.json/.md/.html (default: write nothing)")
    parser.add_argument("--drop-alert", type=float, default=0.2,
                        help="relative fall of the acceptance rate that alerts (default: 0.2)")
    parser.add_argument("--drift-reference", choices=("previous", "training"), default="previous",
                        help="whose PSI alerts: the previous period's impressions or the ranker's "
                             "training snapshot (both are reported; default: previous)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        since = parse_time(args.since, "since") if args.since else None
        until = parse_time(args.until, "until") if args.until else None
        report, written = run_monitor(
            args.db_url, args.artifacts, since=since, until=until, out_dir=args.out,
            drop_alert=args.drop_alert, drift_reference=args.drift_reference,
        )
    except (MentorMatchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(json_ready(report), indent=2, allow_nan=False))
    else:
        print(f"Status: {report['status']} ({report['window']['since']} to {report['window']['until']})")
        for alert in report["alerts"]:
            print(f"ALERT {alert['message']}")
        if written:
            print(f"Report: {written['html']} (and {written['md'].name}, {written['json'].name})")
    return EXIT_ALERT if report["alerts"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
