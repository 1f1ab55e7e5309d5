"""An LTI 1.3 platform that is not ours: ``lti1p3platform`` (PyPI), served on loopback for the tests.

tests/lti_platform.py is our own reading of the IMS specifications; this one lets an independent
implementation make the platform's decisions: its ``Registration`` holds the platform's key and signs
the id tokens (PyJWT), its ``OIDCLoginAbstract`` builds the third-party initiated login request, its
``LTIAdvantageMessageLaunchAbstract`` checks the tool's authentication request (state, nonce, redirect
URI, client id) and builds the resource link and deep linking launches with their AGS and NRPS claims,
its ``LTI1P3PlatformConfAbstract`` issues access tokens for the tool's client assertion (checked against
the tool's JWKS) and validates the tool's deep linking response, and its ``AssignmentsGradesService``
checks the bearer tokens and scopes of AGS calls.

What is ours here is only the glue a platform writes around the library: a Flask app routing HTTP to
it, in-memory line items and scores, and the rendering of its answers (a line item container as the
JSON array AGS 2.0 requires).
"""

from __future__ import annotations

import html
import secrets
import threading
import typing as t
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, request
from lti1p3platform.exceptions import LtiException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService
from werkzeug.serving import make_server

from tests.support import free_port

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def _rsa_pems() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class PlatformRegistration(Registration):
    """The library's registration; ``without_kid`` signs and publishes keys as Open edX's LTI consumer
    (xblock-lti-consumer's ``PlatformKeyHandler``) does: PyJWT with no ``kid`` header, a keyset without
    kids. ``other_keys``: more public keys published before the platform's own (a rotation under way);
    ``publish_own``: False publishes only those (the token's key is then not in the set)."""

    without_kid = False
    other_keys: list[dict] = []
    publish_own = True

    def get_kid(self):
        return None if self.without_kid else super().get_kid()

    def get_jwks(self):
        own = super().get_jwks() if self.publish_own else []
        if self.without_kid:
            own = [{k: v for k, v in key.items() if k != "kid"} for key in own]
        return [*self.other_keys, *own]


def public_jwk_without_kid() -> dict:
    """A public RSA key as PyJWT exports it (no kid), of a key the platform does not sign with."""
    import json

    import jwt as pyjwt

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return json.loads(pyjwt.get_algorithm_by_name("RS256").to_jwk(key.public_key()))


