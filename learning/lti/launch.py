"""The LTI 1.3 protocol (IMS Security Framework 1.0, LTI Core 1.3, Deep Linking 2.0), with joserfc.

Login initiation (third-party initiated OIDC login): the platform names itself (``iss``, ``client_id``) and
the person (``login_hint``, ``lti_message_hint``); we keep a fresh ``state`` and ``nonce`` and send the
browser to the platform's authentication endpoint (``response_mode=form_post``). The platform then posts
an ``id_token`` and the ``state`` to our launch URL, where everything is checked: the state is one we
issued and not yet used, the token's signature verifies with a key of the platform's JWKS (cached, fetched
again for an unknown ``kid``), ``iss`` is registered, ``aud`` holds our client id (and ``azp`` is it when
there are several), ``exp``/``iat`` are current, the ``nonce`` is the state's, the deployment is registered,
the message type and version are ones we take. The state, nonce and claim checks it shares with
single sign-on are ``learning.openid``'s.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, update

from learning.extensions import db
from learning.lti.models import LtiLoginState, LtiPlatform
from learning.lti.services import LtiRefused, find_deployment, find_platform
from learning.models_base import utcnow
from learning.openid import check_id_token_claims, new_login_secrets

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
MESSAGE_TYPE = LTI + "message_type"
VERSION = LTI + "version"
DEPLOYMENT_ID = LTI + "deployment_id"
TARGET_LINK_URI = LTI + "target_link_uri"
ROLES = LTI + "roles"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
MESSAGE_TYPES = (RESOURCE_LINK, DEEP_LINKING)
ALGORITHMS = ["RS256", "RS384", "RS512"]  # the security framework names RS256; RSA keys only
STATE_LIFETIME = timedelta(minutes=10)
HTTP_TIMEOUT = 10
CACHE_SECONDS = 3600
_jwks_cache: dict[str, tuple[float, dict]] = {}


# --- login initiation --------------------------------------------------------------------------

def start_login(params: dict, redirect_uri: str) -> tuple[str, LtiLoginState]:
    """The platform's authentication request URL, and the login state kept for the launch."""
    from urllib.parse import urlencode

    platform = find_platform(params.get("iss"), params.get("client_id") or None)
    login_hint = params.get("login_hint")
    target = params.get("target_link_uri")
    if not isinstance(login_hint, str) or not login_hint or len(login_hint) > 2000:
        raise LtiRefused("no_login_hint", _("The learning platform did not say who is signing in."), status=400)
    if not isinstance(target, str) or not target or len(target) > 2000:
        raise LtiRefused("no_target_link_uri", status=400)
    deployment_id = params.get("lti_deployment_id") or None
    if deployment_id is not None:
        find_deployment(platform, deployment_id)
    message_hint = params.get("lti_message_hint") or None
    if message_hint is not None and (not isinstance(message_hint, str) or len(message_hint) > 8000):
        raise LtiRefused("bad_message_hint", status=400)
    now = utcnow()
    db.session.execute(delete(LtiLoginState).where(LtiLoginState.expires_at < now))
    login = new_login_secrets()
    state = LtiLoginState(state=login.state, nonce=login.nonce, platform_id=platform.id,
                          login_hint=login_hint, message_hint=message_hint, target_link_uri=target,
                          deployment_id=deployment_id, created_at=now, expires_at=now + STATE_LIFETIME)
    db.session.add(state)
    query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
             "client_id": platform.client_id, "redirect_uri": redirect_uri, "login_hint": login_hint,
             "state": state.state, "nonce": state.nonce}
    if message_hint:
        query["lti_message_hint"] = message_hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return platform.auth_login_url + separator + urlencode(query), state


# --- the platform's keys ----------------------------------------------------------------------

def _fetch_jwks(url: str) -> dict:
    import requests

    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        raise LtiRefused("platform_unreachable", _("Your learning platform's keys could not be fetched."),
                         status=502) from error
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise LtiRefused("platform_unreachable", status=502)
    return document


def platform_keys(platform: LtiPlatform, refresh: bool = False) -> KeySet:
    """The platform's JWKS, cached an hour (``refresh``: fetched again, for a kid we do not know)."""
    cached = _jwks_cache.get(platform.key_set_url)
    if refresh or not cached or cached[0] < time.monotonic():
        cached = (time.monotonic() + CACHE_SECONDS, _fetch_jwks(platform.key_set_url))
        _jwks_cache[platform.key_set_url] = cached
    usable = [k for k in cached[1]["keys"] if isinstance(k, dict) and k.get("kty") == "RSA"]
    try:
        return KeySet.import_key_set({"keys": usable})
    except (ValueError, JoseError) as error:
        raise LtiRefused("platform_unreachable", status=502) from error


def _kid_of(id_token: str) -> str | None:
    from joserfc import jws

    try:
        return jws.extract_compact(id_token.encode()).headers().get("kid")
    except (ValueError, JoseError, UnicodeError):
        raise LtiRefused("bad_token", status=400) from None


