"""Factories for certificate tests: completed enrolments and their certificates."""

from __future__ import annotations

from datetime import datetime

from learning.certificates import services
from learning.extensions import db
from tests import factories


def completion(learner=None, of_course=None, completed_at: datetime | None = None):
    """A completed enrolment (through the services), optionally backdated."""
    learner = learner or factories.user()
    enrolment = factories.completed_enrolment(learner, of_course)
    if completed_at is not None:
        enrolment.completed_at = completed_at
        db.session.commit()
    return enrolment


def certificate(learner=None, of_course=None, completed_at: datetime | None = None, **course_fields):
    """A certificate issued for a fresh completion, as the outbox handler would issue it."""
    if of_course is None and course_fields:
        of_course = factories.course(**course_fields)
    enrolment = completion(learner, of_course, completed_at)
    return services.issue_certificate(enrolment.id)


def sign_in(client, user) -> None:
    """Sign a browser client in as ``user`` (CSRF is off in the test app)."""
    response = client.post("/account/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
