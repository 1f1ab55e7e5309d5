"""Entry point of the Celery worker and beat: ``celery -A celery_worker worker``.

Builds the Flask app (configured from the environment) and exposes its Celery app. The ORM's
mappers are configured here, once, rather than inside the first task a worker runs (with the
certificates' fonts, loaded as a worker starts by ``learning.certificates``, this is what kept the
embedded mode's first learner waiting; docs/PERFORMANCE.md, "The newcomer's first certificate").
"""

import gc
import os
from pathlib import Path

from celery.signals import worker_ready
from sqlalchemy.orm import configure_mappers

from learning import create_app
from learning.observability import register_task_metrics

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
# Beat keeps its schedule in the instance folder, which a fresh clone run with SECRET_KEY set has not
# made yet: `celery -A celery_worker beat` crashed at once (FileNotFoundError for
# celerybeat-schedule.dat), and celery's beat_init signal comes after the schedule is opened.
Path(celery_app.conf.beat_schedule_filename).parent.mkdir(parents=True, exist_ok=True)
if os.environ.get("REPORT_PERIOD_INDEX", "auto").strip().lower() == "auto":
    # "auto" keeps the period index in the web processes, where admins wait for a summary; a worker's
    # background export counts from the facts instead of holding the index (+220 MB at 1M enrolments),
    # so that a worker stays under its memory aim (docs/PERFORMANCE.md, "an index in each process").
    flask_app.extensions.pop("period_index", None)
register_task_metrics()
with flask_app.app_context():
    configure_mappers()
if os.environ.get("WEB_GC_FREEZE", "1") == "1":
    # As gunicorn.conf.py does for a web worker: what the app loaded lives as long as the process, so
    # the collector's full passes skip it (a pass over ~275,000 objects stalled a task for ~0.5 s),
    # and the pool's forked children never write to those pages (docs/DEPLOY.md).
    gc.collect()
    gc.freeze()


@worker_ready.connect
def _say_ready(**kwargs) -> None:
    """Touch ``$LEARNING_WORKER_READY_FILE`` once ready: scripts/worker.sh starts its second worker then."""
    path = os.environ.get("LEARNING_WORKER_READY_FILE")
    if path:
        Path(path).touch()
