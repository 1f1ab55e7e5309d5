"""A worker entry point for the crash tests: ``celery_worker``'s app, made slow inside the issuing
transaction (``CERTIFICATE_TEST_DELAY_SECONDS``), so that a SIGKILL lands mid-task.

The delay is a test-only hook on the app's session, attached here: right after the flush that inserts
certificates (their rows written, the transaction not committed), the worker sleeps. The application
itself has no such hook.
"""

import logging
import os
import time

from learning import create_app
from learning.certificates.models import Certificate
from learning.extensions import listen_on_session

DELAY = float(os.environ.get("CERTIFICATE_TEST_DELAY_SECONDS", "0"))
log = logging.getLogger(__name__)


def _sleep_inside_the_issuing_transaction(session, _flush_context) -> None:
    if DELAY and any(isinstance(obj, Certificate) for obj in session.new):
        log.warning("certificate test delay: sleeping %ss inside the issuing transaction", DELAY)
        time.sleep(DELAY)


flask_app = create_app()
listen_on_session("after_flush", _sleep_inside_the_issuing_transaction)
celery_app = flask_app.extensions["celery"]
