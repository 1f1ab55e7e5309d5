"""Helpers the HTML pages of every feature share: the admin guard and form errors from domain errors."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash
from flask_login import current_user, login_required

from learning.errors import DomainError


def admin_required(view):
    """A page for admins only: sign-in first (redirect to the login page), then 403 for anyone else."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def apply_field_errors(form, error: DomainError) -> None:
    """Show a service's refusal on the form: each field's messages under the field (or flashed when
    the form has no such field), the error's message when it names no field."""
    for name, messages in (error.fields or {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(messages)
        else:
            flash("; ".join(messages), "error")
    if not error.fields:
        flash(error.message, "error")
