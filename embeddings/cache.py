"""A persistent embedding cache: vectors keyed by sha256(encoder identity + NUL + text).

Layout: ``<directory>/<identity hash>/shard-*.npz``, one append-only shard per call that
encoded something, holding ``keys`` (n x 32 uint8 digests) and ``vectors`` (n x dim
float32). A shard is written under a temporary name and renamed into place, so an
interrupted run leaves at most a stray temporary file, which is never read; a shard that
cannot be read is skipped (its texts are simply encoded again). Deleting the directory
only costs re-encoding. No pickles: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from embeddings.encoder import clean_texts
from mentor_match.errors import ArtifactError

logger = logging.getLogger(__name__)

COMPACT_ABOVE = 64
"""Shards per encoder above which the cache merges them into one (keeps start-up fast)."""

_KEY_BYTES = 32


class TextEncoder(Protocol):
    """What the cache needs from an encoder."""

    identity: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, progress: bool | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class CacheResult:
    """Vectors in input order; ``encoded`` distinct texts were encoded now, the rest
    (``cached`` = len(texts) - encoded) came from the cache or repeat a text of this call."""

    vectors: np.ndarray
    encoded: int
    cached: int


def text_keys(identity: str, texts: Sequence[str | None]) -> list[bytes]:
    """The cache key of each text: sha256 digest of ``identity + "\\0" + text``.

    None and NaN count as the empty text, as for the encoder; other non-text is refused.
    """
    prefix = hashlib.sha256(identity.encode("utf-8") + b"\0")
    keys = []
    for text in clean_texts(texts)[0]:
        digest = prefix.copy()
        digest.update(text.encode("utf-8"))
        keys.append(digest.digest())
    return keys


class _Store:
    """The shards of one encoder identity, loaded once and topped up with new shards."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()
        self.rows: dict[bytes, int] = {}
        self.blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self.size = 0

    def refresh(self) -> None:
        """Read shards written since the last look (by this or another process)."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("shard-*.npz")):
            if path.name not in self.seen:
                self.seen.add(path.name)
                self._read(path)

    def _read(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except FileNotFoundError:
            return  # removed by a concurrent compaction; its rows live in the merged shard
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            logger.warning("ignoring unreadable embedding cache shard %s: %s", path, exc)
            return
        if keys.ndim != 2 or keys.shape[1] != _KEY_BYTES or len(keys) != len(vectors):
            logger.warning("ignoring malformed embedding cache shard %s", path)
            return
        if self.blocks and vectors.shape[1] != self.blocks[0].shape[1]:
            logger.warning("ignoring embedding cache shard %s of another dimension", path)
            return
        raw = np.ascontiguousarray(keys).tobytes()
        start = self.size
        self.rows.update(
            (raw[i : i + _KEY_BYTES], start + j)
            for j, i in enumerate(range(0, len(raw), _KEY_BYTES))
        )
        self.blocks.append(np.asarray(vectors, dtype=np.float32))
        self.size += len(vectors)
        self._matrix = None

    @property
    def matrix(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.concatenate(self.blocks) if self.blocks else None
            self.blocks = [self._matrix] if self._matrix is not None else []
        return self._matrix

    @property
    def dim(self) -> int | None:
        return self.blocks[0].shape[1] if self.blocks else None

    def write(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Write one shard atomically (temporary name, then rename) and index it."""
        name = f"shard-{uuid.uuid4().hex}.npz"
        _write_shard(self.folder, name, keys, vectors)
        self.seen.add(name)
        start = self.size
        self.rows.update((key, start + j) for j, key in enumerate(keys))
        self.blocks.append(vectors)
        self.size += len(vectors)
        self._matrix = None

    def compact(self) -> None:
        """Merge all shards into one, then remove the merged ones."""
        old = [self.folder / name for name in sorted(self.seen)]
        if len(old) < 2:
            return
        keys = sorted(self.rows, key=self.rows.__getitem__)
        vectors = self.matrix[[self.rows[k] for k in keys]]
        name = f"shard-{uuid.uuid4().hex}.npz"
        _write_shard(self.folder, name, keys, vectors)
        for path in old:
            path.unlink(missing_ok=True)
        self.seen = {name}
        self.rows = {key: j for j, key in enumerate(keys)}
        self.blocks, self._matrix, self.size = [vectors], vectors, len(vectors)


