"""The hidden ground truth of the synthetic world: how likely each (mentee, mentor) pair is
to become a successful mentorship. Evaluation scores the engine against it.

The truth is two-sided. A request is first accepted or declined by the mentor, and only an
accepted pair can succeed::

    p_match = p_accept * p_success        p_success = P(success | accepted)
    p_accept  = sigmoid(ACCEPT_WEIGHTS  . factors)
    p_success = sigmoid(SUCCESS_WEIGHTS . factors + latent)

The factors of a pair, each on a 0-1 scale unless said otherwise:

- ``domain``: 0.7 if the mentor covers any of the mentee's desired domains, plus 0.3 times
  the share of those domains covered;
- ``subspecialty``: 1 if the sub-specialty the mentee wants is one of the mentor's. Both
  appear only in the texts (bio, goals) and the truth tables, never in a structured field,
  so only a reader of the texts can see this factor;
- ``experience``: :func:`experience_effect` of the mentor's years minus the years the
  mentee's level stands for (a mentor about 6.5 years ahead helps most);
- ``availability``: shared weekly slots, saturating at three;
- ``timezone``: the distance of the offsets around the clock, per 12 hours (weight < 0);
- ``skills``: Jaccard overlap of the mentee's current skills and the mentor's skills;
- ``style``, ``industry``: 1 when the preferred and the offered style / the industries agree;
- ``rating``: points above 4.2 (0 for a new mentor without rating);
- ``acceptance``: the mentor's acceptance rate; success counts it above 0.7, acceptance
  through its logit;
- ``load``: current over maximum mentees, capped at 1.5; it lowers acceptance above 0.6;
- ``latent``: the mentee's plus the mentor's latent effect (unweighted, success only).

Success weighs domain fit most (domain and sub-specialty), then rating, availability and
experience, then timezone, style, industry, skills and acceptance rate. The per-person
parts no profile shows (the sub-specialties, the latent effects) are kept in the tables
``synthetic_mentee_truth`` / ``synthetic_mentor_truth``; :func:`load_truth` attaches them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer
from sqlalchemy import Connection, Engine, Table, inspect, select

from db.connection import connect
from db.loading import timezone_offset_hours
from db.schema import LEVEL_YEARS, synthetic_mentee_truth, synthetic_mentor_truth
from mentor_match.errors import (
    DataValidationError,
    InvalidParameterError,
    SchemaError,
    UnknownEntityError,
)

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

MENTEE_TRUTH_COLUMNS = ("true_subspecialties", "latent")
MENTOR_TRUTH_COLUMNS = ("true_subspecialties", "latent")

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_PAIR_CHUNK = 500_000  # pairs per chunk: bounds the memory of the per-pair arrays


# --------------------------------------------------------------------------- truth tables


def truth_frame(rows: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Truth rows in the table's shape and order: id, ``subspecialties`` (list), ``latent``."""
    frame = pd.DataFrame({
        id_column: rows[id_column].astype("int64"),
        "subspecialties": rows["subspecialties"].astype(object),
        "latent": rows["latent"].astype("float64"),
    })
    return frame.sort_values(id_column).reset_index(drop=True)


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
        mentee_truth = read_truth(conn, synthetic_mentee_truth)
        mentor_truth = read_truth(conn, synthetic_mentor_truth)
    return (
        attach_truth(mentee_frame, mentee_truth, "mentee_id", "mentees"),
        attach_truth(mentor_frame, mentor_truth, "mentor_id", "mentors"),
    )


def read_truth(conn: Connection, table: Table) -> pd.DataFrame:
    """One truth table as a :func:`truth_frame`; SchemaError if the database has none."""
    if not inspect(conn).has_table(table.name):
        raise SchemaError(
            f"Table '{table.name}' does not exist; the ground truth exists only for generated "
            "data: run scripts/generate_synthetic_data.py --reset."
        )
    id_column = next(iter(table.primary_key.columns)).name
    result = conn.execute(select(table).order_by(table.c[id_column]))
    rows = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
    return truth_frame(rows, id_column) if len(rows) else pd.DataFrame(
        {id_column: pd.Series(dtype="int64"), "subspecialties": pd.Series(dtype=object),
         "latent": pd.Series(dtype="float64")}
    )


