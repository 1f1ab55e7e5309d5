"""Reporting: keep cells only for the families the rollup maintains; index facts by course, cohort, organisation.

The rollup used to keep cells for every combination of at most two dimensions at every grain (all
time, year, month): at 1,000,000 enrolments that was 19 million cells, nine for every fact, most of
them one person in one cohort or organisation in one month. It now keeps every combination of
country, sector and course at every grain, and each cohort and organisation by all time and year
(``learning.reporting.rollup.CELL_FAMILIES``); reports on anything else count the facts, through the
three indexes added here. The cells of the families no longer kept are deleted; the others are
unchanged and stay exact.

Revision ID: 0004_reporting_families
Revises: 0003_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_reporting_families"
down_revision = "0003_merge"
branch_labels = None
depends_on = None

KEPT_AT_EVERY_GRAIN = ("", "country", "sector", "course", "country+sector", "country+course", "sector+course")
KEPT_BY_YEAR = ("cohort", "organisation")


def upgrade():
    op.create_index("ix_report_facts_course_day", "report_facts", ["course_id", "day"])
    op.create_index("ix_report_facts_cohort_day", "report_facts", ["cohort_id", "day"])
    op.create_index("ix_report_facts_organisation_day", "report_facts", ["organisation_id", "day"])
    cells = sa.table("report_cells", sa.column("dims", sa.String), sa.column("period", sa.Integer))
    op.execute(cells.delete().where(
        sa.not_(cells.c.dims.in_(KEPT_AT_EVERY_GRAIN)),
        sa.not_(sa.and_(cells.c.dims.in_(KEPT_BY_YEAR), cells.c.period < 100000)),
    ))


def downgrade():
    op.drop_index("ix_report_facts_organisation_day", table_name="report_facts")
    op.drop_index("ix_report_facts_cohort_day", table_name="report_facts")
    op.drop_index("ix_report_facts_course_day", table_name="report_facts")
    # The earlier code keeps more cells: run `flask --app learning reports rebuild` after downgrading.
