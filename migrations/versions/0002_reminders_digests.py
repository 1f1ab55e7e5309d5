"""reminders: daily digests, and a status per claimed reminder

Revision ID: 0002_reminders
Revises: 0001_initial
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_reminders"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reminder_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_reminder_digests_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_digests")),
        sa.UniqueConstraint("user_id", "local_date", name=op.f("uq_reminder_digests_user_id_local_date")),
    )
    with op.batch_alter_table("reminder_digests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_digests_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_reminder_digests_status_next", ["status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("reminders_sent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="claimed"))
        batch_op.add_column(sa.Column("subject_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reminders_sent_digest_id_reminder_digests"), "reminder_digests", ["digest_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_reminders_sent_digest_id"), ["digest_id"], unique=False)
    # Rows logged before digests existed were sent one by one.
    op.execute("UPDATE reminders_sent SET status = 'sent' WHERE sent_at IS NOT NULL")


def downgrade():
    with op.batch_alter_table("reminders_sent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminders_sent_digest_id"))
        batch_op.drop_constraint(batch_op.f("fk_reminders_sent_digest_id_reminder_digests"), type_="foreignkey")
        batch_op.drop_column("digest_id")
        batch_op.drop_column("due_on")
        batch_op.drop_column("subject_id")
        batch_op.drop_column("status")
    with op.batch_alter_table("reminder_digests", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_digests_status_next")
        batch_op.drop_index(batch_op.f("ix_reminder_digests_user_id"))
    op.drop_table("reminder_digests")
