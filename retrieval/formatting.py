"""Readable text tables of recommendations (for scripts and the demo)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def format_recommendations(recs: Sequence, domains: Mapping[int, Sequence[str]] | None = None) -> str:
    """A fixed-width table: rank, mentor, domains, score, why."""
    if not recs:
        return "(no eligible mentors)"
    rows = [("#", "mentor", "domains", "score", "why")]
    for r in recs:
        mentor_domains = ", ".join(domains.get(r.mentor_id, ())) if domains is not None else ""
        rows.append((str(r.rank), f"{r.name} ({r.mentor_id})", mentor_domains, f"{r.score:.3f}", "; ".join(r.reasons)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 3)
    return "\n".join(lines)
