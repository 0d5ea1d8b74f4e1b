"""Artifact folders: one manifest format, checksums, and atomic publishing.

Every artifact (the index, the ranker, whatever later issues add) is a folder of files in
native formats plus ``manifest.json``: what made it (its kind and format version, library
versions, the maker's own fields such as the encoder or the feature list), when, and each
file's size and SHA-256, with a checksum of the manifest itself, so that an edited manifest
is refused as surely as an edited file. :class:`Manifest` writes and verifies it.

A build writes a fresh folder, checks it reads back, renames it to a versioned name and
swaps the ``artifacts/<name>`` link to it in one rename: a reader never sees half an
artifact, and a failure leaves the last good one in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from mentor_match.errors import ArtifactError
from mentor_match.validation import check_int

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


MANIFEST_FILE = "manifest.json"
_SELF_CHECKSUM = "manifest_sha256"
_RESERVED = ("format", "created", "files", _SELF_CHECKSUM)


def _checksum(body: Mapping[str, Any]) -> str:
    content = {k: v for k, v in body.items() if k != _SELF_CHECKSUM}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


class Manifest(Mapping):
    """The checked ``manifest.json`` of an artifact folder, read like a dict.

    ``format`` is ``mentor-match-<kind>/<version>``; ``created`` the UTC build time;
    ``files`` maps each file to its ``bytes`` and ``sha256``; every other key is the maker's
    (the encoder, parameters, library versions, the data fingerprint ...).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "data.txt").write_text("hello")
    >>> written = Manifest.write(folder, "example", 1, {"note": "hi"}, files=["data.txt"])
    >>> Manifest.read(folder, "example", 1, fix="Rebuild it.")["note"]
    'hi'
    >>> written.version == Manifest.read(folder, "example", 1, fix="Rebuild it.").version != "unpublished"
    True
    >>> _ = (folder / "data.txt").write_text("hullo")
    >>> Manifest.read(folder, "example", 1, fix="Rebuild it.")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.ArtifactError: data.txt in '...' does not match its checksum in manifest.json: ...
    """

    def __init__(self, data: Mapping[str, Any], folder: Path | None = None) -> None:
        self._data = dict(data)
        self.folder = folder

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Manifest({self._data.get('format')!r}, {len(self.files)} files)"

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return dict(self._data.get("files", {}))

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    @property
    def version(self) -> str:
        """A short name of this exact build (the start of its self-checksum), e.g. for the
        recommendation log's model and index versions; "unpublished" for one never written."""
        checksum = self._data.get(_SELF_CHECKSUM)
        return str(checksum)[:16] if checksum else "unpublished"

    @staticmethod
    def format_name(kind: str, version: int) -> str:
        return f"mentor-match-{kind}/{version}"

    @classmethod
    def write(
        cls,
        folder: str | Path,
        kind: str,
        version: int,
        fields: Mapping[str, Any],
        *,
        files: Iterable[str],
    ) -> Manifest:
        """Checksum ``files`` (names inside ``folder``, already written) and write the
        manifest last, atomically; ``fields`` are the maker's own keys."""
        folder = Path(folder)
        clash = [k for k in fields if k in _RESERVED]
        if clash:
            raise ArtifactError(f"Manifest fields {clash} are reserved; rename them.")
        data = dict(fields)
        data["format"] = cls.format_name(kind, version)
        data["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        data["files"] = {
            name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
            for name in files
        }
        data[_SELF_CHECKSUM] = _checksum(data)
        tmp = folder / f".{MANIFEST_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, folder / MANIFEST_FILE)
        return cls(data, folder)

    @classmethod
    def read(
        cls,
        folder: str | Path,
        kind: str,
        version: int,
        *,
        fix: str,
        required: Iterable[str] = (),
        check_files: bool = True,
    ) -> Manifest:
        """Read and verify a folder's manifest: format, self-checksum and (``check_files``)
        every listed file's size and SHA-256; ``required`` files must be listed.

        Every failure is an :class:`ArtifactError` that names the folder, what is wrong and
        ends with ``fix`` (e.g. "Run scripts/build_index.py to rebuild it.").
        """
        folder = Path(folder)
        what = kind
        if not folder.is_dir():
            raise ArtifactError(f"No {what} at {str(folder)!r}. {fix}")
        path = folder / MANIFEST_FILE
        if not path.is_file():
            raise ArtifactError(
                f"The {what} in {str(folder)!r} is incomplete: {MANIFEST_FILE} is missing. {fix}"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(
                f"Cannot read {str(path)!r} ({exc}); it is truncated or was edited. {fix}"
            ) from None
        expected = cls.format_name(kind, version)
        found = data.get("format") if isinstance(data, dict) else None
        if found != expected:
            raise ArtifactError(
                f"{str(path)!r} is not a {expected} manifest (format {found!r}). {fix}"
            )
        if data.get(_SELF_CHECKSUM) != _checksum(data):
            raise ArtifactError(
                f"{str(path)!r} was edited after the build: its checksum does not match "
                f"its contents. Do not edit manifests. {fix}"
            )
        manifest = cls(data, folder)
        listed = manifest.files
        for name in required:
            if name not in listed:
                raise ArtifactError(f"The manifest in {str(folder)!r} does not list {name}. {fix}")
        if check_files:
            for name, meta in listed.items():
                _check_file(folder, name, meta, fix)
        return manifest


def _check_file(folder: Path, name: str, meta: Mapping[str, Any], fix: str) -> None:
    path = folder / name
    if not path.is_file():
        raise ArtifactError(f"The artifact in {str(folder)!r} is missing {name}. {fix}")
    size = path.stat().st_size
    if size != meta.get("bytes"):
        raise ArtifactError(
            f"{name} in {str(folder)!r} is truncated or changed: {size} bytes, the manifest "
            f"says {meta.get('bytes')}. {fix}"
        )
    if sha256_file(path) != meta.get("sha256"):
        raise ArtifactError(
            f"{name} in {str(folder)!r} does not match its checksum in {MANIFEST_FILE}: the file "
            f"was changed after it was written. {fix}"
        )


def publish_folder(
    artifacts_dir: str | Path, name: str, write: Callable[[Path], None], *, keep: int = 2
) -> Path:
    """Have ``write(folder)`` fill and verify a new folder, then make it ``artifacts/name``.

    ``write`` raising anything (disk full, a failed read-back) removes the half-written
    folder and re-raises; the previous version stays live. ``keep`` versions are kept: the
    new one, the one it replaced (for rollback, when ``keep >= 2``) and the newest others
    (:func:`published_versions` order); older ones are removed. The default keeps the new
    and the previous version. Returns the link ``artifacts/name``.
    """
    check_int("keep", keep, "publish_folder")
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
    previous = swap_link(link, version.name)
    _prune(artifacts, name, version.name, previous, keep)
    logger.info("published %s -> %s", link, version.name)
    return link


def swap_link(link: Path, target: str) -> str | None:
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


def published_versions(artifacts_dir: str | Path, name: str) -> list[Path]:
    """The published version folders of ``artifacts/name``, oldest first.

    A version is ``.<name>-<UTC stamp>-<id>`` (what :func:`publish_folder` writes) or
    ``.<name>-legacy-<id>`` (a plain folder of an older layout, moved aside once; oldest).
    Ordered by the stamp, then by the folder's modification time (two builds in one second).

    >>> import tempfile
    >>> artifacts = Path(tempfile.mkdtemp())
    >>> for folder in (".ranker-20260102T000000-aa", ".ranker-20260101T000000-bb", ".ranker-tmp-x"):
    ...     (artifacts / folder).mkdir()
    >>> [p.name for p in published_versions(artifacts, "ranker")]
    ['.ranker-20260101T000000-bb', '.ranker-20260102T000000-aa']
    """
    artifacts = Path(artifacts_dir)
    pattern = re.compile(rf"\.{re.escape(name)}-(legacy|\d{{8}}T\d{{6}})-[0-9a-f]+")
    found = []
    for path in artifacts.glob(f".{name}-*"):
        match = pattern.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink():
            stamp = "" if match.group(1) == "legacy" else match.group(1)
            found.append((stamp, path.stat().st_mtime_ns, path.name, path))
    return [entry[-1] for entry in sorted(found)]


def _prune(artifacts: Path, name: str, current: str, previous: str | None, keep: int) -> None:
    """Keep ``keep`` versions: the current, the previous (``keep >= 2``; its place stays
    empty when there is none) and the newest others; remove the rest and leftover temporary
    folders of killed builds."""
    kept = {current} | ({previous} if keep >= 2 and previous is not None else set())
    others = [p.name for p in published_versions(artifacts, name) if p.name not in kept]
    if keep > 2:
        kept.update(others[-(keep - 2):])  # oldest first: the newest are at the end
    now = time.time()
    for path in artifacts.glob(f".{name}-*"):
        if path.name in kept or path.is_symlink() or not path.is_dir():
            continue
        if path.name.startswith(f".{name}-tmp-") and now - path.stat().st_mtime < STALE_TMP_SECONDS:
            continue
        shutil.rmtree(path, ignore_errors=True)


def write_files_atomically(writers: Mapping[Path, Callable[[IO[str]], object]]) -> None:
    """Write each text file through a temporary file beside it, then rename them all into
    place only once every one is complete, so an error leaves none of them (a script's
    outputs: CSV tables, JSON reports)."""
    temps: dict[Path, str] = {}
    try:
        for path, write in writers.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temps[path] = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w", newline="") as handle:
                write(handle)
        for path, temp in temps.items():
            os.replace(temp, path)
    finally:
        for temp in temps.values():
            Path(temp).unlink(missing_ok=True)
