"""Offline learning: the events applied from learners' devices (DESIGN.md rule 9).

Revision ID: 0008_h12
Revises: 0007_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_h12"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "device_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_events_user_id", "device_events", ["user_id"])
    op.create_index("ix_device_events_enrolment_id", "device_events", ["enrolment_id"])


def downgrade():
    op.drop_index("ix_device_events_enrolment_id", table_name="device_events")
    op.drop_index("ix_device_events_user_id", table_name="device_events")
    op.drop_table("device_events")
