"""The generated world: determinism, realistic profiles, a consistent and biased contact log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mentor_match.errors import InvalidParameterError
from synthetic import REFERENCE_TIME, generate_world, summarize
from synthetic.texts import DOMAINS, SUBSPECIALTY_DOMAIN


def test_same_seed_same_world_other_seed_other_world(small_world):
    again = generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=7)
    for name in ("mentors", "mentees", "interactions", "mentor_truth", "mentee_truth"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(small_world, name))
    other = generate_world(n_mentors=60, n_mentees=120, interactions_per_mentee=6, seed=8)
    assert not other.mentors["bio"].equals(small_world.mentors["bio"])
    assert not other.interactions["mentor_id"].equals(small_world.interactions["mentor_id"])


def test_profiles_are_realistic(small_world):
    mentors, mentees = small_world.mentors, small_world.mentees
    assert mentors["domains"].map(len).between(1, 3).all() and mentees["desired_domains"].map(len).between(1, 2).all()
    assert mentors["experience_years"].between(2, 30).all() and mentors["max_mentees"].between(1, 8).all()
    new = mentors["rating"].isna()
    assert 0 < new.sum() < len(mentors) * 0.3 and (mentors.loc[new, "total_mentees"] == 0).all()
    assert (mentors["current_mentees"] == mentors["max_mentees"]).any()
    assert mentors["email"].is_unique and mentees["email"].is_unique
    # Sub-specialties are only in the texts: every truth niche has one of its phrasings in
    # the bio/goals, and no structured field names one.
    for frame, truth, column in ((mentors, small_world.mentor_truth, "bio"), (mentees, small_world.mentee_truth, "goals")):
        for text_value, subs in zip(frame[column], truth["subspecialties"], strict=True):
            for sub in subs:
                phrasings = DOMAINS[SUBSPECIALTY_DOMAIN[sub]].subspecialties[sub]
                assert any(p in text_value for p in phrasings), (sub, text_value)
    structured = {v for cells in (*mentors["domains"], *mentors["skills"], *mentees["desired_domains"]) for v in cells}
    assert not structured & set(SUBSPECIALTY_DOMAIN)
    # Mentor niches lie in the mentor's domains; the wanted niche in the mentee's first domain.
    for domains, subs in zip(mentors["domains"], small_world.mentor_truth["subspecialties"], strict=True):
        assert {SUBSPECIALTY_DOMAIN[s] for s in subs} <= set(domains)
    for domains, subs in zip(mentees["desired_domains"], small_world.mentee_truth["subspecialties"], strict=True):
        assert SUBSPECIALTY_DOMAIN[subs[0]] == domains[0]


def test_interaction_log_is_consistent(small_world):
    log, mentors, mentees = small_world.interactions, small_world.mentors, small_world.mentees
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
        log["mentor_id"].map(mentors.set_index("mentor_id")["created_at"]),
        log["mentee_id"].map(mentees.set_index("mentee_id")["created_at"]),
    )
    assert (log["created_at"] >= joined).all()
    # A mentor who just joined has no rating and so nothing accepted yet.
    unrated = log["mentor_id"].isin(mentors.loc[mentors["rating"].isna(), "mentor_id"])
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


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"n_mentors": 0}, "The 'n_mentors' parameter of generate_world must be an int >= 1. Got 0."),
        ({"n_mentees": True}, "The 'n_mentees' parameter of generate_world must be an int >= 1. Got True."),
        ({"interactions_per_mentee": -1},
         "The 'interactions_per_mentee' parameter of generate_world must be an int >= 0. Got -1."),
    ],
)
def test_generate_world_rejects_bad_sizes(sizes, message):
    with pytest.raises(InvalidParameterError) as caught:
        generate_world(**sizes)
    assert str(caught.value) == message


def test_a_world_without_interactions_has_an_empty_log():
    world = generate_world(n_mentors=3, n_mentees=4, interactions_per_mentee=0, seed=2)
    assert world.interactions.empty and list(world.interactions.columns)[0] == "interaction_id"
    assert len(world.mentors) == 3 and len(world.mentees) == 4


