"""The admin page that searches the audit log."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request

from learning.audit.services import search
from learning.parsing import InvalidInput, page_number, parse_date
from learning.web import admin_required

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


def _date(value: str | None) -> date | None:
    """A filter's date; one that is not a date the platform handles filters nothing."""
    try:
        return parse_date(value) if value else None
    except InvalidInput:
        return None


@bp.app_template_global("audit_value")
def audit_value(value) -> str:
    """One value of an entry's details, as text a person reads: lists joined, mappings as
    ``key: value``, yes/no for booleans, and numbers in the page's locale."""
    from flask_babel import format_decimal
    from flask_babel import gettext as _

    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float):
        return format_decimal(value)
    if isinstance(value, list | tuple):
        return ", ".join(audit_value(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {audit_value(item)}" for key, item in sorted(value.items()))
    return "—" if value in (None, "") else str(value)


@bp.get("/")
@admin_required
def index():
    filters = {key: request.args.get(key, "").strip() for key in ("actor", "action", "target_type", "target_id")}
    since, until = _date(request.args.get("since")), _date(request.args.get("until"))
    page = page_number(request.args)
    entries, total = search(**{k: v or None for k, v in filters.items()}, since=since, until=until,
                            page=page, per_page=50)
    return render_template("audit/index.html", entries=entries, total=total, page=page, per_page=50,
                           filters=filters, since=request.args.get("since", ""), until=request.args.get("until", ""))
