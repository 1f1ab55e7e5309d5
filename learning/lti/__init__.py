"""LTI 1.3 tool: partners' LMSs (Moodle, Canvas, Open edX) launch our courses (docs/INTEGRATIONS.md, LTI)."""

from flask import Flask


def init_app(app: Flask) -> None:
    """An erased person's links to the platforms they launched from go (``user_erased``); learning events of
    people who came through a resource link become scores for its platform (``lti.score``, AGS)."""
    from learning.lti import ags
    from learning.lti.services import connect_erasure
    from learning.outbox.services import register_handler

    connect_erasure()
    register_handler(app, ags.EVENT_TYPE, ags.post_score, keep_when_done=("link_id", "kind", "timestamp"))
    ags.connect()

    from learning.lti.nrps import can_pull

    app.add_template_global(can_pull, "lti_roster_available")
