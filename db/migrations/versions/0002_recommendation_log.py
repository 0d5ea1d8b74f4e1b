"""0002: the recommendation log (what commit ce79fc0 added to db/schema.py).

Upgrade: the tables ``recommendation_lists`` (one row per served list) and
``recommendation_events`` (timestamped outcomes); ``recommendation_feedback`` becomes the
slot table (``list_id``, ``score``, ``similarity``, ``propensity``, ``features``, a unique
(list, position) index, and ``mentee_id`` nullable for ad-hoc profiles);
``interactions.list_id`` (the list a contact came from); an index on ``mentors.updated_at``
for the live catalogue. Existing rows keep their values; the new columns are NULL.

Downgrade drops all of it, and with it the log: every list and event, the slot columns,
and the slots of ad-hoc profiles (rows without a mentee, which 0001 cannot hold).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIST_ID = sa.String(32)  # db.schema.LIST_ID_LENGTH when this revision was written


def upgrade() -> None:
    op.create_table(
        "recommendation_lists",
        sa.Column("list_id", LIST_ID, primary_key=True),
        sa.Column("mentee_id", sa.Integer, sa.ForeignKey("mentees.mentee_id"), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("index_version", sa.String(100), nullable=False),
        sa.Column("experiment", sa.String(100), nullable=True),
        sa.Column("variant", sa.String(50), nullable=False),
        sa.Column("policy", sa.String(50), nullable=False),
        sa.Column("policy_params", sa.JSON, nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_recommendation_lists_mentee_id", "recommendation_lists", ["mentee_id"])
    op.create_index("ix_recommendation_lists_created_at", "recommendation_lists", ["created_at"])
    op.create_table(
        "recommendation_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("list_id", LIST_ID, sa.ForeignKey("recommendation_lists.list_id"), nullable=True),
        sa.Column("mentee_id", sa.Integer, sa.ForeignKey("mentees.mentee_id"), nullable=False),
        sa.Column("mentor_id", sa.Integer, sa.ForeignKey("mentors.mentor_id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("success", sa.Boolean, nullable=True),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_recommendation_events_list_id", "recommendation_events", ["list_id"])
    op.create_index("ix_recommendation_events_pair", "recommendation_events", ["mentee_id", "mentor_id"])

    # Foreign keys named as PostgreSQL names them, so that a database made by
    # metadata.create_all and one made by this revision agree.
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("list_id", LIST_ID, nullable=True))
        batch.create_foreign_key(
            "interactions_list_id_fkey", "recommendation_lists", ["list_id"], ["list_id"]
        )
        batch.create_index("ix_interactions_list_id", ["list_id"])

    with op.batch_alter_table("recommendation_feedback") as batch:
        batch.alter_column("mentee_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("list_id", LIST_ID, nullable=True))
        batch.add_column(sa.Column("score", sa.Float, nullable=True))
        batch.add_column(sa.Column("similarity", sa.Float, nullable=True))
        batch.add_column(sa.Column("propensity", sa.Float, nullable=True))
        batch.add_column(sa.Column("features", sa.JSON, nullable=True))
        batch.create_foreign_key(
            "recommendation_feedback_list_id_fkey", "recommendation_lists", ["list_id"], ["list_id"]
        )
        batch.create_index(
            "ix_recommendation_feedback_list_slot", ["list_id", "recommended_rank"], unique=True
        )

    op.create_index("ix_mentors_updated_at", "mentors", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_mentors_updated_at", table_name="mentors")

    # Dropping a column drops its index and foreign key with it (PostgreSQL does so itself;
    # SQLite's batch copy leaves out what names a dropped column), whatever the key's name.
    op.execute(sa.text("DELETE FROM recommendation_feedback WHERE mentee_id IS NULL"))
    with op.batch_alter_table("recommendation_feedback") as batch:
        batch.drop_index("ix_recommendation_feedback_list_slot")
        for column in ("features", "propensity", "similarity", "score", "list_id"):
            batch.drop_column(column)
        batch.alter_column("mentee_id", existing_type=sa.Integer, nullable=False)

    with op.batch_alter_table("interactions") as batch:
        batch.drop_index("ix_interactions_list_id")
        batch.drop_column("list_id")

    op.drop_table("recommendation_events")
    op.drop_table("recommendation_lists")
