"""Index folders on disk: write, read with checks, and atomic publishing.

A folder holds ``index.faiss`` (``faiss.write_index``), ``ids.npy``, ``vectors.npy``,
``content.npy`` (per-mentor content hashes, when known) and ``manifest.json``, written
last, with each file's size and SHA-256 and a checksum of the manifest itself. Reading
refuses anything missing, truncated, edited or made by another encoder, with a message
that says to rebuild.

Publishing: ``artifacts/index`` is a symbolic link to a versioned folder
``artifacts/.index-<time>-<hex>``. A build writes and verifies a complete new folder
first and then replaces the link with ``os.replace`` (atomic on POSIX), so a reader sees
the old index or the new one, never half of one, and a failed build leaves the old link
in place. The previous version is kept, so a reader that resolved the link just before a
swap can still finish reading it; older versions are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from db.artifacts import publish_folder, sha256_file
from db.errors import ArtifactError

if TYPE_CHECKING:
    from index.ann import MentorIndex

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.npy"
VECTORS_FILE = "vectors.npy"
CONTENT_FILE = "content.npy"
REQUIRED_FILES = (INDEX_FILE, IDS_FILE, VECTORS_FILE)
_REBUILD = "Run scripts/build_index.py to rebuild it."


def _manifest_checksum(manifest: dict) -> str:
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def write_index_folder(index: MentorIndex, folder: Path) -> Path:
    """Write ``index`` into ``folder`` (created if needed); the manifest goes last."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index.faiss_index, str(folder / INDEX_FILE))
        np.save(folder / IDS_FILE, index.ids, allow_pickle=False)
        np.save(folder / VECTORS_FILE, index.vectors, allow_pickle=False)
        names = list(REQUIRED_FILES)
        if index.content_hashes is not None:
            np.save(folder / CONTENT_FILE, index.content_hashes, allow_pickle=False)
            names.append(CONTENT_FILE)
        manifest = {k: v for k, v in index.manifest.items() if k != "manifest_sha256"}
        manifest["files"] = {
            name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
            for name in names
        }
        manifest["manifest_sha256"] = _manifest_checksum(manifest)
        tmp = folder / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write the index into {str(folder)!r}: {exc.strerror or exc}. Make the "
            "folder writable (or pass another --artifacts folder) and rerun."
        ) from None
    index.manifest = manifest
    return folder


def read_manifest(folder: Path) -> dict:
    """The checked manifest of an index folder (without reading the big files)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ArtifactError(f"No index at {str(folder)!r}. {_REBUILD}")
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"The index in {str(folder)!r} is incomplete: {MANIFEST} is missing. {_REBUILD}"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(
            f"Cannot read {str(path)!r} ({exc}); it is truncated or was edited. {_REBUILD}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "mentor-match-index/1":
        raise ArtifactError(
            f"{str(path)!r} is not a mentor-match index manifest (format "
            f"{manifest.get('format') if isinstance(manifest, dict) else None!r}). {_REBUILD}"
        )
    if manifest.get("manifest_sha256") != _manifest_checksum(manifest):
        raise ArtifactError(
            f"{str(path)!r} was edited after the build: its checksum does not match its "
            f"contents. Do not edit index manifests. {_REBUILD}"
        )
    return manifest


def _check_files(folder: Path, manifest: dict) -> None:
    files = manifest.get("files", {})
    for name in REQUIRED_FILES:
        if name not in files:
            raise ArtifactError(f"The manifest in {str(folder)!r} does not list {name}. {_REBUILD}")
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"The index in {str(folder)!r} is missing {name}. {_REBUILD}")
        size = path.stat().st_size
        if size != meta["bytes"]:
            raise ArtifactError(
                f"{name} in {str(folder)!r} is truncated or changed: {size} bytes, the manifest "
                f"says {meta['bytes']}. {_REBUILD}"
            )
        if sha256_file(path) != meta["sha256"]:
            raise ArtifactError(
                f"{name} in {str(folder)!r} does not match its checksum in {MANIFEST}: the file "
                f"was changed after the build. {_REBUILD}"
            )


def read_index_folder(
    cls: type[MentorIndex],
    folder: Path,
    *,
    expected_encoder: object = None,
    expected_dim: int | None = None,
) -> MentorIndex:
    """Load and check an index folder (see :meth:`MentorIndex.load`)."""
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
            f"encoder makes {expected_dim}-d ones. {_REBUILD}"
        )
    _check_files(folder, manifest)
    try:
        ids = np.load(folder / IDS_FILE, allow_pickle=False)
        vectors = np.load(folder / VECTORS_FILE, allow_pickle=False)
        content = None
        if CONTENT_FILE in manifest["files"]:
            content = np.load(folder / CONTENT_FILE, allow_pickle=False)
        faiss_index = faiss.read_index(str(folder / INDEX_FILE))
    except (OSError, ValueError, RuntimeError) as exc:
        raise ArtifactError(f"Cannot read the index in {str(folder)!r}: {exc}. {_REBUILD}") from None
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
            f"{faiss_index.d}. {_REBUILD}"
        )
    return cls(ids.astype(np.int64, copy=False), vectors, faiss_index, manifest, content)


def publish_index(index: MentorIndex, artifacts_dir: str | Path, *, name: str = "index") -> Path:
    """Write ``index`` beside the live one and swap it in atomically; returns ``artifacts/name``.

    Until the final rename the previous index stays in place and loadable; any exception
    before it (disk full, a failing write) removes the half-written folder and re-raises.
    """

    def write(folder: Path) -> None:
        index.save(folder)
        read_index_folder(type(index), folder)  # what was written reads back, checksums and all

    return publish_folder(artifacts_dir, name, write)
