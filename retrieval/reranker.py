"""Stage 2: candidates -> pair features -> served scores -> ranked :class:`Recommendation` list.

The features come from :func:`ranking.features.pair_features`, the one function that makes
model inputs for training, evaluation and serving. The served score is the ranker's unless
the arm's :class:`~retrieval.scoring.Scoring` says otherwise (the reciprocal heads' P(match)
or a blend). The reasons of a recommendation come from the ranker's per-feature
contributions, relative to the best candidates (by the served score) of the same list
(:mod:`retrieval.reasons`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from index.live import LiveIndex
from mentor_match.errors import InvalidParameterError, UnknownEntityError
from mentor_match.validation import check_int
from ranking.features import PreparedProfiles, pair_features
from ranking.models import Ranker
from retrieval.catalogue import Catalogue
from retrieval.market import FREE_TIME_REASON
from retrieval.profile import Query
from retrieval.reasons import MENTOR_FIELDS, explain, relative_contributions
from retrieval.results import Candidates, Recommendation
from retrieval.scoring import RANKER, Scoring

Chooser = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, bool]]
"""(scores, k) -> (shown positions, their propensities, sampled?): how a list is picked."""
Pricer = Callable[[np.ndarray], np.ndarray]
"""mentor ids -> the factor in [0, 1] their scores are multiplied by: P(seat still free) ** weight
(:mod:`retrieval.market`)."""
FREE_ENOUGH = 0.9
"""A mentor whose price moved it up the list, with a factor at least this, has "free time now"."""

REASONS_REFERENCE = 200
"""Reasons compare a mentor with the best this many candidates of its list (their mean
per-feature contribution), so their cost does not grow with the candidate count."""

FEATURE_CHUNK = 16_384
"""Pairs per pair_features call when scoring many: bounds the gathered bio vectors."""


class Reranker:
    """Scores candidates with ``ranker`` (or as ``scoring`` says) and words the reasons of the best.

    The mentors are ``catalogue``'s (profiles and reasons' fields by served row) with their
    bio vectors in ``index`` (the same served rows). ``reference``: how many of a list's best
    candidates the reasons compare with. ``scoring`` (default :data:`retrieval.scoring.RANKER`,
    the ranker's score) makes the served score; the reasons always come from the ranker.
    :meth:`over` gives the same models over a refreshed catalogue at no cost: nothing here is
    per mentor.
    """

    def __init__(
        self, ranker: Ranker, catalogue: Catalogue, index: LiveIndex, *, reference: int = REASONS_REFERENCE,
        scoring: Scoring = RANKER,
    ) -> None:
        if len(index) != len(catalogue):
            raise InvalidParameterError(
                f"The index serves {len(index)} rows, the catalogue {len(catalogue)}; build both "
                "from one snapshot (retrieval.stages.build_stages)."
            )
        self.ranker = ranker
        self.catalogue = catalogue
        self.index = index
        self.reference = check_int("reference", reference, "Reranker")
        if not isinstance(scoring, Scoring):
            raise InvalidParameterError(
                f"The 'scoring' parameter of Reranker must be a retrieval.scoring.Scoring. Got "
                f"{type(scoring).__name__}."
            )
        self.scoring = scoring

    def over(self, catalogue: Catalogue, index: LiveIndex) -> Reranker:
        """These models over another snapshot of the mentors."""
        return Reranker(self.ranker, catalogue, index, reference=self.reference, scoring=self.scoring)

    @property
    def model_version(self) -> str:
        """What scored a list, as the log records it (:meth:`Scoring.model_version`)."""
        return self.scoring.model_version(self.ranker.manifest)

    def features(
        self, prepared_mentees: PreparedProfiles, mentee_vectors: np.ndarray, pairs: pd.DataFrame
    ) -> pd.DataFrame:
        """Pair features of (mentee_id, mentor_id) ``pairs``; ``mentee_vectors`` aligned with
        ``prepared_mentees``, mentors among the served ones."""
        rows = self.catalogue.rows_of(pairs["mentor_id"].to_numpy())
        if (rows < 0).any():
            unknown = np.unique(pairs["mentor_id"].to_numpy()[rows < 0])[:5].tolist()
            raise UnknownEntityError(
                f"Unknown mentor id(s) {unknown} in the pairs: not among the {len(self.catalogue)} "
                "served mentors. Pass mentors of this catalogue."
            )
        blocks = []
        for start in range(0, max(len(pairs), 1), FEATURE_CHUNK):
            stop = start + FEATURE_CHUNK
            blocks.append(pair_features(
                prepared_mentees,
                self.catalogue.prepared_mentors,
                pairs.iloc[start:stop],
                mentee_vectors=mentee_vectors,
                mentor_vectors=self.index.vectors_at(rows[start:stop]),
                vectors_per=("profile", "pair"),
            ))
        return blocks[0] if len(blocks) == 1 else pd.concat(blocks)

    def score(
        self, prepared_mentees: PreparedProfiles, mentee_vectors: np.ndarray, pairs: pd.DataFrame
    ) -> np.ndarray:
        """The served score of each of ``pairs`` (see :meth:`features`): the ranker's by
        default; a blend rank-normalises the ranker's scores among each mentee's pairs."""
        features = self.features(prepared_mentees, mentee_vectors, pairs)
        return self.scoring.scores(self.ranker, features, pairs["mentee_id"].to_numpy())

    def rerank(
        self, query: Query, candidates: Candidates, k: int, *, choose: Chooser | None = None,
        price: Pricer | None = None,
    ) -> list[Recommendation]:
        """The ``k`` best of one query's ``candidates`` (a single row), best first, with reasons.

        ``choose`` (e.g. exploration, :func:`retrieval.exploration.explore`) picks the shown
        slots from the served scores instead, and gives each slot's propensity; without it
        every slot's propensity is 1 (the served score's order, deterministic). ``price``
        (a market score) multiplies each candidate's score by its congestion factor first; a
        mentor it moved up the list, and that is free enough itself, gets the reason
        :data:`~retrieval.market.FREE_TIME_REASON`.
        """
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
        scores = self.scoring.scores(self.ranker, features)
        moved_up = np.zeros(len(ids), dtype=bool)
        if price is not None:
            factor = price(ids)
            unpriced = _ranks(scores)
            scores = scores * factor
            moved_up = (_ranks(scores) < unpriced) & (factor >= FREE_ENOUGH)
        ranked = np.argsort(-scores, kind="stable")
        if choose is None:
            order, propensity = ranked[:k], np.ones(min(k, len(ranked)))
        else:
            order, propensity, _ = choose(scores, k)
        # Rows in score order (the reference: the best `reference`), then any shown row beyond
        # them. Saabas contributions, not exact SHAP: they only rank features against each
        # other to pick the words of the reasons.
        best = ranked[: max(k, self.reference)]
        worded = np.concatenate([best, order[~np.isin(order, best)]])
        relative = relative_contributions(
            self.ranker.contributions(features.iloc[worded], approximate=True), self.reference
        )
        at_worded = pd.Index(worded).get_indexer(order)
        names = list(features.columns)
        values = features.to_numpy()
        at_rows = self.catalogue.rows_of(ids[order])
        fields = {name: column for name, column in self.catalogue.fields.items() if name in MENTOR_FIELDS}
        out = []
        for rank, (row, at, w) in enumerate(zip(order, at_rows, at_worded, strict=True), start=1):
            mentor = {name: column[at] for name, column in fields.items()}
            feature_values = dict(zip(names, values[row].tolist(), strict=True))
            reasons, behind = explain(relative[w], names, feature_values, mentor, query.profile)
            if moved_up[row]:
                reasons = [*reasons, FREE_TIME_REASON]
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
                    propensity=float(propensity[rank - 1]),
                )
            )
        return out


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Each score's place in the list, best first (0 the best; ties in input order)."""
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
    return ranks
