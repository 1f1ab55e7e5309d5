"""Reporting: statistics queries, the dashboard, exports, the public impact page."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The rollup's session hooks, which keep the statistics exact in every transaction, and the
    outbox handler that builds exports."""
    from learning.outbox.services import register_handler
    from learning.reporting import period_index, rollup, tasks
    from learning.reporting.erasure import connect_erasure

    rollup.install()
    period_index.init_app(app)  # any period answered exactly from memory (PostgreSQL)
    connect_erasure()  # the change log's times of an erased person's learning on ``user_erased``
    register_handler(app, "report.export_requested", tasks.export_requested, bulk=True)  # a big export never holds up a learner
    # The rollup's refresh deferred by the learner's hot path (``rollup.defer_refresh``).
    register_handler(app, rollup.REFRESH_EVENT, rollup.apply_refresh_event, batch=rollup.apply_refresh_events)
