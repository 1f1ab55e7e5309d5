"""Reminders: drop the index on reminder_digests.user_id, which the unique (user_id, local_date) index covers.

Every claiming run inserts one digest per learner due (91,523 in the benchmark's worst case); each
kept an extra B-tree entry that no query needed, since the unique index starts with user_id.

Revision ID: 0005_reminders_index
Revises: 0004_reporting_families
"""

from alembic import op

revision = "0005_reminders_index"
down_revision = "0004_reporting_families"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reminder_digests") as batch_op:
        batch_op.drop_index("ix_reminder_digests_user_id")


def downgrade():
    with op.batch_alter_table("reminder_digests") as batch_op:
        batch_op.create_index("ix_reminder_digests_user_id", ["user_id"], unique=False)
