"""Faults not covered elsewhere: the platform's own e-mails (confirmation, reset, invitation links)
when the SMTP server is down.

The other faults have their tests beside their features (see docs/SECURITY.md): the database
restarting (test_faults_database.py), the broker down (test_certificate_worker.py,
test_worker_integration.py), SMTP down for reminders (test_reminders_delivery.py) and a worker
killed mid-task (test_certificate_worker.py, test_reminders_delivery.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from tests.conftest import build_app
from tests.support import free_port, start_smtp_server


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def mail_app(base_config, app, smtp_port):
    """The application sending to a port where, at first, no SMTP server listens."""
    application = build_app(base_config, MAIL_PORT=smtp_port, MAIL_TIMEOUT=2)
    with application.app_context():
        yield application
        db.session.remove()


def test_a_sign_up_while_smtp_is_down_succeeds_and_its_email_arrives_once_when_it_is_back(mail_app, smtp_port):
    from learning.outbox.services import due_event_ids, process

    client = mail_app.test_client()
    response = client.post("/api/v1/users", json={
        "email": "amara@example.org", "password": "a-Good-password-42", "full_name": "Amara Diallo",
        "country": "SN", "sector": "justice", "language": "fr"})
    assert response.status_code == 201  # the person is registered whatever the mail server does
    event = db.session.query(OutboxEvent).filter_by(event_type="mail.send").one()

    assert process(event.id) == "failed"  # nobody listens on the SMTP port
    db.session.refresh(event)
    assert event.status == "pending" and event.attempts == 1 and "Connection" in event.last_error
    assert event.next_attempt_at > utcnow() + timedelta(seconds=5)  # retried later, with backoff
    assert event.id not in due_event_ids()

    controller, mailbox = start_smtp_server(smtp_port)
    try:
        event.next_attempt_at = event.created_at = utcnow() - timedelta(minutes=1)  # time passes
        db.session.commit()
        assert due_event_ids() == [event.id]
        assert process(event.id) == "done"
        assert process(event.id) == "already-done"  # a duplicate delivery of the task sends nothing more
        messages = mailbox.to("amara@example.org")
        assert len(messages) == 1
        assert "/account/verify/" in messages[0].get_body(preferencelist=("plain",)).get_content()
    finally:
        controller.stop()
    db.session.refresh(event)
    assert event.status == "done" and event.last_error is None


def test_an_email_that_keeps_failing_stops_being_retried_and_is_kept_for_an_admin(mail_app):
    """After OUTBOX_MAX_ATTEMPTS failures the event is marked failed (``flask outbox status`` shows it)
    instead of being retried for ever; nothing is lost: it can be queued again."""
    from learning.outbox.services import process, retry_failed

    mail_app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    client = mail_app.test_client()
    assert client.post("/api/v1/users", json={
        "email": "kofi@example.org", "password": "a-Good-password-42", "full_name": "Kofi Boateng",
        "country": "GH", "sector": "education", "language": "en"}).status_code == 201
    event = db.session.query(OutboxEvent).filter_by(event_type="mail.send").one()
    assert [process(event.id) for _ in range(3)] == ["failed"] * 3
    db.session.refresh(event)
    assert event.status == "failed" and event.attempts == 3
    retry_failed(event.id)
    db.session.refresh(event)
    assert event.status == "pending" and event.attempts == 0
