"""The relational schema, identical on SQLite and PostgreSQL.

Column names follow what mentoring platforms built on the original guide already use
(`domains`, `desired_domains`, `current_level`, `mentor_accepted`, `successful_match`,
...), so an existing database maps onto it with few changes. List-valued fields
(domains, skills, availability slots) are JSON arrays of strings: portable across both
back ends and loaded as Python lists.

Conventions the rest of the project relies on:

* ``timezone`` is a UTC offset string: ``"UTC"``, ``"UTC+1"``, ``"UTC-5"``, ``"UTC+5:30"``.
* ``availability`` is a list of weekly slots ``"<day>_<part>"`` with day in
  ``mon..sun`` and part in ``morning|afternoon|evening`` (21 possible slots).
* ``current_level`` is one of :data:`LEVELS`, ordered from least to most experienced.
* ``interactions.status`` is one of :data:`STATUSES`.
* The recommendation log: ``recommendation_lists`` holds one row per served list,
  ``recommendation_feedback`` one row per shown slot (the guide's columns kept:
  ``recommended_rank`` is the position, ``was_accepted`` follows the mentor's answer),
  ``recommendation_events`` the timestamped outcomes (one of :data:`EVENT_KINDS`).
  ``interactions.list_id`` names the list a contact came from (NULL: made outside a list).
* ``api_keys`` holds the REST service's keys as SHA-256 hashes with a lookup prefix, their
  :data:`SCOPES` and when they were revoked (``service.keys``).

The two ``synthetic_*_truth`` tables hold the hidden attributes of generated data (the
sub-specialties that only the texts express, per-person latent effects). Real
deployments leave them empty; only the synthetic ground truth reads them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

LEVELS: tuple[str, ...] = ("student", "junior", "mid", "senior", "lead")
"""Mentee experience levels, least to most experienced; features use the position."""

LEVEL_YEARS: dict[str, float] = {"student": 0.0, "junior": 1.5, "mid": 4.0, "senior": 8.0, "lead": 12.0}
"""Typical years of experience of a mentee at each level (for experience compatibility)."""

STATUSES: tuple[str, ...] = ("pending", "declined", "accepted", "completed")
STYLES: tuple[str, ...] = ("hands-on", "structured", "advisory", "socratic")
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_PARTS: tuple[str, ...] = ("morning", "afternoon", "evening")
SLOTS: tuple[str, ...] = tuple(f"{d}_{p}" for d in DAYS for p in DAY_PARTS)
EVENT_KINDS: tuple[str, ...] = ("requested", "accepted", "declined", "started", "ended")
"""Outcome events of a (mentee, mentor) pair, in the order they may happen: the mentee
requests, the mentor accepts or declines, an accepted mentorship starts, then ends (with
``success`` true or false)."""
SCOPES: tuple[str, ...] = ("read", "feedback", "admin")
"""What a REST service API key may do (``api_keys.scopes``): read lists and mentors, post
outcomes, reload the service."""
LIST_ID_LENGTH = 32
"""A list id is a UUID4 as 32 lowercase hex digits."""

metadata = MetaData()

mentors = Table(
    "mentors",
    metadata,
    Column("mentor_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("bio", Text, nullable=False),
    Column("industry", String(100), nullable=False),
    Column("experience_years", Integer, nullable=False),
    Column("domains", JSON, nullable=False),
    Column("skills", JSON, nullable=False),
    Column("mentorship_style", String(50), nullable=False),
    Column("availability", JSON, nullable=False),
    Column("availability_hours", Float, nullable=False),
    Column("timezone", String(16), nullable=False),
    Column("max_mentees", Integer, nullable=False),
    Column("current_mentees", Integer, nullable=False),
    Column("rating", Float, nullable=True),
    Column("acceptance_rate", Float, nullable=False),
    Column("total_mentees", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False, index=True),  # the live catalogue reads changes by it
)

mentees = Table(
    "mentees",
    metadata,
    Column("mentee_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),
    Column("goals", Text, nullable=False),
    Column("industry", String(100), nullable=False),
    Column("current_level", String(20), nullable=False),
    Column("desired_domains", JSON, nullable=False),
    Column("current_skills", JSON, nullable=False),
    Column("preferred_style", String(50), nullable=False),
    Column("availability", JSON, nullable=False),
    Column("availability_hours", Float, nullable=False),
    Column("timezone", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

interactions = Table(
    "interactions",
    metadata,
    Column("interaction_id", Integer, primary_key=True, autoincrement=False),
    Column("mentor_id", Integer, ForeignKey("mentors.mentor_id"), nullable=False, index=True),
    Column("mentee_id", Integer, ForeignKey("mentees.mentee_id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("mentor_accepted", Boolean, nullable=True),
    Column("mentee_accepted", Boolean, nullable=True),
    Column("successful_match", Boolean, nullable=False),
    Column("overall_rating", Float, nullable=True),
    Column("meetings_held", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("completed_at", DateTime, nullable=True),
    Column("list_id", String(LIST_ID_LENGTH), ForeignKey("recommendation_lists.list_id"), nullable=True, index=True),
)

recommendation_lists = Table(
    "recommendation_lists",
    metadata,
    Column("list_id", String(LIST_ID_LENGTH), primary_key=True),
    Column("mentee_id", Integer, ForeignKey("mentees.mentee_id"), nullable=True, index=True),  # NULL: ad-hoc profile
    Column("created_at", DateTime, nullable=False, index=True),
    Column("model_version", String(100), nullable=False),
    Column("index_version", String(100), nullable=False),
    Column("experiment", String(100), nullable=True),
    Column("variant", String(50), nullable=False),
    Column("policy", String(50), nullable=False),
    Column("policy_params", JSON, nullable=False),
    Column("k", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
)

recommendation_feedback = Table(
    "recommendation_feedback",
    metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column("mentee_id", Integer, ForeignKey("mentees.mentee_id"), nullable=True, index=True),  # NULL: ad-hoc profile
    Column("mentor_id", Integer, ForeignKey("mentors.mentor_id"), nullable=False, index=True),
    Column("recommended_rank", Integer, nullable=False),
    Column("was_accepted", Boolean, nullable=True),
    Column("feedback_date", DateTime, nullable=False),
    Column("model_version", String(100), nullable=True),
    Column("variant", String(50), nullable=True),
    # The slot of a logged list (NULL on rows written before the log existed):
    Column("list_id", String(LIST_ID_LENGTH), ForeignKey("recommendation_lists.list_id"), nullable=True),
    Column("score", Float, nullable=True),
    Column("similarity", Float, nullable=True),
    Column("propensity", Float, nullable=True),  # P(this mentor at this position | the slots above)
    Column("features", JSON, nullable=True),  # the feature values the ranker scored
    Index("ix_recommendation_feedback_list_slot", "list_id", "recommended_rank", unique=True),
)

recommendation_events = Table(
    "recommendation_events",
    metadata,
    Column("event_id", String(64), primary_key=True),  # supplied by the client: retries are no-ops
    Column("list_id", String(LIST_ID_LENGTH), ForeignKey("recommendation_lists.list_id"), nullable=True, index=True),
    Column("mentee_id", Integer, ForeignKey("mentees.mentee_id"), nullable=False),
    Column("mentor_id", Integer, ForeignKey("mentors.mentor_id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("success", Boolean, nullable=True),  # set on "ended" only
    Column("occurred_at", DateTime, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_recommendation_events_pair", "mentee_id", "mentor_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Integer, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False, unique=True),  # shown in listings, looked up per request
    Column("key_hash", String(64), nullable=False),  # SHA-256 hex of the whole key; the key is never stored
    Column("name", String(200), nullable=True),
    Column("scopes", JSON, nullable=False),  # a list of SCOPES
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime, nullable=True),  # NULL: valid
)

synthetic_mentor_truth = Table(
    "synthetic_mentor_truth",
    metadata,
    Column("mentor_id", Integer, ForeignKey("mentors.mentor_id"), primary_key=True),
    Column("subspecialties", JSON, nullable=False),
    Column("latent", Float, nullable=False),
)

synthetic_mentee_truth = Table(
    "synthetic_mentee_truth",
    metadata,
    Column("mentee_id", Integer, ForeignKey("mentees.mentee_id"), primary_key=True),
    Column("subspecialties", JSON, nullable=False),
    Column("latent", Float, nullable=False),
)

CORE_TABLES: tuple[Table, ...] = (mentors, mentees, interactions, recommendation_feedback)
LOG_TABLES: tuple[Table, ...] = (recommendation_lists, recommendation_feedback, recommendation_events)
TRUTH_TABLES: tuple[Table, ...] = (synthetic_mentor_truth, synthetic_mentee_truth)
