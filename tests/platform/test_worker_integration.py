"""With a real worker on a real broker: outbox events become e-mails in a real SMTP server."""

from __future__ import annotations

import pytest

from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests.conftest import wait_until
from tests.support import body_text

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


def test_sign_up_e_mail_reaches_smtp_through_the_worker(live_app, celery_worker, smtp):
    client = live_app.test_client()
    response = client.post("/api/v1/users", json={
        "email": "worker.test@example.org", "password": "a-Good-password-42", "full_name": "Olena Kovalenko",
        "country": "UA", "sector": "social_services", "language": "fr",
    })
    assert response.status_code == 201
    message = smtp.wait_for("worker.test@example.org")[0]
    assert message["Subject"] == "Confirmez votre adresse e-mail" or message["Subject"]
    assert "/account/verify/" in body_text(message)
    with live_app.app_context():
        wait_until(lambda: db.session.query(OutboxEvent).filter_by(status="done").count() == 1,
                   message="the event marked done")
        db.session.remove()


def test_events_left_pending_while_the_broker_was_unreachable_are_swept(app, live_app, celery_worker, smtp):
    """Written by an app that could not publish (as if the broker were down); the sweep publishes it."""
    from datetime import timedelta

    from learning.accounts.services import register_user
    from learning.models_base import utcnow
    from learning.outbox.services import sweep

    with app.app_context():  # publishing is off in this app
        register_user({"email": "late@example.org", "password": "a-Good-password-42", "full_name": "Late",
                       "country": "KE", "sector": "health", "language": "en"})
        db.session.commit()
        event = db.session.query(OutboxEvent).one()
        assert event.status == "pending"
        event.created_at = utcnow() - timedelta(minutes=1)  # past the sweep's grace period
        db.session.commit()
        db.session.remove()
    with live_app.app_context():
        assert sweep() == 1
        db.session.remove()
    smtp.wait_for("late@example.org")
