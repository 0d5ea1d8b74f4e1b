"""The mentee a query is for: an ad-hoc profile checked at the boundary, and :class:`Query`.

A profile field that is absent, ``None`` or NaN (what pandas users pass for "missing") stays
missing: :func:`ranking.features.prepare_mentees` imputes it with the one set of defaults
that training uses too (lists -> empty, texts and timezone -> unknown, level -> junior).
Nothing is filled in here, so an ad-hoc mentee is never served with defaults the ranker
never saw (a missing timezone is unknown, not UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from db.schema import LEVELS
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_int, check_number
from ranking.features import PreparedProfiles, prepare_mentees
from ranking.profiles import is_missing

PROFILE_FIELDS = (
    "goals",
    "desired_domains",
    "current_skills",
    "current_level",
    "timezone",
    "availability",
    "availability_hours",
    "preferred_style",
    "industry",
)
"""The mentee fields an ad-hoc profile may give (besides ``mentee_id`` and ``name``)."""

AD_HOC_ID = -1
"""``mentee_id`` of a profile that gives none."""
AD_HOC_NAME = "ad-hoc mentee"

_LISTS = ("desired_domains", "current_skills", "availability")
_TEXTS = ("timezone", "preferred_style", "industry")
_WHERE = "recommend (profile)"


def validate_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of an ad-hoc ``profile``, checked; a missing one as ``None``.

    Needs ``goals`` (non-empty text). Lists are lists of strings, ``current_level`` one of
    :data:`db.schema.LEVELS`, texts strings, ``availability_hours`` a number >= 0. Unknown
    fields are refused (a typo would otherwise be dropped without a word).

    >>> fields = validate_profile({"goals": "learn Rust", "timezone": float("nan"), "industry": None})
    >>> fields["timezone"], fields["industry"], fields["current_level"], fields["mentee_id"]
    (None, None, None, -1)
    >>> validate_profile({"goals": "learn Rust", "desired_domains": ["systems"]})["desired_domains"]
    ['systems']
    """
    if not isinstance(profile, Mapping):
        raise InvalidParameterError(
            f"profile must be a mapping of mentee fields, got {type(profile).__name__}."
        )
    unknown = set(profile) - set(PROFILE_FIELDS) - {"mentee_id", "name"}
    if unknown:
        raise InvalidParameterError(
            f"profile has unknown field(s) {sorted(unknown)}; allowed: {list(PROFILE_FIELDS)}."
        )
    given = {name: value for name, value in profile.items() if not is_missing(value)}
    goals = given.get("goals")
    if not isinstance(goals, str) or not goals.strip():
        raise InvalidParameterError(
            "profile needs 'goals': a non-empty text saying what the mentee wants to learn."
        )
    fields: dict[str, Any] = {name: None for name in PROFILE_FIELDS}
    fields["goals"] = goals
    fields["mentee_id"] = check_int("mentee_id", given.get("mentee_id", AD_HOC_ID), _WHERE, low=None)
    fields["name"] = _text("name", given.get("name", AD_HOC_NAME))
    if "current_level" in given:
        fields["current_level"] = check_choice("current_level", given["current_level"], _WHERE, LEVELS)
    for name in _LISTS:
        if name in given:
            fields[name] = _strings(name, given[name])
    for name in _TEXTS:
        if name in given:
            fields[name] = _text(name, given[name])
    if "availability_hours" in given:
        fields["availability_hours"] = check_number(
            "availability_hours", given["availability_hours"], _WHERE, low=0.0
        )
    return fields


@dataclass(frozen=True)
class Query:
    """The mentee of one query, as the reranker reads it.

    ``profile``: the fields the reasons read (a mentees row, or :func:`validate_profile`'s
    dict); ``prepared``: the same mentee as one row of prepared profiles for
    :func:`ranking.features.pair_features`; ``vector``: the ``(dim,)`` goal embedding.
    """

    mentee_id: int
    profile: Mapping[str, Any]
    prepared: PreparedProfiles
    vector: np.ndarray

    @classmethod
    def from_profile(cls, fields: Mapping[str, Any], vector: np.ndarray) -> Query:
        """The query of a validated ad-hoc profile (see :func:`validate_profile`) and its
        goal embedding.

        >>> fields = validate_profile({"goals": "learn Rust"})
        >>> query = Query.from_profile(fields, np.ones(4, dtype=np.float32) / 2)
        >>> query.mentee_id, query.prepared.ids.tolist(), query.vector.shape
        (-1, [-1], (4,))
        """
        prepared = prepare_mentees(pd.DataFrame([dict(fields)]))
        vector = np.asarray(vector, dtype=np.float32)
        return cls(int(fields["mentee_id"]), dict(fields), prepared, vector)


def _strings(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        raise InvalidParameterError(
            f"profile {name!r} must be a list of strings; got {type(value).__name__} {value!r}. "
            f"Wrap a single value: [{value!r}]."
        )
    items = [item for item in value if not is_missing(item)]
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise InvalidParameterError(
            f"profile {name!r} must be a list of strings; it holds {bad[:3]!r}."
        )
    return items


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameterError(
            f"profile {name!r} must be a text; got {type(value).__name__} {value!r}."
        )
    return value
