"""Accounts: server-side sessions, one-time TOTP codes, throttled guessing.

- ``user_sessions``: a row per signed-in browser, so that sign-out, "sign out everywhere" and a
  password change end sessions and remember-me cookies on the server, not only in one browser.
- ``users.totp_last_step`` (a code is accepted once), ``users.totp_failures`` and
  ``users.totp_failed_at`` (wrong codes slow down), ``users.sign_in_alert_at`` (the owner is told
  once per burst of failed sign-ins).
- an index on ``login_failures.ip``: sign-in failures are also counted per address.

Revision ID: 0006_h2
Revises: 0005_reminders_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_h2"
down_revision = "0005_reminders_index"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_user_sessions_key_hash")),
    )
    with op.batch_alter_table("user_sessions") as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("totp_failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("totp_failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sign_in_alert_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("login_failures") as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_ip"), ["ip"], unique=False)


def downgrade():
    with op.batch_alter_table("login_failures") as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_ip"))
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("sign_in_alert_at")
        batch_op.drop_column("totp_failed_at")
        batch_op.drop_column("totp_failures")
        batch_op.drop_column("totp_last_step")
    with op.batch_alter_table("user_sessions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
