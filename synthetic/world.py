"""A synthetic mentoring world with a hidden ground truth.

``generate_world`` makes mentors, mentees and an interaction log that looks like a real
platform's: people in a dozen domains, bios and goals in varied natural sentences,
exposure-biased contacts and graded outcomes. Underneath sits a ground-truth model,
``true_match_probability``, that any (mentee, mentor) pair can be scored with; the logged
outcomes are drawn from it. The sub-specialties a mentee wants and a mentor has appear only
in the texts (and in the hidden truth tables), so a sentence encoder can find signal that
the structured fields do not carry.

The ground truth is two-sided: a request is first accepted or declined by the mentor
(fit, load, acceptance rate), and only an accepted pair can succeed. Success given
acceptance weighs domain fit most (structured domain overlap and the hidden
sub-specialty match), then mentor rating, availability overlap and experience
compatibility (a mentor a few years ahead helps most), then timezone distance, style,
industry, skill overlap, acceptance rate and per-person latent effects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer
from sqlalchemy import Connection, Engine, Table, bindparam, inspect, select, update
from sqlalchemy.exc import IntegrityError
from tqdm.auto import tqdm

from db.loading import (
    TIMESTAMP_DTYPE,
    check_references,
    connect,
    load_dataset,
    load_feedback,
    load_mentors,
    table_row_counts,
    timezone_offset_hours,
    validate_frame,
)
from db.schema import (
    DAYS,
    LEVEL_YEARS,
    LEVELS,
    STYLES,
    interactions,
    mentees,
    mentors,
    metadata,
    synthetic_mentee_truth,
    synthetic_mentor_truth,
)
from mentor_match.errors import (
    DataValidationError,
    InvalidParameterError,
    SchemaError,
    UnknownEntityError,
)
from synthetic.texts import (
    DOMAIN_NAMES,
    DOMAINS,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    RELATED_DOMAINS,
    mentee_goals,
    mentor_bio,
)

logger = logging.getLogger(__name__)

REFERENCE_TIME = pd.Timestamp("2025-06-01 00:00:00")
"""The world's "now": fixed, so that the same seed gives the same timestamps."""
START_TIME = pd.Timestamp("2021-01-01 00:00:00")
NEW_MENTOR_SHARE = 0.10
INACTIVE_MENTOR_SHARE = 0.05
PENDING_SHARE = 0.03
WRITE_CHUNK = 5000

SUCCESS_WEIGHTS: dict[str, float] = {
    "intercept": -2.2,
    "domain": 1.5,  # share of the mentee's desired domains the mentor covers
    "subspecialty": 1.8,  # the wanted sub-specialty (texts only) is one of the mentor's
    "rating": 1.0,  # per rating point above 4.2; a new mentor without rating is neutral
    "availability": 1.0,  # shared weekly slots, saturating at three
    "experience": 1.3,  # bump peaking when the mentor is ~6 years ahead of the mentee's level
    "timezone": -0.9,  # per 12 hours of distance
    "style": 0.35,
    "industry": 0.25,
    "skills": 0.5,  # Jaccard overlap of mentee skills and mentor skills
    "acceptance": 0.5,  # per unit of acceptance rate above 0.7
}
"""Logit weights of P(success | accepted); latent effects are added unweighted."""

ACCEPT_WEIGHTS: dict[str, float] = {
    "intercept": -0.5,
    "domain": 0.9,
    "subspecialty": 0.5,
    "experience": 0.4,
    "acceptance": 1.0,  # times logit(acceptance_rate)
    "load": -2.5,  # per unit of current/max above 0.6 (capped at 1.5)
}
"""Logit weights of P(mentor accepts the request)."""

EXPERIENCE_PEAK_YEARS = 6.5
EXPERIENCE_WIDTH_YEARS = 4.5

_TIMEZONE_CLUSTERS: tuple[tuple[float, tuple[str, ...], tuple[float, ...]], ...] = (
    (0.40, ("UTC-8", "UTC-7", "UTC-6", "UTC-5", "UTC-4", "UTC-3"), (0.25, 0.08, 0.17, 0.30, 0.05, 0.15)),
    (0.35, ("UTC", "UTC+1", "UTC+2", "UTC+3"), (0.25, 0.40, 0.25, 0.10)),
    (0.25, ("UTC+5:30", "UTC+7", "UTC+8", "UTC+9", "UTC+10"), (0.35, 0.10, 0.25, 0.15, 0.15)),
)
_AVAILABILITY_PATTERNS: tuple[tuple[str, ...], ...] = (
    tuple(f"{d}_evening" for d in DAYS[:5]),
    tuple(f"{d}_morning" for d in DAYS[:5]),
    tuple(f"{d}_afternoon" for d in DAYS[:5]),
    tuple(f"{d}_{p}" for d in DAYS[5:] for p in ("morning", "afternoon", "evening")),
)
_MENTOR_DOMAIN_WEIGHTS = np.array([14, 9, 13, 8, 6, 9, 6, 8, 6, 9, 6, 6], dtype=float)
_MENTEE_DOMAIN_WEIGHTS = np.array([16, 9, 10, 9, 7, 7, 6, 9, 7, 7, 7, 6], dtype=float)
_LEVEL_SHARES = (0.15, 0.30, 0.30, 0.18, 0.07)
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_PAIR_CHUNK = 500_000

