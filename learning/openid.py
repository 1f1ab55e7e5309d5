"""The OpenID Connect login's own checks, shared by the two places that sign people in with it:
single sign-on (``learning.sso.oidc``, the authorization-code flow) and the LTI 1.3 launch
(``learning.lti.launch``, the platform-initiated implicit flow).

Each login gets a fresh, unguessable ``state`` (the browser brings it back) and ``nonce`` (the
id_token must carry it); both are compared in constant time. The id_token's claims are checked
alike: ``iss``, ``aud`` (and ``azp``), ``exp`` and ``iat`` with a minute of clock skew, then the
``nonce``. A refusal names its reason, which the caller's own error carries to the audit log.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

CLOCK_SKEW = 60  # seconds allowed between our clock and the issuer's
SECRET_BYTES = 32  # of randomness in a state or a nonce (43 URL-safe characters)


@dataclass(frozen=True)
class LoginSecrets:
    """What one login sends out and keeps until the answer comes back."""

    state: str
    nonce: str


def new_login_secrets() -> LoginSecrets:
    """A fresh state and nonce for one login."""
    return LoginSecrets(secrets.token_urlsafe(SECRET_BYTES), secrets.token_urlsafe(SECRET_BYTES))


def same_secret(sent: object, kept: str) -> bool:
    """Whether ``sent`` (from the browser or a token, untrusted) is the secret we kept, in constant time."""
    return isinstance(sent, str) and bool(sent) and hmac.compare_digest(sent.encode(), kept.encode())


def check_id_token_claims(claims: dict, *, issuer: str, client_id: str, nonce: str,
                          refuse: Callable[[str], Exception], strict: bool = False) -> None:
    """Raise ``refuse(reason)`` unless the (signature-verified) claims are for us, current, and
    this login's: ``wrong_issuer``, ``wrong_audience``, ``expired``, ``issued_in_future``, ``bad_nonce``.

    ``strict`` is the IMS Security Framework's reading (the LTI launch): ``iat`` is required, and an
    ``azp`` must be our client id even beside a single audience; otherwise ``azp`` is checked only
    when there are several audiences and a missing ``iat`` is let through."""
    now = time.time()
    if claims.get("iss") != issuer:
        raise refuse("wrong_issuer")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    azp_checked = len(audiences) > 1 or (strict and "azp" in claims)
    if client_id not in audiences or (azp_checked and claims.get("azp") != client_id):
        raise refuse("wrong_audience")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] + CLOCK_SKEW < now:
        raise refuse("expired")
    issued = claims.get("iat")
    if isinstance(issued, (int, float)) and issued - CLOCK_SKEW > now:
        raise refuse("issued_in_future")
    if strict and not isinstance(issued, (int, float)):
        raise refuse("issued_in_future")  # the launch's reason for a token without ``iat`` too
    if not same_secret(claims.get("nonce"), nonce):
        raise refuse("bad_nonce")
