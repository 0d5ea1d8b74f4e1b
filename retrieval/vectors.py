"""Texts -> vectors on the serving path: the embedding cache read once, the encoder for the rest.

A query for a known mentee needs its goal vector, a refresh the vector of each new or changed
bio. Both are looked up by text in a snapshot of the embedding cache that
``scripts/build_index.py`` filled, read into memory once at load (no disk access per query).
A text the snapshot lacks is encoded by the lazily loaded encoder and kept in a bounded
in-memory map, least recently used out first: a mentee who signed up after the build pays for
one encoding, not one per query. Encoded texts are not written to the disk cache (one shard
per query would be); the next build caches them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from embeddings.cache import CacheSnapshot, TextEncoder, text_keys
from mentor_match.validation import check_int

ENCODED_CAPACITY = 20_000
"""Texts encoded at serving time that are kept in memory (about 30 MB of 384-d vectors)."""


class TextVectors:
    """Unit vectors of texts: ``snapshot`` first, then ``encoder`` (asked only on a miss).

    >>> class Toy:
    ...     identity, dim, calls = "toy", 2, 0
    ...     def encode(self, texts, *, progress=None):
    ...         Toy.calls += 1
    ...         return np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (len(texts), 1))
    >>> vectors = TextVectors(Toy(), capacity=10)
    >>> vectors.get(["a", "b", "a"]).shape, vectors.get(["a"]).tolist(), Toy.calls
    ((3, 2), [[0.6000000238418579, 0.800000011920929]], 1)
    """

    def __init__(
        self, encoder: TextEncoder, snapshot: CacheSnapshot | None = None, *, capacity: int = ENCODED_CAPACITY
    ) -> None:
        self.encoder = encoder
        self.identity = encoder.identity
        self._snapshot = snapshot if snapshot is not None else CacheSnapshot({}, None)
        self._capacity = check_int("capacity", capacity, "TextVectors", low=0)
        self._encoded: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.encoded = 0
        """Texts encoded so far (cache misses that reached the encoder)."""

    @property
    def dim(self) -> int:
        vectors = self._snapshot.vectors
        return int(vectors.shape[1]) if vectors is not None else int(self.encoder.dim)

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """The ``(len(texts), dim)`` float32 vectors of ``texts``, in order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = text_keys(self.identity, texts)
        rows = self._snapshot.rows
        found: dict[bytes, np.ndarray] = {}
        missing: dict[bytes, str] = {}
        with self._lock:
            for key, text in zip(keys, texts, strict=True):
                if key in rows or key in found:
                    continue
                vector = self._encoded.get(key)
                if vector is not None:
                    self._encoded.move_to_end(key)
                    found[key] = vector
                else:
                    missing[key] = text
        if missing:  # encoded outside the lock: other queries keep going meanwhile
            fresh = np.asarray(self.encoder.encode(list(missing.values()), progress=False), dtype=np.float32)
            found.update(zip(missing, fresh, strict=True))
            with self._lock:
                self.encoded += len(missing)
                for key, vector in zip(missing, fresh, strict=True):
                    self._encoded[key] = vector
                    self._encoded.move_to_end(key)
                while len(self._encoded) > self._capacity:
                    self._encoded.popitem(last=False)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        cached = self._snapshot.vectors
        for i, key in enumerate(keys):
            row = rows.get(key)
            out[i] = cached[row] if row is not None else found[key]
        return out
