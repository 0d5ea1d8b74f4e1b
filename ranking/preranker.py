"""The pre-ranker: a linear stand-in for the ranker, between retrieval and ranking.

A query's nearest mentors by bio similarity are ordered by

    pre-score = similarity_weight * similarity + prior(mentor)

and only the best of them reach the ranker (retrieve -> pre-rank -> rank, as cascade
rankers do). ``prior`` is a weighted sum of the pair features that depend on the mentor
alone (rating, acceptance rate, load, ...), computed once per mentor when a
:class:`retrieval.Recommender` loads, so pre-ranking a pool of 1,000 costs microseconds
where scoring it with pair features and trees costs milliseconds.

Why: in a large catalogue many mentors resemble each other, and the nearest 200 by
similarity crowd out mentors the ranker prefers; pre-ranking a wider pool brings them back
(the benchmark's figures are in docs/decisions.md).

The weights are a distillation, not a model of the labels: a least-squares fit of the
trained ranker's scores within each training mentee's pool of nearest mentors (scores of a
pairwise ranker compare within a query only, hence the per-mentee centring). They are
stored in the ranker's manifest (JSON).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from mentor_match.errors import ArtifactError
from ranking.features import FEATURES, pair_features, prepare_mentees

MENTOR_FEATURES = tuple(name for name in FEATURES if name.startswith("mentor_"))
"""Pair features that depend on the mentor alone: by naming convention, the ``mentor_*``
ones (see :func:`ranking.features.pair_features`)."""

SIMILARITY = "bio_goal_similarity"
FIT_MENTEES = 200
"""Training mentees whose pools the weights are fitted on."""
FIT_POOL = 1000
"""Nearest mentors per fitting mentee: the pool size a large catalogue pre-ranks."""
_PRIOR_CHUNK = 200_000  # mentors per pair_features call when computing priors


@dataclass(frozen=True)
class Preranker:
    """``similarity_weight * similarity + weights . mentor features`` (see the module doc)."""

    similarity_weight: float
    weights: dict[str, float]
    r2: float
    """Share of the within-mentee variance of the ranker's scores that the fit explains."""
    fit_pairs: int

    def to_dict(self) -> dict:
        return {
            "similarity_weight": self.similarity_weight,
            "weights": dict(self.weights),
            "r2": self.r2,
            "fit_pairs": self.fit_pairs,
        }

    @classmethod
    def from_manifest(cls, manifest: dict) -> Preranker | None:
        """The pre-ranker stored in a ranker's manifest, or None (rankers trained without one)."""
        entry = manifest.get("preranker")
        if entry is None:
            return None
        try:
            weights = {str(k): float(v) for k, v in entry["weights"].items()}
            preranker = cls(float(entry["similarity_weight"]), weights, float(entry["r2"]),
                            int(entry["fit_pairs"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArtifactError(
                f"The ranker manifest's 'preranker' entry is malformed ({exc!r}); retrain with "
                "scripts/train.py."
            ) from None
        if set(weights) != set(MENTOR_FEATURES):
            raise ArtifactError(
                f"The ranker manifest's pre-ranker weighs {sorted(weights)}, not this version's "
                "mentor features; retrain with scripts/train.py."
            )
        return preranker

    def mentor_prior(self, prepared_mentors) -> np.ndarray:
        """``weights . mentor features`` for every prepared mentor, in their order."""
        # The mentor-only columns of pair_features, with any mentee: one feature function.
        nobody = prepare_mentees(pd.DataFrame({"mentee_id": [-1]}))
        w = np.array([self.weights[name] for name in MENTOR_FEATURES])
        out = np.empty(len(prepared_mentors))
        for start in range(0, len(prepared_mentors), _PRIOR_CHUNK):
            ids = prepared_mentors.ids[start : start + _PRIOR_CHUNK]
            pairs = pd.DataFrame({"mentee_id": np.full(len(ids), -1), "mentor_id": ids})
            features = pair_features(nobody, prepared_mentors, pairs)
            out[start : start + len(ids)] = features[list(MENTOR_FEATURES)].to_numpy() @ w
        return out


def fit_preranker(ranker, features: pd.DataFrame, mentee_ids: np.ndarray) -> Preranker:
    """Fit the weights to ``ranker``'s scores of ``features`` (pairs of ``mentee_ids``)."""
    columns = [SIMILARITY, *MENTOR_FEATURES]
    frame = features[columns].fillna(0.0).assign(score=ranker.predict(features))
    centred = frame - frame.groupby(np.asarray(mentee_ids)).transform("mean")
    X, y = centred[columns].to_numpy(), centred["score"].to_numpy()
    model = LinearRegression(fit_intercept=False).fit(X, y)
    return Preranker(
        similarity_weight=float(model.coef_[0]),
        weights={name: float(w) for name, w in zip(MENTOR_FEATURES, model.coef_[1:], strict=True)},
        r2=round(float(model.score(X, y)), 4),
        fit_pairs=len(frame),
    )


def nearest_pairs(
    mentee_ids: np.ndarray,
    mentee_vectors: np.ndarray,
    mentor_ids: np.ndarray,
    mentor_vectors: np.ndarray,
    n: int = FIT_POOL,
) -> pd.DataFrame:
    """(mentee_id, mentor_id) of each mentee's ``n`` most similar mentors, exactly.

    >>> mentors = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> pairs = nearest_pairs(np.array([1]), np.array([[1.0, 0.0]]), np.array([10, 11, 12]), mentors, n=2)
    >>> sorted(pairs["mentor_id"].tolist())
    [10, 12]
    """
    n = min(n, len(mentor_ids))
    sims = np.asarray(mentee_vectors, dtype=np.float32) @ np.asarray(mentor_vectors, dtype=np.float32).T
    top = np.argpartition(-sims, n - 1, axis=1)[:, :n]
    return pd.DataFrame({
        "mentee_id": np.repeat(np.asarray(mentee_ids, dtype=np.int64), n),
        "mentor_id": np.asarray(mentor_ids, dtype=np.int64)[top.ravel()],
    })
