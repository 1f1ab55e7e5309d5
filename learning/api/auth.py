"""Who is calling the API: a bearer token, or the site's own browser session."""

from __future__ import annotations

from apiflask import HTTPTokenAuth
from flask import current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from learning.accounts.tokens import TokenCaller, caller_for_token, user_for_token
from learning.errors import Forbidden, Unauthorized
from learning.extensions import db


class BearerOrSessionAuth(HTTPTokenAuth):
    """Bearer tokens for integrators; the site's own pages may use their session cookie."""

    def authenticate(self, auth, stored_password):
        return self.ensure_sync(self.verify_token_callback)(getattr(auth, "token", None) or "")


auth = BearerOrSessionAuth(scheme="Bearer", security_scheme_name="BearerAuth",
                           description="A token from POST /api/v1/auth/tokens")


def must_set_up_two_factor(user) -> bool:
    """An admin without two-factor sign-in where it is required (``ADMIN_2FA_REQUIRED``)."""
    if not (current_app.config.get("ADMIN_2FA_REQUIRED") and user.is_admin):
        return False
    return not (user.two_factor_on if isinstance(user, TokenCaller) else user.totp_secret)


# The learner's hot routes (learning/enrolment/hot.py): on PostgreSQL their caller is a ``TokenCaller``,
# the few values they read, not a ``User`` of the session (docs/PERFORMANCE.md, helper "hotpath6"). The
# same decision on the token, made by the database as for every route; SQLite keeps ``User`` (the ORM
# services serve these routes there). A route listed here names no role in ``auth_required`` (the caller
# knows only whether its person is an admin; tests/accounts/test_token_caller.py).
LIGHT_ENDPOINTS = frozenset({"api_enrolment.enrol", "api_enrolment.complete_lesson"})


def _light_caller_serves(session) -> bool:
    return request.endpoint in LIGHT_ENDPOINTS and session.get_bind().dialect.name == "postgresql"


def refuse_without_two_factor(user):
    """The API's side of ``ADMIN_2FA_REQUIRED``: such an admin can do nothing with a token or a session
    cookie until two-factor sign-in is on (the pages send them to set it up)."""
    if user is not None and must_set_up_two_factor(user):
        raise Forbidden(_("Administrators must turn on two-factor sign-in first, at /account/two-factor."),
                        code="two_factor_required")
    return user


@auth.verify_token
def _verify(token: str):
    if token:
        if _light_caller_serves(db.session()):
            # A lesson's enrolment is locked in the token's round trip (learning/enrolment/hot.py uses it).
            user = caller_for_token(token, (request.view_args or {}).get("enrolment_id"))
        else:
            user = user_for_token(token)
        if user is not None:
            g.api_auth = "token"
        return refuse_without_two_factor(user)
    if request.headers.get("Authorization"):
        return None
    if current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            try:
                validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
            except (ValidationError, CSRFError) as exc:
                raise Forbidden(_("Missing or invalid CSRF token for a browser-session request.")) from exc
        g.api_auth = "session"
        return refuse_without_two_factor(current_user._get_current_object())
    return None


@auth.get_user_roles
def _roles(user):
    return user.roles


@auth.error_handler
def _auth_error(status: int):
    if status == 403:
        raise Forbidden(_("You are not allowed to do this."))
    raise Unauthorized(_("Sign in: send 'Authorization: Bearer <token>' from POST /api/v1/auth/tokens."))


def current_api_user():
    """The caller authenticated by ``@bp.auth_required(auth)``."""
    return auth.current_user


def optional_user():
    """The caller if they sent credentials, else None (for endpoints anyone may call)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return refuse_without_two_factor(user_for_token(header[7:].strip()))
    if current_user.is_authenticated:
        return refuse_without_two_factor(current_user._get_current_object())
    return None
