"""Enrolments, progress and the completion rules."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The per-transaction caches of course outlines are dropped when the transaction ends."""
    from learning.enrolment import services
    from learning.extensions import listen_on_session

    listen_on_session("after_commit", services.forget_transaction_caches)
    listen_on_session("after_rollback", services.forget_transaction_caches)
