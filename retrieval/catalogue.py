"""The catalogue: the mentors the engine serves (one immutable snapshot) and where mentees come from.

Mentors are laid out by *served row*, the numbering of :class:`index.live.LiveIndex`: the
published index's rows first, then the side index's rows (mentors added or re-embedded since
the build). Per served row the catalogue holds the mentor id, whether the mentor may be
recommended (in the database, active, ``current_mentees < max_mentees``), the profile
prepared for pair features and the fields the reasons read. A row whose mentor moved to the
side index (its bio changed) keeps its place under :func:`retired_id` and is never eligible:
FAISS rows cannot be removed.

A refresh (:mod:`retrieval.live`) makes a new catalogue with the changed rows replaced;
queries read whichever snapshot was current when they started. Mentees are not part of the
snapshot: :attr:`Catalogue.mentees` reads them per query (:mod:`retrieval.mentees`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from ranking.features import PreparedProfiles, prepare_mentors
from retrieval.mentees import Mentees, MenteeSource
from retrieval.profile import Query
from retrieval.reasons import MENTOR_FIELDS

SERVED_FIELDS = (*MENTOR_FIELDS, "bio")
"""The mentor columns kept per served row: what the reasons read, and the bio (a refresh
tells a changed bio by it)."""


def retired_id(row: int | np.ndarray) -> int | np.ndarray:
    """The id a served row holds once its mentor moved to the side index: ``-2 - row``
    (negative, so never a mentor's; unique, so the prepared profiles stay keyed by id)."""
    return -2 - row


@dataclass(frozen=True)
class Catalogue:
    """Mentors by served row, and the source of mentees; immutable.

    ``mentor_ids`` (int64), ``eligible`` (bool), ``prepared_mentors`` and ``fields``
    (:data:`SERVED_FIELDS` present in the data, one array each) are aligned by served row;
    ``mentees`` answers per-query lookups.

    >>> from retrieval.mentees import FrameMentees
    >>> mentors = pd.DataFrame({"mentor_id": [7, 9, 4], "active": [True, True, False],
    ...                         "current_mentees": [0, 2, 0], "max_mentees": [2, 2, 2]})
    >>> mentees = FrameMentees(pd.DataFrame({"mentee_id": [1], "goals": ["learn ml"]}),
    ...                        pd.DataFrame({"mentee_id": [1], "mentor_id": [7]}), np.ones((1, 4)))
    >>> catalogue = Catalogue.from_frames(mentors, [9, 7, 4, 5], mentees)
    >>> catalogue.eligible.tolist(), catalogue.contacted_by(1).tolist(), catalogue.mentee(1)["goals"]
    ([False, True, False, False], [7], 'learn ml')
    """

    mentor_ids: np.ndarray
    eligible: np.ndarray
    prepared_mentors: PreparedProfiles
    fields: Mapping[str, np.ndarray]
    mentees: MenteeSource
    _rows: pd.Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.mentor_ids)
        if len(self.eligible) != n or len(self.prepared_mentors) != n or any(len(v) != n for v in self.fields.values()):
            raise InvalidParameterError(
                "The catalogue's mentor_ids, eligible, prepared_mentors and fields must have one "
                "entry per served row each; build it with Catalogue.from_frames."
            )
        object.__setattr__(self, "_rows", pd.Index(self.mentor_ids))

    @classmethod
    def from_frames(
        cls, mentors: pd.DataFrame, mentor_ids: Sequence[int] | np.ndarray, mentees: MenteeSource
    ) -> Catalogue:
        """The catalogue of a database-shaped ``mentors`` frame serving ``mentor_ids`` (the
        index's ids, in its row order); a served id without a row in ``mentors`` is never
        eligible."""
        mentor_ids = np.asarray(mentor_ids, dtype=np.int64)
        served = mentors.set_index("mentor_id", drop=False).reindex(mentor_ids)
        in_db = served["mentor_id"].notna().to_numpy()
        served = served.assign(mentor_id=mentor_ids).reset_index(drop=True)
        return cls(
            mentor_ids=mentor_ids,
            eligible=in_db & eligibility(served),
            prepared_mentors=prepare_mentors(served),
            fields={name: served[name].to_numpy() for name in SERVED_FIELDS if name in served.columns},
            mentees=mentees,
        )

    def __len__(self) -> int:
        return len(self.mentor_ids)

    def rows_of(self, mentor_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The served row of each mentor id (-1: not served)."""
        return self._rows.get_indexer(np.asarray(mentor_ids, dtype=np.int64))

    @property
    def mentor_domains(self) -> Mapping[int, Any]:
        """Each served mentor's domains, by mentor id (``.get(mentor_id, ())``)."""
        return _ByMentor(self, "domains")

    def lookup(self, mentee_ids: Sequence[int] | np.ndarray) -> Mentees:
        """The known mentees of ``mentee_ids``, read now (see :mod:`retrieval.mentees`)."""
        return self.mentees.lookup(mentee_ids)

    def contacted_by(self, mentee_id: int) -> np.ndarray:
        """Ids of the mentors ``mentee_id`` already contacted (maybe none), read now."""
        return self.mentees.lookup([mentee_id]).contacted[0]

    def mentee(self, mentee_id: int) -> pd.Series:
        """The mentee's row; :class:`UnknownEntityError` if there is none."""
        return self.mentees.lookup([mentee_id]).rows.iloc[0]

    def query(self, mentee_id: int) -> Query:
        """The query for a known mentee: its row, prepared profile and goal vector."""
        return self.mentees.lookup([mentee_id]).query(0)


def eligibility(mentors: pd.DataFrame) -> np.ndarray:
    """Whether each mentor row may be recommended: active and ``current_mentees < max_mentees``
    (a missing value: not eligible)."""
    active = mentors["active"].fillna(False).astype(bool).to_numpy()
    return active & (mentors["current_mentees"] < mentors["max_mentees"]).fillna(False).to_numpy(bool)


class _ByMentor(Mapping):
    """One field of the served mentors, read by mentor id."""

    def __init__(self, catalogue: Catalogue, name: str) -> None:
        self._catalogue = catalogue
        self._values = catalogue.fields.get(name)

    def __getitem__(self, mentor_id: int) -> Any:
        row = int(self._catalogue.rows_of([mentor_id])[0])
        if row < 0 or self._values is None:
            raise KeyError(mentor_id)
        return self._values[row]

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in self._catalogue.mentor_ids if i >= 0)

    def __len__(self) -> int:
        return int((self._catalogue.mentor_ids >= 0).sum())
