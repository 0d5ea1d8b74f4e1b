"""Profiles parsed once: mentors and mentees as arrays that pair features gather from.

:func:`prepare_mentors` / :func:`prepare_mentees` turn a frame of profiles into
:class:`PreparedProfiles`: multi-hot matrices of the list columns (domains, skills,
availability, over the frame's own vocabulary), numeric arrays, normalised texts and an
id -> row map. :func:`ranking.features.pair_features` then only gathers rows.

Lists compare case-insensitively after stripping; duplicates count once. Missing values
are imputed with fixed constants (never statistics of the current frame, so training and
serving agree): lists -> empty, texts -> unknown, numbers -> 0, a mentor's rating ->
:data:`RATING_PRIOR` (flagged as missing), a mentee's level -> :data:`DEFAULT_LEVEL`,
timezone -> unknown (NaN offset). Rows are never dropped.

>>> mentors = pd.DataFrame({"mentor_id": [10, 11], "skills": [["Python", "sql"], []],
...                         "rating": [4.5, None]})
>>> prepared = prepare_mentors(mentors)
>>> prepared.kind, len(prepared), prepared.rows([11, 10]).tolist()
('mentor', 2, [1, 0])
>>> prepared.lists["skills"].vocab.tolist(), prepared.numbers["rating"].tolist()
(['python', 'sql'], [4.5, 3.0])
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from db.loading import timezone_offset_hours
from db.schema import LEVEL_YEARS, LEVELS
from mentor_match.errors import DataValidationError, InvalidParameterError, UnknownEntityError

RATING_PRIOR = 3.0
"""Imputed rating of a mentor without one: the middle of the 1-5 scale (flag says it is imputed)."""
DEFAULT_LEVEL = "junior"
MENTEE_PROFILE_FIELDS = 7
"""Fields of a mentee's profile counted by ``mentee_profile_completeness``: goals, desired
domains, current skills, availability, preferred style, industry, timezone."""
_LEVEL_POSITION = {level: i for i, level in enumerate(LEVELS)}

# column in the frame -> (name inside PreparedProfiles, default for a missing column)
_MENTOR_LISTS = {"domains": "domains", "skills": "skills", "availability": "availability"}
_MENTEE_LISTS = {"desired_domains": "domains", "current_skills": "skills", "availability": "availability"}
_MENTOR_NUMBERS = ("experience_years", "acceptance_rate", "total_mentees", "current_mentees", "max_mentees")
_MENTOR_LABELS = {"mentorship_style": "style", "industry": "industry"}
_MENTEE_LABELS = {"preferred_style": "style", "industry": "industry"}


@dataclass(frozen=True)
class MultiHot:
    """A list column as a boolean matrix over the frame's own sorted vocabulary."""

    vocab: np.ndarray  # sorted unique tokens (str)
    matrix: np.ndarray  # (n entities, len(vocab)) bool
    counts: np.ndarray  # distinct tokens per entity (float64)

    def take(self, rows: np.ndarray) -> MultiHot:
        return MultiHot(self.vocab, self.matrix[rows], self.counts[rows])


