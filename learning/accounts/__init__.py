"""Accounts: users, roles, organisations, sign-in, tokens, privacy."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The password hasher; erasure requests are handled by the outbox; retention is a beat task."""
    from learning.accounts import passwords, tasks
    from learning.outbox.services import register_handler

    passwords.init_app(app)
    register_handler(app, "account.erasure_requested", tasks.erase_requested, bulk=True)
    from learning.accounts.privacy import connect_erasure

    connect_erasure()  # its own copies (tokens, sessions, failed sign-ins) on ``user_erased``
