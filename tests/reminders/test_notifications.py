""""Your certificate is ready" goes out within a minute of the certificate, at most once, by day where
the learner lives, and does not take the day's reminders digest (docs/REMINDERS.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from learning.reminders import delivery, notifications, services
from learning.reminders.models import ReminderDigest, ReminderSent
from tests import factories_reminders as remind
from tests.conftest import wait_until
from tests.factories_reminders import NOW
from tests.support import body_text


def beat(now) -> None:
    """What a beat run and its worker tasks do, at ``now``."""
    services.plan(now)
    delivery.send_digests(services.take_due_digests(now), now)


def notify(certificate, now) -> list[int]:
    """What the ``certificate.issued`` handler does at ``now``: claim, then send at once."""
    ids = notifications.claim_notifications([certificate.id], now)
    delivery.send_digests(ids, now)
    return ids


def claims(rule: str = "certificate_issued") -> int:
    return db.session.scalar(select(func.count()).select_from(ReminderSent).where(ReminderSent.rule == rule))


def test_a_certificate_issued_in_daytime_is_announced_at_once_in_its_own_message(make, smtp):
    ana = remind.learner(language="en", timezone="Europe/Madrid")
    certificate = remind.certificate(ana, issued_at=NOW - timedelta(seconds=20))

    [digest_id] = notify(certificate, NOW)

    [message] = smtp.wait_for(ana.email)
    assert message["Subject"].startswith("Your certificate is ready")
    assert f"/verify/{certificate.code}" in body_text(message)
    assert f"/certificates/{certificate.code}.pdf" in body_text(message)
    assert message["List-Unsubscribe"]
    digest = db.session.get(ReminderDigest, digest_id)
    assert (digest.kind, digest.status) == ("notification", "sent")


def test_it_is_announced_once_whoever_comes_first_the_notification_or_the_beat(make, smtp):
    ana = remind.learner(language="en", timezone="Europe/Madrid")
    certificate = remind.certificate(ana, issued_at=NOW - timedelta(seconds=20))
    notify(certificate, NOW)
    smtp.wait_for(ana.email)

    notify(certificate, NOW + timedelta(minutes=1))  # the event handled again (a retried task)
    beat(NOW + timedelta(minutes=15))  # the beat's certificate_issued rule: already claimed
    assert len(smtp.to(ana.email)) == 1
    assert claims() == 1

    li = remind.learner(language="en", timezone="Europe/Madrid")
    other = remind.certificate(li, issued_at=NOW - timedelta(minutes=40))
    beat(NOW)  # the beat announced it before the event was handled
    smtp.wait_for(li.email)
    assert notify(other, NOW + timedelta(minutes=1)) == []
    assert len(smtp.to(li.email)) == 1
    assert claims() == 2


def test_a_notification_does_not_take_the_days_reminders_digest_nor_wait_for_it(make, smtp):
    ana = remind.learner(language="en", timezone="Europe/Madrid")
    remind.idle_enrolment(ana, idle_since=NOW - timedelta(days=8), of_course=make.course())
    beat(NOW)  # 13:00 in Madrid: the day's reminders digest
    [reminder] = smtp.wait_for(ana.email)
    assert "/courses/" in body_text(reminder)

    later = NOW + timedelta(hours=2)
    certificate = remind.certificate(ana, issued_at=later - timedelta(seconds=30))
    notify(certificate, later)  # already a digest today: the notification still goes, on its own
    messages = smtp.wait_for(ana.email, count=2)
    assert f"/verify/{certificate.code}" in body_text(messages[1])
    assert "/courses/" not in body_text(messages[1])

    li = remind.learner(language="en", timezone="Europe/Madrid")
    first = remind.certificate(li, issued_at=NOW - timedelta(seconds=30))
    notify(first, NOW)
    smtp.wait_for(li.email)
    remind.idle_enrolment(li, idle_since=NOW - timedelta(days=8), of_course=make.course())
    beat(NOW + timedelta(minutes=15))  # a notification sent today: the day's reminders still go
    messages = smtp.wait_for(li.email, count=2)
    assert "/courses/" in body_text(messages[1])
    assert f"/verify/{first.code}" not in body_text(messages[1])


def test_at_night_nothing_is_sent_and_the_morning_digest_announces_it(make, smtp):
    kenji = remind.learner(language="en", timezone="Asia/Tokyo")  # 21:00 in Tokyo at NOW
    certificate = remind.certificate(kenji, issued_at=NOW - timedelta(seconds=20))
    remind.idle_enrolment(kenji, idle_since=NOW - timedelta(days=8), of_course=make.course())

    assert notify(certificate, NOW) == []
    assert claims() == 0
    beat(NOW + timedelta(hours=11, minutes=15))  # 08:15 in Tokyo: one e-mail with both
    [message] = smtp.wait_for(kenji.email)
    assert f"/verify/{certificate.code}" in body_text(message)
    assert "/courses/" in body_text(message)
    assert db.session.scalar(select(ReminderDigest.kind)) == "reminders"


def test_opted_out_disabled_revoked_or_disabled_rule_gets_no_notification(make, smtp, app):
    quiet = remind.learner(language="en", timezone="Europe/Madrid")
    gone = remind.learner(language="en", timezone="Europe/Madrid")
    quiet.reminders_enabled, gone.active = False, False
    db.session.commit()
    holder = remind.learner(language="en", timezone="Europe/Madrid")
    certificates = [remind.certificate(quiet, issued_at=NOW - timedelta(seconds=5)),
                    remind.certificate(gone, issued_at=NOW - timedelta(seconds=5)),
                    remind.certificate(holder, issued_at=NOW - timedelta(seconds=5), revoked=True)]
    assert notifications.claim_notifications([c.id for c in certificates], NOW) == []
    assert claims() == 0

    ana = remind.learner(language="en", timezone="Europe/Madrid")
    certificate = remind.certificate(ana, issued_at=NOW - timedelta(seconds=5))
    app.config["REMINDER_RULES"] = {"certificate_issued": {"enabled": False}}
    try:
        assert notifications.claim_notifications([certificate.id], NOW) == []
    finally:
        app.config.pop("REMINDER_RULES")
    assert claims() == 0
    assert smtp.to(ana.email) == [] and smtp.to(quiet.email) == []


def test_a_notification_left_pending_by_a_dead_worker_is_sent_by_the_next_handling(make, smtp):
    ana = remind.learner(language="en", timezone="Europe/Madrid")
    certificate = remind.certificate(ana, issued_at=NOW - timedelta(seconds=20))
    [digest_id] = notifications.claim_notifications([certificate.id], NOW)  # then the worker died

    assert notify(certificate, NOW + timedelta(seconds=30)) == [digest_id]
    [message] = smtp.wait_for(ana.email)
    assert notify(certificate, NOW + timedelta(minutes=1)) == []
    assert len(smtp.to(ana.email)) == 1
    assert f"/verify/{certificate.code}" in body_text(message)


def test_two_certificates_of_one_holder_issued_together_make_one_message(make, smtp):
    ana = remind.learner(language="en", timezone="Europe/Madrid")
    first = remind.certificate(ana, issued_at=NOW - timedelta(seconds=20))
    second = remind.certificate(ana, issued_at=NOW - timedelta(seconds=20))
    ids = notifications.claim_notifications([first.id, second.id], NOW)
    assert len(ids) == 1
    delivery.send_digests(ids, NOW)
    [message] = smtp.wait_for(ana.email)
    assert f"/verify/{first.code}" in body_text(message) and f"/verify/{second.code}" in body_text(message)


def test_issuing_writes_the_announcement_event_in_the_same_transaction(make):
    from learning.certificates.services import issue_certificate, issue_certificates

    learner = make.user()
    one = make.completed_enrolment(learner)
    certificate = issue_certificate(one.id)
    payloads = [e.payload for e in db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == "certificate.issued"))]
    assert payloads == [{"certificate_ids": [certificate.id]}]

    issue_certificate(one.id)  # already issued: nothing new to announce
    batch = [make.completed_enrolment(make.user()) for _ in range(3)]
    issued = issue_certificates([e.id for e in batch] + [one.id])
    db.session.commit()
    payloads = [e.payload for e in db.session.scalars(
        select(OutboxEvent).where(OutboxEvent.event_type == "certificate.issued").order_by(OutboxEvent.id))]
    assert payloads[1:] == [{"certificate_ids": sorted(c.id for c in issued if c.id != certificate.id)}]


def test_events_are_published_when_the_transaction_commits_not_when_a_savepoint_is_released(make, monkeypatch):
    published = []
    monkeypatch.setattr(outbox, "publish", lambda ids, types=None, **options: published.append(list(ids)))
    outbox.emit("test.first", {})
    with db.session.begin_nested():  # e.g. enrol's savepoint, after an earlier completion's event
        outbox.emit("test.second", {})
    assert published == []  # a worker must not look for events it cannot see yet
    db.session.commit()
    assert len(published) == 1 and len(published[0]) == 2  # together, so they can go as one batch


@pytest.mark.celery
@pytest.mark.xdist_group("celery")
def test_a_learner_finishing_in_daytime_gets_the_mail_within_a_minute_through_the_worker(
        live_app, celery_worker, smtp):
    now = utcnow()
    zone = remind.daytime_zone(now)
    with live_app.app_context():
        from tests import factories

        learner = remind.learner(timezone=zone, language="en")
        enrolment = factories.completed_enrolment(learner)  # the completion's event goes to the worker
        email, enrolment_id = learner.email, enrolment.id
        db.session.remove()

    [message] = smtp.wait_for(email, timeout=60)
    received = utcnow()
    with live_app.app_context():
        from learning.certificates.models import Certificate

        certificate = db.session.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment_id))
        assert f"/verify/{certificate.code}" in body_text(message)
        assert received - certificate.issued_at < timedelta(minutes=1)
        wait_until(lambda: db.session.scalar(select(ReminderDigest.status)) == "sent", message="marked sent")
        assert db.session.scalar(select(ReminderDigest.kind)) == "notification"
        db.session.remove()
    assert len(smtp.to(email)) == 1


def test_the_demo_seed_issues_its_certificates_itself_so_no_backlog_waits_for_the_worker(runner, app_context):
    from learning.certificates.models import Certificate
    from learning.enrolment.models import Enrolment

    result = runner.invoke(args=["seed-demo", "--learners", "60"])
    assert result.exit_code == 0, result.output
    completed = db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "completed"))
    assert completed > 10
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == completed
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.event_type == "enrolment.completed", OutboxEvent.status != "done")) == 0


def test_batches_go_to_the_bulk_queue_and_a_single_event_to_the_default_one(app_context, app, monkeypatch):
    celery_app = app.extensions["celery"]
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args, retry, queue=None: sent.append((name, queue)))
    monkeypatch.setitem(app.config, "OUTBOX_PUBLISH", True)
    types = {1: "enrolment.completed", 2: "enrolment.completed", 3: "enrolment.completed", 4: "mail.send"}
    outbox.publish([1, 2, 3, 4], types)
    default = celery_app.conf.task_default_queue
    assert sent == [("outbox.process_batch", f"{default}.bulk"), ("outbox.process", None)]
    assert {queue.name for queue in celery_app.conf.task_queues} == {default, f"{default}.bulk"}


def test_long_single_events_scheduled_housekeeping_and_what_bulk_work_emits_go_to_the_bulk_queue(
        app_context, app, monkeypatch):
    """The embedded mode's interactive worker consumes only the default queue (scripts/worker.sh):
    nothing that takes long may land there but a learner's own event."""
    from tests import factories

    celery_app = app.extensions["celery"]
    default = celery_app.conf.task_default_queue
    bulk = f"{default}.bulk"
    sent = []
    monkeypatch.setattr(celery_app, "send_task",
                        lambda name, args, retry, queue=None: sent.append((name, args, queue)))
    monkeypatch.setitem(app.config, "OUTBOX_PUBLISH", True)
    types = {1: "cohort.roster_import", 2: "cohort.invitations", 3: "account.erasure_requested", 4: "mail.send",
             5: "enrolment.completed"}
    outbox.publish([1, 2, 3, 4, 5], types)
    assert sorted((args[0], queue) for _name, args, queue in sent) == [
        (1, bulk), (2, bulk), (3, bulk), (4, None), (5, None)]
    for task in ("reminders.run", "reminders.send_batch", "accounts.apply_retention", "accounts.prune_sign_in_records"):
        assert celery_app.amqp.router.route({}, task)["queue"].name == bulk, task
    assert celery_app.amqp.router.route({}, "outbox.sweep")["queue"].name == default

    # A batch of completions: its "certificate issued" announcement (one event, fifty mails) is bulk
    # work too; a learner's own completion handled alone announces theirs on the default queue.
    monkeypatch.setitem(app.config, "OUTBOX_PUBLISH", False)
    learners = [factories.user() for _ in range(3)]
    enrolments = [factories.completed_enrolment(learner) for learner in learners]
    events = dict(db.session.execute(select(OutboxEvent.payload["enrolment_id"].as_integer(), OutboxEvent.id)
                                     .where(OutboxEvent.event_type == "enrolment.completed")).all())
    monkeypatch.setitem(app.config, "OUTBOX_PUBLISH", True)
    sent.clear()
    outbox.process_batch([events[e.id] for e in enrolments[:2]])
    announced = [(name, queue) for name, args, queue in sent]
    assert announced == [("outbox.process", bulk)], announced
    sent.clear()
    assert outbox.process(events[enrolments[2].id]) == "done"
    assert [(name, queue) for name, args, queue in sent] == [("outbox.process", None)]
    assert not db.session.info.get(outbox.BULK_WORK_KEY)