def _decode(platform: LtiPlatform, id_token: str) -> dict:
    kid = _kid_of(id_token)
    keys = platform_keys(platform)
    if kid is not None:
        if all(k.kid != kid for k in keys.keys):
            keys = platform_keys(platform, refresh=True)  # the platform may have rotated its keys
        try:
            return jwt.decode(id_token, keys, algorithms=ALGORITHMS).claims
        except (ValueError, JoseError) as error:
            raise LtiRefused("bad_signature") from error
    # No ``kid`` (Open edX's LTI consumer signs without one): any key of the set may have signed it, and
    # joserfc picks a key of a set only by kid, so each key is tried; none: the set is fetched once more.
    for attempt in (keys, None):
        candidates = attempt.keys if attempt is not None else platform_keys(platform, refresh=True).keys
        for key in candidates:
            try:
                return jwt.decode(id_token, key, algorithms=ALGORITHMS).claims
            except (ValueError, JoseError):
                continue
    raise LtiRefused("bad_signature")


# --- the launch ---------------------------------------------------------------------------------

def unverified_issuer(id_token: str) -> tuple[str | None, str | None]:
    """``iss`` and ``aud`` as the token says (not trusted yet: they say which keys to check it with)."""
    import base64
    import json

    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeError):
        raise LtiRefused("bad_token", _("The launch carries no readable id token."), status=400) from None
    if not isinstance(claims, dict):
        raise LtiRefused("bad_token", status=400)
    audience = claims.get("aud")
    if isinstance(audience, list):
        audience = claims.get("azp") if len(audience) > 1 else (audience[0] if audience else None)
    return (claims.get("iss") if isinstance(claims.get("iss"), str) else None,
            audience if isinstance(audience, str) else None)


def login_state(state: str | None) -> LtiLoginState:
    """The login state a launch names, if we issued it and it has not expired."""
    if not isinstance(state, str) or not state or len(state) > 64:
        raise LtiRefused("no_state", _("The launch is missing its state. Start it again from your course."),
                         status=400)
    row = db.session.get(LtiLoginState, state)
    if row is None or row.expires_at < utcnow():
        raise LtiRefused("bad_state", _("This launch is unknown or too old. Start it again from your course."))
    return row


def _launch_refused(reason: str) -> LtiRefused:
    if reason == "expired":
        return LtiRefused(reason, _("This launch has expired. Start it again from your course."))
    return LtiRefused(reason)


def verify_launch(id_token: str, state: LtiLoginState) -> tuple[LtiPlatform, dict]:
    """The registered platform and the verified claims of a launch; ``LtiRefused`` (nothing used) otherwise."""
    if not isinstance(id_token, str) or not id_token or len(id_token) > 100_000:
        raise LtiRefused("no_token", _("The launch carries no id token."), status=400)
    issuer, audience = unverified_issuer(id_token)
    try:
        platform = find_platform(issuer, audience)
    except LtiRefused as refused:
        if refused.reason == "unknown_client":  # the issuer is registered, for another client id
            raise LtiRefused("wrong_audience") from None
        raise
    if state.platform_id != platform.id:
        raise LtiRefused("bad_state")
    claims = _decode(platform, id_token)
    check_id_token_claims(claims, issuer=platform.issuer, client_id=platform.client_id, nonce=state.nonce,
                          refuse=_launch_refused, strict=True)
    if state.used_at is not None:
        raise LtiRefused("replayed", _("This launch was already used. Start it again from your course."))
    deployment = find_deployment(platform, claims.get(DEPLOYMENT_ID))
    if state.deployment_id is not None and state.deployment_id != deployment.deployment_id:
        raise LtiRefused("unknown_deployment")
    if claims.get(VERSION) != "1.3.0":
        raise LtiRefused("unsupported_version", status=400)
    if claims.get(MESSAGE_TYPE) not in MESSAGE_TYPES:
        raise LtiRefused("unsupported_message_type", status=400)
    if not isinstance(claims.get(ROLES), list):
        raise LtiRefused("no_roles", status=400)
    # Used once: the row is claimed by this very statement, so two racing launches cannot both win.
    claimed = db.session.execute(update(LtiLoginState).where(LtiLoginState.state == state.state,
                                                             LtiLoginState.used_at.is_(None))
                                 .values(used_at=utcnow()))
    if claimed.rowcount != 1:
        raise LtiRefused("replayed")
    return platform, claims


def expires(claims: dict) -> datetime:
    return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)


def is_ours(target_link_uri: str) -> bool:
    """Whether a target link URI points at this site (a launch never sends the browser elsewhere)."""
    from urllib.parse import urlsplit

    from flask import request

    host = urlsplit(target_link_uri or "").netloc.lower()
    public = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").netloc.lower()
    return bool(host) and host in (request.host.lower(), public)


def deployment_of(platform: LtiPlatform, claims: dict):
    return find_deployment(platform, claims.get(DEPLOYMENT_ID))


def roles_of(claims: dict) -> list[str]:
    return [r for r in claims.get(ROLES) or [] if isinstance(r, str)]


