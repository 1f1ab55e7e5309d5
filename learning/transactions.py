"""One unit of work per request and per task: handlers never commit.

Every view function (HTML pages and the JSON API alike) runs inside ``unit_of_work``: when it
returns an answer below 400 the request's transaction is committed, once, before the answer leaves;
when it raises, or answers 400 or more, everything it changed is rolled back. Services change state
and flush when they need ids; they do not decide when it is committed. A Celery task follows the same
rule (``learning.celery_app``'s task class commits when the task returns and rolls back when it
raises).

The few deliberate exceptions keep the record of a *failure* that must count although the request
is refused (a wrong password or two-factor code feeds the throttling; a refused single sign-on is
audited): they go through ``keep_despite_failure``, the one commit allowed on a request's path, so
that a handler never calls ``db.session.commit()`` itself. Work done in
chunks by a worker (outbox events, reminder digests, a large roster) commits per chunk by design: each
chunk is its own unit, so a crash loses at most the chunk in hand.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

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


T = TypeVar("T")


def keep_despite_failure(record: Callable[[], T]) -> T:
    """Keep the record of a failure although the request that made it is refused; ``record``'s result.

    Undoes whatever the request changed so far (a refused request changes nothing else), runs
    ``record`` (which writes the failure: a wrong password's count, a wrong two-factor code, the audit
    line of a refused sign-on), and commits that alone, now: the request's own answer of 400 or more
    then rolls back nothing of it. ``record`` must only write the failure, and must not commit.
    Objects loaded before are expired by the undo and read again when touched.

    This is the only commit a view, an API handler or a service they call may make; everything
    else is committed by ``unit_of_work`` when the answer is below 400.
    """
    db.session.rollback()
    try:
        result = record()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return result


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