@dataclass(frozen=True)
class PreparedProfiles:
    """Mentors or mentees parsed once for fast pair features (see :func:`prepare_mentors`)."""

    kind: str  # "mentor" or "mentee"
    ids: np.ndarray  # int64, row -> id
    lists: dict[str, MultiHot]  # "domains", "skills", "availability"
    numbers: dict[str, np.ndarray] = field(default_factory=dict)  # float64 arrays
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # normalised strings

    def __post_init__(self) -> None:
        # The id -> row hash table, built once per catalogue rather than once per query.
        object.__setattr__(self, "_id_index", pd.Index(self.ids))

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row of each id; :class:`UnknownEntityError` naming ids that are not here."""
        rows = self._id_index.get_indexer(np.asarray(ids, dtype=np.int64))
        if (rows < 0).any():
            unknown = np.unique(np.asarray(ids)[rows < 0])[:5].tolist()
            raise UnknownEntityError(
                f"Unknown {self.kind} id(s) {unknown} in the pairs: not among the "
                f"{len(self)} {self.kind}s given. Pass the {self.kind}s the pairs refer to."
            )
        return rows

    def take(self, rows: Sequence[int] | np.ndarray) -> PreparedProfiles:
        """The profiles at positions ``rows`` (e.g. one mentee of a prepared catalogue)."""
        rows = np.asarray(rows, dtype=np.int64)
        return PreparedProfiles(
            self.kind,
            self.ids[rows],
            {k: v.take(rows) for k, v in self.lists.items()},
            {k: v[rows] for k, v in self.numbers.items()},
            {k: v[rows] for k, v in self.labels.items()},
        )

    def with_rows(
        self, size: int, rows: np.ndarray, new: PreparedProfiles, ids: np.ndarray
    ) -> PreparedProfiles:
        """These profiles grown to ``size`` rows, with ``rows`` replaced by ``new``'s (in
        order) and the ids ``ids``; list vocabularies are merged (a copy of each array, never a
        re-preparation). The live catalogue applies a refresh with it.

        >>> a = prepare_mentors(pd.DataFrame({"mentor_id": [1], "domains": [["data"]]}))
        >>> b = prepare_mentors(pd.DataFrame({"mentor_id": [2], "domains": [["design"]]}))
        >>> grown = a.with_rows(2, np.array([1]), b, np.array([1, 2]))
        >>> grown.ids.tolist(), grown.lists["domains"].vocab.tolist()
        ([1, 2], ['data', 'design'])
        """
        lists = {}
        for name, hot in self.lists.items():
            other = new.lists[name]
            vocab = np.union1d(hot.vocab, other.vocab).astype(str)
            if len(vocab) == len(hot.vocab):
                matrix = _extended(hot.matrix, size, False)
            else:
                matrix = np.zeros((size, len(vocab)), dtype=bool)
                matrix[: len(hot.matrix), np.searchsorted(vocab, hot.vocab)] = hot.matrix
            matrix[rows] = False
            if len(other.vocab):
                matrix[np.ix_(rows, np.searchsorted(vocab, other.vocab))] = other.matrix
            counts = _extended(hot.counts, size, 0.0)
            counts[rows] = other.counts
            lists[name] = MultiHot(vocab, matrix, counts)
        numbers = {}
        for name, values in self.numbers.items():
            numbers[name] = _extended(values, size, 0.0)
            numbers[name][rows] = new.numbers[name]
        labels = {}
        for name, values in self.labels.items():
            labels[name] = _extended(values, size, "")
            labels[name][rows] = new.labels[name]
        return PreparedProfiles(self.kind, ids, lists, numbers, labels)


def _extended(values: np.ndarray, size: int, fill: object) -> np.ndarray:
    """A copy of ``values`` with rows up to ``size`` filled with ``fill``."""
    out = np.full((size, *values.shape[1:]), fill, dtype=values.dtype)
    out[: len(values)] = values
    return out


def prepare_mentors(mentors: pd.DataFrame) -> PreparedProfiles:
    """Parse a mentors frame once: list columns to multi-hot, numbers and texts to arrays.

    Only ``mentor_id`` is required; other missing columns or cells take the defaults in
    the module docstring.

    >>> prepare_mentors(pd.DataFrame({"mentor_id": [7]})).numbers["rating_missing"].tolist()
    [1.0]
    """
    frame = _checked_frame(mentors, "mentor")
    n = len(frame)
    numbers = {c: _numbers(frame, c, n) for c in _MENTOR_NUMBERS}
    rating = _numbers(frame, "rating", n, fill=np.nan)
    numbers["rating_missing"] = np.isnan(rating).astype(np.float64)
    numbers["rating"] = np.where(np.isnan(rating), RATING_PRIOR, rating)
    numbers["tz"] = _offsets(frame, n)
    return PreparedProfiles(
        "mentor",
        frame["mentor_id"].to_numpy(np.int64),
        {name: _multi_hot(frame, column, n) for column, name in _MENTOR_LISTS.items()},
        numbers,
        {name: _labels(frame, column, n) for column, name in _MENTOR_LABELS.items()},
    )


def prepare_mentees(mentees: pd.DataFrame) -> PreparedProfiles:
    """Parse a mentees frame once; also takes a one-row ad-hoc profile.

    Missing ``mentee_id`` -> -1 (ad-hoc), ``current_level`` -> ``"junior"``, lists -> empty,
    ``preferred_style``/``industry``/``timezone`` -> unknown. An unknown level is refused.

    >>> prepared = prepare_mentees(pd.DataFrame({"goals": ["learn ML"], "current_level": ["mid"]}))
    >>> prepared.ids.tolist(), prepared.numbers["level"].tolist()
    ([-1], [2.0])
    """
    frame = mentees.copy() if isinstance(mentees, pd.DataFrame) else mentees
    if isinstance(frame, pd.DataFrame) and "mentee_id" not in frame.columns:
        frame["mentee_id"] = -1
    frame = _checked_frame(frame, "mentee")
    n = len(frame)
    levels = [DEFAULT_LEVEL if v is None else v for v in _cells(frame, "current_level", n)]
    positions = [_LEVEL_POSITION.get(v) if isinstance(v, str) else None for v in levels]
    if None in positions:
        bad = sorted({str(v) for v, at in zip(levels, positions, strict=True) if at is None})[:5]
        raise DataValidationError(
            f"Unknown mentee current_level value(s) {bad}; use one of {list(LEVELS)}."
        )
    years = [LEVEL_YEARS[v] for v in levels]
    lists = {name: _multi_hot(frame, column, n) for column, name in _MENTEE_LISTS.items()}
    labels = {name: _labels(frame, column, n) for column, name in _MENTEE_LABELS.items()}
    offsets = _offsets(frame, n)
    words = np.array([len(str(v).split()) if v is not None else 0 for v in _cells(frame, "goals", n)], np.float64)
    # What a mentor sees of a mentee's effort: the share of the seven profile fields filled in.
    filled = (
        (words > 0).astype(np.float64) + sum((m.counts > 0).astype(np.float64) for m in lists.values())
        + sum((v != "").astype(np.float64) for v in labels.values()) + (~np.isnan(offsets)).astype(np.float64)
    )
    return PreparedProfiles(
        "mentee",
        frame["mentee_id"].to_numpy(np.int64),
        lists,
        {
            "level": np.asarray(positions, dtype=np.float64),
            "level_years": np.asarray(years, dtype=np.float64),
            "tz": offsets,
            "goals_words": words,
            "availability_hours": _numbers(frame, "availability_hours", n),
            "completeness": filled / MENTEE_PROFILE_FIELDS,
        },
        labels,
    )



# ------------------------------------------------------------------------ helpers
def _checked_frame(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    id_column = f"{kind}_id"
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"prepare_{kind}s needs a pandas DataFrame of {kind}s; got {type(frame).__name__}."
        )
    if id_column not in frame.columns:
        raise DataValidationError(f"The {kind}s frame has no {id_column} column; load it with db.")
    ids = pd.to_numeric(frame[id_column], errors="coerce")
    if ids.isna().any():
        raise DataValidationError(f"{id_column} must be integers; found missing or non-numeric ids.")
    duplicated = ids[ids.duplicated()].unique()[:5].tolist()
    if duplicated:
        raise DataValidationError(
            f"Duplicate {id_column} value(s) {duplicated}: each {kind} must appear once."
        )
    return frame.reset_index(drop=True)


def _numbers(frame: pd.DataFrame, column: str, n: int, fill: float = 0.0) -> np.ndarray:
    if column not in frame.columns:
        return np.full(n, fill)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return np.where(np.isnan(values), fill, values)


# The helpers below walk cells in plain Python rather than through pandas' str accessor:
# pandas' per-call overhead dominates the one-row frame of an ad-hoc query.
def is_missing(value: Any) -> bool:
    """Whether a profile cell means "missing": None, NaN (of any float type), ``pd.NA`` or ``NaT``.

    >>> is_missing(None), is_missing(float("nan")), is_missing(np.float32("nan")), is_missing("")
    (True, True, True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral) and math.isnan(value)


