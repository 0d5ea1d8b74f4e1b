"""The catalogue: the mentors and mentees the engine serves, kept in one place.

Who may be recommended (in the database, active, ``current_mentees < max_mentees``), which
pairs were already contacted, the mentees' goal vectors and the profiles prepared for pair
features are all derived here from the database rows, once per load. Every other stage
reads them from a :class:`Catalogue`, so making the catalogue live (refreshing it from
changed rows) touches this module only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from db import get_engine, load_interactions, load_mentees, load_mentors
from mentor_match.errors import InvalidParameterError, UnknownEntityError
from ranking.features import PreparedProfiles, prepare_mentees, prepare_mentors
from retrieval.profile import Query

_NONE = np.empty(0, dtype=np.int64)
_NONE.setflags(write=False)


@dataclass(frozen=True)
class Catalogue:
    """Mentors and mentees as served; immutable (a reload builds a new one).

    ``mentor_ids``: the served mentors (the index's rows, in its order); ``eligible``: bool
    per ``mentor_ids``, whether the mentor may be recommended to anyone;
    ``prepared_mentors``: their profiles, aligned with ``mentor_ids``. ``mentors`` and
    ``mentees``: the database rows, indexed by id (the id column kept). ``mentee_vectors``:
    float32 goal embeddings aligned with ``mentees``; ``prepared_mentees`` likewise.
    ``contacted``: mentee id -> ids of the mentors it already contacted.
    """

    mentor_ids: np.ndarray
    eligible: np.ndarray
    prepared_mentors: PreparedProfiles
    mentors: pd.DataFrame
    mentees: pd.DataFrame
    mentee_vectors: np.ndarray
    prepared_mentees: PreparedProfiles
    contacted: Mapping[int, np.ndarray]

    @classmethod
    def from_frames(
        cls,
        mentors: pd.DataFrame,
        mentees: pd.DataFrame,
        interactions: pd.DataFrame | None,
        mentee_vectors: np.ndarray,
        *,
        mentor_ids: Sequence[int] | np.ndarray,
    ) -> Catalogue:
        """The catalogue of database-shaped frames, serving ``mentor_ids`` (the index's ids).

        A served id without a row in ``mentors`` is never eligible. ``mentee_vectors`` has
        one row per ``mentees`` row; ``interactions`` (mentee_id, mentor_id) may be None.

        >>> mentors = pd.DataFrame({"mentor_id": [7, 9, 4], "active": [True, True, False],
        ...                         "current_mentees": [0, 2, 0], "max_mentees": [2, 2, 2]})
        >>> mentees = pd.DataFrame({"mentee_id": [1], "goals": ["learn ml"]})
        >>> contacts = pd.DataFrame({"mentee_id": [1], "mentor_id": [7]})
        >>> catalogue = Catalogue.from_frames(mentors, mentees, contacts, np.ones((1, 4)), mentor_ids=[9, 7, 4, 5])
        >>> catalogue.eligible.tolist(), catalogue.contacted_by(1).tolist(), catalogue.mentee(1)["goals"]
        ([False, True, False, False], [7], 'learn ml')
        """
        mentee_vectors = np.asarray(mentee_vectors, dtype=np.float32)
        if len(mentee_vectors) != len(mentees):
            raise InvalidParameterError(
                f"mentee_vectors has {len(mentee_vectors)} rows for {len(mentees)} mentees; "
                "pass one goal embedding per mentee row."
            )
        mentor_ids = np.asarray(mentor_ids, dtype=np.int64)
        mentors = mentors.set_index("mentor_id", drop=False)
        mentees = mentees.reset_index(drop=True)
        served = mentors.reindex(mentor_ids)  # in index row order, so index vectors line up
        in_db = served["mentor_id"].notna().to_numpy()
        served = served.assign(mentor_id=mentor_ids)
        eligible = (
            in_db
            & served["active"].fillna(False).astype(bool).to_numpy()
            & (served["current_mentees"] < served["max_mentees"]).fillna(False).to_numpy(bool)
        )
        if interactions is None:
            interactions = pd.DataFrame({"mentee_id": [], "mentor_id": []}, dtype=np.int64)
        contacted = {
            int(mentee): group.to_numpy(np.int64)
            for mentee, group in interactions.groupby("mentee_id")["mentor_id"]
        }
        return cls(
            mentor_ids=mentor_ids,
            eligible=eligible,
            prepared_mentors=prepare_mentors(served.reset_index(drop=True)),
            mentors=mentors,
            mentees=mentees.set_index("mentee_id", drop=False),
            mentee_vectors=mentee_vectors,
            prepared_mentees=prepare_mentees(mentees),
            contacted=contacted,
        )

    @classmethod
    def load(
        cls,
        db_url: str | None,
        *,
        mentor_ids: Sequence[int] | np.ndarray,
        embed: Callable[[list[str]], np.ndarray],
        check_mentors: Callable[[pd.DataFrame], None] | None = None,
    ) -> Catalogue:
        """The catalogue of the database at ``db_url`` (None: the configured default).

        ``embed`` turns the mentees' goals into their vectors (e.g. from the embedding cache);
        ``check_mentors`` sees the mentors first and may refuse them (a stale index) before
        any goal is embedded.
        """
        engine = get_engine(db_url)
        try:
            mentors = load_mentors(engine)
            mentees = load_mentees(engine)
            interactions = load_interactions(engine)
        finally:
            engine.dispose()
        if check_mentors is not None:
            check_mentors(mentors)
        vectors = embed(mentees["goals"].tolist())
        return cls.from_frames(mentors, mentees, interactions, vectors, mentor_ids=mentor_ids)

    @property
    def mentor_domains(self) -> pd.Series:
        """Each mentor's domains, by mentor id (a mapping: ``.get(mentor_id, ())``)."""
        return self.mentors["domains"]

    def contacted_by(self, mentee_id: int) -> np.ndarray:
        """Ids of the mentors ``mentee_id`` already contacted (maybe none)."""
        return self.contacted.get(int(mentee_id), _NONE)

    def mentee_rows(self, mentee_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row of each mentee id in ``mentees`` (and ``mentee_vectors``); unknown ids raise."""
        mentee_ids = np.asarray(mentee_ids, dtype=np.int64)
        rows = self.mentees.index.get_indexer(mentee_ids)
        if (rows < 0).any():
            unknown = mentee_ids[rows < 0][:5].tolist()
            raise UnknownEntityError(
                f"Unknown mentee id(s) {unknown}: not in the mentees table. "
                "Pass ids of existing mentees, or use recommend(profile=...) for new ones."
            )
        return rows

    def mentee(self, mentee_id: int) -> pd.Series:
        """The mentee's row; :class:`UnknownEntityError` if there is none."""
        return self.mentees.iloc[self._mentee_row(mentee_id)]

    def query(self, mentee_id: int) -> Query:
        """The query for a known mentee: its row, prepared profile and goal vector."""
        row = self._mentee_row(mentee_id)
        profile = self.mentees.iloc[row]
        return Query(
            int(profile["mentee_id"]), profile, self.prepared_mentees.take([row]), self.mentee_vectors[row]
        )

    def _mentee_row(self, mentee_id: int) -> int:
        try:
            return int(self.mentees.index.get_loc(int(mentee_id)))
        except (KeyError, TypeError, ValueError):
            raise UnknownEntityError(
                f"Unknown mentee id {mentee_id!r}: not in the mentees table. Pass the id of "
                "an existing mentee, or use recommend(profile=...) for a new one."
            ) from None
