"""The query API: the only place where retrieval and ranking meet."""

from retrieval.formatting import format_recommendations
from retrieval.recommender import (
    DEFAULT_CANDIDATES,
    Recommendation,
    Recommender,
    default_candidates,
)

__all__ = [
    "DEFAULT_CANDIDATES",
    "Recommendation",
    "Recommender",
    "default_candidates",
    "format_recommendations",
]
