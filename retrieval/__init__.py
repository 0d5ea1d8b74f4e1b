"""The query API: the only place where retrieval and ranking meet."""

from retrieval.formatting import format_recommendations
from retrieval.recommender import (
    DEFAULT_CANDIDATES,
    Recommendation,
    Recommender,
)

__all__ = [
    "DEFAULT_CANDIDATES",
    "Recommendation",
    "Recommender",
    "format_recommendations",
]
