"""Audit log API (admin): search who did what."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Dict, Integer, String
from apiflask.validators import Range

from learning.api.auth import auth
from learning.api.schemas import MAX_PAGE, BoundedDate, page_of
from learning.audit.services import search

bp = APIBlueprint("api_audit", __name__, url_prefix="/api/v1", tag="Audit")


class AuditQuerySchema(Schema):
    actor = String(metadata={"description": "Part of the actor's e-mail address"})
    action = String(metadata={"description": "Action, or its prefix (e.g. 'course.')"})
    target_type = String()
    target_id = String()
    since = BoundedDate()
    until = BoundedDate()
    page = Integer(load_default=1, validate=Range(min=1, max=MAX_PAGE))
    per_page = Integer(load_default=50, validate=Range(min=1, max=500))


class AuditEntrySchema(Schema):
    id = Integer(required=True)
    at = DateTime(required=True)
    actor_id = Integer(allow_none=True)
    actor_email = String(allow_none=True)
    action = String(required=True)
    target_type = String(allow_none=True)
    target_id = String(allow_none=True)
    details = Dict()
    ip = String(allow_none=True)


@bp.get("/audit")
@bp.auth_required(auth, roles=["admin"])
@bp.input(AuditQuerySchema, location="query", arg_name="query")
@bp.output(page_of(AuditEntrySchema, "AuditPageSchema"))
@bp.doc(summary="Search the audit log (admin)")
def list_audit(query):
    page, per_page = query.pop("page"), query.pop("per_page")
    rows, total = search(**query, page=page, per_page=per_page)
    items = [
        {"id": e.id, "at": e.at, "actor_id": e.actor_id, "actor_email": email, "action": e.action,
         "target_type": e.target_type, "target_id": e.target_id, "details": e.details or {}, "ip": e.ip}
        for e, email in rows
    ]
    return {"items": items, "page": page, "per_page": per_page, "total": total}
