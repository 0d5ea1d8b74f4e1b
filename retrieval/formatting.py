"""Readable text tables of recommendations (for scripts and the demo)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mentor_match.text import format_table
from retrieval.results import Recommendation


def format_recommendations(
    recommendations: Sequence[Recommendation], domains: Mapping[int, Sequence[str]] | None = None
) -> str:
    """A fixed-width table: rank, mentor, domains (from ``domains`` by mentor id), score, why.

    >>> ada = Recommendation(7, "Ada", 1, 0.8125, 0.5, {}, ["same timezone", "rated 4.5"])
    >>> print(format_recommendations([ada], {7: ["data", "ml"]}))
    #  mentor   domains   score  why
    -  -------  --------  -----  ---
    1  Ada (7)  data, ml  0.812  same timezone; rated 4.5
    >>> format_recommendations([])
    '(no eligible mentors)'
    """
    if not recommendations:
        return "(no eligible mentors)"
    rows = [
        [
            str(r.rank),
            f"{r.name} ({r.mentor_id})",
            ", ".join(domains.get(r.mentor_id, ())) if domains is not None else "",
            f"{r.score:.3f}",
            "; ".join(r.reasons),
        ]
        for r in recommendations
    ]
    return format_table(["#", "mentor", "domains", "score"], rows, left=4, trailing="why")