MENTEE_TRUTH_COLUMNS = ("true_subspecialties", "latent")
MENTOR_TRUTH_COLUMNS = ("true_subspecialties", "latent")


@dataclass(frozen=True)
class SyntheticWorld:
    """Generated frames in the ``load_*`` shapes, plus the hidden truth tables."""

    mentors: pd.DataFrame
    mentees: pd.DataFrame
    interactions: pd.DataFrame
    mentor_truth: pd.DataFrame  # mentor_id, subspecialties (list), latent
    mentee_truth: pd.DataFrame  # mentee_id, subspecialties (list), latent

    def with_truth(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(mentees, mentors) with the hidden ``true_subspecialties`` and ``latent`` columns."""
        return (
            attach_truth(self.mentees, self.mentee_truth, "mentee_id", "mentees"),
            attach_truth(self.mentors, self.mentor_truth, "mentor_id", "mentors"),
        )


# --------------------------------------------------------------------------- generation


def generate_world(
    n_mentors: int = 2000,
    n_mentees: int = 5000,
    interactions_per_mentee: int = 8,
    seed: int = 42,
) -> SyntheticWorld:
    """A whole world, a pure function of its arguments (same seed, same frames)."""
    for name, value, low in (
        ("n_mentors", n_mentors, 1),
        ("n_mentees", n_mentees, 1),
        ("interactions_per_mentee", interactions_per_mentee, 0),
    ):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise InvalidParameterError(
                f"The '{name}' parameter of generate_world must be an int >= {low}. Got {value!r}."
            )
    rng = np.random.default_rng(seed)
    mentor_frame, mentor_truth = _make_mentors(
        rng, np.arange(1, n_mentors + 1), new_share=NEW_MENTOR_SHARE,
        created=(START_TIME, REFERENCE_TIME - pd.Timedelta(days=180)),
    )
    mentee_frame, mentee_truth = _make_mentees(rng, np.arange(1, n_mentees + 1))
    interaction_frame = _make_interactions(
        rng, mentor_frame, mentor_truth, mentee_frame, mentee_truth, interactions_per_mentee
    )
    mentor_frame = _with_total_mentees(rng, mentor_frame, interaction_frame)
    return SyntheticWorld(
        mentors=validate_frame(mentors, mentor_frame),
        mentees=validate_frame(mentees, mentee_frame),
        interactions=validate_frame(interactions, interaction_frame),
        mentor_truth=_truth_frame(mentor_truth, "mentor_id"),
        mentee_truth=_truth_frame(mentee_truth, "mentee_id"),
    )


def _make_mentors(
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
        subs = _draw_mentor_subspecialties(rng, domains)
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
            "availability": _draw_availability(rng),
        })
        truth.append({"mentor_id": int(ids[i]), "subspecialties": subs, "latent": float(latent[i])})
    frame = pd.DataFrame(rows)
    frame = frame.assign(
        industry=industry, experience_years=years, mentorship_style=style,
        availability_hours=hours, timezone=timezone, max_mentees=max_mentees,
        current_mentees=current, rating=rating, acceptance_rate=acceptance,
        total_mentees=0, active=active, created_at=created_at, updated_at=updated_at,
    )
    return frame[[c.name for c in mentors.columns]], pd.DataFrame(truth)


def _make_mentees(rng: np.random.Generator, ids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
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
            "availability": _draw_availability(rng),
        })
        truth.append({"mentee_id": int(ids[i]), "subspecialties": [wanted], "latent": float(latent[i])})
    frame = pd.DataFrame(rows).assign(
        industry=industry, current_level=level, preferred_style=style,
        availability_hours=hours, timezone=timezone, active=active,
        created_at=created_at, updated_at=updated_at,
    )
    return frame[[c.name for c in mentees.columns]], pd.DataFrame(truth)


def _make_interactions(
    rng: np.random.Generator,
    mentor_frame: pd.DataFrame,
    mentor_truth: pd.DataFrame,
    mentee_frame: pd.DataFrame,
    mentee_truth: pd.DataFrame,
    per_mentee: int,
) -> pd.DataFrame:
    """The contact log: exposure-biased choices, outcomes drawn from the ground truth."""
    k = min(per_mentee, len(mentor_frame))
    columns = [c.name for c in interactions.columns]
    if k == 0:
        return pd.DataFrame({c: [] for c in columns})
    chosen = _exposure(rng, mentor_frame, mentee_frame, k)
    pairs = pd.DataFrame({
        "mentee_id": np.repeat(mentee_frame["mentee_id"].to_numpy(), k),
        "mentor_id": mentor_frame["mentor_id"].to_numpy()[chosen.ravel()],
    })
    truth = true_match_probability(
        attach_truth(mentee_frame, mentee_truth, "mentee_id", "mentees"),
        attach_truth(mentor_frame, mentor_truth, "mentor_id", "mentors"),
        pairs,
    )
    p_accept, p_success = truth["p_accept"].to_numpy(), truth["p_success"].to_numpy()
    n = len(pairs)
    accepted = rng.random(n) < p_accept
    success = accepted & (rng.random(n) < p_success)
    # An accepted pair that does not succeed either stalls or completes with a low rating,
    # more often the latter when the fit was good.
    completed_low = accepted & ~success & (rng.random(n) < 0.4 + 0.5 * p_success)
    mentor_pos = chosen.ravel()
    new_mentor = mentor_frame["rating"].isna().to_numpy()[mentor_pos]
    pending = (rng.random(n) < PENDING_SHARE) | (new_mentor & accepted)
    status = np.select(
        [pending, ~accepted, success | completed_low], ["pending", "declined", "completed"], "accepted"
    )
    done = status == "completed"
    won = success & ~pending
    overall = np.where(won, np.where(rng.random(n) < 0.3 + 0.5 * p_success, 5.0, 4.0), np.nan)
    overall = np.where(done & ~won, rng.choice([1.0, 2.0, 3.0], n, p=[0.2, 0.3, 0.5]), overall)
    meetings = np.select(
        [won, done, status == "accepted"],
        [rng.integers(4, 13, n), rng.integers(2, 9, n), rng.integers(0, 4, n)],
        0,
    )
    mentee_accepted = pd.array(
        np.where(status == "accepted", rng.random(n) < 0.5, done), dtype="boolean"
    )
    mentee_accepted[(status == "pending") | (status == "declined")] = pd.NA
    mentor_accepted = pd.array(status != "declined", dtype="boolean")
    mentor_accepted[status == "pending"] = pd.NA

    # Resolved requests are old enough to have finished; pending ones are recent.
    mentee_pos = np.repeat(np.arange(len(mentee_frame)), k)
    joined = np.maximum(
        mentor_frame["created_at"].to_numpy()[mentor_pos], mentee_frame["created_at"].to_numpy()[mentee_pos]
    )
    recent = pending | new_mentor
    low = np.where(
        recent,
        np.maximum(joined, np.datetime64(REFERENCE_TIME - pd.Timedelta(days=21))),
        joined + np.timedelta64(1, "D"),
    )
    latest = np.where(
        recent, np.datetime64(REFERENCE_TIME - pd.Timedelta(hours=1)),
        np.datetime64(REFERENCE_TIME - pd.Timedelta(days=150)),
    )
    span = np.maximum(latest - low, np.timedelta64(0, "s"))
    created_at = (low + (rng.random(n) * span.astype("timedelta64[s]").astype(float)).astype("timedelta64[s]"))
    duration = (14 + 7 * meetings + rng.integers(0, 15, n)).astype("timedelta64[D]")
    completed_at = np.where(done, created_at + duration, np.datetime64("NaT"))

    frame = pd.DataFrame({
        "mentor_id": pairs["mentor_id"],
        "mentee_id": pairs["mentee_id"],
        "status": status,
        "mentor_accepted": mentor_accepted,
        "mentee_accepted": mentee_accepted,
        "successful_match": won,
        "overall_rating": overall,
        "meetings_held": meetings,
        "created_at": pd.Series(created_at).astype(TIMESTAMP_DTYPE),
        "completed_at": pd.Series(completed_at).astype(TIMESTAMP_DTYPE),
    })
    frame = frame.sort_values(["created_at", "mentee_id", "mentor_id"], kind="stable").reset_index(drop=True)
    frame.insert(0, "interaction_id", np.arange(1, len(frame) + 1))
    return frame[columns]


def _exposure(
    rng: np.random.Generator, mentor_frame: pd.DataFrame, mentee_frame: pd.DataFrame, k: int
) -> np.ndarray:
    """Positions (n_mentees, k) of the mentors each mentee contacted, without repeats.

    Mostly mentors in a desired domain, some popular (highly rated) ones, some at random;
    sampled without replacement by Gumbel top-k over the mixture weights.
    """
    binarizer = MultiLabelBinarizer(classes=list(DOMAIN_NAMES))
    mentor_domains = binarizer.fit_transform(mentor_frame["domains"]).astype(np.float32)
    mentee_domains = binarizer.transform(mentee_frame["desired_domains"]).astype(np.float32)
    rating = mentor_frame["rating"].to_numpy()
    popularity = np.where(np.isnan(rating), 0.0, rating) ** 4
    popularity = popularity / popularity.sum() if popularity.sum() > 0 else np.full(len(rating), 1 / len(rating))
    reach = np.where(mentor_frame["rating"].isna(), 0.3, 1.0) * np.where(mentor_frame["active"], 1.0, 0.6)
    n_mentors = len(mentor_frame)
    chosen = np.empty((len(mentee_frame), k), dtype=np.int64)
    for start in range(0, len(mentee_frame), 500):  # chunks bound the (mentees x mentors) matrix
        related = (mentee_domains[start:start + 500] @ mentor_domains.T) > 0
        share = related / np.maximum(related.sum(axis=1, keepdims=True), 1)
        weights = (0.65 * share + 0.15 * popularity + 0.20 / n_mentors) * reach
        keys = np.log(weights) + rng.gumbel(size=weights.shape)
        chosen[start:start + 500] = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    return chosen


def _with_total_mentees(
    rng: np.random.Generator, mentor_frame: pd.DataFrame, interaction_frame: pd.DataFrame
) -> pd.DataFrame:
    """Lifetime mentee counts: accepted requests in the log plus some from before the log."""
    accepted = interaction_frame.loc[
        interaction_frame["status"].isin(["accepted", "completed"]), "mentor_id"
    ].value_counts()
    logged = mentor_frame["mentor_id"].map(accepted).fillna(0).to_numpy(dtype=int)
    earlier = rng.poisson(3.0, len(mentor_frame))
    total = np.where(mentor_frame["rating"].isna(), 0, logged + earlier)
    return mentor_frame.assign(total_mentees=total)


def _draw_domains(rng: np.random.Generator, weights: np.ndarray, count_shares: tuple[float, ...]) -> list[str]:
    count = int(rng.choice(np.arange(1, len(count_shares) + 1), p=count_shares))
    domains = [str(rng.choice(DOMAIN_NAMES, p=weights / weights.sum()))]
    while len(domains) < count:
        pool = RELATED_DOMAINS[domains[0]] if rng.random() < 0.7 else DOMAIN_NAMES
        extra = str(rng.choice(pool))
        if extra not in domains:
            domains.append(extra)
    return domains


def _draw_mentor_subspecialties(rng: np.random.Generator, domains: list[str]) -> list[str]:
    """One to three niches: the first in the main domain, the others in any of the mentor's."""
    first = str(rng.choice(list(DOMAINS[domains[0]].subspecialties)))
    pool = [s for d in domains for s in DOMAINS[d].subspecialties if s != first]
    count = int(rng.choice([0, 1, 2], p=[0.35, 0.45, 0.20]))
    picked = rng.choice(pool, size=min(count, len(pool)), replace=False).tolist() if pool else []
    return [first, *[str(s) for s in picked]]


_ALL_SKILLS = tuple(sorted({s for d in DOMAINS.values() for s in d.skills}))


def _draw_skills(
    rng: np.random.Generator, domains: list[str], count: int, *, foreign_share: float
) -> list[str]:
    """Skills mostly from the given domains, a few from anywhere."""
    pool = list(dict.fromkeys(s for d in domains for s in DOMAINS[d].skills))
    skills = [str(s) for s in rng.permutation(pool)[:count]]
    for i in range(len(skills)):
        if rng.random() < foreign_share:
            other = str(rng.choice(_ALL_SKILLS))
            if other not in skills:
                skills[i] = other
    return skills


def _draw_availability(rng: np.random.Generator) -> list[str]:
    """Two to six weekly slots from one or two habitual patterns, in calendar order."""
    picks = rng.choice(len(_AVAILABILITY_PATTERNS), size=int(rng.integers(1, 3)), replace=False)
    pool = sorted({s for p in picks for s in _AVAILABILITY_PATTERNS[p]}, key=_slot_order)
    count = min(int(rng.integers(2, 7)), len(pool))
    return sorted((str(s) for s in rng.choice(pool, size=count, replace=False)), key=_slot_order)


def _slot_order(slot: str) -> tuple[int, int]:
    day, part = slot.split("_")
    return DAYS.index(day), ("morning", "afternoon", "evening").index(part)


def _draw_timezones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Offsets clustered by region: the Americas, Europe/Africa, Asia-Pacific."""
    cluster = rng.choice(len(_TIMEZONE_CLUSTERS), n, p=[c[0] for c in _TIMEZONE_CLUSTERS])
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


def _truth_frame(rows: pd.DataFrame, id_column: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        id_column: rows[id_column].astype("int64"),
        "subspecialties": rows["subspecialties"].astype(object),
        "latent": rows["latent"].astype("float64"),
    })
    return frame.sort_values(id_column).reset_index(drop=True)


# --------------------------------------------------------------------------- ground truth


def attach_truth(frame: pd.DataFrame, truth: pd.DataFrame, id_column: str, table: str) -> pd.DataFrame:
    """``frame`` with the hidden ``true_subspecialties`` and ``latent`` columns merged in."""
    merged = frame.merge(
        truth[[id_column, "subspecialties", "latent"]].rename(columns={"subspecialties": "true_subspecialties"}),
        on=id_column, how="left", validate="one_to_one",
    )
    missing = merged["latent"].isna()
    if missing.any():
        ids = ", ".join(str(i) for i in merged.loc[missing, id_column].head(5))
        raise DataValidationError(
            f"{int(missing.sum())} row(s) of '{table}' have no synthetic ground truth ({id_column} "
            f"{ids}); the ground truth exists only for generated data: regenerate with "
            "scripts/generate_synthetic_data.py --reset."
        )
    return merged


def load_truth(
    engine: Engine | Connection, mentee_frame: pd.DataFrame, mentor_frame: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mentees, mentors) with ``true_subspecialties`` and ``latent`` from the truth tables."""
    with connect(engine) as conn:
        mentee_truth = _read_truth(conn, synthetic_mentee_truth)
        mentor_truth = _read_truth(conn, synthetic_mentor_truth)
    return (
        attach_truth(mentee_frame, mentee_truth, "mentee_id", "mentees"),
        attach_truth(mentor_frame, mentor_truth, "mentor_id", "mentors"),
    )


def _read_truth(conn: Connection, table: Table) -> pd.DataFrame:
    if not inspect(conn).has_table(table.name):
        raise SchemaError(
            f"Table '{table.name}' does not exist; the ground truth exists only for generated "
            "data: run scripts/generate_synthetic_data.py --reset."
        )
    id_column = next(iter(table.primary_key.columns)).name
    result = conn.execute(select(table).order_by(table.c[id_column]))
    rows = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
    return _truth_frame(rows, id_column) if len(rows) else pd.DataFrame(
        {id_column: pd.Series(dtype="int64"), "subspecialties": pd.Series(dtype=object),
         "latent": pd.Series(dtype="float64")}
    )


def true_match_probability(
    mentee_frame: pd.DataFrame, mentor_frame: pd.DataFrame, pairs: pd.DataFrame
) -> pd.DataFrame:
    """Ground-truth ``p_accept``, ``p_success`` (given acceptance) and ``p_match`` per pair.

    ``mentee_frame``/``mentor_frame`` carry the truth columns (see :func:`load_truth`);
    ``pairs`` has ``mentee_id`` and ``mentor_id``. The result has ``pairs``' index, row for
    row. Vectorised: ids become positions once, then all work is numpy over pair chunks.
    """
    for frame, name, needed in (
        (mentee_frame, "mentees", ("mentee_id", *MENTEE_TRUTH_COLUMNS)),
        (mentor_frame, "mentors", ("mentor_id", *MENTOR_TRUTH_COLUMNS)),
        (pairs, "pairs", ("mentee_id", "mentor_id")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InvalidParameterError(
                f"The '{name}' frame of true_match_probability lacks column(s) "
                f"{', '.join(missing)}; add the truth columns with synthetic.load_truth."
            )
    mentee_pos = _positions(mentee_frame["mentee_id"], pairs["mentee_id"], "mentee")
    mentor_pos = _positions(mentor_frame["mentor_id"], pairs["mentor_id"], "mentor")
    sides = _side_arrays(mentee_frame, mentor_frame)
    p_accept = np.empty(len(pairs))
    p_success = np.empty(len(pairs))
    for start in range(0, len(pairs), _PAIR_CHUNK):
        part = slice(start, start + _PAIR_CHUNK)
        parts = _pair_components(sides, mentee_pos[part], mentor_pos[part])
        p_accept[part], p_success[part] = _combine(parts)
    return pd.DataFrame(
        {"p_accept": p_accept, "p_success": p_success, "p_match": p_accept * p_success},
        index=pairs.index,
    )


def experience_effect(gap_years: np.ndarray) -> np.ndarray:
    """Experience compatibility in [0, 1]: 1 when the mentor is ~6.5 years ahead of the
    mentee, lower for mentors junior to the mentee or far more senior."""
    gap = np.asarray(gap_years, dtype=float)
    return np.exp(-0.5 * ((gap - EXPERIENCE_PEAK_YEARS) / EXPERIENCE_WIDTH_YEARS) ** 2)


def _positions(ids: pd.Series, wanted: pd.Series, kind: str) -> np.ndarray:
    index = pd.Index(ids.to_numpy())
    if not index.is_unique:
        raise InvalidParameterError(f"The {kind} frame of true_match_probability has duplicate {kind}_id values.")
    pos = index.get_indexer(wanted.to_numpy())
    if (pos < 0).any():
        unknown = ", ".join(str(v) for v in pd.unique(wanted.to_numpy()[pos < 0])[:5])
        raise UnknownEntityError(
            f"pairs name {kind}_id {unknown} that are not in the {kind} frame; pass frames that "
            "hold every id in the pairs."
        )
    return pos


def _packed(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Multi-hot rows of two list columns over their joint vocabulary, packed into bytes,
    so that a pair's overlap is a popcount of an AND."""
    vocab = sorted({v for cell in (*left, *right) for v in cell})
    binarizer = MultiLabelBinarizer(classes=vocab)
    return (
        np.packbits(binarizer.fit_transform(left).astype(bool), axis=1),
        np.packbits(binarizer.transform(right).astype(bool), axis=1),
    )


def _codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    categories = pd.Index(pd.unique(np.concatenate([left.to_numpy(dtype=object), right.to_numpy(dtype=object)])))
    return categories.get_indexer(left.to_numpy(dtype=object)), categories.get_indexer(right.to_numpy(dtype=object))


def _side_arrays(mentee_frame: pd.DataFrame, mentor_frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-person arrays, computed once per call and gathered per pair."""
    e_dom, m_dom = _packed(mentee_frame["desired_domains"], mentor_frame["domains"])
    e_sub, m_sub = _packed(mentee_frame["true_subspecialties"], mentor_frame["true_subspecialties"])
    e_skill, m_skill = _packed(mentee_frame["current_skills"], mentor_frame["skills"])
    e_slot, m_slot = _packed(mentee_frame["availability"], mentor_frame["availability"])
    e_style, m_style = _codes(mentee_frame["preferred_style"], mentor_frame["mentorship_style"])
    e_ind, m_ind = _codes(mentee_frame["industry"], mentor_frame["industry"])
    max_mentees = mentor_frame["max_mentees"].to_numpy(dtype=float)
    load = np.where(max_mentees > 0, mentor_frame["current_mentees"].to_numpy(dtype=float) / np.maximum(max_mentees, 1), 1.5)
    return {
        "e_dom": e_dom, "m_dom": m_dom, "e_sub": e_sub, "m_sub": m_sub,
        "e_skill": e_skill, "m_skill": m_skill, "e_slot": e_slot, "m_slot": m_slot,
        "e_ndom": _POPCOUNT[e_dom].sum(axis=1),
        "e_nskill": _POPCOUNT[e_skill].sum(axis=1), "m_nskill": _POPCOUNT[m_skill].sum(axis=1),
        "e_style": e_style, "m_style": m_style, "e_ind": e_ind, "m_ind": m_ind,
        "e_tz": timezone_offset_hours(mentee_frame["timezone"]),
        "m_tz": timezone_offset_hours(mentor_frame["timezone"]),
        "e_years": mentee_frame["current_level"].map(LEVEL_YEARS).to_numpy(dtype=float),
        "m_years": mentor_frame["experience_years"].to_numpy(dtype=float),
        "m_rating": mentor_frame["rating"].to_numpy(dtype=float),
        "m_accept": mentor_frame["acceptance_rate"].to_numpy(dtype=float),
        "m_load": np.clip(load, 0.0, 1.5),
        "e_latent": mentee_frame["latent"].to_numpy(dtype=float),
        "m_latent": mentor_frame["latent"].to_numpy(dtype=float),
    }


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _POPCOUNT[a & b].sum(axis=1, dtype=np.int64)


def _pair_components(s: dict[str, np.ndarray], e: np.ndarray, m: np.ndarray) -> dict[str, np.ndarray]:
    """Each ground-truth factor per pair, on a 0-1 (or centred) scale."""
    shared_domains = _overlap(s["e_dom"][e], s["m_dom"][m])
    any_domain = (shared_domains > 0).astype(float)
    domain = 0.7 * any_domain + 0.3 * shared_domains / np.maximum(s["e_ndom"][e], 1)
    shared_skills = _overlap(s["e_skill"][e], s["m_skill"][m])
    union = s["e_nskill"][e].astype(float) + s["m_nskill"][m] - shared_skills
    distance = np.abs(s["e_tz"][e] - s["m_tz"][m])
    rating = s["m_rating"][m]
    return {
        "domain": domain,
        "subspecialty": (_overlap(s["e_sub"][e], s["m_sub"][m]) > 0).astype(float),
        "skills": shared_skills / np.maximum(union, 1.0),
        "availability": np.minimum(_overlap(s["e_slot"][e], s["m_slot"][m]), 3) / 3.0,
        "experience": experience_effect(s["m_years"][m] - s["e_years"][e]),
        "timezone": np.minimum(distance, 24.0 - distance) / 12.0,
        "style": (s["e_style"][e] == s["m_style"][m]).astype(float),
        "industry": (s["e_ind"][e] == s["m_ind"][m]).astype(float),
        "rating": np.where(np.isnan(rating), 0.0, rating - 4.2),
        "acceptance": s["m_accept"][m],
        "load": s["m_load"][m],
        "latent": s["e_latent"][e] + s["m_latent"][m],
    }


def _combine(c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    w = SUCCESS_WEIGHTS
    success_logit = (
        w["intercept"] + w["domain"] * c["domain"] + w["subspecialty"] * c["subspecialty"]
        + w["rating"] * c["rating"] + w["availability"] * c["availability"]
        + w["experience"] * c["experience"] + w["timezone"] * c["timezone"]
        + w["style"] * c["style"] + w["industry"] * c["industry"] + w["skills"] * c["skills"]
        + w["acceptance"] * (c["acceptance"] - 0.7) + c["latent"]
    )
    a = ACCEPT_WEIGHTS
    rate = np.clip(c["acceptance"], 0.02, 0.98)
    accept_logit = (
        a["intercept"] + a["domain"] * c["domain"] + a["subspecialty"] * c["subspecialty"]
        + a["experience"] * c["experience"] + a["acceptance"] * np.log(rate / (1 - rate))
        + a["load"] * np.clip(c["load"] - 0.6, 0.0, None)
    )
    return _sigmoid(accept_logit), _sigmoid(success_logit)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------- writing


def write_world(
    engine: Engine | Connection, world: SyntheticWorld, *, reset: bool = False, progress: bool = True
) -> None:
    """Write ``world`` into the database, all in one transaction.

    Into non-empty tables it refuses (DataValidationError) and changes nothing; with
    ``reset`` it drops and recreates the tables first, and a failure part-way leaves the old
    data in place.
    """
    frames = [
        (mentors, validate_frame(mentors, world.mentors)),
        (mentees, validate_frame(mentees, world.mentees)),
        (synthetic_mentor_truth, world.mentor_truth),
        (synthetic_mentee_truth, world.mentee_truth),
        (interactions, validate_frame(interactions, world.interactions)),
    ]
    check_references(world.interactions, world.mentors, world.mentees)
    total = sum(len(f) for _, f in frames)
    try:
        with _transaction(engine) as conn:
            if reset:
                metadata.drop_all(conn)
            metadata.create_all(conn)
            if not reset:
                _refuse_if_filled(conn)
            with tqdm(total=total, unit="rows", desc="writing", disable=not progress) as bar:
                for table, frame in frames:
                    records = _records(frame)
                    for start in range(0, len(records), WRITE_CHUNK):
                        chunk = records[start:start + WRITE_CHUNK]
                        conn.execute(table.insert(), chunk)
                        bar.update(len(chunk))
    except IntegrityError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DataValidationError(
            f"Writing the synthetic world failed and nothing was changed: {reason}. Regenerate "
            "the world, or pass --reset if old rows clash with it."
        ) from None
    logger.info("wrote %d rows (%s)", total, ", ".join(f"{t.name} {len(f)}" for t, f in frames))


def _refuse_if_filled(conn: Connection) -> None:
    filled = {name: n for name, n in table_row_counts(conn).items() if n}
    if filled:
        name, n = next(iter(filled.items()))
        others = ", ".join(f"{k} {v}" for k, v in list(filled.items())[1:])
        raise DataValidationError(
            f"Table '{name}' already contains {n} rows{f' (also {others})' if others else ''}; "
            "nothing was written. Pass --reset to replace them, or use another --db-url."
        )


@contextmanager
def _transaction(engine: Engine | Connection) -> Iterator[Connection]:
    """One transaction that covers DDL too, on PostgreSQL and on SQLite.

    Python's sqlite3 driver does not open a transaction before DROP/CREATE, so those would
    commit at once and a failed reset would lose the old data. On SQLite we switch the
    driver to autocommit mode for this connection and issue BEGIN ourselves.
    """
    with connect(engine) as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        dbapi_conn = conn.connection.dbapi_connection
        saved = dbapi_conn.isolation_level
        dbapi_conn.isolation_level = None
        try:
            with conn.begin():
                conn.exec_driver_sql("BEGIN")
                yield conn
        finally:
            dbapi_conn.isolation_level = saved


def _records(frame: pd.DataFrame) -> list[dict]:
    """Plain Python rows for executemany: None for NaN/NaT/NA, datetimes, lists as is."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            cells = [None if pd.isna(v) else v.to_pydatetime() for v in values]
        else:
            objects = values.astype(object)
            cells = objects.where(values.notna(), None).tolist()
        columns[name] = cells
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


# --------------------------------------------------------------------------- refresh


def refresh_world(engine: Engine | Connection, fraction: float = 0.05, seed: int = 42) -> dict:
    """Simulate a data refresh on an existing generated database, in one transaction.

    About ``fraction`` of the mentors get a new bio (with possibly new sub-specialties,
    kept in the truth table) or new availability, and about ``fraction / 5`` new mentors
    join; ``updated_at`` of every changed row moves to one day after the newest update.
    Returns a summary dict.
    """
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise InvalidParameterError(
            f"The 'fraction' parameter of refresh_world must be a number in (0, 1]. Got {fraction!r}."
        )
    with _transaction(engine) as conn:
        current = load_mentors(conn)
        if current.empty:
            raise DataValidationError(
                "Table 'mentors' is empty: nothing to refresh. Generate data first with "
                "scripts/generate_synthetic_data.py."
            )
        truth = attach_truth(current, _read_truth(conn, synthetic_mentor_truth), "mentor_id", "mentors")
        rng = np.random.default_rng([seed, len(current)])
        when = (current["updated_at"].max() + pd.Timedelta(days=1)).floor("s").to_pydatetime()
        n_changed = max(1, round(fraction * len(current)))
        changed = np.sort(rng.choice(len(current), size=n_changed, replace=False))
        new_bio = rng.random(n_changed) < 0.5
        bio_rows, truth_rows, slot_rows = [], [], []
        for pos, bio in zip(changed, new_bio, strict=True):
            row = truth.iloc[pos]
            if bio:
                subs = _draw_mentor_subspecialties(rng, row["domains"])
                text = mentor_bio(
                    rng, title=str(rng.choice(DOMAINS[row["domains"][0]].titles)),
                    years=int(row["experience_years"]), industry=row["industry"], subspecialties=subs,
                    skills=row["skills"], style=row["mentorship_style"],
                )
                bio_rows.append({"b_id": int(row["mentor_id"]), "b_bio": text, "b_when": when})
                truth_rows.append({"b_id": int(row["mentor_id"]), "b_subs": subs})
            else:
                slot_rows.append({
                    "b_id": int(row["mentor_id"]), "b_slots": _draw_availability(rng),
                    "b_hours": float(rng.integers(2, 17) / 2.0), "b_when": when,
                })
        by_id = mentors.c.mentor_id == bindparam("b_id")
        if bio_rows:
            conn.execute(update(mentors).where(by_id).values(
                bio=bindparam("b_bio"), updated_at=bindparam("b_when")), bio_rows)
            conn.execute(update(synthetic_mentor_truth).where(
                synthetic_mentor_truth.c.mentor_id == bindparam("b_id")).values(
                subspecialties=bindparam("b_subs")), truth_rows)
        if slot_rows:
            conn.execute(update(mentors).where(by_id).values(
                availability=bindparam("b_slots"), availability_hours=bindparam("b_hours"),
                updated_at=bindparam("b_when")), slot_rows)
        n_new = max(1, round(fraction / 5 * len(current)))
        first_id = int(current["mentor_id"].max()) + 1
        stamp = pd.Timestamp(when)
        joined, joined_truth = _make_mentors(
            rng, np.arange(first_id, first_id + n_new), new_share=1.0,
            created=(stamp, stamp), new_created=(stamp, stamp),
        )
        conn.execute(mentors.insert(), _records(validate_frame(mentors, joined)))
        conn.execute(synthetic_mentor_truth.insert(), _records(_truth_frame(joined_truth, "mentor_id")))
    summary = {
        "refreshed_at": stamp.isoformat(),
        "new_bios": len(bio_rows),
        "new_availability": len(slot_rows),
        "new_mentors": n_new,
        "mentors": len(current) + n_new,
    }
    logger.info("refresh: %s", summary)
    return summary


# --------------------------------------------------------------------------- summary


def summarize(source: Engine | Connection | SyntheticWorld) -> dict:
    """Rows per table and the headline rates, from a world or from a database."""
    if isinstance(source, SyntheticWorld):
        mentor_frame, mentee_frame, log = source.mentors, source.mentees, source.interactions
        feedback_rows = 0
    else:
        dataset = load_dataset(source)
        mentor_frame, mentee_frame, log = dataset.mentors, dataset.mentees, dataset.interactions
        feedback_rows = len(load_feedback(source))
    decided = log["status"] != "pending"
    return {
        "mentors": len(mentor_frame),
        "mentees": len(mentee_frame),
        "interactions": len(log),
        "recommendation_feedback": feedback_rows,
        "active_mentors": int(mentor_frame["active"].sum()),
        "mentors_without_rating": int(mentor_frame["rating"].isna().sum()),
        "mentors_at_capacity": int((mentor_frame["current_mentees"] >= mentor_frame["max_mentees"]).sum()),
        "status_counts": {k: int(v) for k, v in log["status"].value_counts().sort_index().items()},
        "acceptance_rate": float((log["status"][decided] != "declined").mean()) if decided.any() else float("nan"),
        "success_rate": float(log["successful_match"].mean()) if len(log) else float("nan"),
    }
