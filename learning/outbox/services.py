"""Write events in the caller's transaction; publish them after commit; handle them once.

``emit`` adds an event to the current session. When that session commits, the
events are published to Celery. If the broker is down the request still
succeeds: the events stay ``pending`` and the beat task ``outbox.sweep``
publishes them later. Handlers must be idempotent; an event may run twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent

log = logging.getLogger(__name__)

Handler = Callable[[dict], None]
_handlers: dict[str, Handler] = {}

SESSION_KEY = "outbox_pending_ids"


def handles(event_type: str) -> Callable[[Handler], Handler]:
    """Register the function that handles one type of event."""

    def register(func: Handler) -> Handler:
        _handlers[event_type] = func
        return func

    return register


def handler_for(event_type: str) -> Handler | None:
    return _handlers.get(event_type)


def emit(event_type: str, payload: dict) -> OutboxEvent:
    """Record an event in the current transaction; it is published once that commits."""
    outbox_event = OutboxEvent(event_type=event_type, payload=payload)
    db.session.add(outbox_event)
    db.session.info.setdefault("outbox_new_events", []).append(outbox_event)
    return outbox_event


@event.listens_for(Session, "after_flush")
def _remember_ids(session: Session, flush_context) -> None:
    events = session.info.get("outbox_new_events")
    if events:
        ids = session.info.setdefault(SESSION_KEY, set())
        ids.update(e.id for e in events if e.id is not None)


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    ids = session.info.pop(SESSION_KEY, None)
    session.info.pop("outbox_new_events", None)
    if ids:
        publish(sorted(ids))


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(SESSION_KEY, None)
    session.info.pop("outbox_new_events", None)


def publish(event_ids: list[int]) -> int:
    """Send events to the broker; a broker failure is logged and left to the sweep."""
    if current_app.config.get("OUTBOX_PUBLISH", True) is False:
        return 0
    # This app's own Celery app (its broker and queue), whichever app was created last.
    celery_app = current_app.extensions["celery"]
    sent = 0
    for event_id in event_ids:
        try:
            celery_app.send_task("outbox.process", args=[event_id], retry=False)
            sent += 1
        except Exception as exc:  # broker down: the sweep will publish it later
            log.warning("outbox: could not publish event %s now (%s); the sweep will retry", event_id, exc)
            break
    return sent


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with a ceiling: 10s, 20s, 40s ... at most an hour."""
    return timedelta(seconds=min(3600, 10 * 2 ** max(0, attempts - 1)))


def process(event_id: int) -> str:
    """Run the handler of one pending event and record the outcome; safe to repeat."""
    outbox_event = db.session.get(OutboxEvent, event_id, with_for_update={"skip_locked": True})
    if outbox_event is None:
        db.session.rollback()
        return "missing-or-busy"
    if outbox_event.status == "done":
        db.session.rollback()
        return "already-done"
    handler = handler_for(outbox_event.event_type)
    payload = dict(outbox_event.payload or {})
    if handler is None:
        _record_failure(event_id, f"no handler for {outbox_event.event_type!r}")
        return "no-handler"
    db.session.rollback()  # release the row lock; the handler runs its own transactions
    try:
        handler(payload)
    except Exception as exc:
        db.session.rollback()
        log.exception("outbox: handler for event %s failed", event_id)
        _record_failure(event_id, f"{type(exc).__name__}: {exc}")
        return "failed"
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(status="done", processed_at=utcnow(), attempts=OutboxEvent.attempts + 1, last_error=None)
    )
    db.session.commit()
    return "done"


def _record_failure(event_id: int, message: str) -> None:
    outbox_event = db.session.get(OutboxEvent, event_id)
    if outbox_event is None:
        return
    outbox_event.attempts += 1
    outbox_event.last_error = message[:2000]
    if outbox_event.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        outbox_event.status = "failed"
    outbox_event.next_attempt_at = utcnow() + backoff(outbox_event.attempts)
    db.session.commit()


def due_event_ids(limit: int = 500, grace_seconds: int = 15) -> list[int]:
    """Pending events whose next attempt is due (new ones get a grace period first)."""
    now = utcnow()
    rows = db.session.scalars(
        select(OutboxEvent.id)
        .where(
            OutboxEvent.status == "pending",
            OutboxEvent.next_attempt_at <= now,
            OutboxEvent.created_at <= now - timedelta(seconds=grace_seconds),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    return list(rows)


def sweep(limit: int = 500) -> int:
    """Publish every due pending event; called by beat."""
    ids = due_event_ids(limit)
    db.session.rollback()
    return publish(ids) if ids else 0


def retry_failed(event_id: int) -> None:
    """Put a failed event back in the queue (admin action)."""
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.status == "failed")
        .values(status="pending", next_attempt_at=utcnow(), attempts=0)
    )
    db.session.commit()
