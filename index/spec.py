"""Index specs: FAISS ``index_factory`` strings, ``auto`` resolution and search parameters.

Measurements behind the constants (this 2-core CPU box, faiss-cpu 1.15, d=384 unit
vectors, inner product; p50 latency of one query with k=200 on one thread; recall@100 of a
k=100 search against exact search for 300 generated goals; the catalogue is the
benchmark's: MiniLM vectors of 1915 generated bios, each copied N/1915 times with
N(0, 0.03^2) noise per dimension and renormalised)::

    N          Flat p50   HNSW32 efC40 (build)        IVF{nlist},Flat (build, 2 threads)
                          efSearch: recall / p50       nprobe: recall / p50
    100 000    7-24 ms    (5.0 s)                      IVF1024 (1.6 s)
                          512:  0.974 / 0.90 ms        16: 0.968 / 0.37 ms
                          1024: 0.997 / 1.64 ms        32: 0.990 / 0.59 ms
                                                       64: 0.997 / 0.82 ms
                                                       IVF2048 (5.7 s)
                                                       32: 0.994 / 0.44 ms
                                                       64: 0.999 / 0.67 ms
    1 000 000  ~100 ms    2048: 0.944 (too low)        IVF4096 (28.5 s)
                                                       32: 0.9999 / 1.44 ms
                                                       64: 1.000  / 2.53 ms

On these clustered vectors (near copies of a few thousand bios, like real catalogues where
many mentors describe the same specialty) HNSW needs a very wide beam, while IVF finds the
few clusters that hold a query's neighbours with a handful of probes: 2x faster at 100,000
for the same recall, and it reaches recall 0.99 at 1,000,000 where HNSW32 did not.
Exact search is always right and stays under ~6 ms per query below 50,000 mentors, so
``auto`` keeps Flat there. The right nprobe depends on the data, so
:func:`index.build.tune_for_recall` measures recall@100 on a sample of real goals at build
time, starting from a low nprobe and doubling it until recall reaches 0.99 (and falls back
to Flat when it cannot).
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from mentor_match.errors import InvalidParameterError

AUTO_APPROX_FROM = 50_000
"""Catalogues at least this large get an IVF index under ``auto``; smaller ones exact search
(Flat p50 <= ~6 ms below 50k; IVF under 1 ms at 100k, see the table above)."""

IVF_LISTS_PER_SQRT_N = 16
IVF_MIN_PER_LIST = 39
IVF_MAX_LISTS = 4096
"""``auto`` uses nlist = 16 * sqrt(N), at most N / 39 (k-means wants 39 points per
centroid) and 4096 (k-means time on two cores), as a power of two: 1024 at 50k, 2048 at
100k, 4096 from 160k. The top of FAISS's 4-16 sqrt(N) guidance: a probe reads fewer
vectors, and a search reads memory, not arithmetic (IVF2048 at nprobe 32 matched IVF1024's
recall at nprobe 64 in half the time, see the table)."""

IVF_TRAIN_PER_LIST = 64
"""k-means trains on at most 64 vectors per list (FAISS warns under 39): training on all of
1M vectors with 4096 centroids would take minutes on two cores for no recall gain."""

IVF_NPROBE_FRACTION = 8
"""Default nprobe = nlist / 8 (at least 1) for ``IVF{n},...`` specs built directly."""

IVF_NPROBE_TUNE_FROM = 128
"""Recall tuning starts at nprobe = nlist / 128 (8 at 1024 lists) and doubles from there."""

DEFAULT_POOL = 1000
"""How many nearest mentors a query reads from the index by default: the pool that
:class:`retrieval.Recommender`'s pre-ranker orders down to the candidates the ranker
scores (see :mod:`ranking.preranker`), and the depth whose recall
:func:`index.build.tune_for_recall` checks. Two-stage NDCG@10 (synthetic ground truth)
against the ranker over all mentors, by pool: demo world (1,915 mentors, 500 mentees)
200 / 400 / 600 / 1,000 -> 0.862 / 0.868 / 0.872 / 0.875 vs 0.878; benchmark catalogue of
100,000 (300 mentees) 200 / 400 / 600 / 1,000 -> 0.978 / 0.992 / 0.997 / 0.996 of it."""

HNSW_EF_CONSTRUCTION = 40
"""FAISS's default; 80 doubled build time without a recall gain on noisy-real vectors."""

HNSW_EF_SEARCH = 512
"""Default efSearch of ``HNSW{M}`` specs (recall@100 0.974 at 100k on the table's data)."""

HNSW_EF_SEARCH_MAX = 2048
"""Upper bound when tuning efSearch for recall at build time."""

_ALIASES = {"flat": "Flat", "hnsw": "HNSW32", "hnsw32": "HNSW32"}


