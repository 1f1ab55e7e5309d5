"""LTI 1.3 tool: partners' LMSs (Moodle, Canvas, Open edX) launch our courses (docs/INTEGRATIONS.md, LTI)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """An erased person's links to the platforms they launched from go (``user_erased``)."""
    from learning.lti.services import connect_erasure

    connect_erasure()