def _write_shard(folder: Path, name: str, keys: list[bytes], vectors: np.ndarray) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write the embedding cache in {str(folder)!r}: {exc.strerror or exc}. "
            "Make the folder writable or pass another --artifacts folder."
        ) from None
    try:
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, keys=key_array, vectors=np.asarray(vectors, dtype=np.float32))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class CacheSnapshot:
    """Every vector the cache held for one encoder when it was taken, in memory: ``rows``
    maps a text key (:func:`text_keys`) to its row of ``vectors`` (``(n, dim)`` float32,
    None when nothing was cached). A server reads it once instead of the disk per query."""

    rows: dict[bytes, int]
    vectors: np.ndarray | None


class EmbeddingCache:
    """Vectors of texts already encoded, on disk under ``directory``, per encoder identity."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._stores: dict[str, _Store] = {}

    def _store(self, identity: str) -> _Store:
        store = self._stores.get(identity)
        if store is None:
            slug = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
            store = self._stores[identity] = _Store(self.directory / slug)
        store.refresh()
        return store

    def snapshot(self, identity: str) -> CacheSnapshot:
        """What the cache holds for encoder ``identity`` now (shards on disk included)."""
        store = self._store(identity)
        return CacheSnapshot(dict(store.rows), store.matrix)

    def get_or_encode(
        self, encoder: TextEncoder, texts: Sequence[str | None], *, progress: bool | None = None
    ) -> CacheResult:
        """Vectors for ``texts`` (input order), encoding and storing only the unknown ones.

        Each distinct unknown text is encoded once; ``encoder.dim`` is only asked for when
        nothing for this encoder is cached yet and ``texts`` is empty.
        """
        texts = clean_texts(texts)[0]
        store = self._store(encoder.identity)
        keys = text_keys(encoder.identity, texts)
        missing = list(dict.fromkeys(k for k in keys if k not in store.rows))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))  # equal keys mean equal texts
            fresh = np.asarray(
                encoder.encode([text_of[k] for k in missing], progress=progress), dtype=np.float32
            )
            if store.dim is not None and fresh.shape[1] != store.dim:
                raise ArtifactError(
                    f"Encoder {encoder.identity!r} returned {fresh.shape[1]}-d vectors but its "
                    f"cache in {str(store.folder)!r} holds {store.dim}-d ones. Delete that "
                    "folder (it is only a cache) and rerun."
                )
            store.write(missing, fresh)
            if len(store.seen) > COMPACT_ABOVE:
                store.compact()
        if not texts:
            dim = store.dim if store.dim is not None else encoder.dim
            return CacheResult(np.zeros((0, dim), dtype=np.float32), 0, 0)
        vectors = store.matrix[[store.rows[k] for k in keys]]
        return CacheResult(vectors, encoded=len(missing), cached=len(texts) - len(missing))


class CachedEncoder:
    """An encoder that goes through an :class:`EmbeddingCache`; counts encoded/cached texts."""

    def __init__(self, encoder: TextEncoder, cache: EmbeddingCache) -> None:
        self.encoder = encoder
        self.cache = cache
        self.identity = encoder.identity
        self.encoded = 0
        self.cached = 0

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, texts: Sequence[str | None], *, progress: bool | None = None) -> np.ndarray:
        result = self.cache.get_or_encode(self.encoder, texts, progress=progress)
        self.encoded += result.encoded
        self.cached += result.cached
        return result.vectors
