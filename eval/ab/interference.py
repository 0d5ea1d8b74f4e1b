"""Interference between arms in a two-sided market: mentors requested from more than one arm.

Mentees are split into arms, mentors are not: a mentor's seats, attention and acceptance
are shared by the mentees of every arm. If the variant sends its mentees to the mentors the
control's mentees also want, it takes seats from the control, and the measured difference
is not the effect of shipping the variant to everyone (usually it overstates it). The
share of requests that went to mentors requested from both arms bounds how much of the
comparison this can touch: near 0 the arms hardly meet, near 1 they compete for the same
mentors and the verdict needs a mentor-side (or time-split) test to confirm it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["shared_mentor_share"]


def shared_mentor_share(requests: pd.DataFrame, arms: Sequence[str] | None = None) -> dict:
    """How much of the requests went to mentors that mentees of two or more arms requested.

    ``requests`` has one row per request with ``mentor_id`` and ``variant`` (the arm of
    the requesting mentee); ``arms`` restricts both to those arms (e.g. control and one
    variant). Returns ``{"requests", "mentors_requested", "shared_mentors",
    "shared_request_share"}``; the share is None without requests.

    Mentor 1 is requested from both arms (3 of the 4 requests), mentor 2 only from "b":

    >>> requests = pd.DataFrame({"mentor_id": [1, 1, 1, 2], "variant": ["a", "b", "a", "b"]})
    >>> shared_mentor_share(requests)
    {'requests': 4, 'mentors_requested': 2, 'shared_mentors': 1, 'shared_request_share': 0.75}
    """
    if arms is not None:
        requests = requests[requests["variant"].isin(list(arms))]
    arms_per_mentor = requests.groupby("mentor_id")["variant"].nunique()
    shared = arms_per_mentor.index[arms_per_mentor > 1]
    to_shared = int(requests["mentor_id"].isin(shared).sum())
    return {
        "requests": len(requests),
        "mentors_requested": len(arms_per_mentor),
        "shared_mentors": len(shared),
        "shared_request_share": to_shared / len(requests) if len(requests) else None,
    }
