"""Reporting: the change log of the facts, which keeps each process's in-memory period index exact.

Every statement that rewrites someone's facts (``rollup.refresh_people``, both its paths) also adds
one row per person to ``report_changes``, in the same statement; a process holding the index
(``learning/reporting/period_index/``) reads the people changed since its last synchronisation
(``xid >= pg_snapshot_xmin`` of that snapshot) and reloads their facts. Old rows are pruned by the
``reporting.prune_changes`` beat task, which raises ``report_changes_horizon.pruned_below`` first: a
process whose last snapshot is older reloads everything. Written on PostgreSQL only (the index is off
on SQLite, where the tables exist only to match the models).

Revision ID: 0015_period3
Revises: 0014_merge
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import UserDefinedType

revision = "0015_period3"
down_revision = "0014_merge"
branch_labels = None
depends_on = None


class XID8(UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "xid8"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    xid8 = XID8 if postgresql else sa.Numeric  # SQLite never writes these tables
    op.create_table(
        "report_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("xid", xid8, server_default=sa.text("pg_current_xact_id()") if postgresql else None),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_report_changes_xid", "report_changes", ["xid"])
    op.create_index("ix_report_changes_at", "report_changes", ["at"])
    op.create_table(
        "report_changes_horizon",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("pruned_below", xid8),
    )


def downgrade() -> None:
    op.drop_table("report_changes_horizon")
    op.drop_table("report_changes")
