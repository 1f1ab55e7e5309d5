"""With a real worker on the real broker: every completion ends with exactly one certificate,
whatever happens to the event, the worker or the broker on the way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from tests.conftest import ROOT, WorkerProcess, _process_env, build_app, wait_until

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


@pytest.fixture(autouse=True)
def _restore_celery_app():
    """Each app built here makes its Celery app the current one (shared tasks publish through it);
    put back the one the other tests publish through."""
    from celery import _state

    default, current = _state.default_app, _state.get_current_app()
    yield
    _state.set_default_app(default)
    _state._set_current_app(current)


def use_celery_of(flask_app) -> None:
    """Publish through this app's Celery app (its broker and queue) from now on."""
    celery_app = flask_app.extensions["celery"]
    celery_app.set_default()
    celery_app.set_current()


def one_lesson_course(make):
    return make.course(quiz=None, modules=[{"title": "Only module", "lessons": [{"title": "Only lesson",
                                                                                   "body": "Text."}]}])


def enrolled_learner(app, make_course=one_lesson_course):
    """A learner enrolled in a one-lesson course (set up without publishing anything)."""
    from tests import factories

    with app.app_context():
        learner = factories.user(full_name="Nadia Haddad")
        course = make_course(factories)
        enrolment = factories.enrolment(learner, course)
        lesson_id = course.modules[0].lessons[0].id
        token = factories.token(learner)
        ids = enrolment.id, lesson_id
        db.session.remove()
    return ids, token


def complete_through_the_api(some_app, ids, token):
    enrolment_id, lesson_id = ids
    response = some_app.test_client().post(f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete",
                                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "completed"


def certificates_of(app, enrolment_id) -> list[Certificate]:
    with app.app_context():
        rows = db.session.query(Certificate).filter_by(enrolment_id=enrolment_id).all()
        db.session.remove()
        return rows


def _pending_refreshes() -> int:
    from learning.reporting.rollup import REFRESH_EVENT

    return db.session.query(OutboxEvent).filter_by(event_type=REFRESH_EVENT, status="pending").count()


def event_status(app) -> list[str]:
    with app.app_context():
        statuses = [e.status for e in db.session.query(OutboxEvent).filter_by(event_type="enrolment.completed")]
        db.session.remove()
        return statuses


def test_a_completion_gives_one_certificate(app, live_app, celery_worker):
    ids, token = enrolled_learner(app)
    complete_through_the_api(live_app, ids, token)
    wait_until(lambda: certificates_of(app, ids[0]), timeout=60, message="the certificate")
    wait_until(lambda: event_status(app) == ["done"], message="the event handled")
    [certificate] = certificates_of(app, ids[0])
    assert certificate.holder_name == "Nadia Haddad" and certificate.pdf_path


def test_the_same_event_delivered_twice_gives_one_certificate(app, live_app, celery_worker):
    from learning.outbox.services import emit, publish
    from learning.outbox.tasks import process_event

    ids, token = enrolled_learner(app)
    complete_through_the_api(live_app, ids, token)
    with live_app.app_context():
        event_id = db.session.query(OutboxEvent.id).filter_by(event_type="enrolment.completed").scalar()
        # The same event again, twice at once, and a duplicate event for the same completion.
        process_event.apply_async(args=[event_id])
        publish([event_id])
        emit("enrolment.completed", {"enrolment_id": ids[0]})
        db.session.commit()
        db.session.remove()
    wait_until(lambda: event_status(app) == ["done", "done"], timeout=60, message="both events handled")
    time.sleep(1)  # let the repeated deliveries finish too
    assert len(certificates_of(app, ids[0])) == 1


class SlowWorker(WorkerProcess):
    """A worker of our own (one process, its own queue and session) that we can SIGKILL."""

    def __init__(self, base_config, log_path, delay: float):
        super().__init__(base_config, log_path)
        self.delay = delay

    def start(self) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        queue = self.base_config["CELERY_QUEUE"]
        env = {**_process_env(self.base_config), "CERTIFICATE_TEST_DELAY_SECONDS": str(self.delay)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.certificate_slow_worker", "worker", "--loglevel=INFO",
             "--pool=solo", "-Q", f"{queue},{queue}.bulk", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"{queue}-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._wait_ready()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def test_a_worker_killed_mid_issue_gives_exactly_one_certificate_after_restart(app, base_config, tmp_path):
    config = {**base_config, "CELERY_QUEUE": base_config["CELERY_QUEUE"] + "-crash"}
    publisher = build_app(config, OUTBOX_PUBLISH=True)
    ids, token = enrolled_learner(app)
    slow = SlowWorker(config, tmp_path / "slow.log", delay=30)
    slow.start()
    try:
        complete_through_the_api(publisher, ids, token)
        wait_until(lambda: b"certificate test delay" in slow.log_path.read_bytes(), timeout=60,
                   message="the worker inside the issuing transaction")
        slow.kill()
    finally:
        slow.stop()
    assert certificates_of(app, ids[0]) == []
    assert event_status(app) == ["pending"]

    restart_and_sweep(config, publisher, tmp_path / "restarted.log", published=1,
                      handled=lambda: event_status(app) == ["done"])
    assert len(certificates_of(app, ids[0])) == 1


def restart_and_sweep(config, publisher, log_path, published: int, handled, timeout: float = 60) -> SlowWorker:
    """After a worker was killed: start another, let the beat's sweep publish the pending events again
    (their messages died with the killed worker; ``published`` of them) and wait until ``handled()``."""
    restarted = SlowWorker(config, log_path, delay=0)
    restarted.start()
    try:
        with publisher.app_context():
            db.session.query(OutboxEvent).update({"created_at": utcnow() - timedelta(minutes=1)})
            db.session.commit()
            from learning.outbox.services import sweep

            # ``published`` completions, plus the statistics' refresh events the API's requests deferred.
            assert sweep() == published + _pending_refreshes()
            db.session.remove()
        wait_until(handled, timeout=timeout, message="the events handled after restart")
    finally:
        restarted.stop()
    return restarted


def test_with_the_broker_down_the_completion_succeeds_and_the_certificate_follows(
        app, base_config, live_app, celery_worker):
    broker_down = build_app({**base_config, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}, OUTBOX_PUBLISH=True)
    ids, token = enrolled_learner(app)
    started = time.monotonic()
    complete_through_the_api(broker_down, ids, token)
    assert time.monotonic() - started < 30
    with app.app_context():
        assert db.session.get(Enrolment, ids[0]).status == "completed"
        db.session.remove()
    assert event_status(app) == ["pending"] and certificates_of(app, ids[0]) == []

    use_celery_of(live_app)
    with live_app.app_context():  # the broker is back: the beat's sweep runs
        db.session.query(OutboxEvent).update({"created_at": utcnow() - timedelta(minutes=1)})
        db.session.commit()
        from learning.outbox.services import sweep

        assert sweep() == 1 + _pending_refreshes()
        db.session.remove()
    wait_until(lambda: certificates_of(app, ids[0]), timeout=60, message="the certificate after the sweep")
    assert len(certificates_of(app, ids[0])) == 1
