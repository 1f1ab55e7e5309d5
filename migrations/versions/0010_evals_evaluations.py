"""Course evaluations: one per completed enrolment, attributed as the enrolment recorded it, and its answers.

Revision ID: 0010_evals
Revises: 0009_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_evals"
down_revision = "0009_merge"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=True),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("sector", sa.String(length=32), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolments.id"], name="fk_evaluations_enrolment_id_enrolments",
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name="fk_evaluations_course_id_courses"),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohorts.id"], name="fk_evaluations_cohort_id_cohorts"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name="fk_evaluations_organisation_id_organisations"),
        sa.PrimaryKeyConstraint("id", name="pk_evaluations"),
        sa.UniqueConstraint("enrolment_id", name="uq_evaluations_enrolment_id"),
    )
    op.create_index("ix_evaluations_course_submitted", "evaluations", ["course_id", "submitted_at"])
    op.create_index("ix_evaluations_cohort", "evaluations", ["cohort_id"])
    op.create_index("ix_evaluations_submitted_at", "evaluations", ["submitted_at"])
    op.create_index("ix_evaluations_organisation_id", "evaluations", ["organisation_id"])
    op.create_table(
        "evaluation_answers",
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=40), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("choice", sa.String(length=40), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="ck_evaluation_answers_rating"),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.id"],
                                name="fk_evaluation_answers_evaluation_id_evaluations", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("evaluation_id", "question", name="pk_evaluation_answers"),
    )
    op.create_index("ix_evaluation_answers_question", "evaluation_answers", ["question"])


def downgrade():
    op.drop_index("ix_evaluation_answers_question", table_name="evaluation_answers")
    op.drop_table("evaluation_answers")
    op.drop_index("ix_evaluations_organisation_id", table_name="evaluations")
    op.drop_index("ix_evaluations_submitted_at", table_name="evaluations")
    op.drop_index("ix_evaluations_cohort", table_name="evaluations")
    op.drop_index("ix_evaluations_course_submitted", table_name="evaluations")
    op.drop_table("evaluations")
