"""Index specs: FAISS ``index_factory`` strings, ``auto`` resolution and search parameters.

Measurements behind the constants (this 2-core CPU box shared with other jobs, faiss-cpu
1.15, d=384 unit vectors, inner product; p50 latency of one query with k=200; recall@100
of a k=100 search against exact search, 200 queries; "noisy-real" = MiniLM vectors of 2000
generated bios, mixed in pairs plus Gaussian noise; "random" = uniform on the sphere)::

    N        Flat: build / p50    HNSW32 efConstruction=40: build / p50 at efSearch=512
             (recall 1)           recall@100 noisy-real at efSearch 128 / 256 / 512 | random @512
    2 000    0.001 s / 0.07 ms    0.08 s / 0.28 ms   0.9997 / 1.000  / 1.000  | 1.000
    10 000   0.007 s / 0.54 ms    0.4 s  / 0.54 ms   0.993  / 0.999  / 0.9999 | 0.988
    50 000   0.03 s  / 3.7-6 ms   2-7 s  / 1.1 ms    0.971  / 0.993  / 0.999  | 0.72
    100 000  0.07 s  / 7-24 ms    4-15 s / 1.2 ms    0.954  / 0.984  / 0.997  | 0.53

efConstruction=80 took 1.6-2x longer to build and gained nothing measurable on noisy-real
data (0.9969 vs 0.9967 at 100k, efSearch 512). Exact search is always right and stays
under ~6 ms per query below 50k mentors, so ``auto`` keeps Flat there; from 50k HNSW32 is
5-20x faster per query. Unstructured vectors defeat HNSW at that size, so
:func:`index.build.tune_for_recall` measures recall@100 on a sample at build time, raises
efSearch until it reaches 0.99, and falls back to Flat when it cannot.
"""

from __future__ import annotations

import faiss

from db.errors import InvalidParameterError

AUTO_HNSW_FROM = 50_000
"""Catalogues at least this large get HNSW32 under ``auto``; smaller ones exact search
(Flat p50 <= ~6 ms below 50k; HNSW32 1.1-1.2 ms at 50k-100k, see the table above)."""

HNSW_EF_CONSTRUCTION = 40
"""FAISS's default; 80 doubled build time without a recall gain on noisy-real vectors."""

HNSW_EF_SEARCH = 512
"""recall@100 0.997-0.999 on noisy-real vectors at 50k-100k (256 gives 0.984 at 100k)."""

HNSW_EF_SEARCH_MAX = 2048
"""Upper bound when tuning efSearch for recall at build time."""

IVF_NPROBE_FRACTION = 8
"""Default nprobe = nlist / 8 (at least 1) for ``IVF{n},...`` specs."""

_ALIASES = {"flat": "Flat", "hnsw": "HNSW32", "hnsw32": "HNSW32"}


def resolve_spec(spec: str, n: int) -> str:
    """The FAISS factory string to build for ``spec`` and a catalogue of ``n`` vectors.

    ``auto`` gives ``Flat`` below :data:`AUTO_HNSW_FROM` vectors and ``HNSW32`` from there;
    ``flat``/``hnsw`` are accepted in any case; anything else is passed to
    ``faiss.index_factory`` as is (e.g. ``IVF256,Flat``, ``HNSW64``).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidParameterError(
            f"The index spec must be 'auto', 'Flat', 'HNSW32', 'IVF<n>,Flat' or another FAISS "
            f"index_factory string. Got {spec!r}."
        )
    spec = spec.strip()
    if spec.lower() == "auto":
        return "Flat" if n < AUTO_HNSW_FROM else "HNSW32"
    return _ALIASES.get(spec.lower(), spec)


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

