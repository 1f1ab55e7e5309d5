"""A real Celery worker on the real broker sends a learner's journey to Ralph's LRS (not ours):
Ralph stores each statement once, the certificate's (made by the worker) included."""

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
from tests.ralph_lrs import RalphLRS

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


@pytest.fixture
def ralph(tmp_path):
    server = RalphLRS(tmp_path / "ralph").start()
    yield server
    server.stop()


def test_the_worker_sends_a_journey_to_ralph_once_per_statement(app, base_config, ralph, tmp_path):
    from tests import factories

    config = {**base_config, "XAPI_ENDPOINT": ralph.endpoint, "XAPI_USERNAME": ralph.username,
              "XAPI_PASSWORD": ralph.password, "CELERY_QUEUE": base_config["CELERY_QUEUE"] + "-ralph"}
    worker = WorkerProcess(config, tmp_path / "worker.log")
    worker.start()
    try:
        live = build_app(config, OUTBOX_PUBLISH=True)
        use_celery_of(live)
        with live.app_context():
            learner = factories.user()
            course = one_lesson_course(factories)
            enrolment = factories.enrolment(learner, course)  # the commit publishes "registered"
            ids = enrolment.id, course.modules[0].lessons[0].id
            token = factories.token(learner)
            db.session.remove()
        complete_through_the_api(live, ids, token)  # the lesson, then the course
        wait_until(lambda: ralph.lines_stored() >= 4, timeout=90, message="four statements in Ralph's LRS")
    finally:
        worker.stop()
    stored = ralph.statements()
    verbs = Counter(s["verb"]["id"].rsplit("/", 1)[1] for s in stored)
    assert verbs == Counter(registered=1, completed=2, earned=1)
    assert ralph.lines_stored() == 4 and len({s["id"] for s in stored}) == 4
