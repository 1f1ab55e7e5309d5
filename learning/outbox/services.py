"""Write events in the caller's transaction; publish them after commit; handle them once.

``emit`` adds an event to the current session. When that session commits, the
events are published to Celery. If the broker is down the request still
succeeds: the events stay ``pending`` and the beat task ``outbox.sweep``
publishes them later. Handlers must be idempotent; an event may run twice.

An event type may also have a *batch handler* (``register_handler(..., batch=)``): events of
that type committed together are published in chunks of ``OUTBOX_BATCH_SIZE``
as one ``outbox.process_batch`` task, which handles the whole chunk in one
transaction together with the events' done-marks. If the batch handler fails,
that transaction is rolled back and each event is processed on its own, so a
bad event fails (and is retried) alone.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from learning.celery_app import bulk_queue
from learning.extensions import db, listen_on_session
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent

log = logging.getLogger(__name__)

Handler = Callable[[dict], None]
BatchHandler = Callable[[list[dict]], None]

SESSION_KEY = "outbox_pending_ids"
# Set on a worker's session while it handles bulk work: the events that work writes (the
# "certificate issued" announcement of a batch of fifty, the mails of a roster's import) are bulk too.
BULK_WORK_KEY = "outbox_bulk_work"
MAIL_EVENT = "mail.send"  # learning/mail/services.py queues it and erases its payloads itself
OPEN_STATUSES = ("pending", "failed")  # events whose handler has not succeeded yet


class PermanentFailure(Exception):
    """Raised by a handler when trying again cannot help (the other side refused this very request): the
    event is marked ``failed`` at once with the message, for an admin to read and retry once the cause is
    fixed, instead of being retried with back-off until ``OUTBOX_MAX_ATTEMPTS``."""


class HandlerRegistry:
    """The handlers of each event type, filled by the features' ``init_app`` as the app is built."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.batch_handlers: dict[str, BatchHandler] = {}
        # The payload keys an event type keeps once handled; the rest is dropped with the done-mark.
        self.kept_when_done: dict[str, tuple[str, ...]] = {}
        # Event types whose single events are heavy work (a roster, a mailing): sent to the bulk queue.
        self.bulk_types: set[str] = set()


def install(app: Flask) -> None:
    """Give the app its (empty) handler registry and attach the outbox's hooks to its session."""
    app.extensions["outbox"] = HandlerRegistry()
    listen_on_session("after_flush", _remember_ids)
    listen_on_session("after_commit", _publish_after_commit)
    listen_on_session("after_rollback", _forget_after_rollback)


def register_handler(app: Flask, event_type: str, handler: Handler, batch: BatchHandler | None = None,
                     keep_when_done: tuple[str, ...] | None = None, bulk: bool = False) -> None:
    """Register the function that handles one type of event, and optionally its batch handler.

    ``bulk=True`` says that even one event of the type is long work nobody waits for in seconds (a
    roster's import, a cohort's invitations, an erasure): it goes to the bulk queue
    (``celery_app.bulk_queue``) like the batches, so it never holds up the worker that serves
    learners' own events (``scripts/worker.sh`` reserves one for them).

    ``keep_when_done`` names the payload keys kept once the event is handled; the rest is dropped
    in the same update that marks it done (a sent e-mail's address, text and signed links have no
    use after sending, and a copy not kept is a copy erasure need not find). None keeps it all.

    A batch handler receives many payloads of the type at once and does its work in the current
    session without committing: the outbox commits the work with the events' done-marks, or rolls
    both back. It must be idempotent, as the single handler is, which stays the fallback when a
    batch fails.
    """
    registry: HandlerRegistry = app.extensions["outbox"]
    registry.handlers[event_type] = handler
    if batch is not None:
        registry.batch_handlers[event_type] = batch
    if keep_when_done is not None:
        registry.kept_when_done[event_type] = tuple(keep_when_done)
    if bulk:
        registry.bulk_types.add(event_type)


def _kept_when_done(event_type: str) -> tuple[str, ...] | None:
    return current_app.extensions["outbox"].kept_when_done.get(event_type)


def _done_payload(event_type: str, payload: dict) -> dict:
    """What an event of this type keeps of its payload once handled (``register_handler(keep_when_done=...)``)."""
    return {key: payload[key] for key in _kept_when_done(event_type) or () if key in payload}


def handler_for(event_type: str) -> Handler | None:
    return current_app.extensions["outbox"].handlers.get(event_type)


