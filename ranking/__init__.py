"""Pair features, the learning-to-rank model and its baselines, and the training pipeline.

- :mod:`ranking.profiles`: mentors and mentees parsed once into arrays;
- :mod:`ranking.features`: :func:`pair_features`, the one code path of model inputs;
- :mod:`ranking.scorer`: the one interface of the four scorers (fit, predict, save, load);
- :mod:`ranking.ranker` (:class:`Ranker`, over :mod:`ranking.boosting`) and
  :mod:`ranking.baselines` (the guide's three classifiers); :mod:`ranking.models` re-exports both;
- :mod:`ranking.preranker`: the linear stand-in for the ranker between retrieval and ranking;
- :mod:`ranking.splits` and :mod:`ranking.training`: splits by mentee, training data, fitting
  and publishing. Judging the models is evaluation's (:mod:`eval.comparison`).
"""

from ranking.features import (
    FEATURE_VERSION,
    FEATURES,
    RELEVANCE,
    PreparedProfiles,
    interaction_labels,
    pair_features,
    prepare_mentees,
    prepare_mentors,
)
from ranking.models import Ranker, make_baselines
from ranking.scorer import Scorer

__all__ = [
    "FEATURES",
    "FEATURE_VERSION",
    "RELEVANCE",
    "PreparedProfiles",
    "Ranker",
    "Scorer",
    "interaction_labels",
    "make_baselines",
    "pair_features",
    "prepare_mentees",
    "prepare_mentors",
]
