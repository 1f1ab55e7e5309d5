"""xAPI learning records: the learner's journey as xAPI 1.0.3 statements sent to a partner's LRS.

Off unless ``XAPI_ENDPOINT`` is set. See docs/INTEGRATIONS.md (xAPI) for what is sent and when.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """The outbox handlers of ``xapi.statement`` and the receiver that turns learning events into them."""
    from learning.extensions import listen_on_session
    from learning.outbox.services import register_handler
    from learning.signals import learning_event
    from learning.xapi.services import (
        EVENT_TYPE,
        connect_erasure,
        forget_course_activities,
        on_learning_event,
        send_one,
        send_statements,
    )

    listen_on_session("after_commit", forget_course_activities)
    listen_on_session("after_rollback", forget_course_activities)
    register_handler(app, EVENT_TYPE, send_one, batch=send_statements, keep_when_done=("statement_id",))
    learning_event.connect(on_learning_event)  # connecting the same receiver again is harmless
    connect_erasure()  # unsent statements about an erased person are dropped (``user_erased``)
