"""Cohorts: trainers, rosters, CSV import, sessions, attendance, sign-off."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Invitation e-mails and large roster imports run as outbox handlers."""
    from learning.cohorts import tasks
    from learning.outbox.services import register_handler

    register_handler(app, "cohort.invitations", tasks.send_invitations, bulk=True)
    register_handler(app, "cohort.roster_import", tasks.import_in_background, bulk=True)
    from learning.cohorts.erasure import connect_erasure

    connect_erasure()  # roster files, reports, session notes, invitations on ``user_erased``