# --------------------------------------------------------------------------- the model


def true_match_probability(
    mentee_frame: pd.DataFrame, mentor_frame: pd.DataFrame, pairs: pd.DataFrame
) -> pd.DataFrame:
    """Ground-truth ``p_accept``, ``p_success`` (given acceptance) and ``p_match`` per pair.

    ``mentee_frame``/``mentor_frame`` carry the truth columns (see :func:`load_truth`);
    ``pairs`` has ``mentee_id`` and ``mentor_id``. The result has ``pairs``' index, row for
    row. Vectorised: ids become positions once, then all work is numpy over pair chunks.

    >>> from synthetic import generate_world
    >>> mentees, mentors = generate_world(5, 6, 2, seed=1).with_truth()
    >>> pairs = pd.DataFrame({"mentee_id": [1, 1, 2], "mentor_id": [1, 2, 3]})
    >>> scores = true_match_probability(mentees, mentors, pairs)
    >>> list(scores.columns), len(scores)
    (['p_accept', 'p_success', 'p_match'], 3)
    >>> bool(np.allclose(scores["p_match"], scores["p_accept"] * scores["p_success"]))
    True
    """
    for frame, name, needed in (
        (mentee_frame, "mentees", ("mentee_id", *MENTEE_TRUTH_COLUMNS)),
        (mentor_frame, "mentors", ("mentor_id", *MENTOR_TRUTH_COLUMNS)),
        (pairs, "pairs", ("mentee_id", "mentor_id")),
    ):
        missing = [column for column in needed if column not in frame.columns]
        if missing:
            raise InvalidParameterError(
                f"The '{name}' frame of true_match_probability lacks column(s) "
                f"{', '.join(missing)}; add the truth columns with synthetic.load_truth."
            )
    mentee_rows = _positions(mentee_frame["mentee_id"], pairs["mentee_id"], "mentee")
    mentor_rows = _positions(mentor_frame["mentor_id"], pairs["mentor_id"], "mentor")
    people = _people_arrays(mentee_frame, mentor_frame)
    p_accept = np.empty(len(pairs))
    p_success = np.empty(len(pairs))
    for start in range(0, len(pairs), _PAIR_CHUNK):
        part = slice(start, start + _PAIR_CHUNK)
        factors = _pair_factors(people, mentee_rows[part], mentor_rows[part])
        p_accept[part], p_success[part] = _probabilities(factors)
    return pd.DataFrame(
        {"p_accept": p_accept, "p_success": p_success, "p_match": p_accept * p_success},
        index=pairs.index,
    )


def experience_effect(gap_years: np.ndarray) -> np.ndarray:
    """Experience compatibility in [0, 1]: 1 when the mentor is ~6.5 years ahead of the
    mentee, lower for mentors junior to the mentee or far more senior.

    >>> experience_effect([0.0, 6.5, 13.0]).round(3)
    array([0.352, 1.   , 0.352])
    """
    gap = np.asarray(gap_years, dtype=float)
    return np.exp(-0.5 * ((gap - EXPERIENCE_PEAK_YEARS) / EXPERIENCE_WIDTH_YEARS) ** 2)


def _positions(ids: pd.Series, wanted: pd.Series, kind: str) -> np.ndarray:
    index = pd.Index(ids.to_numpy())
    if not index.is_unique:
        raise InvalidParameterError(f"The {kind} frame of true_match_probability has duplicate {kind}_id values.")
    positions = index.get_indexer(wanted.to_numpy())
    if (positions < 0).any():
        unknown = ", ".join(str(v) for v in pd.unique(wanted.to_numpy()[positions < 0])[:5])
        raise UnknownEntityError(
            f"pairs name {kind}_id {unknown} that are not in the {kind} frame; pass frames that "
            "hold every id in the pairs."
        )
    return positions


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


