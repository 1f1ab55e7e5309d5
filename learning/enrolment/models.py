"""Enrolments, lesson progress and quiz attempts.

An enrolment records the learner's country, sector and organisation as they
were when the learner enrolled (DESIGN.md rule 3): reports attribute by these
columns, never by the live profile.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

ENROLMENT_STATUSES = ("active", "completed", "withdrawn")


class Enrolment(db.Model):
    """One learner taking one course once (a recertification is a new enrolment)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        # One active enrolment per learner and course, enforced by the database.
        Index(
            "uq_enrolments_active_user_course",
            "user_id",
            "course_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_enrolments_enrolled_at", "enrolled_at"),
        Index("ix_enrolments_completed_at", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Snapshot at enrolment (rule 3).
    country: Mapped[str | None] = mapped_column(String(2))
    sector: Mapped[str | None] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    language: Mapped[str | None] = mapped_column(String(35))

    course = relationship("Course", lazy="joined")
    user = relationship("User", foreign_keys=[user_id])
    progress: Mapped[list[LessonProgress]] = relationship(
        cascade="all, delete-orphan", back_populates="enrolment"
    )


class LessonProgress(db.Model):
    """A lesson a learner has completed within an enrolment."""

    __tablename__ = "lesson_progress"

    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), primary_key=True
    )
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enrolment: Mapped[Enrolment] = relationship(back_populates="progress")


class QuizAttempt(db.Model):
    """A scored quiz attempt; the score is computed on the server."""

    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), index=True
    )
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    score: Mapped[int] = mapped_column()  # percent, 0-100
    passed: Mapped[bool] = mapped_column()
    answers: Mapped[dict] = mapped_column(JSON, default=dict)


class DeviceEvent(db.Model):
    """An event made on a learner's device (offline) and applied by ``POST /api/v1/sync``.

    The primary key is the id the device gave the event: inserted in the same transaction as
    the event's effect, it makes applying one event twice impossible (DESIGN.md rule 9), even
    when two requests carry it at the same moment.
    """

    __tablename__ = "device_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the device's UUID, canonical form
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
