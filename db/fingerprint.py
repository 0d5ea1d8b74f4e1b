"""Data fingerprints: what an artifact was built from, to tell later whether it is stale."""

from __future__ import annotations

import hashlib

import pandas as pd


def data_fingerprint(frame: pd.DataFrame, id_column: str, text_columns: list[str]) -> dict:
    """Row count, newest ``updated_at`` and a SHA-256 over ids and the given text columns.

    Two frames with the same ids and texts give the same hash whatever their row order.
    """
    ordered = frame.sort_values(id_column)
    digest = hashlib.sha256()
    for column in [id_column, *text_columns]:
        values = ordered[column].astype(str).str.replace("\x1f", " ", regex=False)
        digest.update("\x1f".join(values.tolist()).encode("utf-8"))
        digest.update(b"\x1e")
    newest = None
    if "updated_at" in frame.columns and len(frame):
        newest = pd.Timestamp(frame["updated_at"].max()).isoformat()
    return {"rows": int(len(frame)), "newest_update": newest, "sha256": digest.hexdigest()}


def training_fingerprints(dataset) -> dict[str, dict]:
    """The fingerprints a trained model's manifest records of the data it learnt from: the
    mentors (ids, bios), the mentees (ids, goals) and the interactions (ids, outcomes) of a
    :class:`db.loading.Dataset`."""
    return {
        "mentors": data_fingerprint(dataset.mentors, "mentor_id", ["bio", "updated_at"]),
        "mentees": data_fingerprint(dataset.mentees, "mentee_id", ["goals", "updated_at"]),
        "interactions": data_fingerprint(dataset.interactions, "interaction_id", ["status", "successful_match"]),
    }
