"""Exactly once, whatever happens: SMTP outages, re-runs, overlapping runs, retried tasks; and the rules' settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from learning.extensions import db
from learning.reminders import delivery, services
from learning.reminders.models import ReminderDigest, ReminderSent
from learning.reminders.rules import RuleConfigError, rule_settings
from tests import factories_reminders as remind
from tests.conftest import build_app
from tests.factories_reminders import NOW
from tests.support import body_text, free_port, start_smtp_server


class FlakySMTP:
    """A real SMTP server on a fixed port that a test can stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.controller = None
        self.mailbox = None

    def start(self):
        self.controller, self.mailbox = start_smtp_server(self.port)

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def flaky_smtp():
    server = FlakySMTP()
    yield server
    server.stop()


@pytest.fixture
def outage_app(base_config, app, flaky_smtp):
    """The application sending to ``flaky_smtp`` (same database as ``app``)."""
    application = build_app(base_config, MAIL_PORT=flaky_smtp.port, MAIL_TIMEOUT=2)
    with application.app_context():
        yield application
        db.session.remove()


def test_a_digest_refused_by_smtp_is_retried_with_backoff_and_arrives_exactly_once(outage_app, flaky_smtp):
    from tests import factories

    ana = remind.learner(timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=factories.course())

    services.plan(NOW)  # the server is down
    ids = services.take_due_digests(NOW)
    assert delivery.send_digests(ids, NOW) == ids
    digest = db.session.scalar(select(ReminderDigest))
    assert (digest.status, digest.attempts) == ("pending", 1)
    assert "Connection" in digest.last_error or "refused" in digest.last_error.lower()
    assert db.session.scalar(select(ReminderSent.status)) == "claimed"

    flaky_smtp.start()
    soon = NOW + timedelta(seconds=10)
    assert services.take_due_digests(soon) == []  # still backing off
    later = NOW + timedelta(minutes=2)
    services.plan(later)  # a new run claims nothing again for the learner
    assert delivery.send_digests(services.take_due_digests(later), later) == []
    assert len(flaky_smtp.mailbox.to(ana.email)) == 1

    for minutes in (5, 30, 24 * 60):  # retried tasks, re-runs, the next day
        at = NOW + timedelta(minutes=minutes)
        services.plan(at)
        delivery.send_digests(services.take_due_digests(at) + ids, at)
    assert len(flaky_smtp.mailbox.to(ana.email)) == 1
    assert db.session.scalar(select(ReminderSent.status)) == "sent"
    assert db.session.scalar(select(ReminderDigest.status)) == "sent"


def test_a_queued_digest_lost_by_the_broker_is_queued_again_by_a_later_run(make, smtp):
    ana = remind.learner(timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=make.course())
    services.plan(NOW)
    ids = services.take_due_digests(NOW)  # ... and the task never runs
    assert services.take_due_digests(NOW + timedelta(minutes=5)) == []
    assert services.take_due_digests(NOW + timedelta(minutes=15)) == ids
    delivery.send_digests(ids, NOW + timedelta(minutes=15))
    assert len(smtp.wait_for(ana.email)) == 1


def test_a_digest_whose_worker_died_while_sending_is_sent_again_after_its_lease(make, smtp):
    ana = remind.learner(timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=make.course())
    services.plan(NOW)
    [digest_id] = services.take_due_digests(NOW)
    assert delivery._lease(digest_id, NOW)  # taken by a worker that is then killed
    assert delivery.send_digest(digest_id, NOW + timedelta(minutes=1)) == "not-pending"  # another worker waits
    assert services.take_due_digests(NOW + timedelta(minutes=4)) == []
    at = NOW + timedelta(minutes=6)
    assert services.take_due_digests(at) == [digest_id]
    assert delivery.send_digest(digest_id, at) == "sent"
    assert len(smtp.wait_for(ana.email)) == 1


def test_a_duplicated_task_sends_the_digest_once(make, smtp):
    ana = remind.learner(timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=make.course())
    services.plan(NOW)
    [digest_id] = services.take_due_digests(NOW)
    assert delivery.send_digest(digest_id, NOW) == "sent"
    assert delivery.send_digest(digest_id, NOW) == "not-pending"
    assert len(smtp.wait_for(ana.email)) == 1


def test_re_runs_claim_each_occasion_once(make):
    course = make.course()
    for _ in range(3):
        person = remind.learner(timezone="Europe/Madrid")
        remind.idle_enrolment(person, idle_since=NOW - timedelta(days=8), of_course=course)
        remind.certificate(person, issued_at=NOW - timedelta(days=1))

    first = services.plan(NOW)
    again = services.plan(NOW + timedelta(minutes=15))

    assert (first["inactivity"], first["certificate_issued"], first["digests"]) == (3, 3, 3)
    assert all(count == 0 for count in again.values())
    assert db.session.scalar(select(func.count()).select_from(ReminderSent)) == 6


