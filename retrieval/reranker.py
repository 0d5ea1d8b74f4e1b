"""Stage 2: candidates -> pair features -> ranker scores -> ranked :class:`Recommendation` list.

The features come from :func:`ranking.features.pair_features`, the one function that makes
model inputs for training, evaluation and serving. The reasons of a recommendation come from
the ranker's per-feature contributions, relative to the best candidates of the same list
(:mod:`retrieval.reasons`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int
from ranking.features import PreparedProfiles, pair_features
from ranking.models import Ranker
from retrieval.catalogue import Catalogue
from retrieval.profile import Query
from retrieval.reasons import MENTOR_FIELDS, explain, relative_contributions
from retrieval.results import Candidates, Recommendation

REASONS_REFERENCE = 200
"""Reasons compare a mentor with the best this many candidates of its list (their mean
per-feature contribution), so their cost does not grow with the candidate count."""


class Reranker:
    """Scores candidates with ``ranker`` and words the reasons of the best.

    ``prepared_mentors`` and ``mentor_vectors`` (bio embeddings) are aligned row by row;
    ``mentors`` holds the rows the reasons read, indexed by mentor id. ``reference``: how
    many of a list's best candidates the reasons compare with.
    """

    def __init__(
        self,
        ranker: Ranker,
        prepared_mentors: PreparedProfiles,
        mentor_vectors: np.ndarray,
        mentors: pd.DataFrame,
        *,
        reference: int = REASONS_REFERENCE,
    ) -> None:
        if len(mentor_vectors) != len(prepared_mentors):
            raise InvalidParameterError(
                f"mentor_vectors has {len(mentor_vectors)} rows for {len(prepared_mentors)} "
                "prepared mentors; pass one bio embedding per mentor, in the same order."
            )
        self.ranker = ranker
        self.prepared_mentors = prepared_mentors
        self.mentor_vectors = mentor_vectors
        self.reference = check_int("reference", reference, "Reranker")
        self._mentor_rows = mentors.index
        # The reasons' fields as arrays: pandas' row lookups cost more than the features.
        self._mentor_fields: Mapping[str, np.ndarray] = {
            name: mentors[name].to_numpy() for name in MENTOR_FIELDS if name in mentors.columns
        }

    @classmethod
    def build(
        cls, ranker: Ranker, catalogue: Catalogue, mentor_vectors: np.ndarray, *, reference: int = REASONS_REFERENCE
    ) -> Reranker:
        """The reranker of ``catalogue``'s served mentors (``mentor_vectors`` in their order)."""
        return cls(ranker, catalogue.prepared_mentors, mentor_vectors, catalogue.mentors, reference=reference)

    def features(
        self, prepared_mentees: PreparedProfiles, mentee_vectors: np.ndarray, pairs: pd.DataFrame
    ) -> pd.DataFrame:
        """Pair features of (mentee_id, mentor_id) ``pairs``; ``mentee_vectors`` aligned with
        ``prepared_mentees``, mentors among the served ones."""
        return pair_features(
            prepared_mentees,
            self.prepared_mentors,
            pairs,
            mentee_vectors=mentee_vectors,
            mentor_vectors=self.mentor_vectors,
            vectors_per="profile",
        )

    def score(
        self, prepared_mentees: PreparedProfiles, mentee_vectors: np.ndarray, pairs: pd.DataFrame
    ) -> np.ndarray:
        """The ranker's score of each of ``pairs`` (see :meth:`features`)."""
        return self.ranker.predict(self.features(prepared_mentees, mentee_vectors, pairs))

    def rerank(self, query: Query, candidates: Candidates, k: int) -> list[Recommendation]:
        """The ``k`` best of one query's ``candidates`` (a single row), best first, with reasons."""
        k = check_int("k", k, "rerank")
        if len(candidates) != 1:
            raise InvalidParameterError(
                f"rerank takes the candidates of one query; got {len(candidates)} rows. "
                "Score batches with Reranker.score."
            )
        ids, similarity = candidates.of(0)
        if len(ids) == 0:
            return []
        pairs = pd.DataFrame({"mentee_id": np.full(len(ids), query.prepared.ids[0]), "mentor_id": ids})
        features = self.features(query.prepared, query.vector[None, :], pairs)
        scores = self.ranker.predict(features)
        ranked = np.argsort(-scores, kind="stable")
        # Rows in score order: row i of `relative` is ranked[i]. Saabas contributions, not exact
        # SHAP: they only rank features against each other to pick the words of the reasons.
        worded = ranked[: max(k, self.reference)]
        relative = relative_contributions(
            self.ranker.contributions(features.iloc[worded], approximate=True), self.reference
        )
        names = list(features.columns)
        values = features.to_numpy()
        order = ranked[:k]
        at_rows = self._mentor_rows.get_indexer(ids[order])
        out = []
        for rank, (row, at) in enumerate(zip(order, at_rows, strict=True), start=1):
            mentor = {name: column[at] for name, column in self._mentor_fields.items()}
            feature_values = dict(zip(names, values[row].tolist(), strict=True))
            reasons, behind = explain(relative[rank - 1], names, feature_values, mentor, query.profile)
            out.append(
                Recommendation(
                    mentor_id=int(ids[row]),
                    name=str(mentor["name"]),
                    rank=rank,
                    score=float(scores[row]),
                    similarity=float(similarity[row]),
                    features=feature_values,
                    reasons=reasons,
                    contributions=behind,
                )
            )
        return out
