"""Index folders on disk: the file layout, written and read back with checks.

A folder holds ``index.faiss`` (``faiss.write_index``), ``ids.npy``, ``vectors.npy``,
``content.npy`` (per-mentor content hashes, when known) and ``manifest.json``
(:class:`mentor_match.artifacts.Manifest`: each file's size and SHA-256 and a checksum of
the manifest itself), written last. Reading refuses anything missing, truncated, edited or
made by another encoder, with a message that says to rebuild. This module knows files, not
:class:`index.ann.MentorIndex`, which calls it; publishing is :mod:`index.publish`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mentor_match.artifacts import Manifest
from mentor_match.errors import ArtifactError

KIND, VERSION = "index", 1
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.npy"
VECTORS_FILE = "vectors.npy"
CONTENT_FILE = "content.npy"
REQUIRED_FILES = (INDEX_FILE, IDS_FILE, VECTORS_FILE)
REBUILD = "Run scripts/build_index.py to rebuild it."

logger = logging.getLogger(__name__)


def _mmap_flag() -> int | None:
    """The FAISS read flag that maps an index file instead of copying it: ``IO_FLAG_MMAP_IFC``
    (faiss >= 1.11: the codes stay in the mapped file), else ``IO_FLAG_MMAP``; None when this
    faiss has neither (the index is then read into memory, with a log line)."""
    for name in ("IO_FLAG_MMAP_IFC", "IO_FLAG_MMAP"):
        flag = getattr(faiss, name, None)
        if flag is not None:
            return int(flag)
    return None


@dataclass(frozen=True)
class StoredIndex:
    """What an index folder holds, read and checked."""

    ids: np.ndarray
    vectors: np.ndarray
    faiss_index: faiss.Index
    manifest: Manifest
    content_hashes: np.ndarray | None


def write_index_folder(
    folder: Path,
    ids: np.ndarray,
    vectors: np.ndarray,
    faiss_index: faiss.Index,
    fields: dict[str, Any],
    content_hashes: np.ndarray | None = None,
) -> Manifest:
    """Write the index files into ``folder`` (created if needed); the manifest goes last."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(faiss_index, str(folder / INDEX_FILE))
        np.save(folder / IDS_FILE, ids, allow_pickle=False)
        np.save(folder / VECTORS_FILE, vectors, allow_pickle=False)
        names = list(REQUIRED_FILES)
        if content_hashes is not None:
            np.save(folder / CONTENT_FILE, content_hashes, allow_pickle=False)
            names.append(CONTENT_FILE)
        own = {k: v for k, v in fields.items() if k not in ("format", "created", "files", "manifest_sha256")}
        return Manifest.write(folder, KIND, VERSION, own, files=names)
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write the index into {str(folder)!r}: {exc.strerror or exc}. Make the "
            "folder writable (or pass another --artifacts folder) and rerun."
        ) from None


def read_manifest(folder: str | Path) -> Manifest:
    """The checked manifest of an index folder (the big files are not read)."""
    return Manifest.read(folder, KIND, VERSION, fix=REBUILD, required=REQUIRED_FILES, check_files=False)


def read_index_folder(
    folder: str | Path, *, expected_encoder: object = None, expected_dim: int | None = None, mmap: bool = False
) -> StoredIndex:
    """Load and check an index folder (see :meth:`index.ann.MentorIndex.load`).

    ``mmap``: map the files read-only instead of reading them (the arrays are read-only
    views of the page cache, which every process mapping the same folder shares)."""
    folder = Path(folder).resolve()  # one version, even if the link is swapped meanwhile
    manifest = read_manifest(folder)
    expected = getattr(expected_encoder, "identity", expected_encoder)
    if expected is not None and manifest.get("encoder") != expected:
        raise ArtifactError(
            f"The index in {str(folder)!r} was built with encoder {manifest.get('encoder')!r}, "
            f"but {expected!r} is in use. Rebuild the index with this encoder "
            "(scripts/build_index.py) or use the encoder it was built with."
        )
    if expected_dim is not None and manifest.get("dim") != expected_dim:
        raise ArtifactError(
            f"The index in {str(folder)!r} holds {manifest.get('dim')}-d vectors, but the "
            f"encoder makes {expected_dim}-d ones. {REBUILD}"
        )
    manifest = Manifest.read(folder, KIND, VERSION, fix=REBUILD, required=REQUIRED_FILES)
    try:
        ids = _load_array(folder / IDS_FILE, mmap)
        vectors = _load_array(folder / VECTORS_FILE, mmap)
        content = None
        if CONTENT_FILE in manifest.files:
            content = _load_array(folder / CONTENT_FILE, mmap)
        faiss_index = _read_faiss(folder / INDEX_FILE, mmap)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"Cannot read the index in {str(folder)!r}: {exc}. {REBUILD}") from None
    n, dim = manifest.get("count"), manifest.get("dim")
    if (
        ids.shape != (n,)
        or vectors.shape != (n, dim)
        or faiss_index.ntotal != n
        or faiss_index.d != dim
        or (content is not None and content.shape != (n,))
    ):
        raise ArtifactError(
            f"The index in {str(folder)!r} is inconsistent: the manifest says {n} x {dim}, the "
            f"files hold ids {ids.shape}, vectors {vectors.shape}, FAISS {faiss_index.ntotal} x "
            f"{faiss_index.d}. {REBUILD}"
        )
    return StoredIndex(ids.astype(np.int64, copy=False), vectors, faiss_index, manifest, content)


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    if not mmap:
        return np.load(path, allow_pickle=False)
    # A plain ndarray view of the read-only np.memmap (which it keeps alive through .base):
    # results computed from it are ndarrays, not memmaps.
    return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))


def _read_faiss(path: Path, mmap: bool) -> faiss.Index:
    flag = _mmap_flag() if mmap else None
    if mmap and flag is None:
        logger.info("faiss %s cannot map index files; reading %s into memory", faiss.__version__, path)
    return faiss.read_index(str(path)) if flag is None else faiss.read_index(str(path), flag)
