"""`MentorIndex`: mentor vectors, their ids and a FAISS index derived from them.

The stored vectors and the row -> mentor_id map are the truth; the FAISS index is built
from them and can always be rebuilt. Search works in mentor ids, filters inside FAISS with
per-call ``IDSelector`` parameters (the shared index is never mutated, so concurrent reads
are safe), and falls back to exact search over the eligible mentors when a filter is tight
or an approximate search comes back short (HNSW with a restrictive selector can return -1
ids). Mentors leave an index only through a rebuild (HNSW cannot remove ids); until then
callers hide inactive or full mentors with ``excluded_rows`` (see :mod:`index.live` for
the index as served between rebuilds). Vectors are expected L2-normalised, so inner
product is cosine.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import faiss
import numpy as np

from index import spec as specs
from index import store
from index.filters import PerQuery, RowFilter, split_exclusions
from mentor_match.errors import InvalidParameterError, NotEnoughDataError, UnknownEntityError
from mentor_match.validation import check_int

logger = logging.getLogger(__name__)

EXACT_ELIGIBLE_MAX = 4096
"""A filter that leaves at most this many eligible mentors is searched exactly: a
(queries x eligible) product costs well under 1 ms per query here and is always right."""

TIGHT_FRACTION = 0.25
"""An approximate index whose filter leaves less than this share of the catalogue is
bypassed for exact search over the eligible rows (HNSW/IVF lose recall under tight filters)."""

_QUERY_CHUNK = 256  # queries per exact-search block: bounds the (queries x eligible) matrix

MMAP_ENV = "MENTOR_MATCH_MMAP"
"""Set to 1 (``make serve`` does): :meth:`MentorIndex.load` maps index folders read-only by
default, so the service's workers share one copy of the index in the page cache."""


class SearchResult(NamedTuple):
    """The ``k`` best of each of ``m`` queries, best first: ``ids`` (mentor ids, int64),
    ``scores`` (cosine, float32) and ``rows`` (the index rows, int64), each ``(m, k)`` and
    padded with -1 / -inf / -1 only where fewer than ``k`` eligible mentors exist."""

    ids: np.ndarray
    scores: np.ndarray
    rows: np.ndarray


