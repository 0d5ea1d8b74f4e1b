"""The world in a database: refusal, atomic reset, and a refresh whose truth follows the texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from db import get_engine, load_dataset, load_mentors
from mentor_match.errors import DataValidationError, InvalidParameterError
from synthetic import SyntheticWorld, generate_world, load_truth, refresh_world, write_world
from synthetic.texts import DOMAINS, SUBSPECIALTY_DOMAIN


def _snapshot(engine) -> dict[str, pd.DataFrame]:
    dataset = load_dataset(engine)
    return {"mentors": dataset.mentors, "mentees": dataset.mentees, "interactions": dataset.interactions}


def _check_refusal_and_atomic_reset(url: str, world: SyntheticWorld) -> None:
    engine = get_engine(url)
    write_world(engine, world, reset=True, progress=False)
    before = _snapshot(engine)
    other = generate_world(n_mentors=20, n_mentees=30, interactions_per_mentee=2, seed=99)
    with pytest.raises(DataValidationError, match=r"Table 'mentors' already contains 60 rows.*--reset"):
        write_world(engine, other, progress=False)
    # A reset that fails part-way (a duplicate e-mail among the mentees) keeps the old data.
    clashing = other.mentees.assign(email=other.mentees["email"].iloc[0])
    broken = SyntheticWorld(other.mentors, clashing, other.interactions, other.mentor_truth, other.mentee_truth)
    with pytest.raises(DataValidationError, match="nothing was changed"):
        write_world(engine, broken, reset=True, progress=False)
    after = _snapshot(engine)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame)
    write_world(engine, other, reset=True, progress=False)
    pd.testing.assert_frame_equal(load_mentors(engine), other.mentors)
    engine.dispose()


def test_refusal_and_atomic_reset_sqlite(small_world, sqlite_url):
    _check_refusal_and_atomic_reset(sqlite_url, small_world)


@pytest.mark.postgres
def test_refusal_and_atomic_reset_postgres(small_world, db_pg_url):
    _check_refusal_and_atomic_reset(db_pg_url, small_world)


def test_refresh_moves_some_mentors_and_adds_new_ones(small_world, sqlite_url):
    engine = get_engine(sqlite_url)
    write_world(engine, small_world, progress=False)
    before = load_mentors(engine)
    summary = refresh_world(engine, fraction=0.1, seed=3)
    after = load_mentors(engine)
    assert summary["new_bios"] + summary["new_availability"] == 6  # 10% of 60
    assert summary["new_mentors"] == 1 and len(after) == 61
    old = after[after["mentor_id"].isin(before["mentor_id"])].reset_index(drop=True)
    moved = old["updated_at"] > before["updated_at"]
    assert moved.sum() == 6
    changed_text = (old["bio"] != before["bio"]) | (old["availability"] != before["availability"])
    assert changed_text[moved].all() and not changed_text[~moved].any()
    newcomer = after.iloc[-1]
    assert np.isnan(newcomer["rating"]) and newcomer["total_mentees"] == 0
    assert newcomer["updated_at"] > before["updated_at"].max()
    # The truth follows the new texts: each hidden niche is phrased in the (new) bio.
    _, truth_mentors = load_truth(engine, load_dataset(engine).mentees, after)
    for bio, subs in zip(truth_mentors["bio"], truth_mentors["true_subspecialties"], strict=True):
        for sub in subs:
            assert any(p in bio for p in DOMAINS[SUBSPECIALTY_DOMAIN[sub]].subspecialties[sub])
    with pytest.raises(InvalidParameterError, match=r"The 'fraction' parameter of refresh_world .* Got 0\.0\."):
        refresh_world(engine, fraction=0.0)
    with pytest.raises(InvalidParameterError, match="Got 1.5"):
        refresh_world(engine, fraction=1.5)


def test_refresh_of_empty_database_is_refused(sqlite_url):
    engine = get_engine(sqlite_url)
    write_world(engine, generate_world(1, 1, 0, seed=1), progress=False)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM synthetic_mentor_truth"))
        conn.execute(text("DELETE FROM mentors"))
    with pytest.raises(DataValidationError, match="nothing to refresh"):
        refresh_world(engine)
