"""A frozen copy of db/schema.py's tables at commit f143745, before migrations existed.

The tests make "a database made by mentor-match before migrations" with this metadata's
create_all, exactly as that code did, and check that migration 0001 builds the same schema.
Never edit it to follow db/schema.py.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

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
    Column("updated_at", DateTime, nullable=False),
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
)

recommendation_feedback = Table(
    "recommendation_feedback",
    metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column("mentee_id", Integer, ForeignKey("mentees.mentee_id"), nullable=False, index=True),
    Column("mentor_id", Integer, ForeignKey("mentors.mentor_id"), nullable=False, index=True),
    Column("recommended_rank", Integer, nullable=False),
    Column("was_accepted", Boolean, nullable=True),
    Column("feedback_date", DateTime, nullable=False),
    Column("model_version", String(100), nullable=True),
    Column("variant", String(50), nullable=True),
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
TRUTH_TABLES: tuple[Table, ...] = (synthetic_mentor_truth, synthetic_mentee_truth)
