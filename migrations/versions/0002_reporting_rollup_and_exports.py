"""reporting: the statistics rollup (facts and cells) and export jobs

Revision ID: 0002_reporting
Revises: 0001_initial
"""
from alembic import op
import sqlalchemy as sa


revision = "0002_reporting"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "report_facts",
        sa.Column("id", big_id, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_facts")),
    )
    with op.batch_alter_table("report_facts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_facts_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_report_facts_kind_day", ["kind", "day"], unique=False)
        batch_op.create_index("ix_report_facts_country_day", ["country", "day"], unique=False)

    op.create_table(
        "report_cells",
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("dims", sa.String(length=40), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "dims", "period", "country", "sector", "course_id", "cohort_id",
                                "organisation_id", name=op.f("pk_report_cells")),
    )

    op.create_table(
        "report_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("group_by", sa.String(length=40), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("file_path", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_report_exports_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_exports")),
    )
    with op.batch_alter_table("report_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_exports_requested_by_id"), ["requested_by_id"], unique=False)

    # Existing enrolments and certificates: build the rollup from them once.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM enrolments LIMIT 1")).first() is not None:
        from learning.reporting.rebuild import rebuild

        rebuild(bind)


def downgrade():
    with op.batch_alter_table("report_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_exports_requested_by_id"))
    op.drop_table("report_exports")
    op.drop_table("report_cells")
    with op.batch_alter_table("report_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_report_facts_country_day")
        batch_op.drop_index("ix_report_facts_kind_day")
        batch_op.drop_index(batch_op.f("ix_report_facts_user_id"))
    op.drop_table("report_facts")
