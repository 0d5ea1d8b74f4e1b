"""Mentor and mentee profiles: who they are, what they write, when they joined.

People come in a dozen domains with realistic shares, clustered timezones, habitual weekly
slots and a few recent, unrated mentors. Each profile comes with its hidden truth row (the
sub-specialties its text names, a latent effect) for :mod:`synthetic.truth`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from db.schema import DAYS, LEVELS, STYLES, mentees, mentors
from synthetic.texts import mentee_goals, mentor_bio
from synthetic.vocabulary import (
    DOMAIN_NAMES,
    DOMAINS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    RELATED_DOMAINS,
)

REFERENCE_TIME = pd.Timestamp("2025-06-01 00:00:00")
"""The world's "now": fixed, so that the same seed gives the same timestamps."""
START_TIME = pd.Timestamp("2021-01-01 00:00:00")
NEW_MENTOR_SHARE = 0.10
INACTIVE_MENTOR_SHARE = 0.05

_TIMEZONE_CLUSTERS: tuple[tuple[float, tuple[str, ...], tuple[float, ...]], ...] = (
    (0.40, ("UTC-8", "UTC-7", "UTC-6", "UTC-5", "UTC-4", "UTC-3"), (0.25, 0.08, 0.17, 0.30, 0.05, 0.15)),
    (0.35, ("UTC", "UTC+1", "UTC+2", "UTC+3"), (0.25, 0.40, 0.25, 0.10)),
    (0.25, ("UTC+5:30", "UTC+7", "UTC+8", "UTC+9", "UTC+10"), (0.35, 0.10, 0.25, 0.15, 0.15)),
)
_AVAILABILITY_PATTERNS: tuple[tuple[str, ...], ...] = (
    tuple(f"{day}_evening" for day in DAYS[:5]),
    tuple(f"{day}_morning" for day in DAYS[:5]),
    tuple(f"{day}_afternoon" for day in DAYS[:5]),
    tuple(f"{day}_{part}" for day in DAYS[5:] for part in ("morning", "afternoon", "evening")),
)
# Relative shares of the main domain, in the order of DOMAIN_NAMES.
_MENTOR_DOMAIN_WEIGHTS = np.array([14, 9, 13, 8, 6, 9, 6, 8, 6, 9, 6, 6], dtype=float)
_MENTEE_DOMAIN_WEIGHTS = np.array([16, 9, 10, 9, 7, 7, 6, 9, 7, 7, 7, 6], dtype=float)
_LEVEL_SHARES = (0.15, 0.30, 0.30, 0.18, 0.07)


