"""Artifact folders shared by the index and the ranker: checksums and atomic publishing.

A build writes a fresh folder, checks it reads back, renames it to a versioned name and
swaps the ``artifacts/<name>`` link to it in one rename: a reader never sees half an
artifact, and a failure leaves the last good one in place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from db.errors import ArtifactError

logger = logging.getLogger(__name__)

STALE_TMP_SECONDS = 3600
"""Leftover ``.<name>-tmp-*`` folders older than this (a killed build) are removed at publish;
younger ones may belong to a build running right now."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish_folder(artifacts_dir: str | Path, name: str, write: Callable[[Path], None]) -> Path:
    """Have ``write(folder)`` fill and verify a new folder, then make it ``artifacts/name``.

    ``write`` raising anything (disk full, a failed read-back) removes the half-written
    folder and re-raises; the previous version stays live. The previous version is kept
    for rollback, older ones are removed. Returns the link ``artifacts/name``.
    """
    artifacts = Path(artifacts_dir)
    try:
        artifacts.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-tmp-", dir=artifacts))
    except OSError as exc:
        raise ArtifactError(
            f"Cannot write to the artifacts folder {str(artifacts)!r}: {exc.strerror or exc}. "
            "Make it writable or pass another --artifacts folder."
        ) from None
    try:
        write(tmp)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        version = artifacts / f".{name}-{stamp}-{uuid.uuid4().hex[:8]}"
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; readers may run as another user
        os.rename(tmp, version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link = artifacts / name
    previous = _swap_link(link, version.name)
    _prune(artifacts, name, keep={version.name, previous})
    logger.info("published %s -> %s", link, version.name)
    return link


def _swap_link(link: Path, target: str) -> str | None:
    """Point ``link`` at ``target`` (a sibling name) atomically; returns the old target."""
    previous = None
    if link.is_symlink():
        previous = os.readlink(link)
    elif link.exists():
        # A plain folder from an older layout: move it aside once (not atomic, one time).
        previous = f".{link.name}-legacy-{uuid.uuid4().hex[:8]}"
        os.rename(link, link.parent / previous)
    tmp_link = link.parent / f".{link.name}-link-{uuid.uuid4().hex[:8]}"
    os.symlink(target, tmp_link)
    try:
        os.replace(tmp_link, link)
    except OSError:
        tmp_link.unlink(missing_ok=True)
        raise
    return previous


def _prune(artifacts: Path, name: str, keep: set) -> None:
    """Remove old published versions and leftover temporary folders of killed builds."""
    now = time.time()
    for path in artifacts.glob(f".{name}-*"):
        if path.name in keep or path.is_symlink() or not path.is_dir():
            continue
        if path.name.startswith(f".{name}-tmp-") and now - path.stat().st_mtime < STALE_TMP_SECONDS:
            continue
        shutil.rmtree(path, ignore_errors=True)
