"""Sending a digest: once, in the learner's language, by day where they live, retried until accepted.

``send_digest`` takes a lease on the digest (an atomic status change, so two
workers never send it at once), looks again at the learner and at each
reminder, renders one e-mail in the learner's language with the
``List-Unsubscribe`` headers, and hands it to the SMTP server. Only when the
server has accepted it are the digest and its reminders marked sent. A failure
puts the digest back to ``pending`` with an exponential backoff; the Celery
task retries it, and the beat run sends whatever is still pending after that,
so a message is never lost. (If a worker dies in the instant between the SMTP
server's acceptance and the commit, the lease expires and the digest goes
again with the same Message-ID: the only window for a duplicate.)
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from learning.accounts.models import User
from learning.extensions import db
from learning.i18n import interface_language
from learning.mail.services import deliver, render_message
from learning.outbox.services import backoff as outbox_backoff
from learning.reminders.content import describe
from learning.reminders.models import ReminderDigest, ReminderSent
from learning.reminders.services import (
    is_daytime,
    local_date,
    next_daytime,
    unsubscribe_url,
)

log = logging.getLogger(__name__)

SEND_LEASE = timedelta(minutes=5)
TEMPLATE = "reminder_digest"


class DeliveryFailed(RuntimeError):
    """The SMTP server did not accept a digest; it stays pending and is retried."""


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... at most an hour between attempts (the outbox's rule, from 30 s)."""
    return outbox_backoff(attempts, first=timedelta(seconds=30))


def may_receive(user: User | None) -> bool:
    """Whether the learner may be written to at all: active, not erased, opted in."""
    return user is not None and user.active and user.erased_at is None and user.reminders_enabled


def mail_language(user: User) -> str:
    """The learner's language where the platform speaks it, else English."""
    return interface_language(user.language)


def _lease(digest_id: int, now: datetime) -> bool:
    taken = db.session.execute(
        update(ReminderDigest)
        .where(
            ReminderDigest.id == digest_id,
            or_(ReminderDigest.status == "pending",
                (ReminderDigest.status == "sending") & (ReminderDigest.lease_until < now)),
        )
        .values(status="sending", lease_until=now + SEND_LEASE),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    return taken == 1


def _release(digest: ReminderDigest, **values) -> None:
    for key, value in {"status": "pending", "lease_until": None, **values}.items():
        setattr(digest, key, value)
    db.session.commit()


def _cancel(digest: ReminderDigest, item_ids: list[int]) -> None:
    if item_ids:
        db.session.execute(update(ReminderSent).where(ReminderSent.id.in_(item_ids)).values(status="cancelled"),
                           execution_options={"synchronize_session": False})
    digest.status, digest.lease_until = "cancelled", None
    db.session.commit()


def compose(digest: ReminderDigest, user: User, items: list[dict], language: str) -> dict:
    """The digest as a ``deliver`` payload: text and HTML in the learner's language, with opt-out headers."""
    unsubscribe = unsubscribe_url(user)
    message = render_message(
        TEMPLATE, language, user_name=user.full_name, items=items, unsubscribe_url=unsubscribe,
        profile_url=f"{current_app.config['PUBLIC_BASE_URL']}/account/profile",
    )
    return {
        "to": user.email,
        **message,
        "headers": {
            "Content-Language": language,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        # Stable across retries, so a receiver can recognise a repeat.
        "message_id": f"<reminders.{digest.id}.{user.id}@learning.local>",
    }


def send_digest(digest_id: int, now: datetime) -> str:
    """Deliver one digest if it is due; raise ``DeliveryFailed`` (after recording it) if SMTP refuses."""
    if not _lease(digest_id, now):
        return "not-pending"
    digest = db.session.get(ReminderDigest, digest_id)
    user = db.session.get(User, digest.user_id)
    claimed = list(db.session.scalars(
        select(ReminderSent).where(ReminderSent.digest_id == digest.id, ReminderSent.status == "claimed")
        .order_by(ReminderSent.id)
    ))
    if not may_receive(user):
        _cancel(digest, [item.id for item in claimed])
        return "cancelled"
    if not is_daytime(user.timezone, now):
        _release(digest, next_attempt_at=next_daytime(user.timezone, now))
        return "postponed"
    language = mail_language(user)
    live, stale = [], []
    for item in claimed:
        shown = describe(item, user, now, language)
        (live if shown is not None else stale).append((item, shown))
    if stale:
        db.session.execute(update(ReminderSent).where(ReminderSent.id.in_([i.id for i, _ in stale]))
                           .values(status="cancelled"), execution_options={"synchronize_session": False})
    if not live:
        _cancel(digest, [])
        return "cancelled"
    payload = compose(digest, user, [shown for _, shown in live], language)
    db.session.commit()
    try:
        deliver(payload)
    except Exception as exc:
        db.session.rollback()
        digest = db.session.get(ReminderDigest, digest_id)
        attempts = digest.attempts + 1
        _release(digest, attempts=attempts, next_attempt_at=now + backoff(attempts),
                 last_error=f"{type(exc).__name__}: {exc}"[:2000])
        log.warning("reminders: digest %s not accepted by SMTP (attempt %s): %s", digest_id, attempts, exc)
        raise DeliveryFailed(str(exc)) from exc
    _mark_sent(digest, [item.id for item, _ in live], payload["message_id"], language, user, now)
    return "sent"


def _mark_sent(digest: ReminderDigest, item_ids: list[int], message_id: str, language: str,
               user: User, now: datetime) -> None:
    db.session.execute(
        update(ReminderSent).where(ReminderSent.id.in_(item_ids))
        .values(status="sent", sent_at=now, message_id=message_id),
        execution_options={"synchronize_session": False},
    )
    digest.status, digest.lease_until, digest.sent_at = "sent", None, now
    digest.sent_on, digest.language, digest.message_id = local_date(user.timezone, now), language, message_id
    digest.attempts += 1
    digest.last_error = None
    db.session.commit()


def send_digests(digest_ids: list[int], now: datetime) -> list[int]:
    """Deliver a batch of digests; the ids SMTP refused, to retry later."""
    failed = []
    for digest_id in digest_ids:
        try:
            send_digest(digest_id, now)
        except DeliveryFailed:
            failed.append(digest_id)
    return failed
