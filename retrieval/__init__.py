"""The query API: the only place where retrieval and ranking meet.

:class:`Recommender` joins the stages: a :class:`Catalogue` (who is served and eligible, kept
current by :mod:`retrieval.live`; mentees read per query by :mod:`retrieval.mentees`), a
retriever (stage 1, :mod:`retrieval.retriever`) and a :class:`Reranker` (stage 2).
"""

from retrieval.catalogue import Catalogue
from retrieval.formatting import format_recommendations
from retrieval.live import RefreshSummary
from retrieval.mentees import DatabaseMentees, FrameMentees, MenteePage, Mentees
from retrieval.profile import PROFILE_FIELDS, Query, validate_profile
from retrieval.recommender import DEFAULT_CANDIDATES, DEFAULT_REFRESH_INTERVAL, Recommender
from retrieval.reranker import REASONS_REFERENCE, Reranker
from retrieval.results import Candidates, Recommendation
from retrieval.retriever import ExactRetriever, IndexRetriever, Prerank, Retriever
from retrieval.stages import CONTROL, Arm, Stages, build_arm, build_stages

__all__ = [
    "CONTROL",
    "DEFAULT_CANDIDATES",
    "DEFAULT_REFRESH_INTERVAL",
    "PROFILE_FIELDS",
    "REASONS_REFERENCE",
    "Arm",
    "Candidates",
    "Catalogue",
    "DatabaseMentees",
    "ExactRetriever",
    "FrameMentees",
    "IndexRetriever",
    "Prerank",
    "MenteePage",
    "Mentees",
    "Query",
    "Recommendation",
    "Recommender",
    "RefreshSummary",
    "Reranker",
    "Retriever",
    "Stages",
    "build_arm",
    "build_stages",
    "format_recommendations",
    "validate_profile",
]
