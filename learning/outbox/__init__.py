"""Reliable events between the database and the queue (DESIGN.md rule 1)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The handler registry and the session hooks that publish events after commit; the Celery tasks."""
    from learning.outbox import services, tasks  # noqa: F401  (tasks: defines the Celery tasks)

    services.install(app)
    services.connect_erasure()  # other events' payloads and error texts on ``user_erased``
