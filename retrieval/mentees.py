"""The mentees of a query, read when it is asked: from the database by key, or from frames.

A query for a known mentee needs its row, its goal vector and the mentors it already
contacted. :class:`DatabaseMentees` reads them per call (the mentee row by primary key, its
interactions by the indexed ``mentee_id``; batches in chunked ``IN`` queries), so a mentee
who signed up a second ago is served and a contact recorded a second ago is excluded. Goal
vectors come from :class:`~retrieval.vectors.TextVectors` (the embedding cache in memory,
the encoder for new goals). :class:`FrameMentees` serves frames held in memory (no
database; :meth:`retrieval.Recommender.from_components`). Both return :class:`Mentees`.

Rows read per query are not run through :func:`db.loading.validate_frame` (its cost is per
call, not per row): the schema's NOT NULL constraints hold them, and
:func:`ranking.features.prepare_mentees` refuses an unknown level.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from db.connection import connect
from db.schema import interactions
from db.schema import mentees as mentees_table
from mentor_match.errors import InvalidParameterError, UnknownEntityError
from ranking.features import PreparedProfiles, prepare_mentees
from retrieval.profile import Query
from retrieval.vectors import TextVectors

IN_CHUNK = 500
"""Ids per ``IN (...)`` query (well under SQLite's and PostgreSQL's parameter limits)."""
PREPARED_CAPACITY = 10_000
"""Single mentees whose prepared profile and goal vector are kept (a few KB each)."""

_NONE = np.empty(0, dtype=np.int64)
_NONE.setflags(write=False)


@dataclass(frozen=True)
class Mentees:
    """Known mentees looked up together, one row each (unique ids, in the order asked).

    ``rows``: their database rows (a frame, ``mentee_id`` column kept); ``prepared``: the
    same as prepared profiles; ``vectors``: the ``(len, dim)`` goal embeddings;
    ``contacted``: per mentee, the ids of the mentors it already contacted.
    """

    ids: np.ndarray
    rows: pd.DataFrame
    prepared: PreparedProfiles
    vectors: np.ndarray
    contacted: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, mentee_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Position of each of ``mentee_ids`` (all among :attr:`ids`) in these mentees."""
        return self.prepared.rows(mentee_ids)

    def query(self, position: int) -> Query:
        """The query of the mentee at ``position``: its row, prepared profile, goal vector."""
        profile = self.rows.iloc[position].to_dict()
        return Query(int(self.ids[position]), profile, self.prepared.take([position]), self.vectors[position])


class MenteePage(NamedTuple):
    """Some mentees in id order (``frame``) and how many there are in all (``total``)."""

    frame: pd.DataFrame
    total: int


class MenteeSource(Protocol):
    """Where the mentees of queries come from (see the module docstring)."""

    def lookup(self, mentee_ids: Sequence[int] | np.ndarray) -> Mentees:
        """The mentees of ``mentee_ids`` (repeats allowed, kept once); unknown ids raise
        :class:`UnknownEntityError`."""
        ...

    def page(self, offset: int, limit: int) -> MenteePage:
        """Mentees ``offset`` to ``offset + limit`` in id order, and the total."""
        ...


class DatabaseMentees:
    """Mentees read from the database per call; goal vectors from ``vectors``.

    The row of a single mentee is read every time; what is made from it (the prepared
    profile, the goal vector) is kept for the last ``capacity`` mentees and reused while the
    row read equals the one it was made from (a cache that any change to the row
    invalidates, whether or not the writer bumped ``updated_at``).
    """

    def __init__(self, engine: Engine, vectors: TextVectors, *, capacity: int = PREPARED_CAPACITY) -> None:
        self.engine = engine
        self.vectors = vectors
        self._capacity = capacity
        self._made: OrderedDict[int, tuple[tuple, Mentees]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, mentee_ids: Sequence[int] | np.ndarray) -> Mentees:
        ids = _unique_ids(mentee_ids)
        if len(ids) == 1:
            return self._one(int(ids[0]))
        return self._many(ids)

    def _one(self, mentee_id: int) -> Mentees:
        """One mentee: its row and contacts read now, the rest reused if the row is unchanged."""
        with connect(self.engine) as conn:
            rows = conn.execute(select(mentees_table).where(mentees_table.c.mentee_id == mentee_id)).all()
            contacted = conn.execute(
                select(interactions.c.mentor_id).where(interactions.c.mentee_id == mentee_id)
            ).scalars().all()
        if not rows:
            raise _unknown(np.array([mentee_id]), 1)
        raw = tuple(rows[0])
        with self._lock:
            made = self._made.get(mentee_id)
            if made is not None:
                self._made.move_to_end(mentee_id)
        if made is None or made[0] != raw:
            frame = pd.DataFrame.from_records([raw], columns=[c.name for c in mentees_table.columns])
            vectors = self.vectors.get(frame["goals"].tolist())
            made = (raw, Mentees(np.array([mentee_id], np.int64), frame, prepare_mentees(frame), vectors, []))
            with self._lock:
                self._made[mentee_id] = made
                while len(self._made) > self._capacity:
                    self._made.popitem(last=False)
        found = made[1]
        return Mentees(found.ids, found.rows, found.prepared, found.vectors, [np.unique(np.asarray(contacted, np.int64))])

    def _many(self, ids: np.ndarray) -> Mentees:
        chunks = [ids[start : start + IN_CHUNK].tolist() for start in range(0, len(ids), IN_CHUNK)]
        rows, contacts, columns = [], [], [c.name for c in mentees_table.columns]
        with connect(self.engine) as conn:
            for chunk in chunks:
                rows += conn.execute(select(mentees_table).where(mentees_table.c.mentee_id.in_(chunk))).all()
                contacts += conn.execute(
                    select(interactions.c.mentee_id, interactions.c.mentor_id).where(
                        interactions.c.mentee_id.in_(chunk)
                    )
                ).all()
        frame = pd.DataFrame.from_records(rows, columns=columns)
        frame = _in_order(frame, ids)
        contacted = _contacted(ids, np.asarray(contacts, dtype=np.int64).reshape(-1, 2))
        vectors = self.vectors.get(frame["goals"].tolist())
        return Mentees(ids, frame, prepare_mentees(frame), vectors, contacted)

    def page(self, offset: int, limit: int) -> MenteePage:
        with connect(self.engine) as conn:
            total = int(conn.execute(select(func.count()).select_from(mentees_table)).scalar_one())
            query = select(mentees_table).order_by(mentees_table.c.mentee_id).offset(offset).limit(limit)
            result = conn.execute(query)
            frame = pd.DataFrame.from_records(result.all(), columns=list(result.keys()))
        return MenteePage(frame, total)