def batch_handler_for(event_type: str) -> BatchHandler | None:
    return current_app.extensions["outbox"].batch_handlers.get(event_type)


def is_bulk(event_type: str | None) -> bool:
    """Whether even a single event of the type goes to the bulk queue (``register_handler(bulk=True)``)."""
    return event_type in current_app.extensions["outbox"].bulk_types


def emit(event_type: str, payload: dict) -> OutboxEvent:
    """Record an event in the current transaction; it is published once that commits."""
    outbox_event = OutboxEvent(event_type=event_type, payload=payload)
    db.session.add(outbox_event)
    db.session.info.setdefault("outbox_new_events", []).append(outbox_event)
    return outbox_event


@functools.cache
def _insert_event():
    table = OutboxEvent.__table__
    return insert(table).returning(table.c.id)


def emit_now(session: Session, event_type: str, payload: dict) -> int:
    """Write an event at once, with one Core ``INSERT`` in the session's transaction; its id.

    The same row as ``emit``'s, without an ORM object for the unit of work to flush at commit (the
    learner's hot path writes its statistics' event this way, ``learning.reporting.rollup``); it is
    published once the transaction commits, as ``emit``'s events are."""
    now = utcnow()
    event_id = session.connection().execute(_insert_event(), {
        "event_type": event_type, "payload": payload, "status": "pending", "attempts": 0,
        "created_at": now, "next_attempt_at": now,
    }).scalar_one()
    written(session, {event_id: event_type})
    return event_id


def written(session: Session, events: Mapping[int, str]) -> None:
    """Events (id to type) written in the session's transaction without ``emit`` (a Core statement that
    inserts them itself): published once it commits, as ``emit``'s are."""
    session.info.setdefault(SESSION_KEY, {}).update(events)


def _remember_ids(session: Session, flush_context) -> None:
    events = session.info.get("outbox_new_events")
    if events:
        types = session.info.setdefault(SESSION_KEY, {})
        types.update((e.id, e.event_type) for e in events if e.id is not None)


def _publish_after_commit(session: Session) -> None:
    # SQLAlchemy also fires after_commit when a SAVEPOINT (``begin_nested``) is released: the events
    # are not committed yet then, so publishing them would let a worker look for rows it cannot see
    # (and send every event of a long transaction alone instead of in batches).
    if session.in_nested_transaction():
        return
    types = session.info.pop(SESSION_KEY, None)
    session.info.pop("outbox_new_events", None)
    if types:
        publish(sorted(types), types, all_bulk=bool(session.info.get(BULK_WORK_KEY)))


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(SESSION_KEY, None)
    session.info.pop("outbox_new_events", None)


def publish(event_ids: list[int], event_types: Mapping[int, str] | None = None, all_bulk: bool = False) -> int:
    """Send events to the broker; a broker failure is logged and left to the sweep. Returns how many
    events were sent.

    Events of a type with a batch handler go in chunks of ``OUTBOX_BATCH_SIZE`` as
    ``outbox.process_batch``; the others (and a chunk of one) one by one as ``outbox.process``, so
    that they still spread over the workers. Batches go to the bulk queue (``celery_app.bulk_queue``), so
    that a learner's own event is never queued behind a cohort's, and so do single events of a
    ``bulk`` type (``register_handler(bulk=True)``), and with ``all_bulk`` every event (the events
    written while handling bulk work, see ``BULK_WORK_KEY``). Without ``event_types`` every event is taken as
    batchable: ``outbox.process_batch`` runs the ones without a batch handler one by one itself.
    """
    if current_app.config.get("OUTBOX_PUBLISH", True) is False:
        return 0
    # This app's own Celery app (its broker and queue), whichever app was created last.
    celery_app = current_app.extensions["celery"]
    # Batches go to the bulk queue: a learner's single event must not wait behind them.
    bulk = bulk_queue(celery_app.conf.task_default_queue)
    size = max(1, int(current_app.config.get("OUTBOX_BATCH_SIZE") or 1))
    batchable: list[int] = []
    single: list[int] = []
    for event_id in event_ids:
        event_type = event_types.get(event_id) if event_types is not None else None
        if size > 1 and (event_types is None or batch_handler_for(event_type or "") is not None):
            batchable.append(event_id)
        else:
            single.append(event_id)
    chunks = [batchable[i:i + size] for i in range(0, len(batchable), size)]
    messages = [chunk for chunk in chunks if len(chunk) > 1]
    messages += [[event_id] for chunk in chunks if len(chunk) == 1 for event_id in chunk]
    messages += [[event_id] for event_id in single]
    sent = 0
    for ids in messages:
        try:
            if len(ids) == 1 and (all_bulk or (event_types is not None and is_bulk(event_types.get(ids[0])))):
                celery_app.send_task("outbox.process", args=[ids[0]], retry=False, queue=bulk)
            elif len(ids) == 1:
                celery_app.send_task("outbox.process", args=[ids[0]], retry=False)
            else:
                celery_app.send_task("outbox.process_batch", args=[ids], retry=False, queue=bulk)
            sent += len(ids)
        except Exception as exc:  # broker down: the sweep will publish them later
            log.warning("outbox: could not publish events %s now (%s); the sweep will retry",
                        ids if len(ids) <= 5 else f"{ids[0]}..{ids[-1]}", exc)
            break
    return sent


