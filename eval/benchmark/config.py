"""What the benchmark measures (:class:`BenchmarkConfig`) and the public keys of its output."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int, check_number

FORMAT = "mentor-match-benchmark/1"
SIZE_KEYS = (
    "p50_ms_known", "p95_ms_known", "p99_ms_known", "p50_ms_adhoc", "bruteforce_p50_ms",
    "speedup", "ndcg@10_two_stage", "ndcg@10_bruteforce", "batch_mentees_per_s",
    "ann_recall@100", "index_build_s", "index_bytes", "rss_bytes",
)
ENCODER_KEYS = ("backend", "texts_per_s_reference", "texts_per_s", "mean_cosine", "min_cosine")
REBUILD_KEYS = ("cold_s", "refresh_s")
REFRESH_KEYS = (
    "mentors", "refresh_s", "refresh_one_s", "refresh_idle_s", "reload_s", "p50_ms_known_frames",
    "p50_ms_known_db", "p50_ms_log_off", "p50_ms_log_on", "log_overhead_ms_p50",
)
"""The public keys of benchmark.json (issue 7; ``refresh``: issue 13); more keys may be added,
none removed."""

K = 10
RECALL_K = 100
WARMUP_QUERIES = 5
PROFILE_QUERIES = 50
"""Known-mentee queries run under cProfile per size (after the timed ones) for the hot spots."""
NOISE_SIGMA = 0.03
"""Per-dimension noise on copied bio vectors: copies sit further apart than two distinct
generated bios usually do, so neighbours are not trivial duplicates, while a copy still
reads like its source's bio (docs/decisions.md)."""
BRUTEFORCE_MIN_QUERIES = 20
BATCH_PAIRS = 200_000_000
"""Budget of (mentee x catalogue) work for the batch measurement: all ``batch_mentees`` up to
100,000 mentors, 200 at 1,000,000 (where exact search makes a batch take minutes)."""
OTHER_STAGE1 = {"200": {"candidates": 200, "pool": 200}, "1000": {"candidates": 1000, "pool": 1000}}
"""Stage 1 also measured without pre-ranking on the brute-force mentees: the nearest 200
or the nearest 1,000 mentors all scored by the ranker, beside the default (the nearest
:data:`index.spec.DEFAULT_POOL`, pre-ranked to 200)."""
MIN_SIZE = 100

_WHERE = "the benchmark"


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to measure. :meth:`quick` is the reduced set for smoke tests (< 2 minutes).

    >>> BenchmarkConfig(sizes=[2000, 10_000]).checked().sizes
    (2000, 10000)
    """

    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    queries: int = 500
    seed: int = 42
    base_mentors: int = 2000
    base_mentees: int = 2000
    interactions_per_mentee: int = 8
    encoder_texts: int = 1000
    batch_mentees: int = 2000
    bruteforce_pairs: int = 30_000_000
    """Budget of pairs scored by brute force per size: fewer brute-force queries at large N,
    enough at 100,000 mentors for the NDCG ratio's interval to tell a 1% gap from none."""
    noise: float = NOISE_SIGMA
    refresh_mentors: int = 100_000
    """Catalogue size of the live-catalogue measurement (a database of that many mentors)."""

    @classmethod
    def quick(cls, seed: int = 42) -> BenchmarkConfig:
        return cls(
            sizes=(2000,), queries=20, seed=seed, base_mentors=200, base_mentees=200,
            encoder_texts=64, batch_mentees=200, bruteforce_pairs=100_000, refresh_mentors=1000,
        )

    def checked(self) -> BenchmarkConfig:
        """Self, after validating every field (InvalidParameterError naming the bad one)."""
        sizes = _checked_sizes(tuple(self.sizes))
        for name, low in (("queries", 1), ("base_mentors", 20), ("base_mentees", 20),
                          ("interactions_per_mentee", 2), ("encoder_texts", 1),
                          ("batch_mentees", 1), ("bruteforce_pairs", 1), ("refresh_mentors", MIN_SIZE)):
            check_int(name, getattr(self, name), _WHERE, low=low)
        check_number("noise", self.noise, _WHERE, low=0, high=1, high_open=True)
        return replace(self, sizes=sizes)


def _checked_sizes(sizes: tuple) -> tuple[int, ...]:
    """The catalogue sizes as ints, or one error that shows the whole list."""
    refused = InvalidParameterError(
        f"The 'sizes' parameter of the benchmark must be catalogue sizes >= {MIN_SIZE}, "
        f"e.g. 10000,100000. Got {list(sizes)!r}."
    )
    if not sizes:
        raise refused
    try:
        return tuple(check_int("sizes", n, _WHERE, low=MIN_SIZE) for n in sizes)
    except InvalidParameterError:
        raise refused from None
