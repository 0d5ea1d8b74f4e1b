"""The cohort solver at scale: :func:`retrieval.assignment.solve_assignment` on random scores.

Issue 16 asks for 100,000 mentees x 10,000 mentors with 200 candidates each (20 million pairs)
in at most 2 minutes. :func:`measure_assignment` makes such a market with a fixed seed (each
mentee's candidates distinct mentors drawn uniformly, scores ``Beta(1, 8)`` like small match
probabilities, 1 to 5 free seats per mentor, so demand is about three times the seats) and
times the whole call, validation included. Numbers are reported, never asserted.
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
import psutil

from eval.benchmark.timing import peak_rss
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int
from retrieval.assignment import solve_assignment

logger = logging.getLogger(__name__)

ASSIGNMENT_KEYS = (
    "mentees", "mentors", "candidates", "pairs", "seats", "per_mentee", "runs", "seconds",
    "seconds_median", "assigned", "value", "make_seconds", "rss_before_bytes", "peak_rss_bytes", "seed",
)
"""The keys of :func:`measure_assignment`'s result (the ``assignment`` part of benchmark JSON)."""
_OVERDRAW = 1.3
"""Draws per wanted candidate before duplicates are dropped (enough for 200 of 10,000)."""


def random_market(
    n_mentees: int, n_mentors: int, candidates: int, *, seed: int = 42
) -> tuple[pd.DataFrame, pd.Series]:
    """(pairs, seats): ``candidates`` distinct random mentors per mentee with ``Beta(1, 8)``
    scores, and 1 to 5 free seats per mentor.

    >>> pairs, seats = random_market(4, 10, 3, seed=0)
    >>> len(pairs), pairs.groupby("mentee_id")["mentor_id"].nunique().tolist(), int(seats.min()) >= 1
    (12, [3, 3, 3, 3], True)
    """
    func = "random_market"
    n_mentees = check_int("n_mentees", n_mentees, func)
    n_mentors = check_int("n_mentors", n_mentors, func)
    candidates = check_int("candidates", candidates, func, high=n_mentors)
    rng = np.random.default_rng(seed)
    draws = int(min(max(candidates * _OVERDRAW, candidates + 8), n_mentors * 4))
    while True:
        drawn = np.sort(rng.integers(0, n_mentors, (n_mentees, draws), dtype=np.int32), axis=1)
        fresh = np.ones(drawn.shape, dtype=bool)
        fresh[:, 1:] = drawn[:, 1:] != drawn[:, :-1]
        if (fresh.sum(axis=1) >= candidates).all():
            break
        draws *= 2  # some mentee drew too many repeats: draw more (rare; never for 200 of 10,000)
    # Keep a random `candidates` of each row's distinct draws (not the smallest ids).
    priority = np.where(fresh, rng.random(drawn.shape), 2.0)
    picked = np.argpartition(priority, candidates - 1, axis=1)[:, :candidates]
    mentor = np.take_along_axis(drawn, picked, axis=1).ravel().astype(np.int64)
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(np.arange(n_mentees, dtype=np.int64), candidates),
        "mentor_id": mentor,
        "score": rng.beta(1.0, 8.0, len(mentor)),
    })
    seats = pd.Series(rng.integers(1, 6, n_mentors), index=np.arange(n_mentors, dtype=np.int64))
    return pairs, seats


def measure_assignment(
    n_mentees: int = 100_000, n_mentors: int = 10_000, candidates: int = 200, *, runs: int = 1,
    per_mentee: int = 1, seed: int = 42,
) -> dict[str, Any]:
    """Seconds per :func:`solve_assignment` call on :func:`random_market` (each run, and their
    median), the process's memory before and at its peak, and what the solver found."""
    runs = check_int("runs", runs, "measure_assignment")
    if runs > 5:
        raise InvalidParameterError(f"measure_assignment runs at most 5 times (about 1 minute each); got {runs}.")
    started = time.perf_counter()
    pairs, seats = random_market(n_mentees, n_mentors, candidates, seed=seed)
    make_seconds = time.perf_counter() - started
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    seconds, solved = [], None
    for run in range(runs):
        started = time.perf_counter()
        solved = solve_assignment(pairs, seats, per_mentee=per_mentee)
        seconds.append(round(time.perf_counter() - started, 3))
        logger.info("assignment run %d: %.1f s", run + 1, seconds[-1])
    return {
        "mentees": n_mentees, "mentors": n_mentors, "candidates": candidates, "pairs": len(pairs),
        "seats": int(seats.sum()), "per_mentee": per_mentee, "runs": runs, "seconds": seconds,
        "seconds_median": statistics.median(seconds), "assigned": len(solved.pairs),
        "value": round(solved.value, 3), "make_seconds": round(make_seconds, 3),
        "rss_before_bytes": int(rss_before), "peak_rss_bytes": peak_rss(), "seed": seed,
    }
