"""Atomic publishing of an index: ``artifacts/index`` is a link swapped in one rename.

``artifacts/index`` points at a versioned folder ``artifacts/.index-<time>-<hex>``. A build
writes and verifies a complete new folder first and then replaces the link (atomic on
POSIX, :func:`mentor_match.artifacts.publish_folder`), so a reader sees the old index or the
new one, never half of one, and a failed build leaves the old link in place. The previous
version is kept, so a reader that resolved the link just before a swap can still finish.
"""

from __future__ import annotations

from pathlib import Path

from index.ann import MentorIndex
from mentor_match.artifacts import publish_folder


def publish_index(index: MentorIndex, artifacts_dir: str | Path, *, name: str = "index") -> Path:
    """Write ``index`` beside the live one and swap it in atomically; returns ``artifacts/name``.

    Until the final rename the previous index stays in place and loadable; any exception
    before it (disk full, a failing write) removes the half-written folder and re-raises.
    """

    def write(folder: Path) -> None:
        index.save(folder)
        MentorIndex.load(folder)  # what was written reads back, checksums and all

    return publish_folder(artifacts_dir, name, write)
