"""Knowledge tests (a course's pre-test and post-test), their questions, and the scored attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.catalogue.models import ChoiceColumns, QuestionColumns
from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

KINDS = ("pre", "post")


class KnowledgeTest(db.Model):
    """A course's pre-test or post-test. A post-test with ``same_as_pre`` asks the pre-test's
    questions again and has none of its own; otherwise it holds parallel questions."""

    __tablename__ = "knowledge_tests"
    __table_args__ = (UniqueConstraint("course_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "pre" or "post"
    same_as_pre: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    questions: Mapped[list[KnowledgeQuestion]] = relationship(
        cascade="all, delete-orphan", order_by="KnowledgeQuestion.position", back_populates="test"
    )


class KnowledgeQuestion(QuestionColumns, db.Model):
    __tablename__ = "knowledge_questions"

    test_id: Mapped[int] = mapped_column(ForeignKey("knowledge_tests.id", ondelete="CASCADE"), index=True)

    test: Mapped[KnowledgeTest] = relationship(back_populates="questions")
    choices: Mapped[list[KnowledgeChoice]] = relationship(
        cascade="all, delete-orphan", order_by="KnowledgeChoice.position", back_populates="question"
    )


class KnowledgeChoice(ChoiceColumns, db.Model):
    __tablename__ = "knowledge_choices"

    question_id: Mapped[int] = mapped_column(ForeignKey("knowledge_questions.id", ondelete="CASCADE"), index=True)

    question: Mapped[KnowledgeQuestion] = relationship(back_populates="choices")


class KnowledgeTestAttempt(db.Model):
    """The one scored attempt of an enrolment at its pre-test or post-test (a unique constraint, not
    only a check). Attribution (country, sector, organisation, cohort, course) is the enrolment's,
    recorded when the learner enrolled (rule 3); the report joins it."""

    __tablename__ = "knowledge_test_attempts"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "kind"),
        Index("ix_knowledge_test_attempts_kind_submitted_at", "kind", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[int] = mapped_column()  # percent of the questions answered right, 0-100
    correct: Mapped[int] = mapped_column()
    questions: Mapped[int] = mapped_column()
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