class FrameMentees:
    """Mentees of frames in memory: ``mentees`` rows, ``interactions`` (mentee_id,
    mentor_id; None: none) and ``vectors`` aligned with ``mentees``. Static: what the
    frames held when it was made.

    >>> mentees = pd.DataFrame({"mentee_id": [4, 2], "goals": ["learn ml", "learn go"]})
    >>> contacts = pd.DataFrame({"mentee_id": [2], "mentor_id": [7]})
    >>> source = FrameMentees(mentees, contacts, np.eye(2, dtype=np.float32))
    >>> found = source.lookup([2, 4, 2])
    >>> found.ids.tolist(), found.vectors.tolist(), [c.tolist() for c in found.contacted]
    ([2, 4], [[0.0, 1.0], [1.0, 0.0]], [[7], []])
    """

    def __init__(self, mentees: pd.DataFrame, interactions: pd.DataFrame | None, vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(mentees):
            raise InvalidParameterError(
                f"mentee_vectors has {len(vectors)} rows for {len(mentees)} mentees; "
                "pass one goal embedding per mentee row."
            )
        self.frame = mentees.reset_index(drop=True)
        self.vectors = vectors
        self.prepared = prepare_mentees(self.frame)
        self._rows = pd.Index(self.frame["mentee_id"].to_numpy(np.int64))
        if interactions is None:
            interactions = pd.DataFrame({"mentee_id": [], "mentor_id": []}, dtype=np.int64)
        self._contacted: Mapping[int, np.ndarray] = {
            int(mentee): group.to_numpy(np.int64) for mentee, group in interactions.groupby("mentee_id")["mentor_id"]
        }

    def lookup(self, mentee_ids: Sequence[int] | np.ndarray) -> Mentees:
        ids = _unique_ids(mentee_ids)
        rows = self._rows.get_indexer(ids)
        if (rows < 0).any():
            raise _unknown(ids[rows < 0], len(ids))
        contacted = [self._contacted.get(int(mentee), _NONE) for mentee in ids]
        return Mentees(ids, self.frame.iloc[rows].reset_index(drop=True), self.prepared.take(rows),
                       self.vectors[rows], contacted)

    def page(self, offset: int, limit: int) -> MenteePage:
        ordered = self.frame.sort_values("mentee_id", kind="stable")
        return MenteePage(ordered.iloc[offset : offset + limit].reset_index(drop=True), len(ordered))


def _unique_ids(mentee_ids: Any) -> np.ndarray:
    """``mentee_ids`` as unique int64 in first-seen order; a non-integer id is unknown."""
    values = [mentee_ids] if np.isscalar(mentee_ids) or mentee_ids is None else list(mentee_ids)
    bad = [v for v in values if not _is_int(v)]
    if bad:
        raise UnknownEntityError(
            f"Unknown mentee id {bad[0]!r}: not in the mentees table. Pass the id of an existing "
            "mentee, or use recommend(profile=...) for a new one."
        )
    ids = np.asarray([int(v) for v in values], dtype=np.int64)
    _, first = np.unique(ids, return_index=True)
    return ids[np.sort(first)]


def _is_int(value: Any) -> bool:
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False


def _in_order(frame: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """The rows of ``frame`` in the order of ``ids``; :class:`UnknownEntityError` if some lack one."""
    rows = pd.Index(frame["mentee_id"].to_numpy(np.int64)).get_indexer(ids)
    if (rows < 0).any():
        raise _unknown(ids[rows < 0], len(ids))
    return frame.iloc[rows].reset_index(drop=True)


def _unknown(unknown: np.ndarray, asked: int) -> UnknownEntityError:
    if asked == 1:
        return UnknownEntityError(
            f"Unknown mentee id {int(unknown[0])}: not in the mentees table. Pass the id of an "
            "existing mentee, or use recommend(profile=...) for a new one."
        )
    return UnknownEntityError(
        f"Unknown mentee id(s) {unknown[:5].tolist()}: not in the mentees table. "
        "Pass ids of existing mentees, or use recommend(profile=...) for new ones."
    )


def _contacted(ids: np.ndarray, pairs: np.ndarray) -> list[np.ndarray]:
    """Per mentee of ``ids``, the mentor ids of its (mentee_id, mentor_id) ``pairs``."""
    if len(ids) == 1:
        return [np.unique(pairs[:, 1])]
    order = np.argsort(pairs[:, 0], kind="stable")
    owners, mentors = pairs[order, 0], pairs[order, 1]
    start = np.searchsorted(owners, ids, side="left")
    stop = np.searchsorted(owners, ids, side="right")
    return [np.unique(mentors[a:b]) for a, b in zip(start, stop, strict=True)]
