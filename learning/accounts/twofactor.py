"""Two-factor sign-in with time-based one-time passwords (RFC 6238, any authenticator app)."""

from __future__ import annotations

import base64
import hmac
import math
from datetime import datetime

import pyotp
import segno
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, update

from learning.accounts import throttling
from learning.accounts.models import User
from learning.accounts.passwords import verify_password
from learning.audit.services import record as audit
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.transactions import keep_despite_failure

ISSUER = "Child Protection Learning"
DEFAULT_FREE_FAILURES = 5  # wrong codes (typos) before each further one makes the next wait longer


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (allowed by the CSP for images)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _clean(code) -> str | None:
    if not isinstance(code, str):
        return None
    code = code.replace(" ", "").strip()
    return code if code.isdigit() and len(code) == 6 else None


def matching_step(secret: str | None, code: str | None, at: datetime | None = None) -> int | None:
    """The 30-second step (this one or a neighbour, for clock drift) whose code ``code`` is, if any."""
    code = _clean(code)
    if not secret or code is None:
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at or utcnow())
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_is_valid(secret: str | None, code: str | None) -> bool:
    """Whether ``code`` is the current (or adjacent, for clock drift) code of ``secret``."""
    return matching_step(secret, code) is not None


def _free_failures() -> int:
    return int(current_app.config.get("TOTP_FREE_FAILURES", DEFAULT_FREE_FAILURES))


def check_code(user: User, code: str | None) -> None:
    """Accept ``code`` for ``user`` once: raise ``TooManyAttempts`` while a wait runs after wrong
    codes, ``ValidationFailed`` for a wrong or already used code. A good code is used up (its step
    is stored, and only a later step is accepted again); a wrong one is counted at once."""
    now = utcnow()
    failures = user.totp_failures or 0
    if user.totp_failed_at is not None and now - user.totp_failed_at > throttling.WINDOW:
        failures = 0  # an hour without a wrong code: start again
    if failures and user.totp_failed_at is not None:
        left = (user.totp_failed_at + throttling.delay_after(failures, _free_failures()) - now).total_seconds()
        if left > 0:
            raise throttling.TooManyAttempts(throttling.wait_message(math.ceil(left)), math.ceil(left))
    step = matching_step(user.totp_secret, code, now)
    if step is not None:
        # One statement decides, so that two requests with the same code cannot both succeed.
        used = db.session.execute(
            update(User).where(User.id == user.id,
                               or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step, totp_failures=0, totp_failed_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if used:
            db.session.refresh(user, ["totp_last_step", "totp_failures", "totp_failed_at"])
            return
        raise ValidationFailed(_("That code was already used. Wait for the next one in your app."),
                               {"code": [_("Already used.")]}, code="code_reused")
    user_id = user.id
    # The wrong code counts even though the request is refused.
    keep_despite_failure(lambda: db.session.execute(
        update(User).where(User.id == user_id).values(totp_failures=failures + 1, totp_failed_at=now)
        .execution_options(synchronize_session=False)))
    raise ValidationFailed(_("That code is not right."), {"code": [_("Wrong code.")]})


def enable(user: User, secret: str, code: str) -> None:
    """Turn on two-factor sign-in once the user proves their app shows the right code.

    Every other session and every API token ends: they were opened with the password alone."""
    step = matching_step(secret, code)
    if step is None:
        raise ValidationFailed(_("That code is not right. Check your app's clock and try again."),
                               {"code": [_("Wrong code.")]})
    from learning.accounts.services import end_credentials

    user.totp_secret = secret
    user.totp_last_step = step  # the code just shown cannot sign in anywhere else
    user.totp_failures = 0
    user.totp_failed_at = None
    end_credentials(user, keep_current_session=True)
    audit(user.id, "user.two_factor_enabled", "user", user.id)


def disable(user: User, password: str, code: str) -> None:
    """Turn two-factor sign-in off, given the password and a code; every other session and token ends."""
    from learning.accounts.services import end_credentials

    if not isinstance(password, str) or not verify_password(user.password_hash, password):
        raise ValidationFailed(_("The password is wrong."), {"password": [_("Wrong password.")]})
    check_code(user, code)
    user.totp_secret = None
    user.totp_last_step = None
    end_credentials(user, keep_current_session=True)
    audit(user.id, "user.two_factor_disabled", "user", user.id)
