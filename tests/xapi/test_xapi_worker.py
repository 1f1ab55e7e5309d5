"""End to end with a real Celery worker on the real broker: a learner's journey reaches the LRS
(``tests/xapi_lrs.py``, on loopback) once per statement, from the worker process, the certificate's
statement included (it is made by the worker as it issues the certificate). The worker: the
``xapi_worker`` fixture (``tests/xapi/conftest.py``)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import wait_until

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


def test_a_journey_reaches_the_lrs_through_the_worker(xapi_worker, local_lrs):
    lrs = local_lrs
    xapi_worker.journey(xapi_worker.start(lrs, "xapi"))  # the lesson, then the course
    wait_until(lambda: len(lrs.statements) >= 4, timeout=90, message="four statements in the LRS")
    verbs = Counter(s["verb"]["id"].rsplit("/", 1)[1] for s in lrs.statements.values())
    assert verbs == Counter(registered=1, completed=2, earned=1)
