"""Celery wired the way Flask documents it: every task runs in an app context."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery import Celery, Task
from flask import Flask
from kombu import Queue

BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "outbox.sweep", "schedule": timedelta(seconds=30)},
    # Reminders: every 15 minutes, so each time zone's learners are reached soon after 08:00 local.
    "reminders-run": {"task": "reminders.run", "schedule": timedelta(minutes=15)},
    # Privacy: erase accounts inactive beyond ACCOUNT_RETENTION_DAYS (off unless configured).
    "accounts-retention": {"task": "accounts.apply_retention", "schedule": timedelta(hours=24)},
    # Sign-in records: failures older than the throttling hour, sessions ended or expired a day ago.
    "accounts-prune-sign-ins": {"task": "accounts.prune_sign_in_records", "schedule": timedelta(hours=1)},
    # The facts' change log read by each process's period index (learning/reporting/period_index/).
    "reporting-prune-changes": {"task": "reporting.prune_changes", "schedule": timedelta(hours=1)},
}


BULK_SUFFIX = ".bulk"

# Scheduled housekeeping that may run for seconds to minutes (claiming a morning's reminders, erasing
# a year's inactive accounts): on the bulk queue, so that it never holds up a learner's own event.
# The outbox's sweep stays on the default queue: it is quick, and it is what republishes a learner's
# event that could not be sent at its commit.
BULK_TASKS = ("reminders.run", "reminders.send_batch", "accounts.apply_retention", "accounts.prune_sign_in_records",
              "reporting.prune_changes")


def bulk_queue(default_queue: str) -> str:
    """The queue of work that many people are not each waiting for: the outbox's batches (a cohort's
    close, a roster, the demo's seed) and the reminders' digest batches. A learner's own event (one
    completion) goes to the default queue, so it never waits behind a backlog of batches: a worker
    consumes both (kombu takes from its queues in turn). Workers started with ``-Q`` must name both:
    ``-Q learning,learning.bulk``, or be split per queue, as the embedded mode does
    (``scripts/worker.sh``: one worker for each, so one process is always free for a learner's event)."""
    return default_queue + BULK_SUFFIX


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app bound to ``app`` and store it in ``app.extensions``."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            from learning.transactions import finish

            with app.app_context():
                # One unit of work per task, as per request (learning/transactions.py).
                try:
                    result = self.run(*args, **kwargs)
                except BaseException:
                    finish(False)
                    raise
                finish(True)
                return result

    options = app.config["CELERY"].get("broker_transport_options", {})
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options and app.config["CELERY"]["broker_url"].startswith("filesystem"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    default_queue = celery_app.conf.task_default_queue
    # A worker started without -Q consumes every queue listed here.
    celery_app.conf.task_queues = (Queue(default_queue), Queue(bulk_queue(default_queue)))
    celery_app.conf.task_routes = {name: {"queue": bulk_queue(default_queue)} for name in BULK_TASKS}
    schedule = dict(BEAT_SCHEDULE)
    schedule.update(app.config.get("CELERY_BEAT_EXTRA", {}))
    celery_app.conf.beat_schedule = schedule
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
