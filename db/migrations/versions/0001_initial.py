"""0001: the schema before the recommendation log (mentor-match up to commit f143745).

Mentors, mentees, interactions, the guide's ``recommendation_feedback`` and the two
``synthetic_*_truth`` tables, written out column by column rather than taken from
``db.schema.metadata``: the metadata moves on with every revision, this one must not.
A database made by mentor-match before migrations existed is recognised as this revision
by ``db.migrate.upgrade`` and stamped with it before the later revisions run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mentors",
        sa.Column("mentor_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("bio", sa.Text, nullable=False),
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("experience_years", sa.Integer, nullable=False),
        sa.Column("domains", sa.JSON, nullable=False),
        sa.Column("skills", sa.JSON, nullable=False),
        sa.Column("mentorship_style", sa.String(50), nullable=False),
        sa.Column("availability", sa.JSON, nullable=False),
        sa.Column("availability_hours", sa.Float, nullable=False),
        sa.Column("timezone", sa.String(16), nullable=False),
        sa.Column("max_mentees", sa.Integer, nullable=False),
        sa.Column("current_mentees", sa.Integer, nullable=False),
        sa.Column("rating", sa.Float, nullable=True),
        sa.Column("acceptance_rate", sa.Float, nullable=False),
        sa.Column("total_mentees", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "mentees",
        sa.Column("mentee_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("goals", sa.Text, nullable=False),
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("current_level", sa.String(20), nullable=False),
        sa.Column("desired_domains", sa.JSON, nullable=False),
        sa.Column("current_skills", sa.JSON, nullable=False),
        sa.Column("preferred_style", sa.String(50), nullable=False),
        sa.Column("availability", sa.JSON, nullable=False),
        sa.Column("availability_hours", sa.Float, nullable=False),
        sa.Column("timezone", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "interactions",
        sa.Column("interaction_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mentor_id", sa.Integer, sa.ForeignKey("mentors.mentor_id"), nullable=False),
        sa.Column("mentee_id", sa.Integer, sa.ForeignKey("mentees.mentee_id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("mentor_accepted", sa.Boolean, nullable=True),
        sa.Column("mentee_accepted", sa.Boolean, nullable=True),
        sa.Column("successful_match", sa.Boolean, nullable=False),
        sa.Column("overall_rating", sa.Float, nullable=True),
        sa.Column("meetings_held", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("completed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_interactions_mentor_id", "interactions", ["mentor_id"])
    op.create_index("ix_interactions_mentee_id", "interactions", ["mentee_id"])
    op.create_table(
        "recommendation_feedback",
        sa.Column("feedback_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mentee_id", sa.Integer, sa.ForeignKey("mentees.mentee_id"), nullable=False),
        sa.Column("mentor_id", sa.Integer, sa.ForeignKey("mentors.mentor_id"), nullable=False),
        sa.Column("recommended_rank", sa.Integer, nullable=False),
        sa.Column("was_accepted", sa.Boolean, nullable=True),
        sa.Column("feedback_date", sa.DateTime, nullable=False),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("variant", sa.String(50), nullable=True),
    )
    op.create_index("ix_recommendation_feedback_mentee_id", "recommendation_feedback", ["mentee_id"])
    op.create_index("ix_recommendation_feedback_mentor_id", "recommendation_feedback", ["mentor_id"])
    op.create_table(
        "synthetic_mentor_truth",
        sa.Column("mentor_id", sa.Integer, sa.ForeignKey("mentors.mentor_id"), primary_key=True),
        sa.Column("subspecialties", sa.JSON, nullable=False),
        sa.Column("latent", sa.Float, nullable=False),
    )
    op.create_table(
        "synthetic_mentee_truth",
        sa.Column("mentee_id", sa.Integer, sa.ForeignKey("mentees.mentee_id"), primary_key=True),
        sa.Column("subspecialties", sa.JSON, nullable=False),
        sa.Column("latent", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "synthetic_mentee_truth",
        "synthetic_mentor_truth",
        "recommendation_feedback",
        "interactions",
        "mentees",
        "mentors",
    ):
        op.drop_table(table)
