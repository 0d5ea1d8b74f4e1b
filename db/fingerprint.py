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
