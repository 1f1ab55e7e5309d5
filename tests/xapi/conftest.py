"""The xAPI tests' shared fixtures: the LRSs (ours, ``tests/xapi_lrs.py``, and Ralph's, ``tests/ralph_lrs.py``),
the test's app pointed at one (``point_app_at``), and a real Celery worker sending to one (``xapi_worker``)."""

from __future__ import annotations

import pytest

from learning.extensions import db
from tests.certificates.test_certificate_worker import (
    complete_through_the_api,
    one_lesson_course,
    use_celery_of,
)
from tests.conftest import WorkerProcess, build_app
from tests.ralph_lrs import RalphLRS
from tests.xapi_lrs import LocalLRS

XAPI_SETTINGS = ("XAPI_ENDPOINT", "XAPI_USERNAME", "XAPI_PASSWORD", "XAPI_ACTOR")


@pytest.fixture
def local_lrs():
    """Our test LRS on loopback, validating every statement."""
    server = LocalLRS().start()
    yield server
    server.stop()


@pytest.fixture
def ralph_server(tmp_path):
    """A Ralph of its own for each test: each test's database starts its ids afresh, so the same
    statement ids come again (with other content) and a shared Ralph would answer 409 to them."""
    server = RalphLRS(tmp_path / "ralph").start()
    yield server
    server.stop()


@pytest.fixture
def point_app_at(app):
    """``point_app_at(server)``: the test's app sends its statements to that LRS (as ``account`` actors,
    no pause left from another test); its settings are put back at the end."""
    from learning.xapi import services as xapi_services

    saved = {key: app.config.get(key) for key in XAPI_SETTINGS}

    def point(server):
        xapi_services._paused_until.clear()
        app.config.update(XAPI_ENDPOINT=server.endpoint, XAPI_USERNAME=server.username,
                          XAPI_PASSWORD=server.password, XAPI_ACTOR="account")
        return server

    yield point
    app.config.update(saved)


class XapiWorker:
    """Starts workers whose statements go to an LRS, and walks a learner's journey through the API."""

    def __init__(self, base_config: dict, folder) -> None:
        self.base_config = base_config
        self.folder = folder
        self.workers: list[WorkerProcess] = []

    def start(self, lrs, queue: str):
        """A worker (on its own queue) sending to ``lrs`` (``endpoint``, ``username``, ``password``), and
        an app whose outbox publishes to it (the current Celery app from now on)."""
        config = {**self.base_config, "XAPI_ENDPOINT": lrs.endpoint, "XAPI_USERNAME": lrs.username,
                  "XAPI_PASSWORD": lrs.password, "CELERY_QUEUE": f"{self.base_config['CELERY_QUEUE']}-{queue}"}
        worker = WorkerProcess(config, self.folder / f"worker-{queue}.log")
        self.workers.append(worker)
        worker.start()
        live = build_app(config, OUTBOX_PUBLISH=True)
        use_celery_of(live)
        return live

    @staticmethod
    def journey(live) -> None:
        """A learner enrolled in a one-lesson course (the commit publishes "registered") completes the
        lesson, and so the course, through the API; the worker makes the certificate's statement."""
        from tests import factories

        with live.app_context():
            learner = factories.user()
            course = one_lesson_course(factories)
            enrolment = factories.enrolment(learner, course)
            ids = enrolment.id, course.modules[0].lessons[0].id
            token = factories.token(learner)
            db.session.remove()
        complete_through_the_api(live, ids, token)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def xapi_worker(app, base_config, tmp_path):
    """``start(lrs, queue)`` a real worker sending to that LRS; stopped, and the Celery app the other tests
    publish through put back, at the end."""
    from celery import _state

    default, current = _state.default_app, _state.get_current_app()
    workers = XapiWorker(base_config, tmp_path)
    yield workers
    workers.stop()
    _state.set_default_app(default)
    _state._set_current_app(current)
