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

LTI Advantage services, by the IMS specifications:

- ``/token``: OAuth 2 client credentials with a JWT client assertion (RFC 7523), checked against the tool's
  JWKS (``iss`` = ``sub`` = the client id, ``aud`` the token URL, ``exp``, a ``jti`` never seen before), for
  scopes among ``allowed_scopes``; tokens live ``token_lifetime`` seconds (``revoke_tokens`` ends them early);
- AGS 2.0: ``/lineitems`` (GET, filtered by ``resource_link_id``; POST creates), ``/lineitems/<id>``,
  ``/lineitems/<id>/scores`` (POST, ``application/vnd.ims.lis.v1.score+json``; a score older than the stored
  one is ignored, as the specification requires) and ``/lineitems/<id>/results``. ``line_items``: id → line
  item; ``score_posts``: every score received (item, body); ``results``: (item, userId) → the score kept.
  ``refuse_scores``: answer that status to score posts;
- NRPS 2.0: ``/memberships`` serves ``members`` ``page_size`` at a time, with ``Link: <...>; rel="next"``;
- ``go_down("refused")`` closes the port (connection refused), ``go_down(503)`` answers 503 to every service
  request; ``come_back()`` ends either. ``service_calls`` counts the service requests that reached it.
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
AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
AGS_RESULT = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


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
        self.reset()
        self._app = self._build()
        self._serve()

    def _serve(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def go_down(self, how="refused") -> None:
        """``"refused"``: nothing listens on the port any more; a status (503): every service answers it."""
        if how == "refused":
            self.stop()
        else:
            self.down_status = int(how)

    def come_back(self) -> None:
        self.down_status = None
        if self._server is None:
            self._serve()

    def reset(self) -> None:
        self.tamper = None
        self.sign_with = None
        self.break_signature = False
        self.deep_link_items, self.deep_link_errors = [], []
        # Grade passback and rosters.
        self.allowed_scopes = {AGS_LINEITEM, AGS_SCORE, AGS_RESULT, NRPS_SCOPE}
        self.token_lifetime = 3600
        self.tokens: dict[str, dict] = {}
        self.token_requests: list[dict] = []
        self.token_refusals: list[str] = []
        self.seen_jti: set[str] = set()
        self.line_items: dict[str, dict] = {}
        self.score_posts: list[tuple[str, dict]] = []
        self.results: dict[tuple[str, str], dict] = {}
        self.refuse_scores: int | None = None
        self.members: list[dict] = []
        self.page_size = 50
        self.down_status: int | None = None
        self.service_calls = 0

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (answered 401), as when a platform restarts."""
        for token in self.tokens.values():
            token["revoked"] = True

    def scores_for(self, subject: str) -> list[dict]:
        return [body for _item, body in self.score_posts if body.get("userId") == subject]

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
                      ags: bool = True, lineitem: bool = True) -> dict:
        """A resource link launch; ``lineitem``: the platform made the link's line item (else the tool may
        create one in the context's container)."""
        return {"type": "LtiResourceLinkRequest", "link": {"id": link_id, "title": title}, "custom": custom or {},
                "ags": ags, "lineitem": lineitem}

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
                endpoint = {"scope": [AGS_LINEITEM, AGS_SCORE, AGS_RESULT], "lineitems": f"{self.url}/lineitems"}
                if message.get("lineitem", True):
                    item = message["link"]["id"]
                    self.line_items.setdefault(item, {"id": f"{self.url}/lineitems/{item}", "scoreMaximum": 100,
                                                      "label": message["link"].get("title") or item,
                                                      "resourceLinkId": message["link"]["id"]})
                    endpoint["lineitem"] = f"{self.url}/lineitems/{item}"
                claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = endpoint
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

        # LTI Advantage: OAuth 2 client credentials, grades (AGS 2.0) and rosters (NRPS 2.0).
        @app.before_request
        def down():
            if request.endpoint in ("token", "line_items", "line_item", "scores", "results", "memberships"):
                platform.service_calls += 1
                if platform.down_status:
                    return jsonify({"error": "unavailable"}), platform.down_status
            return None

        @app.post("/token")
        def token():
            form = request.form
            platform.token_requests.append(dict(form))
            if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != \
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return jsonify({"error": "unsupported_grant_type"}), 400
            problem = platform.check_client_assertion(form.get("client_assertion", ""))
            if problem:
                platform.token_refusals.append(problem)
                return jsonify({"error": "invalid_client", "error_description": problem}), 401
            scopes = set((form.get("scope") or "").split())
            if not scopes or not scopes <= platform.allowed_scopes:
                platform.token_refusals.append(f"scope {sorted(scopes - platform.allowed_scopes)}")
                return jsonify({"error": "invalid_scope"}), 400
            value = secrets.token_urlsafe(24)
            platform.tokens[value] = {"scopes": scopes, "expires": time.time() + platform.token_lifetime,
                                      "revoked": False}
            return jsonify({"access_token": value, "token_type": "Bearer", "expires_in": platform.token_lifetime,
                            "scope": " ".join(sorted(scopes))})

        def bearer(scope: str):
            header = request.headers.get("Authorization", "")
            found = platform.tokens.get(header[7:]) if header.startswith("Bearer ") else None
            if found is None or found["revoked"] or found["expires"] < time.time():
                return jsonify({"error": "invalid_token"}), 401
            if scope not in found["scopes"]:
                return jsonify({"error": "insufficient_scope"}), 403
            return None

        @app.route("/lineitems", methods=["GET", "POST"])
        def line_items():
            refused = bearer(AGS_LINEITEM)
            if refused:
                return refused
            if request.method == "GET":
                wanted = request.args.get("resource_link_id")
                found = [item for item in platform.line_items.values()
                         if wanted is None or item.get("resourceLinkId") == wanted]
                return app.response_class(json.dumps(found),
                                          mimetype="application/vnd.ims.lis.v2.lineitemcontainer+json")
            body = request.get_json(force=True, silent=True)
            if request.mimetype != "application/vnd.ims.lis.v2.lineitem+json" or not isinstance(body, dict) or \
                    not isinstance(body.get("scoreMaximum"), (int, float)) or body["scoreMaximum"] <= 0 or \
                    not body.get("label"):
                return jsonify({"error": "invalid line item"}), 400
            item = f"created-{len(platform.line_items) + 1}"
            created = {**body, "id": f"{platform.url}/lineitems/{item}"}
            platform.line_items[item] = created
            return app.response_class(json.dumps(created), status=201,
                                      mimetype="application/vnd.ims.lis.v2.lineitem+json")

        @app.get("/lineitems/<item>")
        def line_item(item):
            refused = bearer(AGS_LINEITEM)
            if refused:
                return refused
            if item not in platform.line_items:
                return jsonify({"error": "no such line item"}), 404
            return jsonify(platform.line_items[item])

        @app.post("/lineitems/<item>/scores")
        def scores(item):
            refused = bearer(AGS_SCORE)
            if refused:
                return refused
            if item not in platform.line_items:
                return jsonify({"error": "no such line item"}), 404
            if platform.refuse_scores:
                return jsonify({"error": "refused by the knob"}), platform.refuse_scores
            body = request.get_json(force=True, silent=True)
            problem = score_problem(body) if request.mimetype == SCORE_TYPE else "content type"
            if problem:
                return jsonify({"error": f"invalid score: {problem}"}), 400
            platform.score_posts.append((item, body))
            kept = platform.results.get((item, body["userId"]))
            if kept is None or _moment(kept["timestamp"]) <= _moment(body["timestamp"]):
                platform.results[(item, body["userId"])] = body
            return "", 204

        @app.get("/lineitems/<item>/results")
        def results(item):
            refused = bearer(AGS_RESULT)
            if refused:
                return refused
            found = [{"userId": user, "resultScore": body.get("scoreGiven"),
                      "resultMaximum": body.get("scoreMaximum"), "scoreOf": platform.line_items[item]["id"]}
                     for (kept_item, user), body in platform.results.items() if kept_item == item]
            return app.response_class(json.dumps(found), mimetype="application/vnd.ims.lis.v2.resultcontainer+json")

        @app.get("/memberships")
        def memberships():
            refused = bearer(NRPS_SCOPE)
            if refused:
                return refused
            page = int(request.args.get("page", "0"))
            size = platform.page_size
            chosen = platform.members[page * size:(page + 1) * size]
            response = app.response_class(json.dumps({
                "id": f"{platform.url}/memberships", "context": {"id": platform.context["id"],
                                                                  "title": platform.context["title"]},
                "members": chosen}), mimetype="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
            if (page + 1) * size < len(platform.members):
                response.headers["Link"] = f'<{platform.url}/memberships?page={page + 1}>; rel="next"'
            return response

        return app

    def check_client_assertion(self, assertion: str) -> str | None:
        """What is wrong with a tool's client assertion (RFC 7523, IMS Security Framework 4.1), if anything."""
        if self.tool_jwks is None:
            return "the tool's JWKS is unknown"
        try:
            claims = jwt.decode(assertion, KeySet.import_key_set(self.tool_jwks()), algorithms=["RS256"]).claims
        except Exception as error:  # noqa: BLE001 - any failure is a refusal
            return f"bad signature: {error}"
        now = time.time()
        audience = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        checks = [("iss", claims.get("iss") == self.client_id), ("sub", claims.get("sub") == self.client_id),
                  ("aud", f"{self.url}/token" in audience),
                  ("exp", isinstance(claims.get("exp"), int) and now < claims["exp"] <= now + 3600),
                  ("jti", isinstance(claims.get("jti"), str) and claims["jti"] not in self.seen_jti)]
        failed = [name for name, ok in checks if not ok]
        if failed:
            return f"invalid claims: {failed}"
        self.seen_jti.add(claims["jti"])
        return None

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


def _moment(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def score_problem(body) -> str | None:
    """What is wrong with an AGS score (AGS 2.0, 3.4), if anything."""
    if not isinstance(body, dict):
        return "not an object"
    if not isinstance(body.get("userId"), str) or not body["userId"]:
        return "userId"
    try:
        _moment(body.get("timestamp") or "")
    except (TypeError, ValueError):
        return "timestamp"
    if body.get("activityProgress") not in ACTIVITY:
        return "activityProgress"
    if body.get("gradingProgress") not in GRADING:
        return "gradingProgress"
    if "scoreGiven" in body and (not isinstance(body.get("scoreMaximum"), (int, float)) or body["scoreMaximum"] <= 0
                                 or not isinstance(body["scoreGiven"], (int, float)) or body["scoreGiven"] < 0):
        return "scoreGiven/scoreMaximum"
    return None


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