def make_mentors(
    rng: np.random.Generator,
    ids: np.ndarray,
    *,
    new_share: float,
    created: tuple[pd.Timestamp, pd.Timestamp],
    new_created: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mentor rows and their truth rows; ``new_share`` of them joined recently, unrated."""
    n = len(ids)
    years = np.clip(np.round(rng.gamma(2.2, 4.5, n)) + 2, 2, 30).astype(int)
    industry = rng.choice(INDUSTRIES, n)
    style = rng.choice(STYLES, n)
    timezone = _draw_timezones(rng, n)
    max_mentees = rng.choice(np.arange(1, 9), n, p=[0.08, 0.18, 0.22, 0.18, 0.14, 0.1, 0.06, 0.04])
    at_capacity = rng.random(n) < 0.15
    current = np.where(at_capacity, max_mentees, np.floor(rng.random(n) * max_mentees)).astype(int)
    latent = rng.normal(0.0, 0.45, n)
    rating = np.clip(np.round(rng.normal(4.2 + 0.6 * latent, 0.35), 1), 1.0, 5.0)
    acceptance = np.round(rng.beta(7, 3, n), 2)
    hours = rng.integers(2, 17, n) / 2.0
    active = rng.random(n) >= INACTIVE_MENTOR_SHARE
    is_new = rng.random(n) < new_share
    created_at = _draw_times(rng, *created, n)
    if new_created is None:
        new_created = (REFERENCE_TIME - pd.Timedelta(days=60), REFERENCE_TIME - pd.Timedelta(days=3))
    created_at = np.where(is_new, _draw_times(rng, *new_created, n), created_at)
    updated_at = _draw_later(rng, created_at, max(REFERENCE_TIME, new_created[1]))
    rating = np.where(is_new, np.nan, rating)
    current = np.where(is_new, 0, current)
    active = active | is_new  # someone who just joined is active

    rows, truth = [], []
    for i in range(n):
        domains = _draw_domains(rng, _MENTOR_DOMAIN_WEIGHTS, (0.45, 0.38, 0.17))
        subs = draw_mentor_subspecialties(rng, domains)
        skills = _draw_skills(rng, domains, int(rng.integers(5, 10)), foreign_share=0.15)
        title = str(rng.choice(DOMAINS[domains[0]].titles))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        rows.append({
            "mentor_id": int(ids[i]),
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{ids[i]}@mentors.example.org".lower(),
            "bio": mentor_bio(rng, title=title, years=int(years[i]), industry=str(industry[i]),
                              subspecialties=subs, skills=skills, style=str(style[i])),
            "domains": domains,
            "skills": skills,
            "availability": draw_availability(rng),
        })
        truth.append({"mentor_id": int(ids[i]), "subspecialties": subs, "latent": float(latent[i])})
    frame = pd.DataFrame(rows)
    frame = frame.assign(
        industry=industry, experience_years=years, mentorship_style=style,
        availability_hours=hours, timezone=timezone, max_mentees=max_mentees,
        current_mentees=current, rating=rating, acceptance_rate=acceptance,
        total_mentees=0, active=active, created_at=created_at, updated_at=updated_at,
    )
    return frame[[column.name for column in mentors.columns]], pd.DataFrame(truth)


def make_mentees(rng: np.random.Generator, ids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mentee rows and their truth rows (the wanted sub-specialty, a latent effect)."""
    n = len(ids)
    level = rng.choice(LEVELS, n, p=_LEVEL_SHARES)
    industry = rng.choice(INDUSTRIES, n)
    style = rng.choice(STYLES, n)
    timezone = _draw_timezones(rng, n)
    hours = rng.integers(2, 13, n) / 2.0
    active = rng.random(n) >= 0.03
    latent = rng.normal(0.0, 0.35, n)
    created_at = _draw_times(rng, START_TIME, REFERENCE_TIME - pd.Timedelta(days=180), n)
    updated_at = _draw_later(rng, created_at, REFERENCE_TIME)

    rows, truth = [], []
    for i in range(n):
        desired = _draw_domains(rng, _MENTEE_DOMAIN_WEIGHTS, (0.7, 0.3))
        wanted = str(rng.choice(list(DOMAINS[desired[0]].subspecialties)))
        # Career changers come from another domain; the rest already work in the first one.
        background = desired[0] if rng.random() < 0.6 else str(rng.choice(DOMAIN_NAMES))
        skills = _draw_skills(rng, [background], int(rng.integers(2, 7)), foreign_share=0.1)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        rows.append({
            "mentee_id": int(ids[i]),
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{ids[i]}@mentees.example.org".lower(),
            "goals": mentee_goals(
                rng, level=str(level[i]), title=str(rng.choice(DOMAINS[background].titles)),
                industry=str(industry[i]), subspecialty=wanted, other_domains=desired[1:],
                style=str(style[i]),
            ),
            "desired_domains": desired,
            "current_skills": skills,
            "availability": draw_availability(rng),
        })
        truth.append({"mentee_id": int(ids[i]), "subspecialties": [wanted], "latent": float(latent[i])})
    frame = pd.DataFrame(rows).assign(
        industry=industry, current_level=level, preferred_style=style,
        availability_hours=hours, timezone=timezone, active=active,
        created_at=created_at, updated_at=updated_at,
    )
    return frame[[column.name for column in mentees.columns]], pd.DataFrame(truth)


def _draw_domains(rng: np.random.Generator, weights: np.ndarray, count_shares: tuple[float, ...]) -> list[str]:
    count = int(rng.choice(np.arange(1, len(count_shares) + 1), p=count_shares))
    domains = [str(rng.choice(DOMAIN_NAMES, p=weights / weights.sum()))]
    while len(domains) < count:
        pool = RELATED_DOMAINS[domains[0]] if rng.random() < 0.7 else DOMAIN_NAMES
        extra = str(rng.choice(pool))
        if extra not in domains:
            domains.append(extra)
    return domains


def draw_mentor_subspecialties(rng: np.random.Generator, domains: list[str]) -> list[str]:
    """One to three niches: the first in the main domain, the others in any of the mentor's."""
    first = str(rng.choice(list(DOMAINS[domains[0]].subspecialties)))
    pool = [sub for domain in domains for sub in DOMAINS[domain].subspecialties if sub != first]
    count = int(rng.choice([0, 1, 2], p=[0.35, 0.45, 0.20]))
    picked = rng.choice(pool, size=min(count, len(pool)), replace=False).tolist() if pool else []
    return [first, *[str(sub) for sub in picked]]


_ALL_SKILLS = tuple(sorted({skill for domain in DOMAINS.values() for skill in domain.skills}))


def _draw_skills(
    rng: np.random.Generator, domains: list[str], count: int, *, foreign_share: float
) -> list[str]:
    """Skills mostly from the given domains, a few from anywhere."""
    pool = list(dict.fromkeys(skill for domain in domains for skill in DOMAINS[domain].skills))
    skills = [str(skill) for skill in rng.permutation(pool)[:count]]
    for i in range(len(skills)):
        if rng.random() < foreign_share:
            other = str(rng.choice(_ALL_SKILLS))
            if other not in skills:
                skills[i] = other
    return skills


def draw_availability(rng: np.random.Generator) -> list[str]:
    """Two to six weekly slots from one or two habitual patterns, in calendar order."""
    picks = rng.choice(len(_AVAILABILITY_PATTERNS), size=int(rng.integers(1, 3)), replace=False)
    pool = sorted({slot for pick in picks for slot in _AVAILABILITY_PATTERNS[pick]}, key=_slot_order)
    count = min(int(rng.integers(2, 7)), len(pool))
    return sorted((str(slot) for slot in rng.choice(pool, size=count, replace=False)), key=_slot_order)


def _slot_order(slot: str) -> tuple[int, int]:
    day, part = slot.split("_")
    return DAYS.index(day), ("morning", "afternoon", "evening").index(part)


def _draw_timezones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Offsets clustered by region: the Americas, Europe/Africa, Asia-Pacific."""
    cluster = rng.choice(len(_TIMEZONE_CLUSTERS), n, p=[share for share, _, _ in _TIMEZONE_CLUSTERS])
    out = np.empty(n, dtype=object)
    for i, (_, zones, shares) in enumerate(_TIMEZONE_CLUSTERS):
        mask = cluster == i
        out[mask] = rng.choice(zones, int(mask.sum()), p=shares)
    return out.astype(str)


def _draw_times(rng: np.random.Generator, low: pd.Timestamp, high: pd.Timestamp, n: int) -> np.ndarray:
    seconds = (rng.random(n) * (high - low).total_seconds()).astype(np.int64)
    return np.datetime64(low, "s") + seconds.astype("timedelta64[s]")


def _draw_later(rng: np.random.Generator, start: np.ndarray, end: pd.Timestamp) -> np.ndarray:
    """A time between each ``start`` and ``end``, to the second."""
    span = (np.datetime64(end, "s") - start).astype(np.int64)
    return start + (rng.random(len(start)) * span).astype(np.int64).astype("timedelta64[s]")

