"""reporting: the statistics rollup (facts and cells) and export jobs

Revision ID: 0002_reporting
Revises: 0001_initial
"""
import itertools

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
        build_rollup(bind)


# A frozen copy of the rollup as this revision defined it (the application's code moves on; a
# migration must not): facts per person, kind, UTC day and dimensions, then cells counting distinct
# people (certificates for "certified") for every combination of at most two dimensions at every
# grain. 0004 later deletes the cell families the rollup stopped keeping.
DIMENSIONS = (("country", "country", "''"), ("sector", "sector", "''"), ("course", "course_id", "0"),
              ("cohort", "cohort_id", "0"), ("organisation", "organisation_id", "0"))


def build_rollup(bind) -> None:
    """Fill report_facts and report_cells from enrolments and certificates (both tables empty)."""
    if bind.dialect.name == "postgresql":
        day = "CAST(timezone('UTC', {}) AS date)".format
        year = "CAST(EXTRACT(year FROM {}) AS integer)".format
        month = "CAST(EXTRACT(year FROM {0}) * 100 + EXTRACT(month FROM {0}) AS integer)".format
    else:
        day = "date({})".format
        year = "CAST(strftime('%Y', {}) AS integer)".format
        month = "CAST(strftime('%Y%m', {}) AS integer)".format
    recorded = ("COALESCE(e.country, '')", "COALESCE(e.sector, '')", "e.course_id", "COALESCE(e.cohort_id, 0)",
                "COALESCE(e.organisation_id, 0)")
    columns = [column for _name, column, _neutral in DIMENSIONS]

    def facts(kind: str, when: str, source: str) -> str:
        named = ", ".join(f"{value} AS {column}" for value, column in zip(recorded, columns, strict=True))
        return (f"SELECT e.user_id AS user_id, '{kind}' AS kind, {day(when)} AS day, {named}, count(*) AS weight "
                f"FROM {source} GROUP BY e.user_id, {day(when)}, {', '.join(recorded)}")

    every_fact = " UNION ALL ".join((
        facts("reached", "e.enrolled_at", "enrolments e"),
        facts("trained", "e.completed_at", "enrolments e WHERE e.completed_at IS NOT NULL"),
        facts("certified", "c.issued_at", "certificates c JOIN enrolments e ON e.id = c.enrolment_id"),
    ))
    bind.execute(sa.text(
        f"INSERT INTO report_facts (user_id, kind, day, year, month, {', '.join(columns)}, weight) "
        f"SELECT f.user_id, f.kind, f.day, {year('f.day')}, {month('f.day')}, "
        f"{', '.join('f.' + column for column in columns)}, f.weight FROM ({every_fact}) AS f"
    ))
    for size in (0, 1, 2):
        for subset in itertools.combinations(DIMENSIONS, size):
            dims = "+".join(name for name, _column, _neutral in subset)
            kept = [column for _name, column, _neutral in subset]
            values = ", ".join(column if column in kept else f"{neutral} AS {column}"
                               for _name, column, neutral in DIMENSIONS)
            grouping = ", ".join(["kind", "period", *kept])
            for period in ("0", "year", "month"):
                people = (f"SELECT DISTINCT kind, {period} AS period, {', '.join(['user_id', *kept])} "
                          "FROM report_facts WHERE kind <> 'certified'")
                certified = (f"SELECT kind, {period} AS period, {', '.join([*kept, 'weight'])} "
                             "FROM report_facts WHERE kind = 'certified'")
                bind.execute(sa.text(
                    f"INSERT INTO report_cells (kind, dims, period, {', '.join(columns)}, n) "
                    f"SELECT kind, '{dims}', period, {values}, count(*) FROM ({people}) AS p GROUP BY {grouping} "
                    f"UNION ALL SELECT kind, '{dims}', period, {values}, sum(weight) FROM ({certified}) AS c "
                    f"GROUP BY {grouping}"
                ))


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
