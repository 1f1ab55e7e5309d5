"""Real identity providers for the single sign-on tests, each served on a free loopback port.

``OidcProvider``: Authlib's authorization server (code flow, PKCE, OpenID Connect) in a small
Flask app with its own RSA key, serving discovery and JWKS and signing id_tokens.
``SamlIdp``: pysaml2's IdP (``saml2.server.Server``) signing real assertions with xmlsec1.

Each has knobs the refusal tests turn (claims to override, a signature to break, the audience
or lifetime of the assertion) and a login form the browser fills in.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import threading
import time
from pathlib import Path

os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the providers speak plain HTTP on loopback

from authlib.integrations.flask_oauth2 import AuthorizationServer  # noqa: E402
from authlib.oauth2.rfc6749 import ClientMixin, grants  # noqa: E402
from authlib.oauth2.rfc7636 import CodeChallenge  # noqa: E402
from authlib.oidc.core import AuthorizationCodeMixin  # noqa: E402
from authlib.oidc.core import grants as oidc_grants  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from joserfc.jwk import RSAKey  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from tests.support import free_port  # noqa: E402

LOGIN_FORM = """<!doctype html><html lang="en"><title>{title}</title><h1>{title}</h1>
<form method="post"><label>User name <input name="username" autocomplete="username"></label>
<button type="submit">Sign in at the identity provider</button></form></html>"""


class _Served:
    def __init__(self, app: Flask, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()


# --- OpenID Connect ----------------------------------------------------------------------------

class _Client(ClientMixin):
    def __init__(self, client_id, secret, redirect_uris):
        self.client_id, self.secret, self.redirect_uris = client_id, secret, redirect_uris

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_post"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


class _Code(AuthorizationCodeMixin):
    def __init__(self, code, client_id, redirect_uri, scope, user, nonce, challenge, method):
        self.code, self.client_id, self.redirect_uri, self.scope, self.user = code, client_id, redirect_uri, scope, user
        self.nonce, self.code_challenge, self.code_challenge_method = nonce, challenge, method
        self.auth_time = int(time.time())

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class OidcProvider:
    """An OpenID Connect provider. ``users``: user name → claims; the knobs change the next id_tokens."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "idp-key-1", "use": "sig", "alg": "RS256"},
                                       private=True)
        self.client_id = "learning-platform"
        self.client_secret = secrets.token_urlsafe(24)
        self.redirect_uris: list[str] = []
        self.users: dict[str, dict] = {}
        self.codes: dict[str, _Code] = {}
        self.claim_overrides: dict = {}
        self.break_signature = False
        self.sign_with = None  # another RSAKey: signed by a key the JWKS does not hold
        self.last_id_token: str | None = None
        self._app = self._build()
        self._served = _Served(self._app)
        self.url = self._served.url
        self.issuer = self.url

    def stop(self):
        self._served.stop()

    def reset(self):
        self.claim_overrides, self.break_signature, self.sign_with = {}, False, None

    @property
    def discovery_url(self):
        return f"{self.url}/.well-known/openid-configuration"

    def _build(self) -> Flask:
        provider = self
        app = Flask("test_oidc_provider")
        app.config["SECRET_KEY"] = "idp"

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]

            def save_authorization_code(self, code, req):
                provider.codes[code] = _Code(code, req.client.client_id, req.payload.redirect_uri, req.payload.scope,
                                             req.user, req.payload.data.get("nonce"),
                                             req.payload.data.get("code_challenge"),
                                             req.payload.data.get("code_challenge_method"))

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class OpenIDCode(oidc_grants.OpenIDCode):
            def resolve_client_private_key(self, client):
                return provider.sign_with or provider.key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": "idp-key-1"}

            def get_client_claims(self, client):
                now = int(time.time())
                return {"iss": provider.issuer, "aud": [client.get_client_id()], "iat": now, "exp": now + 300}

            def exists_nonce(self, nonce, req):
                return any(code.nonce == nonce for code in provider.codes.values())

            def generate_user_info(self, user, scope):
                return {**provider.users[user], **provider.claim_overrides}

            def process_token(self, grant, response):
                token = super().process_token(grant, response)
                if provider.break_signature and token.get("id_token"):
                    head, body, signature = token["id_token"].split(".")
                    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
                    raw[10] ^= 0x01
                    token["id_token"] = ".".join([head, body, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=")
                                                  .decode()])
                provider.last_id_token = token.get("id_token")
                return token

        server = AuthorizationServer(app, query_client=lambda cid: _Client(cid, provider.client_secret,
                                                                             provider.redirect_uris)
                                     if cid == provider.client_id else None,
                                     save_token=lambda token, req: None)
        server.register_grant(CodeGrant, [OpenIDCode(require_nonce=True), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify({"issuer": provider.issuer, "authorization_endpoint": f"{provider.url}/authorize",
                            "token_endpoint": f"{provider.url}/token", "jwks_uri": f"{provider.url}/jwks",
                            "response_types_supported": ["code"], "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "token_endpoint_auth_methods_supported": ["client_secret_post"],
                            "code_challenge_methods_supported": ["S256"]})

        @app.get("/jwks")
        def jwks():
            return jsonify({"keys": [provider.key.as_dict(private=False)]})

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            if request.method == "GET":
                server.get_consent_grant(end_user=None)  # refuses a bad client or redirect URI now
                return LOGIN_FORM.format(title="Partner identity provider")
            user = request.form.get("username", "")
            if user not in provider.users:
                return LOGIN_FORM.format(title="Unknown user"), 401
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.post("/token")
        def token():
            return server.create_token_response()

        return app


# --- SAML 2.0 -----------------------------------------------------------------------------------

def self_signed(directory: Path, name: str) -> tuple[str, str]:
    """A private key and a self-signed certificate (PEM files) for ``name``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)


class SamlIdp:
    """pysaml2's IdP. Give it the SP's metadata (``trust_sp``) before the first sign-in."""

    def __init__(self, directory: Path):
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.metadata import entity_descriptor

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key_file, self.cert_file = self_signed(directory, "idp")
        self.users: dict[str, dict] = {}
        self.audience = None  # another SP entity id: a response meant for someone else
        self.lifetime_minutes = 5
        self.tamper = None  # (old, new): change the signed XML after signing
        self.last_response: str | None = None
        self._sp_metadata: list[str] = []
        self.settings = {
            "entityid": f"{self.url}/metadata",
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": self.key_file, "cert_file": self.cert_file,
            "service": {"idp": {
                "name": "Partner SAML IdP",
                "endpoints": {"single_sign_on_service": [(f"{self.url}/sso", BINDING_HTTP_REDIRECT)]},
                "name_id_format": ["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"],
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                       "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}},
            }},
        }
        config = IdPConfig()
        config.load(dict(self.settings))
        self.metadata = str(entity_descriptor(config))
        self._served = _Served(self._build(), self.port)

    def stop(self):
        self._served.stop()

    def reset(self):
        self.audience, self.lifetime_minutes, self.tamper = None, 5, None

    def trust_sp(self, metadata_xml: str):
        self._sp_metadata.append(metadata_xml)

    def _server(self):
        from saml2.config import IdPConfig
        from saml2.server import Server

        settings = {**self.settings, "metadata": {"inline": list(self._sp_metadata)}}
        settings["service"] = {"idp": {**self.settings["service"]["idp"], "policy": {"default": {
            "lifetime": {"minutes": self.lifetime_minutes}, "attribute_restrictions": None,
            "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}}}}
        config = IdPConfig()
        config.load(settings)
        return Server(config=config)

    def respond(self, saml_request: str, user: str) -> tuple[str, str]:
        """The signed response (base64) for this AuthnRequest, and where it goes."""
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID

        server = self._server()
        parsed = server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        args = server.response_args(parsed.message)
        claims = self.users[user]
        identity = {"mail": [claims["email"]], "displayName": [claims.get("name", user)],
                    "groups": claims.get("groups", [])}
        if self.audience:
            args["sp_entity_id"] = self.audience
        response = server.create_authn_response(
            identity, userid=claims["email"], name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=claims["email"]),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_response=False, sign_assertion=True, **args)
        xml = str(response)
        if self.tamper:
            xml = xml.replace(*self.tamper)
        encoded = base64.b64encode(xml.encode()).decode()
        self.last_response = encoded
        return encoded, args["destination"]

    def _build(self) -> Flask:
        idp = self
        app = Flask("test_saml_idp")

        @app.route("/sso", methods=["GET", "POST"])
        def sso():
            if request.method == "GET":
                return LOGIN_FORM.format(title="Partner SAML sign-in")
            user = request.form.get("username", "")
            if user not in idp.users:
                return LOGIN_FORM.format(title="Unknown user"), 401
            encoded, destination = idp.respond(request.args["SAMLRequest"], user)
            relay = request.args.get("RelayState", "")
            return (f'<!doctype html><html lang="en"><title>Posting</title><body onload="document.forms[0].submit()">'
                    f'<form method="post" action="{destination}"><input type="hidden" name="SAMLResponse" '
                    f'value="{encoded}"><input type="hidden" name="RelayState" value="{relay}">'
                    f'<noscript><button>Continue</button></noscript></form></body></html>')

        return app
