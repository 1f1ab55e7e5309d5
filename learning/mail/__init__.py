"""E-mail: rendered from paired .txt/.html templates, delivered by a task."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Queued e-mails (``mail.send`` events) are delivered by the outbox."""
    from learning.mail.services import send_queued_mail
    from learning.outbox.services import register_handler

    # Once sent, only the Message-ID is kept: the address, the text and its signed links go.
    register_handler(app, "mail.send", send_queued_mail, keep_when_done=("message_id",))
    from learning.mail.services import connect_erasure

    connect_erasure()  # queued mails and written .eml files on ``user_erased``
