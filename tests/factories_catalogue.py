"""Factories for the catalogue and enrolment tests: certificates, answers, events.

Certificates are issued by the certificates feature; these tests only need the
row that says one exists and when it expires, so they create it directly.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from learning.catalogue.models import Course
from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent

_seq = itertools.count(1)


def certificate(enrolment: Enrolment, expires_at: datetime | None = None, revoked: bool = False) -> Certificate:
    """A certificate row for a completed enrolment, expiring when told."""
    row = Certificate(
        code=secrets.token_hex(8),
        enrolment_id=enrolment.id,
        user_id=enrolment.user_id,
        course_id=enrolment.course_id,
        holder_name="Holder",
        course_title="Course",
        course_language="en",
        issued_at=(enrolment.completed_at or utcnow()),
        expires_at=expires_at,
        revoked_at=utcnow() if revoked else None,
    )
    db.session.add(row)
    db.session.commit()
    return row


def days(n: int) -> timedelta:
    return timedelta(days=n)


def right_answers(course: Course) -> dict[str, int]:
    return {str(q.id): next(c.id for c in q.choices if c.correct) for q in course.quiz.questions}


def wrong_answers(course: Course) -> dict[str, int]:
    return {str(q.id): next(c.id for c in q.choices if not c.correct) for q in course.quiz.questions}


def events(event_type: str = "enrolment.completed") -> list[OutboxEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == event_type)))


def arabic_translations() -> dict:
    """Texts of the default test course in Arabic, so an Arabic learner sees their language."""
    return {"ar": {"title": "دورة الحماية", "summary": "ما يحتاج المهنيون إلى معرفته."}}


def lesson_ids(course: Course) -> list[int]:
    return [lesson.id for module in course.modules for lesson in module.lessons]


def slug() -> str:
    return f"extra-course-{next(_seq)}"