def backoff(attempts: int, first: timedelta = timedelta(seconds=10),
            ceiling: timedelta = timedelta(hours=1)) -> timedelta:
    """Exponential backoff with a ceiling: ``first`` (10 s), twice that, four times ... at most ``ceiling``.

    The one back-off rule of the platform: the outbox's events and the reminders' digests use it."""
    return min(ceiling, first * 2 ** min(max(0, attempts - 1), 32))  # 2**32 * first is past any ceiling


@contextmanager
def _bulk_work(bulk: bool = True) -> Iterator[None]:
    """While inside, the events this session commits are published to the bulk queue (``BULK_WORK_KEY``)."""
    if not bulk or db.session.info.get(BULK_WORK_KEY):  # not bulk, or inside bulk work already
        yield
        return
    db.session.info[BULK_WORK_KEY] = True
    try:
        yield
    finally:
        db.session.info.pop(BULK_WORK_KEY, None)


def process(event_id: int) -> str:
    """Run the handler of one pending event and record the outcome; safe to repeat."""
    outbox_event = db.session.get(OutboxEvent, event_id, with_for_update={"skip_locked": True})
    if outbox_event is None:
        db.session.rollback()
        return "missing-or-busy"
    if outbox_event.status == "done":
        db.session.rollback()
        return "already-done"
    event_type = outbox_event.event_type
    handler = handler_for(event_type)
    payload = dict(outbox_event.payload or {})
    if handler is None:
        _record_failure(event_id, f"no handler for {outbox_event.event_type!r}")
        return "no-handler"
    db.session.rollback()  # release the row lock; the handler runs its own transactions
    try:
        with _bulk_work(is_bulk(event_type)):  # what a roster's import emits is bulk work too
            handler(payload)
    except PermanentFailure as exc:
        db.session.rollback()
        log.warning("outbox: event %s failed for good: %s", event_id, exc)
        _record_failure(event_id, str(exc), final=True)
        return "failed"
    except Exception as exc:
        db.session.rollback()
        log.exception("outbox: handler for event %s failed", event_id)
        _record_failure(event_id, f"{type(exc).__name__}: {exc}")
        return "failed"
    done = {"payload": _done_payload(event_type, payload)} if _kept_when_done(event_type) is not None else {}
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(status="done", processed_at=utcnow(), attempts=OutboxEvent.attempts + 1, last_error=None, **done)
    )
    db.session.commit()
    return "done"


def process_batch(event_ids: list[int]) -> dict[str, int]:
    """Handle many events in one transaction where their type has a batch handler; safe to repeat.

    The events not done yet are locked (``FOR UPDATE SKIP LOCKED``: an event another worker holds is
    left to it) and grouped by type. A type with a batch handler gets all its payloads at once, and
    its work and the events' done-marks are committed together, so that either all of it happened
    or none. If the batch handler (or the commit) fails, everything is rolled back and each event
    goes through ``process`` alone, which records its own failure and backoff. Events of other types
    go through ``process`` one by one. Returns how many events ended each way: ``batched`` (done in a
    batch), ``done-or-busy`` (done already or held by another worker), or an outcome of ``process``.
    """
    with _bulk_work():  # what the batch's handlers emit is bulk work too
        return _process_batch(event_ids)