def resolve_spec(spec: str, n: int) -> str:
    """The FAISS factory string to build for ``spec`` and a catalogue of ``n`` vectors.

    ``auto`` gives ``Flat`` below :data:`AUTO_APPROX_FROM` vectors and ``IVF{nlist},Flat``
    from there (:func:`auto_nlist`); ``flat``/``hnsw`` are accepted in any case; anything
    else is passed to ``faiss.index_factory`` as is (e.g. ``IVF256,Flat``, ``HNSW64``).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(
            f"The index spec must be 'auto', 'Flat', 'HNSW32', 'IVF<n>,Flat' or another FAISS "
            f"index_factory string. Got {spec!r}."
        )
    spec = spec.strip()
    if spec.lower() == "auto":
        return "Flat" if n < AUTO_APPROX_FROM else f"IVF{auto_nlist(n)},Flat"
    return _ALIASES.get(spec.lower(), spec)


def auto_nlist(n: int) -> int:
    """IVF list count for ``n`` vectors (see :data:`IVF_MAX_LISTS`)."""
    lists = min(IVF_LISTS_PER_SQRT_N * math.sqrt(max(n, 1)), n / IVF_MIN_PER_LIST, IVF_MAX_LISTS)
    return 2 ** max(0, math.floor(math.log2(max(lists, 1))))


def training_sample(index: faiss.Index, vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """The vectors an untrained ``index`` learns from: at most 64 per IVF list, drawn with a
    fixed seed so that a rebuild from the same vectors gives the same index; all of them
    for other kinds."""
    nlist = ivf_nlist(index)
    limit = nlist * IVF_TRAIN_PER_LIST
    if nlist == 0 or len(vectors) <= limit:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), limit, replace=False))
    return vectors[rows]


def make_faiss_index(spec: str, dim: int) -> faiss.Index:
    """An empty inner-product FAISS index for a resolved ``spec``."""
    try:
        return faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise InvalidParameterError(
            f"FAISS cannot build index spec {spec!r} ({reason}). Use 'auto', 'Flat', "
            "'HNSW32', 'IVF<n>,Flat' or another faiss.index_factory string."
        ) from None


def index_kind(index: faiss.Index) -> str:
    """``"flat"``, ``"hnsw"``, ``"ivf"`` or ``"other"``: which search parameters apply."""
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexFlat):
        return "flat"
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if faiss.try_extract_index_ivf(index) is not None:
        return "ivf"
    return "other"


def ivf_nlist(index: faiss.Index) -> int:
    """Number of inverted lists of an IVF index (0 for other kinds)."""
    ivf = faiss.try_extract_index_ivf(index)
    return int(ivf.nlist) if ivf is not None else 0


def default_params(index: faiss.Index) -> tuple[dict, dict]:
    """(build parameters, search parameters) defaults for an empty index of this kind."""
    kind = index_kind(index)
    if kind == "hnsw":
        return {"efConstruction": HNSW_EF_CONSTRUCTION}, {"efSearch": HNSW_EF_SEARCH}
    if kind == "ivf":
        return {}, {"nprobe": max(1, ivf_nlist(index) // IVF_NPROBE_FRACTION)}
    return {}, {}


def apply_build_params(index: faiss.Index, params: dict) -> None:
    """Set build-time parameters (only ``efConstruction`` today) on an empty index."""
    for name, value in params.items():
        if name == "efConstruction" and index_kind(index) == "hnsw":
            faiss.downcast_index(index).hnsw.efConstruction = int(value)
        else:
            raise InvalidParameterError(
                f"Unknown build parameter {name!r} for this index; known: efConstruction (HNSW)."
            )


def search_parameters(index: faiss.Index, params: dict, k: int, sel=None, widen: float = 1.0):
    """Fresh per-call ``faiss.SearchParameters`` (never mutates the shared index).

    ``widen`` (>= 1) scales efSearch/nprobe when a selector removes part of the catalogue,
    so a filtered search still looks at about as many eligible vectors.
    """
    kind = index_kind(index)
    if kind == "hnsw":
        ef = max(int(params.get("efSearch", HNSW_EF_SEARCH)), k)
        return faiss.SearchParametersHNSW(efSearch=int(ef * widen), sel=sel)
    if kind == "ivf":
        nlist = ivf_nlist(index)
        nprobe = int(params.get("nprobe", max(1, nlist // IVF_NPROBE_FRACTION)))
        return faiss.SearchParametersIVF(nprobe=min(nlist, int(nprobe * widen)), sel=sel)
    if sel is None:
        return None
    return faiss.SearchParameters(sel=sel)


_KNOWN_SEARCH_PARAMS = {"efSearch", "nprobe"}
_KNOWN_BUILD_PARAMS = {"efConstruction"}


def split_params(params: dict | None) -> tuple[dict, dict]:
    """Split user ``params`` into (build, search) parameters; unknown names are refused."""
    params = dict(params or {})
    unknown = set(params) - _KNOWN_SEARCH_PARAMS - _KNOWN_BUILD_PARAMS
    if unknown:
        raise InvalidParameterError(
            f"Unknown index parameter(s) {sorted(unknown)}; known: efConstruction, efSearch "
            "(HNSW), nprobe (IVF)."
        )
    for name, value in params.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidParameterError(
                f"The index parameter {name!r} must be an int >= 1. Got {value!r}."
            )
    build = {k: v for k, v in params.items() if k in _KNOWN_BUILD_PARAMS}
    search = {k: v for k, v in params.items() if k in _KNOWN_SEARCH_PARAMS}
    return build, search

