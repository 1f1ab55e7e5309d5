"""Assignments (a course with a due date, for chosen members), e-mail domains and join requests.

An ``Assignment`` belongs to an organisation; ``AssignedPerson`` is one person it was given to,
with the enrolment that counts for it. Whether a person is done is computed, never stored
(``done_condition``): a completed enrolment of the course whose certificate is still in force on
the due date. A certificate revoked later, or one that expires before the due date, does not count.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint, and_, exists, or_
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

REQUEST_STATUSES = ("pending", "confirmed", "declined", "withdrawn")
REQUEST_SOURCES = ("signup", "email_domain", "profile")


class Assignment(db.Model):
    """A course an organisation's manager gave to some of its members, to be done by ``due_on``."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    # The first instant after the due day (UTC): what certificates' expiry and "now" are compared with.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course = relationship("Course", lazy="joined")
    people: Mapped[list[AssignedPerson]] = relationship(back_populates="assignment", cascade="all, delete-orphan")


class AssignedPerson(db.Model):
    """One person an assignment was given to."""

    __tablename__ = "assigned_people"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The enrolment made (or found active) when assigned; None when a certificate in force already counted.
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    assignment: Mapped[Assignment] = relationship(back_populates="people")
    user = relationship("User")


class OrganisationDomain(db.Model):
    """An e-mail domain of an organisation: people signing up with it are proposed as its members."""

    __tablename__ = "organisation_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)  # lower-case, no "@"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JoinRequest(db.Model):
    """Someone asking to be a member of an organisation, until a manager or an admin decides."""

    __tablename__ = "organisation_join_requests"
    __table_args__ = (Index("ix_organisation_join_requests_org_status", "organisation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user = relationship("User", foreign_keys=[user_id])
    organisation = relationship("Organisation")


def done_condition(person=AssignedPerson, assignment=Assignment):
    """SQL: the person has done the assignment's course, with a certificate in force on the due date.

    A completed enrolment whose certificate is not issued yet (the worker issues it moments later)
    counts; a revoked certificate, or one expiring before the end of the due day, does not.
    """
    from learning.certificates.models import Certificate
    from learning.enrolment.models import Enrolment

    enrolment = aliased(Enrolment)
    certificate = aliased(Certificate)
    spoiled = exists().where(
        certificate.enrolment_id == enrolment.id,
        or_(certificate.revoked_at.is_not(None),
            and_(certificate.expires_at.is_not(None), certificate.expires_at < assignment.due_at)),
    )
    return exists().where(
        enrolment.user_id == person.user_id,
        enrolment.course_id == assignment.course_id,
        enrolment.status == "completed",
        ~spoiled,
    )
