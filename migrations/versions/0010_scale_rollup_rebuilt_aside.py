"""Reporting: the rollup is rebuilt aside and swapped in; who changed while it was being built.

``report_rebuilds`` records each rebuild (one row with ``state = 'building'`` while one runs);
while such a row exists, every refresh of the rollup on PostgreSQL also writes the people it
refreshed into ``report_rebuild_pending``, and the rebuild brings them up to date in the tables it
built before swapping them in (``learning/reporting/rebuild.py``).

Revision ID: 0010_scale
Revises: 0009_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_scale"
down_revision = "0009_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_rebuilds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rebuilds")),
    )
    with op.batch_alter_table("report_rebuilds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_rebuilds_state"), ["state"], unique=False)
    op.create_table(
        "report_rebuild_pending",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_report_rebuild_pending")),
    )


def downgrade() -> None:
    op.drop_table("report_rebuild_pending")
    with op.batch_alter_table("report_rebuilds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_rebuilds_state"))
    op.drop_table("report_rebuilds")
