"""Deep Linking 2.0: a partner's teacher picks one of our courses and it is placed in their LMS.

The ``LtiDeepLinkingRequest`` is verified like any launch; the picker page then carries its settings in a
signed ticket (the picker lives in the platform's iframe, where our cookies may not be), and the choice
becomes an ``LtiDeepLinkingResponse`` JWT, signed with the tool's key, posted back to
``deep_link_return_url``: one ``ltiResourceLink`` with the course slug as a custom parameter and a line
item (``scoreMaximum`` 100), so that grades can come back later.
"""

from __future__ import annotations

import secrets
import time

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt

from learning.lti import keys
from learning.lti.launch import DEPLOYMENT_ID, DL, LTI
from learning.lti.models import LtiPlatform
from learning.lti.services import LtiRefused

SETTINGS = DL + "deep_linking_settings"
TICKET_SECONDS = 3600  # a teacher may browse the catalogue a while before choosing
RESPONSE_SECONDS = 600


def settings_of(claims: dict) -> dict:
    """The request's deep linking settings, checked: a return URL, and links are a type it accepts."""
    settings = claims.get(SETTINGS)
    if not isinstance(settings, dict) or not isinstance(settings.get("deep_link_return_url"), str):
        raise LtiRefused("no_deep_linking_settings", status=400)
    accepted = settings.get("accept_types")
    if not isinstance(accepted, list) or "ltiResourceLink" not in accepted:
        raise LtiRefused("links_not_accepted", _("Your learning platform does not accept links to courses here."),
                         status=400)
    return settings


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="lti-deep-linking")


def make_ticket(platform: LtiPlatform, claims: dict, settings: dict) -> str:
    """What the picker must remember of the request, signed so that the choice cannot be pointed elsewhere."""
    return _serializer().dumps({"platform": platform.id, "deployment": claims[DEPLOYMENT_ID],
                                "return_url": settings["deep_link_return_url"], "data": settings.get("data"),
                                "locale": (claims.get(LTI + "launch_presentation") or {}).get("locale")
                                if isinstance(claims.get(LTI + "launch_presentation"), dict) else None})


def read_ticket(ticket: str) -> dict:
    try:
        return _serializer().loads(ticket or "", max_age=TICKET_SECONDS)
    except BadSignature:
        raise LtiRefused("bad_ticket", _("This choice is too old or damaged. Open the course picker again."),
                         status=400) from None


def response_jwt(platform: LtiPlatform, ticket: dict, course, title: str, summary: str, launch_url: str) -> str:
    """The signed ``LtiDeepLinkingResponse`` placing one course."""
    now = int(time.time())
    item = {"type": "ltiResourceLink", "title": title, "url": launch_url, "custom": {"course": course.slug},
            "lineItem": {"scoreMaximum": 100, "label": title, "resourceId": course.slug, "tag": "completion"}}
    if summary:
        item["text"] = summary[:1000]
    claims = {"iss": platform.client_id, "aud": platform.issuer, "iat": now, "exp": now + RESPONSE_SECONDS,
              "nonce": secrets.token_urlsafe(24), LTI + "message_type": "LtiDeepLinkingResponse",
              LTI + "version": "1.3.0", DEPLOYMENT_ID: ticket["deployment"], DL + "content_items": [item],
              DL + "msg": _("Course added: %(title)s", title=title)}
    if ticket.get("data") is not None:
        claims[DL + "data"] = ticket["data"]
    key = keys.active_key()
    return jwt.encode({"alg": keys.ALGORITHM, "kid": key.kid, "typ": "JWT"}, claims, key)