def _cells(frame: pd.DataFrame, column: str, n: int) -> list:
    """The column's values as a list, missing cells (None, NaN, NA) as None."""
    if column not in frame.columns:
        return [None] * n
    return [None if is_missing(v) else v for v in frame[column].tolist()]


def _labels(frame: pd.DataFrame, column: str, n: int) -> np.ndarray:
    cells = _cells(frame, column, n)
    return np.array(["" if v is None else str(v).strip().casefold() for v in cells], dtype=object)


def _multi_hot(frame: pd.DataFrame, column: str, n: int) -> MultiHot:
    """Boolean matrix of the tokens in a list column, over the frame's own vocabulary."""
    cells = _cells(frame, column, n)
    for row, value in enumerate(cells):
        if value is not None and not isinstance(value, (list, tuple, set, np.ndarray)):
            raise DataValidationError(
                f"Column {column!r} must hold lists of strings; row {row} holds "
                f"{type(value).__name__} {value!r}. Load the data with db (JSON arrays -> lists)."
            )
    tokens = [
        [t for t in (str(x).strip().casefold() for x in value if not is_missing(x)) if t]
        if value is not None else []
        for value in cells
    ]
    vocab = sorted({t for row in tokens for t in row})
    position = {t: j for j, t in enumerate(vocab)}
    matrix = np.zeros((n, len(vocab)), dtype=bool)
    rows = [i for i, row in enumerate(tokens) for _ in row]
    matrix[rows, [position[t] for row in tokens for t in row]] = True
    return MultiHot(np.asarray(vocab, dtype=str), matrix, matrix.sum(axis=1).astype(np.float64))


def _offsets(frame: pd.DataFrame, n: int) -> np.ndarray:
    """UTC offsets in hours ("UTC+5:30" -> 5.5); NaN for a missing timezone."""
    text = np.array(
        ["" if v is None else str(v).strip().upper() for v in _cells(frame, "timezone", n)],
        dtype=object,
    )
    out = np.full(n, np.nan)
    known = text != ""
    if known.any():
        values, inverse = np.unique(text[known].astype(str), return_inverse=True)
        out[known] = _parsed_offsets(tuple(values))[inverse]
    return out


@functools.lru_cache(maxsize=256)
def _parsed_offsets(values: tuple[str, ...]) -> np.ndarray:
    """Offsets of distinct timezone strings, remembered: a catalogue has a few dozen."""
    return timezone_offset_hours(pd.Series(values, dtype="str"))