def _process_batch(event_ids: list[int]) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    ids = sorted(set(event_ids))
    locked = _lock_pending(ids)
    outcomes["done-or-busy"] = len(ids) - len(locked)  # done already, or held by another worker
    by_type: dict[str, list] = {}
    for row in locked:
        by_type.setdefault(row.event_type, []).append(row)
    batched = {event_type: rows for event_type, rows in by_type.items()
               if batch_handler_for(event_type) is not None and len(rows) > 1}
    alone = [row.id for event_type, rows in by_type.items() if event_type not in batched for row in rows]
    if not batched:
        db.session.rollback()  # release the locks; ``process`` takes each again
    for number, (event_type, rows) in enumerate(batched.items()):
        if number:  # the first batch uses the locks taken above; later ones take theirs again
            rows = _lock_pending([row.id for row in rows])
            if not rows:
                db.session.rollback()
                continue
        batch_ids = [row.id for row in rows]
        try:
            batch_handler_for(event_type)([dict(row.payload or {}) for row in rows])
            db.session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(batch_ids))
                .values(status="done", processed_at=utcnow(), attempts=OutboxEvent.attempts + 1,
                        last_error=None)
            )
            if _kept_when_done(event_type) is not None:
                for row in rows:
                    db.session.execute(update(OutboxEvent).where(OutboxEvent.id == row.id)
                                       .values(payload=_done_payload(event_type, dict(row.payload or {}))))
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            log.warning("outbox: batch of %d %r events failed (%s: %s); processing them one by one",
                        len(batch_ids), event_type, type(exc).__name__, str(exc)[:500])
            alone.extend(batch_ids)
        else:
            outcomes["batched"] = outcomes.get("batched", 0) + len(batch_ids)
    for event_id in sorted(alone):
        outcome = process(event_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _lock_pending(event_ids: list[int]) -> list:
    """The (id, type, payload) of those of the events not done yet, locked unless another worker holds them."""
    return db.session.execute(
        select(OutboxEvent.id, OutboxEvent.event_type, OutboxEvent.payload)
        .where(OutboxEvent.id.in_(event_ids), OutboxEvent.status != "done")
        .order_by(OutboxEvent.id)
        .with_for_update(skip_locked=True)
    ).all()


def _record_failure(event_id: int, message: str, final: bool = False) -> None:
    outbox_event = db.session.get(OutboxEvent, event_id)
    if outbox_event is None:
        return
    outbox_event.attempts += 1
    outbox_event.last_error = message[:2000]
    if final or outbox_event.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        outbox_event.status = "failed"
    outbox_event.next_attempt_at = utcnow() + backoff(outbox_event.attempts)
    db.session.commit()


def due_event_ids(limit: int = 500, grace_seconds: int = 15) -> list[int]:
    """Pending events whose next attempt is due (new ones get a grace period first)."""
    return list(_due_events(limit, grace_seconds))


def _due_events(limit: int = 500, grace_seconds: int = 15) -> dict[int, str]:
    """The id and type of each pending event whose next attempt is due, in id order."""
    now = utcnow()
    rows = db.session.execute(
        select(OutboxEvent.id, OutboxEvent.event_type)
        .where(
            OutboxEvent.status == "pending",
            OutboxEvent.next_attempt_at <= now,
            OutboxEvent.created_at <= now - timedelta(seconds=grace_seconds),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    return {row.id: row.event_type for row in rows}


def sweep(limit: int = 500) -> int:
    """Publish every due pending event (in batches where the type allows); called by beat."""
    events = _due_events(limit)
    db.session.rollback()
    return publish(list(events), events) if events else 0


def retry_failed(event_id: int) -> None:
    """Put a failed event back in the queue (admin action)."""
    db.session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.status == "failed")
        .values(status="pending", next_attempt_at=utcnow(), attempts=0)
    )
    db.session.commit()


def _forget_person(person) -> None:
    """Erasure (DESIGN.md rule 8): no event, queued or done, keeps the person's address or name.

    Payloads and error texts that mention them are scrubbed in place; the ids they carry stay,
    so the work still happens (or is recorded as done) for the anonymous facts.
    """
    query = select(OutboxEvent).where(
        OutboxEvent.event_type != MAIL_EVENT,
        person.mentioned_in_column(OutboxEvent.payload) | person.mentioned_in_column(OutboxEvent.last_error),
    )
    for outbox_event in db.session.scalars(query):
        outbox_event.payload = person.scrub(outbox_event.payload)
        outbox_event.last_error = person.scrub_text(outbox_event.last_error)


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(_forget_person)
