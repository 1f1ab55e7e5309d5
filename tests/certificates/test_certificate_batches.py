"""Certificates issued in batches (``outbox.process_batch``) with a real worker on the real broker:
completions committed together (a cohort's close) end with exactly one certificate each, whatever
happens to the batch, its events, the worker or the other enrolments in it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from tests.certificates.test_certificate_worker import (  # noqa: F401 (an autouse fixture)
    SlowWorker,
    _restore_celery_app,
    one_lesson_course,
    restart_and_sweep,
    use_celery_of,
)
from tests.conftest import build_app, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]

BATCH_DONE = re.compile(rb"Task outbox\.process_batch\[[^\]]+\] succeeded in [^:]+: (\{[^}]*\})")


def enrolled_cohort(app, size: int) -> list[int]:
    """``size`` learners enrolled in one one-lesson course; their enrolment ids."""
    from tests import factories

    with app.app_context():
        course = one_lesson_course(factories)
        ids = [factories.enrolment(factories.user(full_name=f"Learner {i}"), course).id for i in range(size)]
        db.session.remove()
    return ids


def complete_together(publisher, enrolment_ids: list[int], extra_events: list[int] = ()) -> None:
    """Complete the enrolments in one transaction, as a cohort's close signs its members off, plus an
    ``enrolment.completed`` event for each of ``extra_events`` (a duplicate, or a bogus one)."""
    from learning.enrolment.services import mark_completed
    from learning.outbox.services import emit

    with publisher.app_context():
        for enrolment in db.session.scalars(select(Enrolment).where(Enrolment.id.in_(enrolment_ids))):
            mark_completed(enrolment)
        for enrolment_id in extra_events:
            emit("enrolment.completed", {"enrolment_id": enrolment_id})
        db.session.commit()  # publishes the events after the commit
        db.session.remove()


def certificate_counts(app, enrolment_ids) -> dict[int, int]:
    with app.app_context():
        counts = {enrolment_id: 0 for enrolment_id in enrolment_ids}
        for enrolment_id in db.session.scalars(
                select(Certificate.enrolment_id).where(Certificate.enrolment_id.in_(enrolment_ids))):
            counts[enrolment_id] += 1
        db.session.remove()
        return counts


def events_of(app, enrolment_ids) -> list[OutboxEvent]:
    with app.app_context():
        rows = [e for e in db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
                if e.event_type == "enrolment.completed" and e.payload["enrolment_id"] in set(enrolment_ids)]
        db.session.expunge_all()
        db.session.remove()
        return rows


def all_done(app, enrolment_ids) -> bool:
    events = events_of(app, enrolment_ids)
    return bool(events) and all(e.status == "done" for e in events)


def batches_done_since(log_path, offset: int) -> list[bytes]:
    """The results of the ``outbox.process_batch`` tasks the worker finished since ``offset`` in its log."""
    return BATCH_DONE.findall(log_path.read_bytes()[offset:])


def test_a_cohort_completed_together_gets_one_certificate_each_in_batches(app, base_config, celery_worker):
    publisher = build_app(base_config, OUTBOX_PUBLISH=True, OUTBOX_BATCH_SIZE=5)
    ids = enrolled_cohort(app, 12)
    offset = celery_worker.log_path.stat().st_size
    complete_together(publisher, ids)
    wait_until(lambda: all_done(app, ids), timeout=90, message="every event handled")
    assert certificate_counts(app, ids) == {enrolment_id: 1 for enrolment_id in ids}
    # Handled as batches (5, 5 and 2 events), each event once: not one by one after a failed batch.
    wait_until(lambda: len(batches_done_since(celery_worker.log_path, offset)) == 3, message="three batches")
    assert sorted(batches_done_since(celery_worker.log_path, offset)) == sorted(
        [b"{'done-or-busy': 0, 'batched': 5}"] * 2 + [b"{'done-or-busy': 0, 'batched': 2}"])
    events = events_of(app, ids)
    assert [e.attempts for e in events] == [1] * 12 and all(e.last_error is None for e in events)
    with app.app_context():
        certificates = db.session.scalars(select(Certificate).where(Certificate.enrolment_id.in_(ids))).all()
        assert all(c.pdf_path and c.holder_name.startswith("Learner ") for c in certificates)
        assert len({c.code for c in certificates}) == 12 and len({c.status_list_index for c in certificates}) == 12
        db.session.remove()


def test_a_not_completed_enrolment_in_a_batch_fails_alone(app, base_config, celery_worker):
    publisher = build_app(base_config, OUTBOX_PUBLISH=True)
    ids = enrolled_cohort(app, 5)
    completed, not_completed = ids[:4], ids[4]
    complete_together(publisher, completed, extra_events=[not_completed])
    wait_until(lambda: all_done(app, completed), timeout=90, message="the completed ones handled")
    wait_until(lambda: events_of(app, [not_completed])[0].attempts == 1, message="the bad event tried")
    assert certificate_counts(app, ids) == {**{enrolment_id: 1 for enrolment_id in completed}, not_completed: 0}
    [bad] = events_of(app, [not_completed])
    assert bad.status == "pending" and "NotCompleted" in bad.last_error
    assert bad.next_attempt_at > utcnow()  # retried later with backoff, as a single event is
    assert b"batch of 5 'enrolment.completed' events failed" in celery_worker.log_path.read_bytes()


def test_a_batch_delivered_again_and_a_duplicate_in_it_give_one_certificate_each(
        app, base_config, celery_worker):
    publisher = build_app(base_config, OUTBOX_PUBLISH=True)
    use_celery_of(publisher)
    ids = enrolled_cohort(app, 6)
    offset = celery_worker.log_path.stat().st_size
    # The same enrolment twice in one batch (a duplicated event) ...
    complete_together(publisher, ids, extra_events=[ids[0]])
    event_ids = [e.id for e in events_of(app, ids)]
    assert len(event_ids) == 7
    # ... and the same batch delivered twice more at once, and overlapping with another worker's.
    celery_app = publisher.extensions["celery"]
    with publisher.app_context():
        celery_app.send_task("outbox.process_batch", args=[event_ids])
        celery_app.send_task("outbox.process_batch", args=[event_ids[3:]])
        celery_app.send_task("outbox.process_batch", args=[event_ids])
    wait_until(lambda: len(batches_done_since(celery_worker.log_path, offset)) == 4, timeout=90,
               message="all four deliveries handled")
    assert all_done(app, ids)
    assert certificate_counts(app, ids) == {enrolment_id: 1 for enrolment_id in ids}


def test_a_worker_killed_mid_batch_commits_nothing_and_the_batch_is_issued_after_restart(
        app, base_config, tmp_path):
    config = {**base_config, "CELERY_QUEUE": base_config["CELERY_QUEUE"] + "-batch-crash"}
    publisher = build_app(config, OUTBOX_PUBLISH=True)
    ids = enrolled_cohort(app, 5)
    slow = SlowWorker(config, tmp_path / "slow.log", delay=30)
    slow.start()
    try:
        complete_together(publisher, ids)
        wait_until(lambda: b"certificate test delay" in slow.log_path.read_bytes(), timeout=60,
                   message="the worker inside the batch's transaction")
        assert b"outbox.process_batch" in slow.log_path.read_bytes()
        slow.kill()
    finally:
        slow.stop()
    assert certificate_counts(app, ids) == {enrolment_id: 0 for enrolment_id in ids}
    assert [(e.status, e.attempts) for e in events_of(app, ids)] == [("pending", 0)] * 5

    restarted = restart_and_sweep(config, publisher, tmp_path / "restarted.log", published=5,
                                  handled=lambda: all_done(app, ids), timeout=90)
    assert certificate_counts(app, ids) == {enrolment_id: 1 for enrolment_id in ids}
    assert b"outbox.process_batch" in restarted.log_path.read_bytes()
