"""Reminders: rules, scheduling, the sent-log, unsubscribe."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The beat task ``reminders.run`` and its ``reminders.send_batch``; "your certificate is ready" at once."""
    from learning.outbox.services import register_handler
    from learning.reminders import tasks

    register_handler(app, "certificate.issued", tasks.on_certificates_issued)
    from learning.reminders.services import connect_erasure

    connect_erasure()  # open digests on ``user_erased``
