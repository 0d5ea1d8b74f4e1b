"""Staleness of an index against the mentors table: added, removed and changed mentors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from index import MentorIndex, check_staleness, mentor_content_hashes, mentor_fingerprint
from mentor_match.errors import SchemaError


def mentors_frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({
        "mentor_id": np.arange(1, n + 1, dtype=np.int64),
        "bio": [f"Mentor {i} teaches topic {i % 5}" for i in range(n)],
        "availability": [["mon_evening", "sat_morning"][: 1 + i % 2] for i in range(n)],
        "updated_at": pd.date_range("2024-01-01", periods=n, freq="D"),
    })


def build(mentors: pd.DataFrame) -> MentorIndex:
    vectors = np.random.default_rng(0).standard_normal((len(mentors), 8)).astype(np.float32)
    return MentorIndex.build(
        mentors["mentor_id"],
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True),
        "Flat",
        encoder_identity="t",
        fingerprint=mentor_fingerprint(mentors),
        content_hashes=mentor_content_hashes(mentors),
    )


def test_fresh_index_is_not_stale():
    mentors = mentors_frame()
    report = check_staleness(build(mentors), mentors.sample(frac=1.0, random_state=1))
    assert not report.stale and (report.added, report.removed, report.changed) == (0, 0, 0)
    assert "up to date with 20 mentors" in report.message


def test_added_removed_and_changed_mentors_are_counted(tmp_path):
    mentors = mentors_frame()
    build(mentors).save(tmp_path / "index")
    now = mentors.drop(index=[0]).copy()  # mentor 1 removed (or deactivated)
    now.loc[3, "bio"] = "Now teaches Rust"
    now.loc[4, "availability"] = ["sun_evening"]
    now.loc[5, "updated_at"] = pd.Timestamp("2025-03-01")
    now = pd.concat([now, mentors_frame(22).tail(2)], ignore_index=True)  # ids 21, 22 added
    for where in (build(mentors), tmp_path / "index"):
        report = check_staleness(where, now)
        assert report.stale
        assert (report.added, report.removed, report.changed) == (2, 1, 3)
        assert "2 mentor(s) added, 1 removed and 3 changed" in report.message
        assert "build_index.py" in report.message


def test_content_hashes_need_the_content_columns():
    with pytest.raises(SchemaError, match="availability"):
        mentor_content_hashes(mentors_frame().drop(columns="availability"))
