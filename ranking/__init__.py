"""Pair features, the learning-to-rank model and its baselines, and the training pipeline."""

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

__all__ = [
    "FEATURES",
    "FEATURE_VERSION",
    "RELEVANCE",
    "PreparedProfiles",
    "Ranker",
    "interaction_labels",
    "make_baselines",
    "pair_features",
    "prepare_mentees",
    "prepare_mentors",
]
