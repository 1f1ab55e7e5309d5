"""Reminders: rules, scheduling, the sent-log, unsubscribe."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The beat task ``reminders.run`` and its ``reminders.send_batch``."""
    from learning.reminders import tasks  # noqa: F401  (defines the Celery tasks)
