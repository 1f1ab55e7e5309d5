"""Knowledge tests (pre-test and post-test of a course), their questions and scored attempts.

Revision ID: 0010_gain
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_gain"
down_revision = "0009_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_tests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("same_as_pre", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_knowledge_tests_course_id_courses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_tests")),
        sa.UniqueConstraint("course_id", "kind", name=op.f("uq_knowledge_tests_course_id_kind")),
    )
    op.create_index(op.f("ix_knowledge_tests_course_id"), "knowledge_tests", ["course_id"], unique=False)
    op.create_table(
        "knowledge_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["test_id"], ["knowledge_tests.id"],
                                name=op.f("fk_knowledge_questions_test_id_knowledge_tests"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_questions")),
    )
    op.create_index(op.f("ix_knowledge_questions_test_id"), "knowledge_questions", ["test_id"], unique=False)
    op.create_table(
        "knowledge_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("translations", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["knowledge_questions.id"],
                                name=op.f("fk_knowledge_choices_question_id_knowledge_questions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_choices")),
    )
    op.create_index(op.f("ix_knowledge_choices_question_id"), "knowledge_choices", ["question_id"], unique=False)
    op.create_table(
        "knowledge_test_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["enrolment_id"], ["enrolments.id"],
                                name=op.f("fk_knowledge_test_attempts_enrolment_id_enrolments"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_test_attempts")),
        sa.UniqueConstraint("enrolment_id", "kind", name=op.f("uq_knowledge_test_attempts_enrolment_id_kind")),
    )
    op.create_index("ix_knowledge_test_attempts_kind_submitted_at", "knowledge_test_attempts",
                    ["kind", "submitted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_knowledge_test_attempts_kind_submitted_at", table_name="knowledge_test_attempts")
    op.drop_table("knowledge_test_attempts")
    op.drop_index(op.f("ix_knowledge_choices_question_id"), table_name="knowledge_choices")
    op.drop_table("knowledge_choices")
    op.drop_index(op.f("ix_knowledge_questions_test_id"), table_name="knowledge_questions")
    op.drop_table("knowledge_questions")
    op.drop_index(op.f("ix_knowledge_tests_course_id"), table_name="knowledge_tests")
    op.drop_table("knowledge_tests")
