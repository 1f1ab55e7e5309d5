"""A real LTI 1.3 platform for the tests: a small Flask app on a free loopback port, in a thread.

It does what Moodle or Canvas do for a tool, by the IMS specifications:

- its own RSA key, published at ``/jwks`` (``rotate_key`` starts signing with a new kid);
- third-party initiated login: ``login_params`` gives what it would send to the tool's login URL;
- the OIDC authentication endpoint ``/auth``: checks the tool's authentication request (``scope=openid``,
  ``response_type=id_token``, ``response_mode=form_post``, ``prompt=none``, client id, registered
  redirect URI, the login hint of a known user, a nonce and a state) and answers, as a platform does, an
  auto-submitting HTML form posting a signed ``id_token`` and the ``state`` to the redirect URI;
- the id token of an ``LtiResourceLinkRequest`` or an ``LtiDeepLinkingRequest`` with the LTI 1.3 claims
  (deployment, target link URI, roles, context, resource link, custom, launch presentation, and the AGS
  and NRPS endpoint claims pointing at this platform);
- the deep linking return URL ``/deep-link-return``, which verifies the tool's ``LtiDeepLinkingResponse``
  against the tool's JWKS (``tool_jwks``: a callable, so that the tests may read it through the test
  client) and keeps the content items it placed.

Knobs for the refusal tests: ``tamper`` (a function changing the next id token's claims), ``sign_with``
(another key), ``break_signature``.

Extension points for grade passback and rosters (the next step of issue #20): ``/token`` (OAuth 2 client
credentials with a JWT client assertion, RFC 7523, checked against the tool's JWKS), ``/lineitems``,
``/lineitems/<id>/scores`` and ``/memberships`` are declared below with the data they would hold
(``line_items``, ``scores``, ``members``); they answer 501 until that step implements them.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from tests.support import free_port

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


class LtiPlatform:
    """An LMS. ``users``: login hint → claims (``sub``, ``name``, ``email``, ``roles``...)."""

    def __init__(self, client_id: str = "tool-client-1", deployment_id: str = "deployment-1"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.key = _key("platform-key-1")
        self.redirect_uris: list[str] = []
        self.users: dict[str, dict] = {}
        self.context = {"id": "course-section-42", "label": "CP-101", "title": "Child protection, spring intake",
                        "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]}
        self.tool_jwks = None  # a callable giving the tool's JWKS (its /lti/jwks)
        self.deep_link_items: list[dict] = []
        self.deep_link_errors: list[str] = []
        self.issued_tokens: list[str] = []
        # Grade passback and rosters (extension points, see the module docstring).
        self.line_items: dict[str, dict] = {}
        self.scores: dict[str, list[dict]] = {}
        self.members: list[dict] = []
        self.reset()
        self._app = self._build()
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()

    def reset(self) -> None:
        self.tamper = None
        self.sign_with = None
        self.break_signature = False
        self.deep_link_items, self.deep_link_errors = [], []

    def rotate_key(self) -> None:
        self.key = _key(f"platform-key-{secrets.token_hex(4)}")

    # --- what the admin registers at the tool --------------------------------------------------

    @property
    def registration(self) -> dict:
        return {"issuer": self.issuer, "client_id": self.client_id, "key_set_url": f"{self.url}/jwks",
                "auth_login_url": f"{self.url}/auth", "auth_token_url": f"{self.url}/token",
                "deployment_ids": [self.deployment_id]}

    # --- third-party initiated login -----------------------------------------------------------

    def login_params(self, user: str, target_link_uri: str, message: dict) -> dict:
        """The login initiation request; ``message`` (the launch to make) is kept behind lti_message_hint."""
        hint = base64.urlsafe_b64encode(json.dumps({**message, "target": target_link_uri}).encode()).decode()
        return {"iss": self.issuer, "login_hint": user, "target_link_uri": target_link_uri,
                "lti_message_hint": hint, "client_id": self.client_id, "lti_deployment_id": self.deployment_id}

    def resource_link(self, link_id: str = "link-1", custom: dict | None = None, title: str = "Module 1",
                      ags: bool = True) -> dict:
        return {"type": "LtiResourceLinkRequest", "link": {"id": link_id, "title": title}, "custom": custom or {},
                "ags": ags}

    def deep_linking(self) -> dict:
        return {"type": "LtiDeepLinkingRequest", "data": "opaque-" + secrets.token_hex(4)}

    def id_token(self, user: str, nonce: str, message: dict, target_link_uri: str) -> str:
        now = int(time.time())
        person = dict(self.users[user])
        roles = person.pop("roles", [LEARNER])
        claims = {"iss": self.issuer, "aud": self.client_id, "azp": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": nonce, **person,
                  LTI + "message_type": message["type"], LTI + "version": "1.3.0",
                  LTI + "deployment_id": self.deployment_id, LTI + "target_link_uri": target_link_uri,
                  LTI + "roles": roles, LTI + "context": self.context,
                  LTI + "tool_platform": {"guid": "platform-guid-1", "name": "Test LMS", "product_family_code": "test"},
                  LTI + "launch_presentation": {"locale": person.get("locale", "en"), "document_target": "iframe"}}
        if message["type"] == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = message["link"]
            claims[LTI + "custom"] = message.get("custom") or {}
            if message.get("ags", True):
                claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                    "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                              "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                    "lineitems": f"{self.url}/lineitems",
                    "lineitem": f"{self.url}/lineitems/{message['link']['id']}"}
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": f"{self.url}/memberships", "service_versions": ["2.0"]}
        else:
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep-link-return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": False,
                "data": message.get("data")}
        if self.tamper:
            claims = self.tamper(claims)
        key = self.sign_with or self.key
        token = jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
        if self.break_signature:
            head, body, signature = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
            raw[10] ^= 0x01
            token = ".".join([head, body, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])
        self.issued_tokens.append(token)
        return token

    # --- the platform's HTTP side ----------------------------------------------------------------

    def _build(self) -> Flask:
        platform = self
        app = Flask("test_lti_platform")

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([platform.key]).as_dict(private=False))

        @app.route("/auth", methods=["GET", "POST"])
        def auth():
            args = request.values
            problems = [name for name, ok in (
                ("scope", args.get("scope") == "openid"), ("response_type", args.get("response_type") == "id_token"),
                ("response_mode", args.get("response_mode") == "form_post"), ("prompt", args.get("prompt") == "none"),
                ("client_id", args.get("client_id") == platform.client_id),
                ("redirect_uri", args.get("redirect_uri") in platform.redirect_uris),
                ("login_hint", args.get("login_hint") in platform.users),
                ("nonce", bool(args.get("nonce"))), ("state", bool(args.get("state")))) if not ok]
            if problems:
                return jsonify({"error": "invalid_request", "problems": problems}), 400
            message = json.loads(base64.urlsafe_b64decode(args["lti_message_hint"]))
            target = message.get("target") or args["redirect_uri"]
            token = platform.id_token(args["login_hint"], args["nonce"], message, target)
            return (f'<!doctype html><html lang="en"><title>Launching</title><body>'
                    f'<form method="post" action="{html.escape(args["redirect_uri"])}">'
                    f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
                    f'<input type="hidden" name="state" value="{html.escape(args["state"])}">'
                    f'<button type="submit">Continue</button></form>'
                    f'<script>document.forms[0].submit()</script></body></html>')

        @app.post("/deep-link-return")
        def deep_link_return():
            try:
                items = platform.check_deep_linking_response(request.form.get("JWT", ""))
            except ValueError as error:
                platform.deep_link_errors.append(str(error))
                return f"<!doctype html><title>Refused</title><p>{html.escape(str(error))}", 400
            platform.deep_link_items.extend(items)
            return "<!doctype html><title>Added</title><p>Content added", 200

        # Extension points for grade passback (AGS 2.0) and rosters (NRPS 2.0).
        @app.post("/token")
        def token():
            return jsonify({"error": "unsupported_grant_type", "detail": "not implemented yet"}), 501

        @app.route("/lineitems", methods=["GET", "POST"])
        @app.route("/lineitems/<item>", methods=["GET", "PUT"])
        @app.post("/lineitems/<item>/scores")
        def line_items(item=None):
            return jsonify({"error": "not implemented yet"}), 501

        @app.get("/memberships")
        def memberships():
            return jsonify({"error": "not implemented yet"}), 501

        return app

    def check_deep_linking_response(self, token: str) -> list[dict]:
        """The content items of a tool's ``LtiDeepLinkingResponse``, after checking it as a platform must."""
        if self.tool_jwks is None:
            raise ValueError("the tool's JWKS is unknown")
        try:
            claims = jwt.decode(token, KeySet.import_key_set(self.tool_jwks()), algorithms=["RS256"]).claims
        except Exception as error:  # noqa: BLE001 - any failure is a refusal
            raise ValueError(f"bad signature: {error}") from error
        now = time.time()
        checks = [("iss", claims.get("iss") == self.client_id), ("aud", claims.get("aud") in (self.issuer, [self.issuer])),
                  ("exp", isinstance(claims.get("exp"), int) and claims["exp"] > now),
                  ("iat", isinstance(claims.get("iat"), int) and claims["iat"] <= now + 60),
                  ("nonce", bool(claims.get("nonce"))),
                  ("message_type", claims.get(LTI + "message_type") == "LtiDeepLinkingResponse"),
                  ("version", claims.get(LTI + "version") == "1.3.0"),
                  ("deployment_id", claims.get(LTI + "deployment_id") == self.deployment_id),
                  ("content_items", isinstance(claims.get(DL + "content_items"), list))]
        failed = [name for name, ok in checks if not ok]
        if failed:
            raise ValueError(f"invalid claims: {failed}")
        for item in claims[DL + "content_items"]:
            if item.get("type") != "ltiResourceLink" or not re.match(r"^https?://", item.get("url", "")):
                raise ValueError("invalid content item")
        self.last_deep_linking_claims = claims
        return claims[DL + "content_items"]


def form_of(page: str, action_contains: str = "") -> tuple[str, dict]:
    """The action and hidden fields of the first form of an HTML page whose action contains the text."""
    for match in re.finditer(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        action = html.unescape(match.group(1))
        if action_contains in action:
            fields = {html.unescape(n): html.unescape(v)
                      for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match.group(2))}
            return action, fields
    raise AssertionError(f"no form posting to {action_contains!r}")


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
