"""Partner organisations: their managers' view of their own staff, assignments with due dates,
the organisation's own figures, and how people join and leave an organisation."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing runs in the background of its own: assignment reminders are rules of the reminders
    feature (``learning.reminders.rules``), sent by its beat task."""
    import learning.organisations.models  # noqa: F401
    from learning.organisations.erasure import connect_erasure

    connect_erasure()  # pending join requests of an erased person are withdrawn (``user_erased``)
