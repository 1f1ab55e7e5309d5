"""Trainer actions happen once, however many requests arrive at the same moment.

Twenty requests start together (a barrier), each in its own thread with its own
application context and database connection, as twenty gunicorn threads would.
A sign-off of one member writes one completion event and one audit entry, and
every request answers 200 with the member (idempotent); a close of one cohort
succeeds once, the other requests answer 409, and each eligible member is
completed once.

SQLite serialises whole transactions differently and cannot show the race, so
these tests need ``LEARNING_TEST_DATABASE_URL`` (PostgreSQL; CI sets it).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from learning.audit.models import AuditEntry
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests import factories
from tests import factories_cohorts as cohorts

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("LEARNING_TEST_DATABASE_URL"),
                       reason="needs PostgreSQL to race twenty writers: set LEARNING_TEST_DATABASE_URL (CI does)"),
]

PARALLEL = 20


def at_once(app, token: str, path: str) -> list[tuple[int, dict]]:
    """The same POST from PARALLEL threads released together; (status, body) of each."""
    barrier = threading.Barrier(PARALLEL)

    def call() -> tuple[int, dict]:
        client = app.test_client()  # each request gets its own app context, session and connection
        barrier.wait()
        response = client.post(path, json={}, headers={"Authorization": f"Bearer {token}",
                                                       "Accept": "application/json"})
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return [future.result() for future in [pool.submit(call) for _ in range(PARALLEL)]]


def count(model, *conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def test_twenty_sign_offs_of_one_member_complete_them_once(app):
    with app.app_context():
        trainer = factories.trainer()
        cohort = cohorts.cohort(trainer)
        enrolment = cohorts.member(cohort)
        token = factories.token(trainer)
        cohort_id, user_id, enrolment_id = cohort.id, enrolment.user_id, enrolment.id
        db.session.remove()

    answers = at_once(app, token, f"/api/v1/cohorts/{cohort_id}/members/{user_id}/complete")

    assert {status for status, _ in answers} == {200}
    assert {body["status"] for _, body in answers} == {"completed"}
    with app.app_context():
        events = db.session.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == "enrolment.completed")).all()
        assert events == [{"enrolment_id": enrolment_id}]
        assert count(AuditEntry, AuditEntry.action == "cohort.member_signed_off") == 1
        assert count(Enrolment, Enrolment.status == "completed") == 1
        db.session.remove()


def test_twenty_closes_of_one_cohort_close_it_once(app):
    with app.app_context():
        trainer = factories.trainer()
        cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
        members = [cohorts.member(cohort) for _ in range(3)]
        session = cohorts.session(cohort)
        from learning.cohorts.sessions import record_attendance

        record_attendance(trainer.id, cohort, session, [m.user_id for m in members])
        db.session.commit()
        token = factories.token(trainer)
        cohort_id, member_ids = cohort.id, sorted(m.id for m in members)
        db.session.remove()

    answers = at_once(app, token, f"/api/v1/cohorts/{cohort_id}/close")

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * (PARALLEL - 1), statuses
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"cohort_closed"}
    assert [body["signed_off"] for status, body in answers if status == 200] == [3]
    with app.app_context():
        events = db.session.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == "enrolment.completed")).all()
        assert sorted(e["enrolment_id"] for e in events) == member_ids
        assert count(AuditEntry, AuditEntry.action == "cohort.closed") == 1
        db.session.remove()


def test_sign_offs_and_a_close_at_once_complete_the_member_once(app):
    """A trainer signing a member off while another closes the cohort: one completion either way."""
    with app.app_context():
        trainer = factories.trainer()
        cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
        enrolment = cohorts.member(cohort)
        session = cohorts.session(cohort)
        from learning.cohorts.sessions import record_attendance

        record_attendance(trainer.id, cohort, session, [enrolment.user_id])
        db.session.commit()
        token = factories.token(trainer)
        cohort_id, user_id, enrolment_id = cohort.id, enrolment.user_id, enrolment.id
        db.session.remove()

    barrier = threading.Barrier(2)

    def call(path: str) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post(path, json={}, headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(call, f"/api/v1/cohorts/{cohort_id}/members/{user_id}/complete"),
                   pool.submit(call, f"/api/v1/cohorts/{cohort_id}/close")]
        statuses = [future.result() for future in futures]
    assert statuses[1] == 200 and statuses[0] in (200, 409)
    with app.app_context():
        events = db.session.scalars(select(OutboxEvent.payload).where(
            OutboxEvent.event_type == "enrolment.completed")).all()
        assert events == [{"enrolment_id": enrolment_id}]
        db.session.remove()
