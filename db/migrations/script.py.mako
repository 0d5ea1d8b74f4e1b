"""${message}

Say in a line or two what this revision adds and why; use op.batch_alter_table for every
change to an existing table (SQLite rebuilds the table), and write the downgrade too.
tests/db/test_migrations.py checks that upgrading to head gives db/schema.py exactly.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
