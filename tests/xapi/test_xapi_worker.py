"""End to end with a real Celery worker on the real broker: a learner's journey reaches the LRS
(``tests/xapi_lrs.py``, on loopback) once per statement, from the worker process, the certificate's
statement included (it is made by the worker as it issues the certificate)."""

from __future__ import annotations

from collections import Counter

import pytest

from learning.extensions import db
from tests.certificates.test_certificate_worker import (  # noqa: F401 (an autouse fixture)
    _restore_celery_app,
    complete_through_the_api,
    one_lesson_course,
    use_celery_of,
)
from tests.conftest import WorkerProcess, build_app, wait_until
from tests.xapi_lrs import LocalLRS

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


@pytest.fixture
def lrs():
    server = LocalLRS().start()
    yield server
    server.stop()


@pytest.fixture
def xapi_config(base_config, lrs) -> dict:
    return {**base_config, "XAPI_ENDPOINT": lrs.endpoint, "XAPI_USERNAME": lrs.username,
            "XAPI_PASSWORD": lrs.password, "CELERY_QUEUE": base_config["CELERY_QUEUE"] + "-xapi"}


@pytest.fixture
def xapi_worker(app, xapi_config, tmp_path):
    worker = WorkerProcess(xapi_config, tmp_path / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def test_a_journey_reaches_the_lrs_through_the_worker(app, xapi_config, xapi_worker, lrs):
    from tests import factories

    live = build_app(xapi_config, OUTBOX_PUBLISH=True)
    use_celery_of(live)
    with live.app_context():
        learner = factories.user()
        course = one_lesson_course(factories)
        enrolment = factories.enrolment(learner, course)  # the commit publishes "registered"
        ids = enrolment.id, course.modules[0].lessons[0].id
        token = factories.token(learner)
        db.session.remove()
    complete_through_the_api(live, ids, token)  # the lesson, then the course
    wait_until(lambda: len(lrs.statements) >= 4, timeout=90, message="four statements in the LRS")
    verbs = Counter(s["verb"]["id"].rsplit("/", 1)[1] for s in lrs.statements.values())
    assert verbs == Counter(registered=1, completed=2, earned=1)
    assert sum(lrs.posts) == 4 and lrs.errors == []
