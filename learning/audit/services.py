"""Record who did what, in the same transaction as the action; search the record."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import has_request_context, request
from sqlalchemy import func, or_, select, update

from learning.audit.models import AuditEntry
from learning.extensions import db


def record(actor_id: int | None, action: str, target_type: str | None = None,
           target_id: object = None, **details) -> AuditEntry:
    """Add an audit entry to the current transaction."""
    ip = request.remote_addr if has_request_context() else None
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details,
        ip=ip,
    )
    db.session.add(entry)
    return entry


def search(actor: str | None = None, action: str | None = None, target_type: str | None = None,
           target_id: str | None = None, since: date | None = None, until: date | None = None,
           page: int = 1, per_page: int = 50) -> tuple[list[tuple[AuditEntry, str | None]], int]:
    """Entries matching every given filter, newest first, with the actor's e-mail; and the total."""
    from learning.accounts.models import User

    query = select(AuditEntry, User.email).outerjoin(User, User.id == AuditEntry.actor_id)
    if actor:
        query = query.where(User.email.contains(actor.strip().lower()))
    if action:
        query = query.where(AuditEntry.action.startswith(action.strip()))
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == str(target_id))
    if since:
        query = query.where(AuditEntry.at >= datetime.combine(since, time.min, UTC))
    if until:
        query = query.where(AuditEntry.at < datetime.combine(until + timedelta(days=1), time.min, UTC))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return [(row[0], row[1]) for row in rows], total


def _forget_person(person) -> None:
    """Erasure (DESIGN.md rule 8): the entries stay (who did what, when), naming the person nowhere.

    Details and targets that mention the person's address or name are scrubbed, and the network
    address of the entries they made themselves is dropped (it is theirs, not the action's).
    """
    db.session.execute(
        update(AuditEntry).where(AuditEntry.actor_id == person.user_id, AuditEntry.ip.is_not(None)).values(ip=None)
    )
    query = select(AuditEntry).where(or_(person.mentioned_in_column(AuditEntry.details),
                                         person.mentioned_in_column(AuditEntry.target_id)))
    for entry in db.session.scalars(query):
        entry.details = person.scrub(entry.details)
        entry.target_id = person.scrub_text(entry.target_id)


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(_forget_person)
