"""Record who did what, in the same transaction as the action."""

from __future__ import annotations

from flask import has_request_context, request

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