class MentorIndex:
    """Mentor vectors with their ids, searchable by cosine similarity.

    Attributes: ``ids`` (int64, row -> mentor_id), ``vectors`` (float32, the truth),
    ``spec`` (the resolved FAISS factory string), ``manifest`` (what made it),
    ``content_hashes`` (int64 per row or None: what :func:`index.check_staleness` compares).

    >>> import numpy as np
    >>> vectors = np.eye(3, dtype=np.float32)  # three mentors, unit vectors
    >>> index = MentorIndex.build([7, 8, 9], vectors, "Flat", encoder_identity="toy")
    >>> found = index.search(vectors[:1], k=2, exclude=[[8]])  # one collection per query
    >>> found.ids.tolist(), found.rows.tolist()  # mentor ids and rows; 8 is excluded
    ([[7, 9]], [[0, 2]])
    """

    def __init__(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        faiss_index: faiss.Index,
        manifest: dict,
        content_hashes: np.ndarray | None = None,
    ) -> None:
        self.ids = ids
        self.vectors = vectors
        self.faiss_index = faiss_index
        self.manifest = manifest
        self.spec: str = manifest["spec"]
        self.content_hashes = content_hashes
        self._kind = specs.index_kind(faiss_index)
        self._sorter = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._sorter]

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"MentorIndex({len(self)} mentors, spec={self.spec!r}, dim={self.dim})"

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def search_params(self) -> dict:
        return dict(self.manifest.get("search_params", {}))

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray,
        spec: str = "auto",
        *,
        encoder_identity: str,
        fingerprint: dict | None = None,
        params: dict | None = None,
        content_hashes: np.ndarray | None = None,
    ) -> MentorIndex:
        """Build an index over ``vectors`` (row i is mentor ``ids[i]``).

        ``spec``: ``auto`` (by size, see :mod:`index.spec`), ``Flat``, ``HNSW32``,
        ``IVF<n>,Flat`` or any FAISS factory string. ``params``: efConstruction / efSearch
        (HNSW), nprobe (IVF) over the defaults. ``fingerprint`` and ``content_hashes``
        describe the mentors it was built from (for staleness checks).
        """
        ids, vectors = _check_catalogue(ids, vectors)
        if content_hashes is not None:
            content_hashes = np.asarray(content_hashes, dtype=np.int64)
            if content_hashes.shape != ids.shape:
                raise InvalidParameterError(
                    f"content_hashes has shape {content_hashes.shape} but there are "
                    f"{len(ids)} ids; pass one hash per mentor, in the order of ids."
                )
        resolved = specs.resolve_spec(spec, len(ids))
        user_build, user_search = specs.split_params(params)
        started = time.perf_counter()
        index = specs.make_faiss_index(resolved, vectors.shape[1])
        build_params, search_params = specs.default_params(index)
        build_params.update(user_build)
        search_params.update(user_search)
        specs.apply_build_params(index, build_params)
        if not index.is_trained:
            try:
                index.train(specs.training_sample(index, vectors))
            except RuntimeError as exc:
                raise InvalidParameterError(
                    f"Index spec {resolved!r} cannot be trained on {len(ids)} vectors "
                    f"({str(exc).strip().splitlines()[-1]}). Use fewer lists (e.g. IVF"
                    f"{max(1, len(ids) // 39)},Flat) or 'auto'."
                ) from None
        index.add(vectors)
        manifest = {
            "encoder": str(encoder_identity),
            "dim": int(vectors.shape[1]),
            "count": int(len(ids)),
            "requested_spec": spec,
            "spec": resolved,
            "build_params": build_params,
            "search_params": search_params,
            "fingerprint": fingerprint,
            "build_seconds": round(time.perf_counter() - started, 3),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": {
                "faiss": faiss.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }
        return cls(ids, vectors, index, manifest, content_hashes)

    def with_search_params(self, **params: int) -> MentorIndex:
        """A view with other default search parameters (same vectors and FAISS index)."""
        _, search = specs.split_params(params)
        return self.with_manifest_fields(search_params={**self.search_params, **search})

    def with_manifest_fields(self, **fields: object) -> MentorIndex:
        """A view whose manifest also records ``fields`` (same vectors and FAISS index)."""
        manifest = {**self.manifest, **fields}
        return MentorIndex(self.ids, self.vectors, self.faiss_index, manifest, self.content_hashes)

    # ------------------------------------------------------------------ lookups
    def rows_of(self, mentor_ids: Sequence[int] | np.ndarray, *, strict: bool = True) -> np.ndarray:
        """Row numbers of ``mentor_ids``; unknown ids raise (``strict``) or are dropped."""
        wanted = _as_ids(mentor_ids)
        pos = np.searchsorted(self._sorted_ids, wanted)
        pos = np.minimum(pos, len(self._sorted_ids) - 1)
        found = self._sorted_ids[pos] == wanted
        if strict and not found.all():
            missing = wanted[~found]
            raise UnknownEntityError(
                f"{len(missing)} mentor id(s) not in the index (e.g. {missing[:5].tolist()}): "
                "they are unknown, inactive at build time or added since. Rebuild with "
                "scripts/build_index.py if they should be there."
            )
        return self._sorter[pos[found]]

    def row_filter(self, rows: Sequence[int] | np.ndarray) -> RowFilter:
        """A catalogue-wide exclusion of index ``rows`` for :meth:`search`, checked and
        prepared once (e.g. the rows of inactive or full mentors)."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        n = len(self.ids)
        if len(rows) and (rows.min() < 0 or rows.max() >= n):
            raise InvalidParameterError(
                f"excluded_rows must be row numbers in [0, {n}); get them with index.rows_of(ids)."
            )
        return RowFilter(rows, n)

    def vectors_for(self, mentor_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The stored ``(n, dim)`` vectors of ``mentor_ids``, in that order."""
        return self.vectors[self.rows_of(mentor_ids)]

    def similarity(self, query: np.ndarray, mentor_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Exact cosine of one ``query`` (dim,) with each of ``mentor_ids`` (float32)."""
        query = np.asarray(query, dtype=np.float32)
        if query.shape != (self.dim,):
            raise InvalidParameterError(
                f"similarity needs one query vector of shape ({self.dim},); got {query.shape}."
            )
        return self.vectors_for(mentor_ids) @ query

    # ------------------------------------------------------------------ search
    def exact_search(self, queries: np.ndarray, k: int) -> SearchResult:
        """Brute-force top-``k`` over all mentors (the reference for recall checks)."""
        scores, rows = self._exact(self._check_queries(queries), np.arange(len(self)), k)
        return SearchResult(np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1), scores, rows)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        exclude: PerQuery | None = None,
        excluded_rows: RowFilter | np.ndarray | None = None,
    ) -> SearchResult:
        """The ``k`` most similar mentors for each query row, never an excluded one.

        ``exclude``: None, or one collection of mentor ids per query row (ids not in the
        index are ignored). ``excluded_rows``: rows excluded for every query, for a
        catalogue-wide filter: best a :class:`RowFilter` from :meth:`row_filter`, prepared
        once, or row numbers (see :meth:`rows_of`). The rows of the result spare a caller
        with per-row data a :meth:`rows_of` lookup.
        """
        queries = self._check_queries(queries)
        k = check_int("k", k, "search")
        m, n = len(queries), len(self.ids)
        base = excluded_rows if isinstance(excluded_rows, RowFilter) else self.row_filter(
            np.empty(0, np.int64) if excluded_rows is None else excluded_rows
        )
        if base.n != n:
            raise InvalidParameterError(
                f"This RowFilter was made for an index of {base.n} rows, not {n}; make it "
                "with this index's row_filter()."
            )
        shared, extra_keys, extra_counts = split_exclusions(exclude, m, len(self.ids), self.rows_of)
        shared = shared[~base.contains(shared)]  # rows excluded for every query, beyond base
        if len(extra_keys) and len(base):
            extra_keys = extra_keys[~base.contains(extra_keys % n)]
            extra_counts = np.bincount(extra_keys // n, minlength=m)
        out_rows = np.full((m, k), -1, dtype=np.int64)
        out_scores = np.full((m, k), -np.inf, dtype=np.float32)
        n_shared_ok = n - len(base) - len(shared)
        fetch = min(k + int(extra_counts.max(initial=0)), n_shared_ok)
        if m == 0 or fetch == 0:
            return SearchResult(out_rows.copy(), out_scores, out_rows)

        scores, rows = self._search_shared(queries, fetch, base, shared, n_shared_ok)
        if len(extra_keys):
            query_of = np.arange(m, dtype=np.int64)[:, None]
            drop = np.isin(query_of * n + rows, extra_keys) & (rows >= 0)
            rows = np.where(drop, -1, rows)
            scores = np.where(drop, -np.inf, scores).astype(np.float32)
        # Move the dropped/missing (-1) entries behind the found ones, keeping score order.
        order = np.argsort(rows < 0, axis=1, kind="stable")[:, :k]
        rows = np.take_along_axis(rows, order, axis=1)
        scores = np.take_along_axis(scores, order, axis=1)
        width = rows.shape[1]
        out_rows[:, :width], out_scores[:, :width] = rows, scores

        expected = np.minimum(k, n_shared_ok - extra_counts)
        short = np.flatnonzero((out_rows >= 0).sum(axis=1) < expected)
        if len(short):
            logger.debug("exact fallback for %d of %d queries with short results", len(short), m)
            all_shared = np.union1d(base.rows, shared)
            for q in short:  # rare: only queries the approximate search left short
                excluded = np.union1d(all_shared, extra_keys[extra_keys // n == q] - q * n)
                eligible = np.setdiff1d(np.arange(n), excluded, assume_unique=True)
                s, r = self._exact(queries[q : q + 1], eligible, k)
                out_rows[q], out_scores[q] = r[0], s[0]
        ids = np.where(out_rows >= 0, self.ids[np.maximum(out_rows, 0)], -1)
        return SearchResult(ids, out_scores, out_rows)

    def _search_shared(
        self, queries: np.ndarray, fetch: int, base: RowFilter, shared: np.ndarray, n_ok: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``fetch`` rows per query outside ``base`` and ``shared`` (scores, rows; -1
        where none)."""
        n = len(self.ids)
        tight = n_ok < n and (
            n_ok <= EXACT_ELIGIBLE_MAX or (self._kind != "flat" and n_ok < TIGHT_FRACTION * n)
        )
        if tight:
            eligible = np.setdiff1d(np.arange(n), np.union1d(base.rows, shared), assume_unique=True)
            return self._exact(queries, eligible, fetch)
        sel, keep_alive = None, None
        if n_ok < n:
            keep_alive = base.allowed
            if len(shared):  # a few more rows: clear their bits in a copy of the prepared map
                keep_alive = base.allowed.copy()
                bits = np.left_shift(1, shared & 7).astype(np.uint8)
                np.bitwise_and.at(keep_alive, shared >> 3, ~bits)
            sel = faiss.IDSelectorBitmap(len(keep_alive), faiss.swig_ptr(keep_alive))
        params = specs.search_parameters(
            self.faiss_index, self.search_params, fetch, sel=sel, widen=n / n_ok
        )
        scores, rows = self.faiss_index.search(queries, fetch, params=params)
        del keep_alive  # the bitmap must outlive the search call above
        return np.where(rows >= 0, scores, -np.inf).astype(np.float32), rows

    def _exact(self, queries: np.ndarray, eligible: np.ndarray, k: int):
        """Exact top-``k`` over the ``eligible`` rows; padded with -1 / -inf."""
        m = len(queries)
        rows_out = np.full((m, k), -1, dtype=np.int64)
        scores_out = np.full((m, k), -np.inf, dtype=np.float32)
        kk = min(k, len(eligible))
        if kk == 0:
            return scores_out, rows_out
        n = len(self.ids)
        # Most mentors eligible: score them all and mask the few excluded, rather than
        # copying the eligible rows (a full copy of the vectors) on every call.
        masked = len(eligible) > n // 2
        if masked:
            candidates, blocked = self.vectors, np.ones(n, dtype=bool)
            blocked[eligible] = False
            eligible = np.arange(n)
        else:
            candidates = self.vectors[eligible]
        for start in range(0, m, _QUERY_CHUNK):
            sims = queries[start : start + _QUERY_CHUNK] @ candidates.T
            if masked:
                sims[:, blocked] = -np.inf
            top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
            top_scores = np.take_along_axis(sims, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            rows_out[start : start + _QUERY_CHUNK, :kk] = eligible[np.take_along_axis(top, order, 1)]
            scores_out[start : start + _QUERY_CHUNK, :kk] = np.take_along_axis(top_scores, order, 1)
        return scores_out, rows_out

    def _check_queries(self, queries: np.ndarray) -> np.ndarray:
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise InvalidParameterError(
                f"search needs queries of shape (m, {self.dim}); got {queries.shape}. Encode "
                f"with the index's encoder ({self.manifest.get('encoder')}) and pass a 2-D "
                "array (vector[None, :] for one query)."
            )
        return np.ascontiguousarray(queries)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the folder: index.faiss, ids.npy, vectors.npy, content.npy, manifest.json."""
        folder = Path(path)
        self.manifest = store.write_index_folder(
            folder, self.ids, self.vectors, self.faiss_index, dict(self.manifest), self.content_hashes
        )
        return folder

    @classmethod
    def load(
        cls, path: str | Path, *, expected_encoder: object = None, expected_dim: int | None = None,
        mmap: bool | None = None,
    ) -> MentorIndex:
        """Read a folder written by :meth:`save`, checking files against the manifest.

        ``expected_encoder`` (an identity string or an object with ``identity``) and
        ``expected_dim`` refuse an index made by another encoder. ``mmap``: map the FAISS
        index (``IO_FLAG_MMAP_IFC``) and the arrays (``np.load(mmap_mode="r")``) read-only
        instead of reading them, so processes serving the same folder share its pages; the
        results are the same. None (default): on when ``MENTOR_MATCH_MMAP`` is 1.
        """
        if mmap is None:
            mmap = os.environ.get(MMAP_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        stored = store.read_index_folder(
            path, expected_encoder=expected_encoder, expected_dim=expected_dim, mmap=mmap
        )
        return cls(stored.ids, stored.vectors, stored.faiss_index, stored.manifest, stored.content_hashes)


def _as_ids(values) -> np.ndarray:
    if isinstance(values, (set, frozenset)):
        values = list(values)
    try:
        return np.asarray(values, dtype=np.int64).ravel()
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"Mentor ids must be integers; got {type(values).__name__} {str(values)[:80]}."
        ) from None


def _check_catalogue(ids, vectors) -> tuple[np.ndarray, np.ndarray]:
    try:
        ids = np.asarray(ids, dtype=np.int64)
    except (TypeError, ValueError):
        raise InvalidParameterError("Mentor ids must be integers.") from None
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if ids.ndim != 1 or vectors.ndim != 2 or len(ids) != len(vectors):
        raise InvalidParameterError(
            f"Index build needs ids of shape (n,) and vectors of shape (n, dim); got "
            f"{ids.shape} and {vectors.shape}."
        )
    if len(ids) == 0:
        raise NotEnoughDataError(
            "No mentors to index: the catalogue is empty. Load or generate mentors first "
            "(scripts/generate_synthetic_data.py)."
        )
    if len(np.unique(ids)) != len(ids):
        raise InvalidParameterError("Mentor ids must be unique; the catalogue repeats some.")
    if (ids < 0).any():
        raise InvalidParameterError("Mentor ids must be >= 0 (-1 marks 'no result').")
    if not np.isfinite(vectors).all():
        raise InvalidParameterError("Vectors contain NaN or infinity; re-encode the texts.")
    return ids, vectors
