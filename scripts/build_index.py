"""Build the mentor index: embed active mentors' bios (through the cache), build, check, publish.

    python scripts/build_index.py [--db-url URL] [--artifacts DIR] [--index auto]
                                  [--batch-size N] [--precision auto] [--json]

Run it after every data refresh; only new or changed texts are encoded. The new index
replaces ``DIR/index`` atomically; on any error the previous one stays in place.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings import PRECISIONS, Encoder  # noqa: E402
from index import build_index_from_db  # noqa: E402
from mentor_match.errors import MentorMatchError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db-url", help="database URL (default: $MENTOR_MATCH_DB_URL or sqlite:///mentor_match.db)")
    parser.add_argument("--artifacts", default="artifacts", help="artifacts folder (default: artifacts)")
    parser.add_argument("--index", default="auto", help="auto (default), Flat, HNSW32, IVF<n>,Flat or a FAISS factory string")
    parser.add_argument("--batch-size", type=int, default=64, help="encoder batch size (default: 64)")
    parser.add_argument(
        "--precision", default="auto", choices=PRECISIONS,
        help="encoder arithmetic: auto (default: bfloat16 where the CPU has AMX or avx512_bf16 "
        "and bfloat16 vectors pass a cosine check against float32, else float32), float32 "
        "or bfloat16",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        encoder = Encoder(batch_size=args.batch_size, precision=args.precision)
        summary = build_index_from_db(
            args.db_url,
            args.artifacts,
            spec=args.index,
            progress=not args.json and sys.stderr.isatty(),
            encoder=encoder,
        )
    except MentorMatchError as exc:
        print(f"build_index: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary.to_dict()))
        return 0
    recall = "" if summary.recall_at_100 is None else f", recall@100 {summary.recall_at_100:.3f}"
    print(
        f"Indexed {summary.mentors} mentors ({summary.encoded} encoded, {summary.cached} cached) "
        f"as {summary.index_type}{recall} in {summary.seconds:.1f}s -> {summary.path} "
        f"({summary.index_bytes / 1e6:.1f} MB)"
    )
    print(
        f"Cached {summary.mentees} mentee goals ({summary.mentees_encoded} encoded, "
        f"{summary.mentees_cached} cached); self-retrieval {summary.self_retrieval:.0%}; "
        f"encoder precision {summary.encoder_precision}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
