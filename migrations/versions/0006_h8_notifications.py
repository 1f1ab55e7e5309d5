"""Reminders: notifications ("your certificate is ready") as digests of their own kind.

A notification goes out within a minute of its event and does not count towards the learner's one
reminders digest a day, so the unique (user_id, local_date) becomes a partial unique index over the
reminders digests only (``kind = 'reminders'``, the default, which every existing row takes).

Revision ID: 0006_h8
Revises: 0005_reminders_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h8"
down_revision = "0005_reminders_index"
branch_labels = None
depends_on = None

REMINDERS_PER_DAY = sa.text("kind = 'reminders'")


def upgrade():
    with op.batch_alter_table("reminder_digests") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="reminders"))
        batch_op.drop_constraint("uq_reminder_digests_user_id_local_date", type_="unique")
        batch_op.create_index("uq_reminder_digests_reminders_per_day", ["user_id", "local_date"], unique=True,
                              postgresql_where=REMINDERS_PER_DAY, sqlite_where=REMINDERS_PER_DAY)


def downgrade():
    # Notifications cannot be kept under one-digest-a-day: their sent-log rows stay, unattached.
    op.execute("UPDATE reminders_sent SET digest_id = NULL WHERE digest_id IN "
               "(SELECT id FROM reminder_digests WHERE kind <> 'reminders')")
    op.execute("DELETE FROM reminder_digests WHERE kind <> 'reminders'")
    with op.batch_alter_table("reminder_digests") as batch_op:
        batch_op.drop_index("uq_reminder_digests_reminders_per_day")
        batch_op.create_unique_constraint("uq_reminder_digests_user_id_local_date", ["user_id", "local_date"])
        batch_op.drop_column("kind")
