"""A real Celery worker on the real broker sends a learner's journey to Ralph's LRS (not ours):
Ralph stores each statement once, the certificate's (made by the worker) included. The worker: the
``xapi_worker`` fixture (``tests/xapi/conftest.py``)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import wait_until

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


def test_the_worker_sends_a_journey_to_ralph_once_per_statement(xapi_worker, ralph_server):
    ralph = ralph_server
    xapi_worker.journey(xapi_worker.start(ralph, "ralph"))  # the lesson, then the course
    wait_until(lambda: ralph.lines_stored() >= 4, timeout=90, message="four statements in Ralph's LRS")
    stored = ralph.statements()
    verbs = Counter(s["verb"]["id"].rsplit("/", 1)[1] for s in stored)
    assert verbs == Counter(registered=1, completed=2, earned=1)
    assert ralph.lines_stored() == 4 and len({s["id"] for s in stored}) == 4