class PlatformConf(LTI1P3PlatformConfAbstract):
    """The library's platform configuration: one registration (our tool)."""

    def init_platform_config(self, **kwargs: t.Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        return self._registration


class FlaskRequest(Request):
    """The library's request, read from Flask's."""

    def build_metadata(self, req: t.Any) -> TRequest:
        return {"method": req.method, "form_data": req.form.to_dict(), "get_data": req.args.to_dict(),
                "headers": req.headers, "content_type": req.content_type, "path": req.path,
                "json": req.get_json(silent=True)}


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: t.Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class Launch(LTIAdvantageMessageLaunchAbstract):
    """The library's launch; what to launch is looked up by the ``lti_message_hint`` the login carried."""

    platform: ForeignPlatform

    def get_preflight_response(self) -> dict:
        return self._request.get_data or self._request.form_data

    def prepare_launch(self, preflight_response: dict) -> None:
        message = self.platform.messages[preflight_response["lti_message_hint"]]
        person = self.platform.users[preflight_response["login_hint"]]
        self.set_user_data(person["sub"], person["roles"], full_name=person.get("name"),
                           email_address=person.get("email"))
        self.set_launch_context_claim(self.platform.context_id, context_title="Child protection (LTI library)",
                                      context_label="CP-LIB",
                                      context_types=["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"])
        self.set_launch_presentation_claim(document_target="window")
        if message["type"] == "LtiDeepLinkingRequest":
            self.set_dl(f"{self.platform.url}/deep-link-return", title="Add a course",
                        accept_types={"ltiResourceLink"}, extra_data={"opaque": message["data"]})
            return
        self.set_resource_link_claim(message["link_id"], title=message.get("title"))
        self.set_custom_parameters_claim(message.get("custom") or {})
        lineitem = self.platform.line_item_url(message["link_id"]) if message.get("lineitem") else None
        self.set_ags(f"{self.platform.url}/lineitems", lineitem_url=lineitem, allow_creating_lineitems=True)
        self.set_nrps(f"{self.platform.url}/memberships")

    def render_launch_form(self, launch_data: dict, **kwargs: t.Any) -> str:
        return (f'<!doctype html><html lang="en"><title>Launching</title><body>'
                f'<form method="post" action="{html.escape(launch_data["launch_url"])}">'
                f'<input type="hidden" name="id_token" value="{html.escape(launch_data["id_token"])}">'
                f'<input type="hidden" name="state" value="{html.escape(launch_data["state"])}">'
                f'</form><script>document.forms[0].submit()</script></body></html>')


class Grades(AssignmentsGradesService):
    """The library's AGS service over the platform's in-memory line items and scores."""

    platform: ForeignPlatform

    def find_lineitems(self, page=1, limit=None, line_item_id=None, resource_link_id=None, resource_id=None,
                       tag=None, **_ignored):
        items = [i for i in self.platform.line_items.values()
                 if resource_link_id is None or i.get("resourceLinkId") == resource_link_id]
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id):
        return self.platform.line_items[line_item_id]

    def create_lineitem(self, creation_data):
        key = f"created-{len(self.platform.line_items) + 1}"
        item = {**creation_data, "id": f"{self.platform.url}/lineitems/{key}"}
        self.platform.line_items[key] = item
        return item

    def update_lineitem(self, update_data):
        raise NotImplementedError

    def delete_lineitem(self, line_item_id):
        raise NotImplementedError

    def update_score(self, line_item_id, score):
        """AGS 2.0: a score not later than the one held is not applied (the library answers it 409)."""
        held = self.platform.held.get((line_item_id, score.get("userId")))
        moment = datetime.fromisoformat(score["timestamp"].replace("Z", "+00:00"))
        if self.platform.whole_seconds:  # as Moodle compares them (strtotime)
            moment = moment.replace(microsecond=0)
        if held is not None and moment <= held:
            self.platform.stale_scores.append((line_item_id, score))
            return UpdateScoreStatus.OLD_TIMESTAMP
        self.platform.held[(line_item_id, score.get("userId"))] = moment
        self.platform.scores.append((line_item_id, score))
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None):
        return {"content": [], "has_next": False, "next": None}


