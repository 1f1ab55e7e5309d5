"""A worker entry point for the crash test: like ``celery_worker`` but slow inside the issuing
transaction (``CERTIFICATE_TEST_DELAY_SECONDS``), so that a SIGKILL lands mid-task."""

import os

from learning import create_app

flask_app = create_app({"CERTIFICATE_TEST_DELAY_SECONDS": float(os.environ.get("CERTIFICATE_TEST_DELAY_SECONDS", "0"))})
celery_app = flask_app.extensions["celery"]
