"""Is an index stale against the database? Per-mentor content hashes tell what changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from db.fingerprint import data_fingerprint
from index.ann import MentorIndex
from index.store import CONTENT_FILE, IDS_FILE, read_manifest
from mentor_match.errors import SchemaError

CONTENT_COLUMNS = ("mentor_id", "bio", "availability", "updated_at")


@dataclass(frozen=True)
class StaleReport:
    """Mentors added, removed and changed since the build; ``stale`` if any."""

    stale: bool
    added: int
    removed: int
    changed: int
    message: str


def mentor_fingerprint(mentors: pd.DataFrame) -> dict:
    """The data fingerprint stored in the index manifest."""
    return data_fingerprint(mentors, "mentor_id", ["bio", "updated_at"])


def mentor_content_hashes(mentors: pd.DataFrame) -> np.ndarray:
    """One int64 per mentor row: a short hash of bio, availability and updated_at."""
    missing = [c for c in CONTENT_COLUMNS if c not in mentors.columns]
    if missing:
        raise SchemaError(
            f"The mentors frame lacks column(s) {missing}; load it with db.load_mentors."
        )
    updated = pd.to_datetime(mentors["updated_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S.%f").fillna("")
    availability = mentors["availability"].map(_canonical_json)
    texts = mentors["bio"].fillna("").astype(str) + "\x1f" + availability + "\x1f" + updated
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little", signed=True)
            for t in texts
        ),
        dtype=np.int64,
        count=len(texts),
    )


def _canonical_json(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "null"
    return json.dumps(list(value))


def check_staleness(index: MentorIndex | str | Path, mentors: pd.DataFrame) -> StaleReport:
    """Compare an index (object or folder) with the mentors it should hold now.

    ``mentors`` are the mentors that belong in the index (the active ones). Added and
    removed are counted by id, changed by content hash (bio, availability, updated_at).
    """
    if isinstance(index, MentorIndex):
        ids, content, manifest = index.ids, index.content_hashes, index.manifest
        where = "the index"
    else:
        where = f"the index in {str(index)!r}"
        folder = Path(index).resolve()  # one published version, even if swapped meanwhile
        manifest = read_manifest(folder)
        ids = np.load(folder / IDS_FILE, allow_pickle=False)
        content = None
        if CONTENT_FILE in manifest.get("files", {}):
            content = np.load(folder / CONTENT_FILE, allow_pickle=False)
    if "mentor_id" not in mentors.columns:
        raise SchemaError("The mentors frame lacks column 'mentor_id'; load it with db.load_mentors.")
    now_ids = mentors["mentor_id"].to_numpy(dtype=np.int64)
    common, at_index, at_now = np.intersect1d(ids, now_ids, return_indices=True)
    added = len(now_ids) - len(common)
    removed = len(ids) - len(common)
    if content is not None:
        changed = int((content[at_index] != mentor_content_hashes(mentors)[at_now]).sum())
    else:  # an index built without content hashes: only the fingerprint can tell
        fingerprint = (manifest.get("fingerprint") or {}).get("sha256")
        same = fingerprint == mentor_fingerprint(mentors)["sha256"]
        changed = 0 if same or added or removed else len(common)
    stale = bool(added or removed or changed)
    built = manifest.get("created", "an unknown time")
    where = where[0].upper() + where[1:]
    if stale:
        message = (
            f"{where} is stale: {added} mentor(s) added, {removed} removed and "
            f"{changed} changed since it was built ({built}). Run scripts/build_index.py."
        )
    else:
        message = f"{where} is up to date with {len(now_ids)} mentors (built {built})."
    return StaleReport(stale, int(added), int(removed), int(changed), message)
