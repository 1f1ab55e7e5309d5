"""Certificates: issuing, PDF, public verification, signed credentials, revocation, expiry."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Certificates are issued by the outbox's handlers of ``enrolment.completed`` (one, or a batch)."""
    from learning.certificates import tasks
    from learning.outbox.services import register_handler

    register_handler(app, "enrolment.completed", tasks.on_enrolment_completed, batch=tasks.on_enrolments_completed)
    from learning.certificates.erasure import connect_erasure

    connect_erasure()  # the holder's name and PDF on ``user_erased``
