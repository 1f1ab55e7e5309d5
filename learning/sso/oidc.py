"""OpenID Connect, authorization-code flow with PKCE (Authlib's client; joserfc checks the id_token).

The browser carries ``state`` back; the server-side checks are: ``state`` equals the one this
browser was given, the id_token's signature verifies with a key of the provider's JWKS, and its
``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and ``nonce`` are what they must be. The nonce
also goes to the replay cache, so the same id_token cannot sign in twice. The state, nonce and
claim checks are ``learning.openid``'s, shared with the LTI launch.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from learning.openid import check_id_token_claims, new_login_secrets, same_secret
from learning.sso.models import SsoProvider
from learning.sso.services import SsoRefused, consume_once

HTTP_TIMEOUT = 10
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
_metadata_cache: dict[str, tuple[float, dict]] = {}
_jwks_cache: dict[str, tuple[float, dict]] = {}
CACHE_SECONDS = 3600


def _get_json(url: str) -> dict:
    import requests

    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise SsoRefused("provider_unreachable") from error


def metadata(provider: SsoProvider) -> dict:
    """The provider's endpoints: its discovery document (cached an hour) or the admin's explicit ones."""
    settings = provider.settings
    url = settings.get("discovery_url")
    if not url:
        return {k: settings[k] for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")}
    cached = _metadata_cache.get(url)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    document = _get_json(url)
    if not all(document.get(k) for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")):
        raise SsoRefused("provider_misconfigured")
    merged = {**document, **{k: settings[k] for k in ("issuer",) if settings.get(k)}}
    _metadata_cache[url] = (time.monotonic() + CACHE_SECONDS, merged)
    return merged


def _keys(jwks_uri: str, refresh: bool = False) -> KeySet:
    cached = _jwks_cache.get(jwks_uri)
    if refresh or not cached or cached[0] < time.monotonic():
        cached = (time.monotonic() + CACHE_SECONDS, _get_json(jwks_uri))
        _jwks_cache[jwks_uri] = cached
    return KeySet.import_key_set(cached[1])


def _client(provider: SsoProvider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(provider.settings["client_id"], provider.client_secret, scope="openid email profile",
                         redirect_uri=redirect_uri, code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_post")


def start(provider: SsoProvider, redirect_uri: str, login_hint: str | None = None) -> tuple[str, dict]:
    """The provider's authorization URL, and what this browser's session must keep for the callback."""
    meta = metadata(provider)
    login, verifier = new_login_secrets(), generate_token(64)
    extra = {"nonce": login.nonce, "code_verifier": verifier}
    if login_hint:
        extra["login_hint"] = login_hint
    with _client(provider, redirect_uri) as client:
        url, _state = client.create_authorization_url(meta["authorization_endpoint"], state=login.state, **extra)
    return url, {"state": login.state, "nonce": login.nonce, "verifier": verifier}


def finish(provider: SsoProvider, redirect_uri: str, args: dict, pending: dict) -> dict:
    """The verified claims of the id_token this callback leads to; ``SsoRefused`` otherwise."""
    if args.get("error"):
        raise SsoRefused("provider_error:" + str(args.get("error"))[:40])
    if not pending or not same_secret(args.get("state"), pending["state"]):
        raise SsoRefused("bad_state")
    if not args.get("code"):
        raise SsoRefused("no_code")
    meta = metadata(provider)
    import requests

    try:
        with _client(provider, redirect_uri) as client:
            token = client.fetch_token(meta["token_endpoint"], code=args["code"], code_verifier=pending["verifier"],
                                       timeout=HTTP_TIMEOUT)
    except (requests.RequestException, ValueError, Exception) as error:  # noqa: BLE001 - any failure refuses
        raise SsoRefused("token_exchange_failed") from error
    id_token = token.get("id_token")
    if not id_token:
        raise SsoRefused("no_id_token")
    claims = verify_id_token(provider, meta, id_token, pending["nonce"])
    consume_once(f"oidc:{provider.id}:{claims['nonce']}",
                 datetime.fromtimestamp(int(claims["exp"]), tz=UTC))
    return claims


def verify_id_token(provider: SsoProvider, meta: dict, id_token: str, nonce: str) -> dict:
    """Signature (JWKS), ``iss``, ``aud``/``azp``, ``exp``, ``iat`` and ``nonce`` of an id_token."""
    try:
        try:
            decoded = jwt.decode(id_token, _keys(meta["jwks_uri"]), algorithms=ALGORITHMS)
        except (ValueError, JoseError) as first:
            if "kid" not in str(first).lower() and "key" not in str(first).lower():
                raise
            # The provider may have rotated its keys since we cached them.
            decoded = jwt.decode(id_token, _keys(meta["jwks_uri"], refresh=True), algorithms=ALGORITHMS)
    except (ValueError, JoseError) as error:
        raise SsoRefused("bad_signature") from error
    claims = decoded.claims
    check_id_token_claims(claims, issuer=meta["issuer"], client_id=provider.settings["client_id"], nonce=nonce,
                          refuse=SsoRefused)
    return claims


def identity(provider: SsoProvider, claims: dict) -> dict:
    """What ``services.complete_sign_in`` needs, from the verified claims."""
    groups_claim = provider.settings.get("groups_claim") or "groups"
    groups = claims.get(groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    verified = claims.get("email_verified")
    return {"subject": str(claims.get("sub") or ""), "email": claims.get("email"),
            "email_verified": verified is True or verified == "true",
            "full_name": claims.get("name") or " ".join(filter(None, [claims.get("given_name"),
                                                                      claims.get("family_name")])),
            "groups": [str(g) for g in groups if isinstance(g, (str, int))]}
