"""Partner organisations: assignments with due dates, the people they were given to, e-mail
domains, and requests to join an organisation.

Revision ID: 0008_h9
Revises: 0007_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_h9"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_assignments_course_id_courses")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_assignments_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_assignments_organisation_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_course_id"), "assignments", ["course_id"], unique=False)
    op.create_index(op.f("ix_assignments_organisation_id"), "assignments", ["organisation_id"], unique=False)
    op.create_table(
        "assigned_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignments.id"],
                                name=op.f("fk_assigned_people_assignment_id_assignments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolments.id"],
                                name=op.f("fk_assigned_people_enrolment_id_enrolments"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_assigned_people_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assigned_people")),
        sa.UniqueConstraint("assignment_id", "user_id", name=op.f("uq_assigned_people_assignment_id_user_id")),
    )
    op.create_index(op.f("ix_assigned_people_user_id"), "assigned_people", ["user_id"], unique=False)
    op.create_table(
        "organisation_domains",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_organisation_domains_organisation_id_organisations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_organisation_domains")),
    )
    op.create_index(op.f("ix_organisation_domains_organisation_id"), "organisation_domains", ["organisation_id"],
                    unique=False)
    op.create_table(
        "organisation_join_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_organisation_join_requests_decided_by_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_organisation_join_requests_organisation_id_organisations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_organisation_join_requests_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_join_requests")),
    )
    op.create_index("ix_organisation_join_requests_org_status", "organisation_join_requests",
                    ["organisation_id", "status"], unique=False)
    op.create_index(op.f("ix_organisation_join_requests_user_id"), "organisation_join_requests", ["user_id"],
                    unique=False)


def downgrade():
    op.drop_index(op.f("ix_organisation_join_requests_user_id"), table_name="organisation_join_requests")
    op.drop_index("ix_organisation_join_requests_org_status", table_name="organisation_join_requests")
    op.drop_table("organisation_join_requests")
    op.drop_index(op.f("ix_organisation_domains_organisation_id"), table_name="organisation_domains")
    op.drop_table("organisation_domains")
    op.drop_index(op.f("ix_assigned_people_user_id"), table_name="assigned_people")
    op.drop_table("assigned_people")
    op.drop_index(op.f("ix_assignments_organisation_id"), table_name="assignments")
    op.drop_index(op.f("ix_assignments_course_id"), table_name="assignments")
    op.drop_table("assignments")