@dataclass(frozen=True)
class _PeopleArrays:
    """Per-person arrays, computed once per call and gathered per pair by row position.

    Set-valued fields are packed multi-hot bytes (see :func:`_packed`); categorical ones
    are codes shared by both sides, so equal codes mean equal values.
    """

    mentee_domains: np.ndarray
    mentor_domains: np.ndarray
    mentee_subspecialties: np.ndarray
    mentor_subspecialties: np.ndarray
    mentee_skills: np.ndarray
    mentor_skills: np.ndarray
    mentee_slots: np.ndarray
    mentor_slots: np.ndarray
    mentee_domain_count: np.ndarray
    mentee_skill_count: np.ndarray
    mentor_skill_count: np.ndarray
    mentee_style: np.ndarray
    mentor_style: np.ndarray
    mentee_industry: np.ndarray
    mentor_industry: np.ndarray
    mentee_offset_hours: np.ndarray
    mentor_offset_hours: np.ndarray
    mentee_years: np.ndarray
    mentor_years: np.ndarray
    mentor_rating: np.ndarray
    mentor_acceptance: np.ndarray
    mentor_load: np.ndarray
    mentee_latent: np.ndarray
    mentor_latent: np.ndarray


def _people_arrays(mentee_frame: pd.DataFrame, mentor_frame: pd.DataFrame) -> _PeopleArrays:
    mentee_domains, mentor_domains = _packed(mentee_frame["desired_domains"], mentor_frame["domains"])
    mentee_subspecialties, mentor_subspecialties = _packed(
        mentee_frame["true_subspecialties"], mentor_frame["true_subspecialties"]
    )
    mentee_skills, mentor_skills = _packed(mentee_frame["current_skills"], mentor_frame["skills"])
    mentee_slots, mentor_slots = _packed(mentee_frame["availability"], mentor_frame["availability"])
    mentee_style, mentor_style = _codes(mentee_frame["preferred_style"], mentor_frame["mentorship_style"])
    mentee_industry, mentor_industry = _codes(mentee_frame["industry"], mentor_frame["industry"])
    max_mentees = mentor_frame["max_mentees"].to_numpy(dtype=float)
    current_mentees = mentor_frame["current_mentees"].to_numpy(dtype=float)
    load = np.where(max_mentees > 0, current_mentees / np.maximum(max_mentees, 1), 1.5)
    return _PeopleArrays(
        mentee_domains=mentee_domains, mentor_domains=mentor_domains,
        mentee_subspecialties=mentee_subspecialties, mentor_subspecialties=mentor_subspecialties,
        mentee_skills=mentee_skills, mentor_skills=mentor_skills,
        mentee_slots=mentee_slots, mentor_slots=mentor_slots,
        mentee_domain_count=_POPCOUNT[mentee_domains].sum(axis=1),
        mentee_skill_count=_POPCOUNT[mentee_skills].sum(axis=1),
        mentor_skill_count=_POPCOUNT[mentor_skills].sum(axis=1),
        mentee_style=mentee_style, mentor_style=mentor_style,
        mentee_industry=mentee_industry, mentor_industry=mentor_industry,
        mentee_offset_hours=timezone_offset_hours(mentee_frame["timezone"]),
        mentor_offset_hours=timezone_offset_hours(mentor_frame["timezone"]),
        mentee_years=mentee_frame["current_level"].map(LEVEL_YEARS).to_numpy(dtype=float),
        mentor_years=mentor_frame["experience_years"].to_numpy(dtype=float),
        mentor_rating=mentor_frame["rating"].to_numpy(dtype=float),
        mentor_acceptance=mentor_frame["acceptance_rate"].to_numpy(dtype=float),
        mentor_load=np.clip(load, 0.0, 1.5),
        mentee_latent=mentee_frame["latent"].to_numpy(dtype=float),
        mentor_latent=mentor_frame["latent"].to_numpy(dtype=float),
    )


