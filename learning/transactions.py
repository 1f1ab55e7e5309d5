"""One unit of work per request and per task: handlers never commit.

Every view function (HTML pages and the JSON API alike) runs inside ``unit_of_work``: when it
returns an answer below 400 the request's transaction is committed, once, before the answer leaves;
when it raises, or answers 400 or more, everything it changed is rolled back. Services change state
and flush when they need ids; they do not decide when it is committed. A Celery task follows the same
rule (``learning.celery_app``'s task class commits when the task returns and rolls back when it
raises).

The few deliberate exceptions commit a *failure* that must count although the request is refused (a
wrong password or two-factor code feeds the throttling), and say so where they do it. Work done in
chunks by a worker (outbox events, reminder digests, a large roster) commits per chunk by design: each
chunk is its own unit, so a crash loses at most the chunk in hand.
"""

from __future__ import annotations

from functools import wraps

from flask import Flask, current_app

from learning.extensions import db


def finish(success: bool) -> None:
    """Commit (``success``) or roll back the current session's transaction, if one was begun."""
    if not db.session.registry.has():
        return
    session = db.session()
    if success:
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise
    else:
        session.rollback()


def unit_of_work(view):
    """Run ``view`` as one transaction: committed if it answers below 400, rolled back otherwise."""
    if getattr(view, "_unit_of_work", False):
        return view

    @wraps(view)
    def wrapped(*args, **kwargs):
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            finish(False)
            raise
        finish(response.status_code < 400)
        return response

    wrapped._unit_of_work = True
    return wrapped


def register_unit_of_work(app: Flask) -> None:
    """Wrap every view function the app has (call it once every blueprint is registered)."""
    for endpoint, view in list(app.view_functions.items()):
        app.view_functions[endpoint] = unit_of_work(view)
