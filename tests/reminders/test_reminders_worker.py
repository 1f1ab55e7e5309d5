"""With a real worker on a real broker: the beat's task finds, claims and sends reminders to a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from learning.extensions import db
from learning.models_base import utcnow
from learning.reminders.models import ReminderDigest
from tests import factories_reminders as remind
from tests.conftest import wait_until
from tests.support import body_text

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


def beat(live_app) -> None:
    """What celery beat does on schedule: publish ``reminders.run``."""
    live_app.extensions["celery"].send_task("reminders.run")


def test_the_beat_task_sends_each_reminder_once_through_the_worker(live_app, celery_worker, smtp):
    now = utcnow()
    zone = remind.daytime_zone(now)  # the worker runs on the real clock: pick a zone where it is day
    with live_app.app_context():
        from tests import factories

        course = factories.course()
        idle = remind.learner(timezone=zone, language="fr")
        remind.idle_enrolment(idle, idle_since=now - timedelta(days=8), of_course=course)
        certificate = remind.certificate(idle, issued_at=now - timedelta(hours=2))
        idle_email, slug, code = idle.email, course.slug, certificate.code
        db.session.remove()

    beat(live_app)
    [message] = smtp.wait_for(idle_email, timeout=60)
    assert message["Content-Language"] == "fr"
    assert f"/courses/{slug}" in body_text(message)
    assert f"/verify/{code}" in body_text(message)

    with live_app.app_context():
        wait_until(lambda: db.session.scalar(select(ReminderDigest.status)) == "sent", message="digest marked sent")
        latecomer = remind.learner(timezone=zone, language="en")
        remind.idle_enrolment(latecomer, idle_since=now - timedelta(days=9))
        latecomer_email = latecomer.email
        db.session.remove()

    beat(live_app)  # the next beat: only the newly due learner gets mail
    smtp.wait_for(latecomer_email, timeout=60)
    assert len(smtp.to(idle_email)) == 1
    with live_app.app_context():  # let the worker finish recording before the tables are emptied
        wait_until(lambda: set(db.session.scalars(select(ReminderDigest.status))) == {"sent"},
                   message="both digests marked sent")
        db.session.remove()
