"""Opting out of reminders with one click, without signing in.

``GET /reminders/unsubscribe/<token>`` shows a confirmation page (mail
scanners follow links, so a GET changes nothing); ``POST`` to the same address
unsubscribes. The POST is also what mail clients send for RFC 8058 one-click
unsubscribe (body ``List-Unsubscribe=One-Click``), so it carries no CSRF token:
the signed token in the address is the proof.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from learning.errors import DomainError
from learning.extensions import csrf, db
from learning.reminders import services

bp = Blueprint("reminders", __name__, url_prefix="/reminders")


def _invalid(error: DomainError):
    db.session.rollback()
    return render_template("reminders/invalid.html"), 400


@bp.get("/unsubscribe/<token>")
def unsubscribe_confirm(token: str):
    try:
        user = services.user_for_unsubscribe(token)
    except DomainError as error:
        return _invalid(error)
    return render_template("reminders/unsubscribe.html", token=token, email=user.email,
                           already=not user.reminders_enabled)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    try:
        user = services.user_for_unsubscribe(token)
    except DomainError as error:
        return _invalid(error)
    services.unsubscribe(user)
    return render_template("reminders/unsubscribed.html", email=user.email)
