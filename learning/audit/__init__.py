"""The audit log of admin and trainer actions."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Entries about an erased person keep what happened but not who they were (``user_erased``)."""
    from learning.audit.services import connect_erasure

    connect_erasure()
