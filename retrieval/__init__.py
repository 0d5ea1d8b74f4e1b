"""The query API: the only place where retrieval and ranking meet.

:class:`Recommender` joins the stages: a :class:`Catalogue` (who is served and eligible), a
retriever (stage 1, :mod:`retrieval.retriever`) and a :class:`Reranker` (stage 2).
"""

from retrieval.catalogue import Catalogue
from retrieval.formatting import format_recommendations
from retrieval.profile import PROFILE_FIELDS, Query, validate_profile
from retrieval.recommender import DEFAULT_CANDIDATES, Recommender
from retrieval.reranker import REASONS_REFERENCE, Reranker
from retrieval.results import Candidates, Recommendation
from retrieval.retriever import ExactRetriever, IndexRetriever, Prerank, Retriever
from retrieval.stages import Stages, build_stages

__all__ = [
    "DEFAULT_CANDIDATES",
    "PROFILE_FIELDS",
    "REASONS_REFERENCE",
    "Candidates",
    "Catalogue",
    "ExactRetriever",
    "IndexRetriever",
    "Prerank",
    "Query",
    "Recommendation",
    "Recommender",
    "Reranker",
    "Retriever",
    "Stages",
    "build_stages",
    "format_recommendations",
    "validate_profile",
]
