"""Accounts: users, roles, organisations, sign-in, tokens, privacy."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Erasure requests are handled by the outbox; retention is a beat task."""
    from learning.accounts import tasks
    from learning.outbox.services import register_handler

    register_handler(app, "account.erasure_requested", tasks.erase_requested)
