"""Reasons in plain words, the ad-hoc profile check and the recommendations table: no models needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mentor_match.errors import InvalidParameterError
from retrieval import Recommendation, format_recommendations, validate_profile
from retrieval.reasons import explain

MENTOR = {
    "name": "Ada", "domains": ["data"], "skills": ["python"], "availability": ["mon_evening"],
    "mentorship_style": "hands-on", "timezone": "UTC+1", "industry": "finance", "rating": 4.5,
    "acceptance_rate": 0.8, "experience_years": 1.0, "total_mentees": 1, "current_mentees": 1,
    "max_mentees": 3,
}
MENTEE = {
    "desired_domains": ["data"], "current_skills": ["python"], "availability": ["mon_evening"],
    "preferred_style": "hands-on", "industry": "finance",
}


def _reasons(*features: str, mentor=MENTOR, mentee=MENTEE, values=None) -> list[str]:
    lift = np.linspace(1.0, 0.5, len(features))  # the first feature lifts the most
    return explain(lift, list(features), values or {}, mentor, mentee, n=len(features))[0]


@pytest.mark.parametrize(
    ("feature", "phrase"),
    [
        ("mentor_experience_years", "1 year of experience"),
        ("experience_compatibility", "1 year of experience, a good step ahead of you"),
        ("mentor_total_mentees", "has mentored 1 person"),
        ("availability_compatibility", "free in 1 of your 1 weekly slot"),
        ("domain_overlap", "shares 1 of 1 target domain"),
        ("skill_overlap", "1 skill in common (python)"),
    ],
)
def test_a_count_of_one_reads_in_the_singular(feature, phrase):
    assert _reasons(feature) == [phrase]


def test_plural_counts_read_in_the_plural():
    mentor = {**MENTOR, "experience_years": 7.0, "total_mentees": 12}
    assert _reasons("mentor_experience_years", "mentor_total_mentees", mentor=mentor) == [
        "7 years of experience", "has mentored 12 people",
    ]


@pytest.mark.parametrize(
    "features",
    [
        ("mentor_experience_years", "experience_compatibility", "mentor_rating"),
        ("experience_gap", "mentor_experience_years", "experience_compatibility", "mentor_rating"),
        ("experience_compatibility", "experience_gap", "mentor_rating"),
    ],
)
def test_a_mentor_gets_at_most_one_experience_reason(features):
    reasons = _reasons(*features)
    assert sum("experience" in reason for reason in reasons) == 1
    assert reasons[-1] == "rated 4.5", "the next topic still gets its reason"


def test_style_and_industry_need_a_known_value_to_match():
    unknown = {**MENTOR, "mentorship_style": None, "industry": ""}
    assert _reasons("style_match", "industry_match", mentor=unknown, mentee={**MENTEE, "preferred_style": None, "industry": ""}) == []


def test_a_missing_profile_field_stays_missing():
    fields = validate_profile({
        "goals": "learn Rust", "timezone": np.nan, "industry": None, "current_level": pd.NA,
        "desired_domains": None, "availability_hours": float("nan"), "preferred_style": np.float32("nan"),
    })
    assert {name: fields[name] for name in ("timezone", "industry", "current_level", "desired_domains",
                                             "availability_hours", "preferred_style")} == dict.fromkeys(
        ("timezone", "industry", "current_level", "desired_domains", "availability_hours", "preferred_style"))
    assert fields["goals"] == "learn Rust" and fields["mentee_id"] == -1


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"goals": "  "}, "profile needs 'goals'"),
        ({"goals": float("nan")}, "profile needs 'goals'"),
        ({"goals": "x", "availability_hours": -1.0}, "'availability_hours' parameter .* >= 0.0. Got -1.0"),
        ({"goals": "x", "current_skills": ["sql", 3]}, "'current_skills' must be a list of strings; it holds \\[3\\]"),
        ({"goals": "x", "timezone": 1}, "'timezone' must be a text"),
        ({"goals": "x", "mentee_id": "7"}, "'mentee_id' parameter"),
        (["goals"], "profile must be a mapping"),
    ],
)
def test_a_bad_profile_is_refused_with_the_field_named(profile, message):
    with pytest.raises(InvalidParameterError, match=message):
        validate_profile(profile)


def test_the_table_keeps_its_columns_and_a_free_why():
    recs = [
        Recommendation(7, "Ada", 1, 0.91, 0.5, {}, ["same timezone", "rated 4.5"]),
        Recommendation(12, "Grace Hopper", 2, 0.5, 0.4, {}, []),
    ]
    lines = format_recommendations(recs, {7: ["data", "ml"], 12: ["compilers"]}).splitlines()
    assert lines[0].split() == ["#", "mentor", "domains", "score", "why"]
    assert lines[2].split("  ")[0] == "1" and lines[2].endswith("0.910  same timezone; rated 4.5")
    assert lines[3].rstrip().endswith("0.500") and "Grace Hopper (12)" in lines[3]
    assert len(lines[1]) == len(lines[3].rstrip()) + len("  ---"), "the why column is not padded"
    assert format_recommendations(recs[:1]).splitlines()[2].startswith("1  Ada (7)")
