"""The tool calling a platform's LTI Advantage services (AGS, NRPS): OAuth 2 client credentials with a JWT
client assertion (IMS Security Framework 1.0, 4.1; RFC 7523), and authorised requests.

The assertion is signed with the tool's active RSA key (``learning.lti.keys``; the platform checks it against
our ``/lti/jwks``): ``iss`` = ``sub`` = the client id, ``aud`` = the platform's token URL (or the audience its
registration names), a fresh ``jti``, five minutes of life. Access tokens are kept in this process until a
minute before they expire, one per platform and set of scopes; a 401 from a service drops the token and the
request is made once more with a new one.

Failures raise ``ServiceError``: ``transient`` when the platform is unreachable or answers 5xx (the outbox
tries again later), not when it refused the request itself (4xx).
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import requests
from joserfc import jwt

from learning.lti import keys
from learning.lti.models import LtiPlatform

TIMEOUT = 10
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EARLY = 60  # seconds before its expiry a token is no longer used
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

_tokens: dict[tuple[int, str, str], tuple[float, str]] = {}
_lock = threading.Lock()


class ServiceError(RuntimeError):
    """A platform's service did not do what was asked. ``status``: its HTTP answer, if any."""

    def __init__(self, message: str, transient: bool = False, status: int | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status


def client_assertion(platform: LtiPlatform) -> str:
    """The signed JWT that authenticates the tool at the platform's token endpoint."""
    now = int(time.time())
    key = keys.active_key()
    claims = {"iss": platform.client_id, "sub": platform.client_id,
              "aud": platform.auth_token_audience or platform.auth_token_url,
              "iat": now, "exp": now + 300, "jti": secrets.token_urlsafe(24)}
    return jwt.encode({"alg": keys.ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)


def _cache_key(platform: LtiPlatform, scopes: list[str]) -> tuple[int, str, str]:
    return platform.id, platform.auth_token_url, " ".join(sorted(set(scopes)))


def forget_token(platform: LtiPlatform, scopes: list[str]) -> None:
    with _lock:
        _tokens.pop(_cache_key(platform, scopes), None)


def access_token(platform: LtiPlatform, scopes: list[str]) -> str:
    """A bearer token for the scopes: the cached one, else a new one from the platform's token endpoint."""
    cache_key = _cache_key(platform, scopes)
    with _lock:
        cached = _tokens.get(cache_key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = requests.post(platform.auth_token_url, timeout=TIMEOUT, headers={"Accept": "application/json"},
                                 data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                                       "client_assertion": client_assertion(platform), "scope": cache_key[2]})
    except requests.RequestException as error:
        raise ServiceError(f"the platform's token endpoint is unreachable: {type(error).__name__}",
                           transient=True) from error
    if response.status_code != 200:
        raise ServiceError(f"the platform's token endpoint answered {response.status_code}: {response.text[:300]}",
                           transient=response.status_code >= 500 or response.status_code == 429,
                           status=response.status_code)
    try:
        body = response.json()
        token = body["access_token"]
        lifetime = int(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError) as error:
        raise ServiceError("the platform's token endpoint answered without an access token") from error
    if not isinstance(token, str) or not token:
        raise ServiceError("the platform's token endpoint answered without an access token")
    with _lock:
        _tokens[cache_key] = (time.monotonic() + max(0, lifetime - EARLY), token)
    return token


def call(platform: LtiPlatform, method: str, url: str, scopes: list[str], *, json_body=None,
         content_type: str | None = None, accept: str = "application/json", params: dict | None = None
         ) -> requests.Response:
    """An authorised request to one of the platform's service URLs; a 401 gets one more try with a new token.

    Answers 2xx are returned; anything else raises ``ServiceError``."""
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ServiceError(f"not a service address: {str(url)[:100]!r}")
    for attempt in (1, 2):
        headers = {"Authorization": f"Bearer {access_token(platform, scopes)}", "Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = requests.request(method, url, timeout=TIMEOUT, headers=headers, params=params,
                                        data=json.dumps(json_body) if json_body is not None else None)
        except requests.RequestException as error:
            raise ServiceError(f"the platform is unreachable: {type(error).__name__}", transient=True) from error
        if response.status_code == 401 and attempt == 1:
            forget_token(platform, scopes)  # expired or revoked early: a new token, once
            continue
        if 200 <= response.status_code < 300:
            return response
        raise ServiceError(f"{method} {url} answered {response.status_code}: {response.text[:300]}",
                           transient=response.status_code >= 500 or response.status_code == 429,
                           status=response.status_code)
    raise AssertionError("unreachable")
