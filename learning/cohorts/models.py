"""Cohorts run by trainers, their sessions and attendance.

A cohort's members are the enrolments that point at it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

DELIVERY_MODES = ("online", "in_person", "blended")
ATTENDANCE_RULES = ("none", "all_sessions", "min_percent")
# The rules under which attendance decides a member's completion (the trainer closes the cohort or signs
# them off), not the online part alone; "none" leaves it to the learner's progress.
ATTENDANCE_DECIDES = ("all_sessions", "min_percent")
NAME_MAX = 200
CAPACITY_MAX = 2**31 - 1  # the most an INTEGER column holds


class Cohort(db.Model):
    """A group of learners taking one course together in one country."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    delivery: Mapped[str] = mapped_column(String(16))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closed
    attendance_rule: Mapped[str] = mapped_column(String(16), default="none")
    attendance_min_percent: Mapped[int | None] = mapped_column()
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course = relationship("Course")
    trainers: Mapped[list[CohortTrainer]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    sessions: Mapped[list[TrainingSession]] = relationship(
        cascade="all, delete-orphan", order_by="TrainingSession.starts_at"
    )


class CohortTrainer(db.Model):
    """A trainer assigned to a cohort."""

    __tablename__ = "cohort_trainers"

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class TrainingSession(db.Model):
    """An in-person or live session of a cohort."""

    __tablename__ = "training_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(300), default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class Attendance(db.Model):
    """Whether a member attended a session."""

    __tablename__ = "attendance"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("enrolments.id", ondelete="CASCADE"), primary_key=True
    )
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    # Absent with a reason the trainer accepted (never together with present); the attendance rules
    # count only ``present``.
    excused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the mark was made: by the server for a mark made online, by the device for one made offline
    # (its event's ``occurred_at``); a later mark replaces it, an older one does not (sessions.apply_mark).
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CohortInvitation(db.Model):
    """An account created from a cohort's roster, and when its invitation e-mail was queued.

    The row is written with the account; ``sent_at`` is set in the same transaction
    that queues the e-mail, so a retried handler never invites anyone twice.
    """

    __tablename__ = "cohort_invitations"

    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


IMPORT_STATUSES = ("queued", "running", "done", "rejected", "failed")


class RosterImport(db.Model):
    """A large roster file imported in the background, with its progress and report."""

    __tablename__ = "roster_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255), default="")
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total_rows: Mapped[int] = mapped_column(default=0)
    processed_rows: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
