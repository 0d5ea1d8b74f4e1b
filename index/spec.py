"""Index specs: FAISS ``index_factory`` strings, ``auto`` resolution and search parameters.

``auto`` keeps exact search (Flat) for small catalogues, where it is always right and fast,
and uses IVF from :data:`AUTO_APPROX_FROM` mentors: on clustered vectors (many mentors
describe the same specialty) IVF finds the few clusters that hold a query's neighbours with
a handful of probes, where HNSW needs a very wide beam. The right nprobe depends on the
data, so :func:`index.build.tune_for_recall` measures recall on a sample of real goals at
build time. The measurements behind each constant are in docs/decisions.md ("Index").

>>> resolve_spec("auto", 10_000), resolve_spec("auto", 100_000), resolve_spec("hnsw", 10)
('Flat', 'IVF2048,Flat', 'HNSW32')
>>> auto_nlist(1_000_000)
4096
"""

from __future__ import annotations

import math

import faiss
import numpy as np

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int

AUTO_APPROX_FROM = 50_000
"""Catalogues at least this large get an IVF index under ``auto``; smaller ones exact search."""

IVF_LISTS_PER_SQRT_N = 16
IVF_MIN_PER_LIST = 39
IVF_MAX_LISTS = 4096
"""``auto`` uses nlist = 16 * sqrt(N), at most N / 39 (k-means wants 39 points per
centroid) and 4096 (k-means time), as a power of two: the top of FAISS's 4-16 sqrt(N)
guidance, since a probe then reads fewer vectors and a search is bound by memory reads."""

IVF_TRAIN_PER_LIST = 64
"""k-means trains on at most 64 vectors per list (FAISS warns under 39): more costs minutes
of training for no recall gain."""

IVF_NPROBE_FRACTION = 8
"""Default nprobe = nlist / 8 (at least 1) for ``IVF{n},...`` specs built directly."""

IVF_NPROBE_TUNE_FROM = 128
"""Recall tuning starts at nprobe = nlist / 128 (8 at 1024 lists) and doubles from there."""

DEFAULT_POOL = 1000
"""How many nearest mentors a query reads from the index by default: the pool that
:class:`retrieval.Recommender`'s pre-ranker orders down to the candidates the ranker
scores (see :mod:`ranking.preranker`), and the depth whose recall
:func:`index.build.tune_for_recall` checks."""

HNSW_EF_CONSTRUCTION = 40
"""FAISS's default; larger values cost build time without a recall gain on our vectors."""

HNSW_EF_SEARCH = 512
"""Default efSearch of ``HNSW{M}`` specs."""

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
        check_int(name, value, "the index")
    build = {k: v for k, v in params.items() if k in _KNOWN_BUILD_PARAMS}
    search = {k: v for k, v in params.items() if k in _KNOWN_SEARCH_PARAMS}
    return build, search

