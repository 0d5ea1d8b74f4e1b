"""The congestion prices on the query path, at scale: what a priced list adds to a query.

A priced arm (:mod:`retrieval.market`) multiplies each candidate's P(match) by its mentor's
P(seat still free) ** weight (a vector lookup by served row), ranks, leaves out what is below
the floor and records the list's slots in the prices. :func:`measure_prices` times exactly
that, per query, over a catalogue of ``n_mentors`` with random seats, acceptance rates, pending
requests and exposure (fixed seed), ``candidates`` candidates per query: the cost the market
adds on top of the two-stage query the main benchmark times. Medians and percentiles are
reported, never asserted.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mentor_match.validation import check_int
from retrieval.market import MarketPrices, PriceSettings, request_curve

__all__ = ["measure_prices"]


def measure_prices(
    n_mentors: int = 100_000, candidates: int = 200, k: int = 10, *, queries: int = 2000, seed: int = 42,
) -> dict[str, Any]:
    """Per-query milliseconds (p50, p90, p99) of pricing ``candidates`` candidates and
    recording the top ``k``, over ``queries`` queries against ``n_mentors`` mentors.

    >>> result = measure_prices(1000, 50, 5, queries=20, seed=0)
    >>> result["queries"], result["p50_ms"] > 0
    (20, True)
    """
    func = "measure_prices"
    n_mentors = check_int("n_mentors", n_mentors, func)
    candidates = check_int("candidates", candidates, func, high=n_mentors)
    queries = check_int("queries", queries, func)
    rng = np.random.default_rng(seed)
    prices = MarketPrices(
        free=rng.integers(0, 4, n_mentors).astype(float), accept_rate=rng.uniform(0.2, 0.9, n_mentors),
        pending=rng.poisson(0.5, n_mentors).astype(float), exposure=rng.exponential(0.5, n_mentors),
        curve=request_curve(None, 50),
    )
    settings = PriceSettings(weight=1.0, floor=0.05)
    rows = np.stack([rng.choice(n_mentors, candidates, replace=False) for _ in range(queries)])
    scores = rng.beta(1.0, 8.0, (queries, candidates))
    seconds = np.empty(queries)
    for q in range(queries):
        started = time.perf_counter()
        priced = prices.apply(scores[q], rows[q], settings)
        top = np.argsort(-priced, kind="stable")[:k]
        top = top[prices.shown(rows[q][top], settings)]
        prices.record(rows[q][top], np.arange(1, len(top) + 1))
        seconds[q] = time.perf_counter() - started
    ms = seconds * 1000.0
    return {
        "mentors": n_mentors, "candidates": candidates, "k": k, "queries": queries, "seed": seed,
        "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
    }
