"""Reporting: the facts' (kind, day) index covers every column a report reads (PostgreSQL).

A summary whose period is not a whole year or month counts distinct people over the facts of the
period; with ``INCLUDE`` that is an index-only range scan of those facts instead of a scan of the
whole table (``docs/PERFORMANCE.md``, *Any period, exact*). Other databases keep the plain index.

Revision ID: 0013_period2
Revises: 0012_merge
"""

from alembic import op

revision = "0013_period2"
down_revision = "0012_merge"
branch_labels = None
depends_on = None

COVERED = ["user_id", "year", "month", "country", "sector", "course_id", "cohort_id", "organisation_id", "weight"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_report_facts_kind_day", table_name="report_facts")
    op.create_index("ix_report_facts_kind_day", "report_facts", ["kind", "day"], postgresql_include=COVERED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_report_facts_kind_day", table_name="report_facts")
    op.create_index("ix_report_facts_kind_day", "report_facts", ["kind", "day"])
