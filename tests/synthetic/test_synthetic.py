"""The synthetic world: determinism, realism rules, the ground truth, writing and refreshing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from db import get_engine, load_dataset, load_mentors
from db.schema import LEVEL_YEARS
from mentor_match.errors import DataValidationError, InvalidParameterError, UnknownEntityError
from synthetic import (
    REFERENCE_TIME,
    SyntheticWorld,
    generate_world,
    load_truth,
    refresh_world,
    summarize,
    true_match_probability,
    write_world,
)
from synthetic.texts import DOMAINS, SUBSPECIALTY_DOMAIN


def _all_pairs(mentees: pd.DataFrame, mentors: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "mentee_id": np.repeat(mentees["mentee_id"].to_numpy(), len(mentors)),
        "mentor_id": np.tile(mentors["mentor_id"].to_numpy(), len(mentees)),
    })


@pytest.fixture(scope="module")
def scored_pairs(small_world):
    """Every (mentee, mentor) pair of the small world with its truth and a few factors."""
    truth_mentees, truth_mentors = small_world.with_truth()
    pairs = _all_pairs(truth_mentees, truth_mentors)
    scores = true_match_probability(truth_mentees, truth_mentors, pairs)
    e = truth_mentees.set_index("mentee_id").loc[pairs["mentee_id"]].reset_index()
    m = truth_mentors.set_index("mentor_id").loc[pairs["mentor_id"]].reset_index()
    same_domain = [bool(set(a) & set(b)) for a, b in zip(e["desired_domains"], m["domains"], strict=True)]
    wanted_sub = [bool(set(a) & set(b)) for a, b in zip(e["true_subspecialties"], m["true_subspecialties"], strict=True)]
    gap = m["experience_years"] - e["current_level"].map(LEVEL_YEARS)
    return scores.assign(same_domain=same_domain, wanted_sub=wanted_sub, gap=gap.to_numpy())


def test_same_seed_same_world_other_seed_other_world(small_world):
    again = generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=7)
    for name in ("mentors", "mentees", "interactions", "mentor_truth", "mentee_truth"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(small_world, name))
    other = generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=8)
    assert not other.mentors["bio"].equals(small_world.mentors["bio"])
    assert not other.interactions["mentor_id"].equals(small_world.interactions["mentor_id"])


def test_profiles_are_realistic(small_world):
    m, e = small_world.mentors, small_world.mentees
    assert m["domains"].map(len).between(1, 3).all() and e["desired_domains"].map(len).between(1, 2).all()
    assert m["experience_years"].between(2, 30).all() and m["max_mentees"].between(1, 8).all()
    new = m["rating"].isna()
    assert 0 < new.sum() < len(m) * 0.3 and (m.loc[new, "total_mentees"] == 0).all()
    assert (m["current_mentees"] == m["max_mentees"]).any()
    assert m["email"].is_unique and e["email"].is_unique
    # Sub-specialties are only in the texts: every truth niche has one of its phrasings in
    # the bio/goals, and no structured field names one.
    for frame, truth, column in ((m, small_world.mentor_truth, "bio"), (e, small_world.mentee_truth, "goals")):
        for text_value, subs in zip(frame[column], truth["subspecialties"], strict=True):
            for sub in subs:
                phrasings = DOMAINS[SUBSPECIALTY_DOMAIN[sub]].subspecialties[sub]
                assert any(p in text_value for p in phrasings), (sub, text_value)
    structured = {v for cells in (*m["domains"], *m["skills"], *e["desired_domains"]) for v in cells}
    assert not structured & set(SUBSPECIALTY_DOMAIN)
    # Mentor niches lie in the mentor's domains; the wanted niche in the mentee's first domain.
    for domains, subs in zip(m["domains"], small_world.mentor_truth["subspecialties"], strict=True):
        assert {SUBSPECIALTY_DOMAIN[s] for s in subs} <= set(domains)
    for domains, subs in zip(e["desired_domains"], small_world.mentee_truth["subspecialties"], strict=True):
        assert SUBSPECIALTY_DOMAIN[subs[0]] == domains[0]


def test_interaction_log_is_consistent(small_world):
    log, m, e = small_world.interactions, small_world.mentors, small_world.mentees
    assert not log.duplicated(["mentee_id", "mentor_id"]).any()
    assert (log.groupby("mentee_id").size() == 6).all()
    done = log["status"] == "completed"
    assert log["completed_at"].notna().eq(done).all()
    assert (log.loc[done, "completed_at"] > log.loc[done, "created_at"]).all()
    assert (log["completed_at"].dropna() <= REFERENCE_TIME).all()
    wins = log["successful_match"]
    assert (log.loc[wins, "status"] == "completed").all() and (log.loc[wins, "overall_rating"] >= 4).all()
    assert (log.loc[done & ~wins, "overall_rating"] <= 3).all()
    assert log.loc[log["status"] == "declined", "mentor_accepted"].eq(False).all()
    assert log.loc[log["status"] == "pending", "mentor_accepted"].isna().all()
    assert (log.loc[log["status"].isin(["declined", "pending"]), "meetings_held"] == 0).all()
    joined = np.maximum(
        log["mentor_id"].map(m.set_index("mentor_id")["created_at"]),
        log["mentee_id"].map(e.set_index("mentee_id")["created_at"]),
    )
    assert (log["created_at"] >= joined).all()
    # A mentor who just joined has no rating and so nothing accepted yet.
    unrated = log["mentor_id"].isin(m.loc[m["rating"].isna(), "mentor_id"])
    assert log.loc[unrated, "status"].isin(["pending", "declined"]).all()
    assert log["interaction_id"].is_monotonic_increasing and log["created_at"].is_monotonic_increasing


def test_exposure_is_biased_towards_related_domains(small_world):
    log = small_world.interactions
    mentor_domains = log["mentor_id"].map(small_world.mentors.set_index("mentor_id")["domains"])
    wanted = log["mentee_id"].map(small_world.mentees.set_index("mentee_id")["desired_domains"])
    related = np.mean([bool(set(a) & set(b)) for a, b in zip(mentor_domains, wanted, strict=True)])
    assert 0.55 < related < 0.95  # mostly related, but not only


def test_success_rate_in_realistic_band():
    world = generate_world(n_mentors=300, n_mentees=600, interactions_per_mentee=8, seed=11)
    summary = summarize(world)
    assert 0.2 <= summary["success_rate"] <= 0.5
    assert set(summary["status_counts"]) == {"pending", "declined", "accepted", "completed"}
    assert 0.5 < summary["acceptance_rate"] < 0.9


def test_probabilities_are_consistent(scored_pairs):
    for column in ("p_accept", "p_success", "p_match"):
        assert scored_pairs[column].between(0, 1).all()
    np.testing.assert_allclose(scored_pairs["p_match"], scored_pairs["p_accept"] * scored_pairs["p_success"])


def test_domain_and_subspecialty_fit_dominate(scored_pairs):
    by_domain = scored_pairs.groupby("same_domain")["p_match"].mean()
    assert by_domain[True] > by_domain[False] + 0.1
    same = scored_pairs[scored_pairs["same_domain"]]
    by_sub = same.groupby("wanted_sub")["p_match"].mean()
    assert by_sub[True] > by_sub[False] + 0.1  # the signal only the texts carry


def test_experience_effect_rises_then_falls(scored_pairs, small_world):
    bins = pd.cut(scored_pairs["gap"], [-40, 0, 3, 10, 16, 40])
    means = scored_pairs.groupby(bins, observed=True)["p_success"].mean().to_numpy()
    peak = int(np.argmax(means))
    assert 0 < peak < len(means) - 1, means
    # Controlled: one pair, only the mentor's experience changes.
    truth_mentees, truth_mentors = small_world.with_truth()
    mentee = truth_mentees[truth_mentees["current_level"] == "mid"].head(1)
    mentor = truth_mentors.head(1)
    variants = pd.concat([mentor.assign(mentor_id=y, experience_years=y) for y in range(0, 31)])
    pairs = pd.DataFrame({"mentee_id": mentee["mentee_id"].iloc[0], "mentor_id": variants["mentor_id"]})
    curve = true_match_probability(mentee, variants, pairs)["p_success"].to_numpy()
    best = int(np.argmax(curve))
    assert 7 <= best <= 14  # a mid mentee (~4 years) gains most from a mentor 3-10 years ahead
    assert curve[0] < curve[best] and curve[30] < curve[best]


def test_truth_is_aligned_with_pairs_index_and_order(small_world):
    truth_mentees, truth_mentors = small_world.with_truth()
    pairs = _all_pairs(truth_mentees.head(3), truth_mentors.head(4))
    scores = true_match_probability(truth_mentees, truth_mentors, pairs)
    shuffled = pairs.sample(frac=1.0, random_state=0)
    rescored = true_match_probability(truth_mentees.iloc[::-1], truth_mentors.sample(frac=1.0, random_state=1), shuffled)
    assert rescored.index.equals(shuffled.index)
    pd.testing.assert_frame_equal(rescored.loc[pairs.index], scores)
    with pytest.raises(UnknownEntityError, match="mentor_id 999999"):
        true_match_probability(truth_mentees, truth_mentors, pairs.assign(mentor_id=999999))
    with pytest.raises(InvalidParameterError, match="true_subspecialties"):
        true_match_probability(small_world.mentees, truth_mentors, pairs)


def test_generate_world_rejects_bad_sizes():
    with pytest.raises(InvalidParameterError, match="'n_mentors' parameter"):
        generate_world(n_mentors=0)


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
    with pytest.raises(InvalidParameterError, match="fraction"):
        refresh_world(engine, fraction=0.0)


def test_refresh_of_empty_database_is_refused(sqlite_url):
    engine = get_engine(sqlite_url)
    write_world(engine, generate_world(1, 1, 0, seed=1), progress=False)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM synthetic_mentor_truth"))
        conn.execute(text("DELETE FROM mentors"))
    with pytest.raises(DataValidationError, match="nothing to refresh"):
        refresh_world(engine)