def test_overlapping_runs_do_not_claim_twice(make, app):
    """Two beat runs at once, each in its own session: one claims, the other finds nothing to claim."""
    import threading

    course = make.course()
    for _ in range(5):
        remind.idle_enrolment(remind.learner(timezone="Europe/Madrid"), idle_since=NOW - timedelta(days=8),
                              of_course=course)
    results, errors = [], []

    def beat():
        with app.app_context():
            try:
                results.append(services.plan(NOW))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r["inactivity"] for r in results) == [0, 5]
    assert db.session.scalar(select(func.count()).select_from(ReminderDigest)) == 5
    assert db.session.scalar(select(func.count()).select_from(ReminderSent).where(
        ReminderSent.digest_id.is_(None))) == 0


def test_a_run_gathers_each_learners_claims_into_one_digest_for_their_own_local_day(make):
    """At 22:00 UTC it is 11:00 tomorrow in Auckland and 17:00 today in Bogotá: one digest each, on their day."""
    at = NOW.replace(hour=22)
    course = make.course()
    kiri = remind.learner(timezone="Pacific/Auckland", language="en")
    sofia = remind.learner(timezone="America/Bogota", language="es")
    for person in (kiri, sofia):
        remind.idle_enrolment(person, idle_since=at - timedelta(days=8), of_course=course)
        remind.certificate(person, issued_at=at - timedelta(days=1))

    counts = services.plan(at)

    assert (counts["inactivity"], counts["certificate_issued"], counts["digests"]) == (2, 2, 2)
    digests = {d.user_id: d for d in db.session.scalars(select(ReminderDigest))}
    assert {user: d.local_date for user, d in digests.items()} == {
        kiri.id: (at + timedelta(days=1)).date(), sofia.id: at.date()}
    claims = db.session.scalars(select(ReminderSent)).all()
    assert len(claims) == 4
    assert all(c.digest_id == digests[c.user_id].id and c.due_on == digests[c.user_id].local_date for c in claims)
    assert all(count == 0 for count in services.plan(at + timedelta(minutes=15)).values())


def test_due_reminders_can_be_listed_without_claiming_them(make):
    person = remind.learner(timezone="Europe/Madrid")
    enrolment = remind.idle_enrolment(person, idle_since=NOW - timedelta(days=30), of_course=make.course())
    due = services.due_reminders(NOW)
    assert [(row[0], row[1], row[2]) for row in due["inactivity"]] == [
        ("inactivity", person.id, f"enrolment:{enrolment.id}:inactive:21d")]
    assert services.count_due(NOW)["inactivity"] == 1
    assert db.session.scalar(select(ReminderSent.id)) is None


# --- settings ----------------------------------------------------------------------


@pytest.fixture
def configured(base_config, app):
    """An application built with given reminder settings (never the shared one)."""
    built = []

    def build(**config):
        application = build_app(base_config, **config)
        context = application.app_context()
        context.push()
        built.append(context)
        return application

    yield build
    for context in reversed(built):
        db.session.remove()
        context.pop()


def test_thresholds_and_rules_come_from_the_configuration(configured, smtp):
    from tests import factories

    configured(REMINDER_RULES={"inactivity": {"days": [3]}, "certificate_issued": {"enabled": False}},
               REMINDER_SEND_HOURS=(9, 17))
    assert rule_settings()["inactivity"]["days"] == [3]
    person = remind.learner(timezone="Europe/Madrid")
    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=4), of_course=factories.course())
    remind.certificate(person, issued_at=NOW - timedelta(hours=1))

    services.plan(NOW.replace(hour=16))  # 17:00 in Madrid: outside 09-17
    assert db.session.scalar(select(ReminderSent.id)) is None
    services.plan(NOW)
    delivery.send_digests(services.take_due_digests(NOW), NOW)

    [message] = smtp.wait_for(person.email)
    assert "3" in body_text(message) and "/verify/" not in body_text(message)
    assert db.session.scalars(select(ReminderSent.rule)).all() == ["inactivity"]


@pytest.mark.parametrize("rules", [
    {"inactivity": {"days": [0]}},
    {"inactivity": {"days": []}},
    {"inactivity": {"days": ["7"]}},
    {"birthday": {"enabled": True}},
    {"certificate_issued": {"within_days": -1}},
])
def test_bad_reminder_settings_are_refused_with_a_clear_error(configured, rules):
    configured(REMINDER_RULES=rules)
    with pytest.raises(RuleConfigError, match="REMINDER_RULES"):
        services.plan(NOW)
    assert db.session.scalar(select(ReminderSent.id)) is None
