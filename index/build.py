"""Build the mentor index from the database: embed (through the cache), build, check, publish."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from db.engine import get_engine
from db.loading import load_mentees, load_mentors
from embeddings import EmbeddingCache, Encoder
from index import spec as specs
from index.ann import MentorIndex
from index.publish import publish_index
from index.staleness import mentor_content_hashes, mentor_fingerprint
from mentor_match.errors import ArtifactError, NotEnoughDataError

logger = logging.getLogger(__name__)

RECALL_TARGET = 0.99
"""recall@100 against exact search that an approximate index must reach on a sample."""

DEPTH_RECALL_TARGET = 0.97
"""Recall at the depth a query reads (:data:`index.spec.DEFAULT_POOL`), which the index
must also reach: the pre-ranker picks from that whole pool (docs/decisions.md, "Index")."""

RECALL_SAMPLE = 200
"""Queries (mentee goals, else mentor bios) in the build-time recall check."""

SELF_CHECK_SAMPLE = 200
SELF_RETRIEVAL_MIN = 0.98
"""Share of sampled mentors that must find themselves in their own top 10."""

SEED = 0


@dataclass(frozen=True)
class BuildSummary:
    """What a build did; ``summary["mentors"]`` works as well as ``summary.mentors``."""

    mentors: int
    encoded: int
    cached: int
    mentees: int
    mentees_encoded: int
    mentees_cached: int
    index_type: str
    search_params: dict = field(default_factory=dict)
    recall_at_100: float | None = None
    self_retrieval: float = 1.0
    encoder_precision: str | None = None
    encode_seconds: float = 0.0
    seconds: float = 0.0
    index_bytes: int = 0
    path: str = ""

    def __getitem__(self, key: str):
        return getattr(self, key)

    def to_dict(self) -> dict:
        return asdict(self)


def build_index_from_db(
    db_url: str | None = None,
    artifacts: str | Path = "artifacts",
    spec: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
    *,
    encoder: Encoder | None = None,
) -> BuildSummary:
    """Index the active mentors of ``db_url`` into ``artifacts/index``; cache mentee goals.

    Bios and goals go through ``artifacts/cache``, so a rebuild encodes only new or changed
    texts. The new index must pass a self-retrieval check (and, if approximate, reach
    recall@100 >= 0.99 on a sample, raising efSearch/nprobe as needed) before it is
    published atomically. On any error the previous index stays in place.
    """
    started = time.perf_counter()
    artifacts = Path(artifacts)
    specs.make_faiss_index(specs.resolve_spec(spec, 1), 384)  # a bad spec fails before any work
    _check_writable(artifacts)
    engine = get_engine(db_url)
    try:
        mentors = load_mentors(engine, active_only=True)
        mentees = load_mentees(engine)
    finally:
        engine.dispose()
    if mentors.empty:
        raise NotEnoughDataError(
            f"No active mentors in {engine.url.render_as_string(hide_password=True)}: nothing "
            "to index. Generate data (scripts/generate_synthetic_data.py) or load mentors "
            "first; the previous index was left in place."
        )
    if encoder is None:
        encoder = Encoder(batch_size=batch_size)
    cache = EmbeddingCache(artifacts / "cache")
    show = None if progress else False
    t0 = time.perf_counter()
    bios = cache.get_or_encode(encoder, mentors["bio"].tolist(), progress=show)
    goals = cache.get_or_encode(encoder, mentees["goals"].tolist(), progress=show)
    encode_seconds = time.perf_counter() - t0
    logger.info(
        "embedded %d bios (%d encoded) and %d goals (%d encoded) in %.1fs",
        len(mentors), bios.encoded, len(mentees), goals.encoded, encode_seconds,
    )

    index = MentorIndex.build(
        mentors["mentor_id"].to_numpy(np.int64),
        bios.vectors,
        spec,
        encoder_identity=encoder.identity,
        fingerprint=mentor_fingerprint(mentors),
        content_hashes=mentor_content_hashes(mentors),
    )
    # Which precision embedded the bios, and why (bfloat16 only on CPUs that support it).
    index = index.with_manifest_fields(
        encoder_precision=getattr(encoder, "precision", None),
        encoder_precision_reason=getattr(encoder, "precision_reason", None),
    )
    queries = goals.vectors if len(goals.vectors) else bios.vectors
    index, recall = tune_for_recall(index, queries, auto=spec.strip().lower() == "auto")
    share = self_retrieval(index)
    if share < SELF_RETRIEVAL_MIN:
        raise ArtifactError(
            f"The new {index.spec} index failed its self-retrieval check: only {share:.0%} of "
            f"sampled mentors find themselves in their top 10 (need {SELF_RETRIEVAL_MIN:.0%}). "
            "Use --index Flat or larger search parameters; the previous index was kept."
        )
    path = publish_index(index, artifacts)
    files = index.manifest.get("files", {})
    return BuildSummary(
        mentors=len(mentors),
        encoded=bios.encoded,
        cached=bios.cached,
        mentees=len(mentees),
        mentees_encoded=goals.encoded,
        mentees_cached=goals.cached,
        index_type=index.spec,
        search_params=index.search_params,
        recall_at_100=recall,
        self_retrieval=round(share, 4),
        encoder_precision=getattr(encoder, "precision", None),
        encode_seconds=round(encode_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
        index_bytes=int(sum(meta["bytes"] for meta in files.values())),
        path=str(path),
    )


def search_recall(
    index: MentorIndex, queries: np.ndarray, k: int = 100, truth: np.ndarray | None = None
) -> float:
    """Mean share of the exact top-``k`` that ``index.search`` returns in its top ``k``: how
    well the ANN index approximates exact search (not a ranking metric over relevance labels;
    that is :func:`eval.metrics.recall_at_k`).

    ``truth``: the exact top ``k`` or more of each query (ids, best first), if known.
    """
    k = min(k, len(index))
    if truth is None:
        truth = index.exact_search(queries, k).ids
    found = index.search(queries, k).ids
    return float(np.mean([np.isin(t[:k], f).mean() for t, f in zip(truth, found, strict=True)]))


def tune_for_recall(
    index: MentorIndex, queries: np.ndarray, *, auto: bool
) -> tuple[MentorIndex, float | None]:
    """Raise efSearch/nprobe until, on a query sample, recall@100 reaches
    :data:`RECALL_TARGET` and recall at the query depth :data:`DEPTH_RECALL_TARGET`.

    HNSW starts from its efSearch; IVF from nprobe = nlist / 128, so that the smallest
    power-of-two nprobe that reaches the targets is kept (each probe costs time). Exact
    indexes are returned as they are (recall None). An ``auto`` index that still misses
    a target at the largest setting is rebuilt as Flat. Returns recall@100.
    """
    kind = specs.index_kind(index.faiss_index)
    if kind == "flat":
        return index, None
    rng = np.random.default_rng(SEED)
    sample = queries[rng.choice(len(queries), min(RECALL_SAMPLE, len(queries)), replace=False)]
    sample = sample[np.linalg.norm(sample, axis=1) > 0]
    if len(sample) == 0:
        return index, None
    if kind == "ivf":
        nlist = specs.ivf_nlist(index.faiss_index)
        index = index.with_search_params(nprobe=max(1, nlist // specs.IVF_NPROBE_TUNE_FROM))
    depth = min(specs.DEFAULT_POOL, len(index))
    truth = index.exact_search(sample, depth).ids  # once: exact search is the costly part

    def measure(candidate: MentorIndex) -> tuple[float, float]:
        at_100 = search_recall(candidate, sample, 100, truth)
        return at_100, search_recall(candidate, sample, depth, truth)

    def enough(recalls: tuple[float, float]) -> bool:
        return recalls[0] >= RECALL_TARGET and recalls[1] >= DEPTH_RECALL_TARGET

    recalls = measure(index)
    name = {"hnsw": "efSearch", "ivf": "nprobe"}.get(kind)
    top = specs.HNSW_EF_SEARCH_MAX if kind == "hnsw" else specs.ivf_nlist(index.faiss_index)
    while name and not enough(recalls) and index.search_params.get(name, top) < top:
        value = min(top, 2 * index.search_params[name])
        index = index.with_search_params(**{name: value})
        recalls = measure(index)
        logger.info("recall@100 %.4f, @%d %.4f with %s=%d", recalls[0], depth, recalls[1], name, value)
    recall = recalls[0]
    if not enough(recalls) and auto:
        logger.warning(
            "%s reaches recall@100 %.3f and @%d %.3f only; using exact search instead",
            index.spec, recall, depth, recalls[1],
        )
        flat = MentorIndex.build(
            index.ids,
            index.vectors,
            "Flat",
            encoder_identity=index.manifest["encoder"],
            fingerprint=index.manifest.get("fingerprint"),
            content_hashes=index.content_hashes,
        )
        return flat, None
    index = index.with_manifest_fields(
        **{"recall_at_100": round(recall, 4), f"recall_at_{depth}": round(recalls[1], 4)}
    )
    return index, round(recall, 4)


def self_retrieval(index: MentorIndex, k: int = 10) -> float:
    """Share of sampled mentors whose own id (or an equally similar twin) is in their top ``k``."""
    rows = np.flatnonzero(np.linalg.norm(index.vectors, axis=1) > 0)
    if len(rows) == 0:
        return 1.0
    rng = np.random.default_rng(SEED)
    rows = rng.choice(rows, min(SELF_CHECK_SAMPLE, len(rows)), replace=False)
    found, scores, _ = index.search(index.vectors[rows], k)
    own = (found == index.ids[rows][:, None]).any(axis=1)
    # Identical bios tie at similarity 1; any of the twins first counts as found.
    self_sim = np.einsum("ij,ij->i", index.vectors[rows], index.vectors[rows])
    twin = scores[:, 0] >= self_sim - 1e-4
    return float(np.mean(own | twin))


def _check_writable(artifacts: Path) -> None:
    try:
        artifacts.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=artifacts):
            pass
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write to the artifacts folder {str(artifacts)!r}: {exc.strerror or exc}. "
            "Make it writable or pass another --artifacts folder; the previous index was kept."
        ) from None