class ForeignPlatform:
    """An LMS built on lti1p3platform, on a free loopback port, registered with the tool at ``tool_base``."""

    def __init__(self, tool_base: str = "http://localhost", client_id: str = "lib-client-1",
                 deployment_id: str = "lib-deployment-1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.client_id, self.deployment_id = client_id, deployment_id
        private, public = _rsa_pems()
        self.registration = (PlatformRegistration().set_iss(self.url).set_client_id(client_id)
                             .set_deployment_id(deployment_id)
                             .set_oidc_login_url(f"{tool_base}/lti/login")
                             .set_launch_url(f"{tool_base}/lti/launch")
                             .set_deeplink_launch_url(f"{tool_base}/lti/deep-linking")
                             .set_platform_private_key(private).set_platform_public_key(public))
        self.users: dict[str, dict] = {}
        self.messages: dict[str, dict] = {}
        self.context_id = "lib-course-7"
        self.line_items: dict[str, dict] = {}
        self.scores: list[tuple[str, dict]] = []
        self.held: dict[tuple[str, str], datetime] = {}  # (line item, userId) -> the timestamp of the score held
        self.stale_scores: list[tuple[str, dict]] = []  # scores answered 409 (not later than the one held)
        self.whole_seconds = False  # compare score timestamps in whole seconds, as Moodle does
        self.token_requests: list[dict] = []
        self.deep_link_items: list[dict] = []
        self.errors: list[str] = []
        self._app = self._build()
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign_as_usual(self) -> None:
        self.registration.without_kid, self.registration.other_keys = False, []
        self.registration.publish_own = True

    def conf(self) -> PlatformConf:
        return PlatformConf(registration=self.registration)

    def use_tool_jwks(self, jwks: dict) -> None:
        """The tool's public keys, as the admin pasted them or the platform fetched them from /lti/jwks."""
        self.registration.set_tool_key_set(jwks)

    @property
    def tool_registration(self) -> dict:
        """What the tool's admin registers for this platform."""
        return {"issuer": self.url, "client_id": self.client_id, "key_set_url": f"{self.url}/jwks",
                "auth_login_url": f"{self.url}/auth", "auth_token_url": f"{self.url}/token",
                "deployment_ids": [self.deployment_id]}

    def line_item_url(self, link_id: str) -> str:
        key = f"item-{link_id}"
        self.line_items.setdefault(key, {"id": f"{self.url}/lineitems/{key}", "scoreMaximum": 100,
                                         "label": link_id, "resourceLinkId": link_id})
        return self.line_items[key]["id"]

    def login_url(self, user: str, message: dict) -> str:
        """The third-party initiated login the library sends the browser to (GET, to the tool's login URL)."""
        hint = secrets.token_urlsafe(12)
        self.messages[hint] = message
        login = Login(None, self.conf())
        login.set_lti_message_hint(hint=hint)
        if message["type"] == "LtiDeepLinkingRequest":
            login.set_deeplinking_launch_url()
        return login.initiate_login(user)

    def _build(self) -> Flask:
        platform = self
        app = Flask("lti1p3platform_platform")

        def answer(response):
            """The library's ``Response`` as HTTP; a page of line items is the JSON array AGS 2.0 requires."""
            body = response.result
            if isinstance(body, dict) and "content" in body and "has_next" in body:
                body = body["content"]
            if body is None:
                out = app.response_class(status=response.code)
            else:
                out = jsonify(body)
                out.status_code = response.code
            out.content_type = response.media_type
            if response.code >= 400 and response.code != 409:
                platform.errors.append(f"{request.method} {request.path}: {response.code} {response.message}")
            return out

        def grades() -> Grades:
            service = Grades(FlaskRequest(request), platform.conf(), f"{platform.url}/lineitems")
            service.platform = platform
            return service

        @app.get("/jwks")
        def jwks():
            conf = platform.conf()
            conf.get_registration()
            return jsonify(conf.get_jwks())

        @app.route("/auth", methods=["GET", "POST"])
        def auth():
            launch = Launch(FlaskRequest(request), platform.conf())
            launch.platform = platform
            try:
                return launch.lti_launch()
            except (AssertionError, LtiException, KeyError) as error:
                platform.errors.append(f"auth: {type(error).__name__} {error}")
                return jsonify({"error": "invalid_request"}), 400

        @app.post("/token")
        def token():
            platform.token_requests.append(request.form.to_dict())
            conf = platform.conf()
            conf.get_registration()
            try:
                return jsonify(conf.get_access_token(request.form.to_dict()))
            except Exception as error:  # the library raises its own and PyJWT's errors
                platform.errors.append(f"token: {type(error).__name__} {error}")
                return jsonify({"error": "invalid_client", "error_description": str(error)}), 401

        @app.route("/lineitems", methods=["GET", "POST"])
        def line_items():
            service = grades()
            if request.method == "GET":
                return answer(service.handle_resp(service.handle_get_lineitems))
            return answer(service.handle_resp(service.handle_create_lineitem))

        @app.get("/lineitems/<item>")
        def line_item(item):
            service = grades()
            return answer(service.handle_resp(service.handle_get_lineitem, line_item_id=item))

        @app.post("/lineitems/<item>/scores")
        def scores(item):
            if item not in platform.line_items:
                platform.errors.append(f"scores for an unknown line item {item}")
                return jsonify({"error": "not found"}), 404
            if request.content_type != "application/vnd.ims.lis.v1.score+json":
                platform.errors.append(f"score posted as {request.content_type}")
                return jsonify({"error": "unsupported media type"}), 415
            service = grades()
            return answer(service.handle_resp(service.handle_update_score, line_item_id=item))

        @app.post("/deep-link-return")
        def deep_link_return():
            conf = platform.conf()
            conf.get_registration()
            try:
                items = conf.validate_deeplinking_resp({"JWT": request.form.get("JWT", "")})
            except Exception as error:  # the library's and PyJWT's refusals
                platform.errors.append(f"deep linking response: {type(error).__name__} {error}")
                return f"<!doctype html><title>Refused</title><p>{html.escape(str(error))}", 400
            platform.deep_link_items.extend(items)
            return "<!doctype html><title>Added</title><p>Content added", 200

        return app


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
