"""E-mail: rendered from paired .txt/.html templates, delivered by a task."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Queued e-mails (``mail.send`` events) are delivered by the outbox."""
    from learning.mail.services import send_queued_mail
    from learning.outbox.services import register_handler

    register_handler(app, "mail.send", send_queued_mail)
