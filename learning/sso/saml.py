"""SAML 2.0 service provider (pysaml2, signatures checked by Debian's ``xmlsec1``).

We send an unsigned AuthnRequest by the HTTP-Redirect binding and take the response by
HTTP-POST at the assertion consumer service. pysaml2 checks the XML signature (the assertion
must be signed with a certificate of the IdP's metadata), the Audience (our entity id) and the
NotBefore/NotOnOrAfter window. The assertion's ID goes to the replay cache in the database, so a
captured response cannot be played again, and its InResponseTo must be a request we issued (kept
in the database until used or ten minutes old).

The IdP's page POSTs across sites, and our session cookie is ``SameSite=Lax``: that POST does not
carry it. So the assertion consumer service checks everything that needs no cookie, then sends the
browser (a top-level GET, which carries the cookie) to ``complete`` with a short-lived signed
ticket; there the request id must be the one this browser started, so nobody can push their own
response into someone else's browser (login CSRF).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from flask import redirect, session, url_for
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS

from learning.models_base import utcnow
from learning.sso.models import SsoProvider
from learning.sso.services import SsoRefused, consume_once, forget, remember_once

ACCEPTED_CLOCK_SKEW = 60  # seconds
REQUEST_LIFETIME = timedelta(minutes=10)


def xmlsec_binary() -> str:
    path = shutil.which("xmlsec1")  # Debian's xmlsec1 package
    if not path:
        raise SsoRefused("xmlsec1_missing")
    return path


def entity_id(provider: SsoProvider) -> str:
    return url_for("sso.saml_metadata", provider=provider.slug, _external=True)


def _config(provider: SsoProvider) -> SPConfig:
    acs = url_for("sso.saml_acs", provider=provider.slug, _external=True)
    settings = {
        "entityid": entity_id(provider),
        "xmlsec_binary": xmlsec_binary(),
        "accepted_time_diff": ACCEPTED_CLOCK_SKEW,
        "allow_unknown_attributes": True,
        "service": {"sp": {
            "name": provider.name,
            "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
            # InResponseTo is checked by ``finish`` against the requests kept in the database (the
            # POST carries no session cookie); an IdP-initiated response has none and is refused there.
            "allow_unsolicited": True,
            "authn_requests_signed": False,
            "want_assertions_signed": True,
            "want_response_signed": False,  # the signed assertion is what we trust (ADFS signs only it)
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
        }},
        "metadata": {"inline": [provider.settings["idp_metadata"]]} if provider.settings.get("idp_metadata")
        else {},
    }
    config = SPConfig()
    config.load(settings)
    return config


def sp_metadata(provider: SsoProvider) -> str:
    """Our service provider's metadata for the partner's admin to load into their IdP."""
    return str(entity_descriptor(_config(provider)))


def start(provider: SsoProvider, next_url: str, login_hint: str | None, pending_key: str):
    """Redirect the browser to the IdP with a fresh AuthnRequest, remembering its ID for InResponseTo."""
    try:
        client = Saml2Client(config=_config(provider))
        request_id, info = client.prepare_for_authenticate(entityid=provider.settings["idp_entity_id"],
                                                           binding=BINDING_HTTP_REDIRECT)
    except SsoRefused:
        raise
    except Exception as error:  # noqa: BLE001 - a broken metadata file must not be a 500
        raise SsoRefused("provider_misconfigured") from error
    remember_once(_request_key(provider, request_id), utcnow() + REQUEST_LIFETIME)
    session[pending_key] = {"provider": provider.slug, "request_id": request_id, "next": next_url}
    return redirect(dict(info["headers"])["Location"])


def _reason(error: Exception) -> str:
    """A short reason for the audit log from pysaml2's exception."""
    name = type(error).__name__
    text = str(error).lower()
    if "audience" in text or "not for me" in text:
        return "wrong_audience"
    if "too old" in text or "lifetime" in name.lower() or "expired" in text or "notonorafter" in text:
        return "expired"
    if "unsolicited" in name.lower() or "inresponseto" in text or "in_response_to" in text:
        return "unsolicited"
    if "sign" in name.lower() or "sign" in text:
        return "bad_signature"
    return "invalid_response:" + name[:40]


def _request_key(provider: SsoProvider, request_id: str) -> str:
    return f"saml-request:{provider.id}:{request_id}"


def finish(provider: SsoProvider, saml_response: str) -> tuple[str, dict]:
    """The request id this POSTed response answers and its verified identity; ``SsoRefused`` otherwise."""
    if not saml_response:
        raise SsoRefused("no_response")
    try:
        client = Saml2Client(config=_config(provider))
        response = client.parse_authn_request_response(saml_response, BINDING_HTTP_POST)
    except SsoRefused:
        raise
    except Exception as error:  # noqa: BLE001 - pysaml2 raises many kinds; all refuse
        raise SsoRefused(_reason(error)) from error
    if response is None or response.assertion is None:
        raise SsoRefused("invalid_response")
    expires = datetime.fromtimestamp(int(response.not_on_or_after or 0), tz=UTC)
    consume_once(f"saml:{provider.id}:{response.assertion.id}", expires)
    if not response.in_response_to or not forget(_request_key(provider, response.in_response_to)):
        raise SsoRefused("unsolicited")
    return response.in_response_to, identity(provider, response)


def _first(values) -> str | None:
    if isinstance(values, list):
        return str(values[0]) if values else None
    return str(values) if values else None


def identity(provider: SsoProvider, response) -> dict:
    attributes = response.get_identity() or {}
    settings = provider.settings
    name_id = response.name_id.text if response.name_id is not None else None
    email = _first(attributes.get(settings.get("email_attribute") or "mail")) or (
        name_id if name_id and "@" in name_id else None)
    name = _first(attributes.get(settings.get("name_attribute") or "displayName")) or " ".join(
        filter(None, [_first(attributes.get("givenName")), _first(attributes.get("sn"))]))
    groups = attributes.get(settings.get("groups_attribute") or "groups") or []
    return {"subject": name_id or email or "", "email": email, "email_verified": provider.trust_email,
            "full_name": name, "groups": [str(g) for g in (groups if isinstance(groups, list) else [groups])]}
