"""Prometheus metrics: latency with millisecond buckets, requests, lists, outcomes, the log.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several uvicorn workers) each worker writes its values
there and ``/metrics`` sums every worker's (prometheus-client's multiprocess mode); the
directory must exist and be emptied before the service starts (``make serve`` does).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS_MS = (1, 2, 3, 5, 7.5, 10, 15, 25, 50, 100, 250, 500)
"""Request latency buckets: the library's defaults start at 5 ms, too coarse for 3 ms queries."""
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The service's metrics, in a registry of their own (so that apps made in one process,
    as tests do, do not collide)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "mentor_match_request_duration_seconds", "Request latency by endpoint (buckets 1 ms to 500 ms).",
            ["endpoint"], buckets=tuple(b / 1000 for b in LATENCY_BUCKETS_MS), registry=r,
        )
        self.requests = Counter("mentor_match_requests", "Requests by endpoint and status.",
                                ["endpoint", "method", "status"], registry=r)
        self.lists = Counter("mentor_match_lists", "Recommendation lists served, by variant.", ["variant"], registry=r)
        self.outcomes = Counter("mentor_match_outcome_events", "Outcome events posted, by kind and whether new.",
                                ["kind", "recorded"], registry=r)
        gauge = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        self.log_pending = Gauge("mentor_match_log_queue_depth", "Served lists waiting to be written.",
                                 registry=r, **gauge)
        self.log_dropped = Gauge("mentor_match_log_dropped_rows", "Served lists the log dropped (buffer full).",
                                 registry=r, **gauge)
        self.log_written = Gauge("mentor_match_log_written_rows", "Served lists the log wrote.", registry=r, **gauge)
        oldest = {"multiprocess_mode": "livemax"} if self.multiprocess else {}
        self.catalogue_age = Gauge(
            "mentor_match_catalogue_refresh_age_seconds",
            "Seconds since the mentors were last read from the database (the stalest worker's).",
            registry=r, **oldest,
        )
        self.reloads = Counter("mentor_match_reloads", "Artifact reloads, by trigger (admin, watch) and result.",
                               ["trigger", "result"], registry=r)

    def update_catalogue(self, age: float | None) -> None:
        """Set the catalogue's refresh age (None: a static recommender, nothing to set)."""
        if age is not None:
            self.catalogue_age.set(age)

    def update_log(self, stats) -> None:
        """Set the log gauges from :class:`db.log.LogStats` (None: no log)."""
        if stats is None:
            return
        self.log_pending.set(stats.pending)
        self.log_dropped.set(stats.dropped)
        self.log_written.set(stats.written)

    def render(self) -> tuple[bytes, str]:
        """The exposition text (every worker's, in multiprocess mode) and its content type."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Forget a stopped worker's live gauges (multiprocess mode; a no-op otherwise)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
