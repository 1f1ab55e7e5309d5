"""Two-factor sign-in with time-based one-time passwords (RFC 6238, any authenticator app)."""

from __future__ import annotations

import base64

import pyotp
import segno
from flask_babel import gettext as _

from learning.accounts.models import User
from learning.accounts.passwords import verify_password
from learning.audit.services import record as audit
from learning.errors import ValidationFailed

ISSUER = "Child Protection Learning"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (allowed by the CSP for images)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def code_is_valid(secret: str | None, code: str | None) -> bool:
    """Whether ``code`` is the current (or adjacent, for clock drift) code of ``secret``."""
    if not secret or not isinstance(code, str):
        return False
    code = code.replace(" ", "").strip()
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def enable(user: User, secret: str, code: str) -> None:
    """Turn on two-factor sign-in once the user proves their app shows the right code."""
    if not code_is_valid(secret, code):
        raise ValidationFailed(_("That code is not right. Check your app's clock and try again."),
                               {"code": [_("Wrong code.")]})
    user.totp_secret = secret
    user.session_version += 1  # other sessions must sign in again with the second factor
    audit(user.id, "user.two_factor_enabled", "user", user.id)


def disable(user: User, password: str, code: str) -> None:
    if not verify_password(user.password_hash, password):
        raise ValidationFailed(_("The password is wrong."), {"password": [_("Wrong password.")]})
    if not code_is_valid(user.totp_secret, code):
        raise ValidationFailed(_("That code is not right."), {"code": [_("Wrong code.")]})
    user.totp_secret = None
    audit(user.id, "user.two_factor_disabled", "user", user.id)
