"""Evaluations: one per completed enrolment, its answers, and the attribution it was given.

An evaluation copies the attribution its enrolment recorded (country, sector,
organisation, course, cohort: DESIGN.md rule 3), so reports count it from this
history alone and an erasure, which detaches it from the enrolment, leaves the
figures as they were. Reports never name who answered; ``enrolment_id`` is kept
only to allow one evaluation per enrolment, to show the learner that they have
answered, and to find their answers when they ask for their data or its erasure.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow


class Evaluation(db.Model):
    """A learner's evaluation of a course (and of its cohort's trainer and sessions) they completed."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_course_submitted", "course_id", "submitted_at"),
        Index("ix_evaluations_cohort", "cohort_id"),
        Index("ix_evaluations_submitted_at", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: one evaluation per enrolment (a second one is refused, 409). Null once the person is erased.
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrolments.id", ondelete="SET NULL"), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"))
    country: Mapped[str | None] = mapped_column(String(2))
    sector: Mapped[str | None] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    language: Mapped[str | None] = mapped_column(String(35))  # the language the form was read in
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    answers: Mapped[list[EvaluationAnswer]] = relationship(
        cascade="all, delete-orphan", back_populates="evaluation", lazy="selectin")


class EvaluationAnswer(db.Model):
    """One answer: a rating (1-5), a choice's value, or a free text, to the question named by its key."""

    __tablename__ = "evaluation_answers"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating"),
        Index("ix_evaluation_answers_question", "question"),
    )

    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    question: Mapped[str] = mapped_column(String(40), primary_key=True)
    rating: Mapped[int | None] = mapped_column()
    choice: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)

    evaluation: Mapped[Evaluation] = relationship(back_populates="answers")