def _overlap(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Shared members per row of two packed multi-hot arrays."""
    return _POPCOUNT[left & right].sum(axis=1, dtype=np.int64)


def _pair_factors(
    people: _PeopleArrays, mentee_rows: np.ndarray, mentor_rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Each ground-truth factor per pair, on a 0-1 (or centred) scale."""
    shared_domains = _overlap(people.mentee_domains[mentee_rows], people.mentor_domains[mentor_rows])
    any_domain = (shared_domains > 0).astype(float)
    domain_count = np.maximum(people.mentee_domain_count[mentee_rows], 1)
    domain = 0.7 * any_domain + 0.3 * shared_domains / domain_count
    shared_skills = _overlap(people.mentee_skills[mentee_rows], people.mentor_skills[mentor_rows])
    union = (
        people.mentee_skill_count[mentee_rows].astype(float) + people.mentor_skill_count[mentor_rows]
        - shared_skills
    )
    shared_subspecialties = _overlap(
        people.mentee_subspecialties[mentee_rows], people.mentor_subspecialties[mentor_rows]
    )
    shared_slots = _overlap(people.mentee_slots[mentee_rows], people.mentor_slots[mentor_rows])
    gap_years = people.mentor_years[mentor_rows] - people.mentee_years[mentee_rows]
    distance = np.abs(people.mentee_offset_hours[mentee_rows] - people.mentor_offset_hours[mentor_rows])
    rating = people.mentor_rating[mentor_rows]
    return {
        "domain": domain,
        "subspecialty": (shared_subspecialties > 0).astype(float),
        "skills": shared_skills / np.maximum(union, 1.0),
        "availability": np.minimum(shared_slots, 3) / 3.0,
        "experience": experience_effect(gap_years),
        "timezone": np.minimum(distance, 24.0 - distance) / 12.0,
        "style": (people.mentee_style[mentee_rows] == people.mentor_style[mentor_rows]).astype(float),
        "industry": (people.mentee_industry[mentee_rows] == people.mentor_industry[mentor_rows]).astype(float),
        "rating": np.where(np.isnan(rating), 0.0, rating - 4.2),
        "acceptance": people.mentor_acceptance[mentor_rows],
        "load": people.mentor_load[mentor_rows],
        "latent": people.mentee_latent[mentee_rows] + people.mentor_latent[mentor_rows],
    }


def _probabilities(factors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(p_accept, p_success) of each pair from its factors."""
    weight = SUCCESS_WEIGHTS
    success_logit = (
        weight["intercept"] + weight["domain"] * factors["domain"]
        + weight["subspecialty"] * factors["subspecialty"]
        + weight["rating"] * factors["rating"] + weight["availability"] * factors["availability"]
        + weight["experience"] * factors["experience"] + weight["timezone"] * factors["timezone"]
        + weight["style"] * factors["style"] + weight["industry"] * factors["industry"]
        + weight["skills"] * factors["skills"]
        + weight["acceptance"] * (factors["acceptance"] - 0.7) + factors["latent"]
    )
    accept = ACCEPT_WEIGHTS
    rate = np.clip(factors["acceptance"], 0.02, 0.98)
    accept_logit = (
        accept["intercept"] + accept["domain"] * factors["domain"]
        + accept["subspecialty"] * factors["subspecialty"]
        + accept["experience"] * factors["experience"]
        + accept["acceptance"] * np.log(rate / (1 - rate))
        + accept["load"] * np.clip(factors["load"] - 0.6, 0.0, None)
    )
    return _sigmoid(accept_logit), _sigmoid(success_logit)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
