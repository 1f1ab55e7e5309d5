"""Security headers on every response, URL ids that fit the database, and bodies that parse."""

import re
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from marshmallow import INCLUDE, Schema, fields
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "font-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in URLs: at most nine digits, which every INTEGER column holds. A longer number
    matches no route (404), where it would otherwise reach a query and fail there (500). The limit
    is in the pattern, not a maximum, so that every method of the address answers 404 alike."""

    regex = r"\d{1,9}"


# What browsers remove from a URL before reading it (WHATWG URL standard): tabs and newlines
# anywhere, C0 controls and spaces at either end; and they read "\" as "/" in http(s) URLs. A
# target is checked as the browser will read it, and sent in the form that was checked.
_BROWSER_REMOVES = re.compile(r"[\t\r\n]")
_EDGES = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_redirect_target(target: str | None, fallback: str) -> str:
    """``target`` if it names a page of this site (a path, or a URL of this very origin), in the
    form a browser would read it; ``fallback`` otherwise. Every ``next`` (and referrer) the site
    redirects to goes through here, so no crafted link sends a signed-in person elsewhere."""
    if not target:
        return fallback
    cleaned = _EDGES.sub("", _BROWSER_REMOVES.sub("", target).replace("\\", "/"))
    if _CONTROL.search(cleaned):
        return fallback
    try:
        parts = urlsplit(cleaned)
        here = urlsplit(request.host_url)
    except ValueError:  # an unbalanced "[" in the host part, for instance
        return fallback
    if parts.scheme or parts.netloc:
        if (parts.scheme.lower(), parts.netloc.lower()) != (here.scheme, here.netloc.lower()):
            return fallback
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return fallback
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies with ``learning.parsing.loads_json`` (a depth limit, no
    lone surrogates): what it refuses is a ValueError, which Flask answers as a malformed body."""

    def loads(self, s, **kwargs):
        from learning.parsing import loads_json

        return loads_json(s)


def refuse_malformed_json() -> None:
    """Parse a JSON body once, up front, with the strict parser: too deep, lone surrogates or not
    JSON at all is a 400 with the error body, before any view or schema reads it."""
    req = request._get_current_object()  # one look-up of the context, not four (helper "hotpath7")
    if req.is_json and req.content_length != 0 and req.get_data(cache=True):
        req.get_json()  # BadRequest on failure; the parsed value is cached for the view


def _has_nul(value) -> bool:
    """Whether a value holds text with a NUL character. The names of parameters, form fields and
    JSON object keys are not looked at: the platform only ever compares them with names it knows
    or validates them (language tags, question ids) before use, and OpenAPI 3.0 has no way to
    say "a key without NUL", so refusing them would refuse requests the document allows."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _described_nul(value, schema) -> bool:
    """Whether a JSON value holds text with a NUL character where its body schema describes it.
    The value of a key the schema does not name is never read (the services take the fields they
    know), and the document cannot promise it free of NUL, so it is not looked at; everything the
    schema names is, to its last nested field."""
    if schema is None or not isinstance(value, dict) or schema.unknown == INCLUDE:
        return _has_nul(value)
    fields_by_key = {field.data_key or name: field for name, field in schema.fields.items()}
    return any(_field_nul(item, fields_by_key[key]) for key, item in value.items() if key in fields_by_key)


def _field_nul(value, field) -> bool:
    if isinstance(field, fields.Nested):
        nested = field.schema
        items = value if nested.many and isinstance(value, list) else [value]
        return any(_described_nul(item, nested) for item in items)
    if isinstance(field, fields.List) and isinstance(value, list):
        return any(_field_nul(item, field.inner) for item in value)
    if isinstance(field, fields.Dict) and field.value_field is not None and isinstance(value, dict):
        return any(_field_nul(item, field.value_field) for item in value.values())
    return _has_nul(value)


def _body_schema():
    """The marshmallow schema an API view declares for its JSON body, if it declares one."""
    view = current_app.view_functions.get(request.endpoint or "")
    schema = (getattr(view, "_spec", None) or {}).get("body")
    return schema if isinstance(schema, Schema) else None


# The bodies Werkzeug parses into ``request.form``; any other body leaves it empty (and a JSON body need
# not go through the form parser to find that out: the learner's hot path is JSON).
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul_characters() -> None:
    """Text with a NUL character cannot be stored or compared by PostgreSQL: refuse it up front
    (400), in the path, the query, a form or a JSON body, rather than fail deep in a query (500)."""
    req = request._get_current_object()
    if ("\x00" in req.path or (req.query_string and _has_nul(req.args.to_dict(flat=False)))
            or (req.method not in ("GET", "HEAD") and req.mimetype in _FORM_TYPES
                and _has_nul(req.form.to_dict(flat=False)))
            or (req.is_json and _json_has_nul(req.get_json(silent=True)))):
        raise BadRequest("Text may not contain NUL characters.")


def _json_has_nul(value) -> bool:
    if not value and isinstance(value, dict | list):  # ``{}``, the learner's hot path: nothing to look at
        return False
    return _described_nul(value, _body_schema())


def trust_proxies(app: Flask) -> None:
    """Believe ``TRUSTED_PROXIES`` proxies about the client's address and scheme (Werkzeug's
    ``ProxyFix``), so that rate limits, sign-in throttling and audit addresses name the client
    behind a load balancer rather than the balancer. None by default: a header a client can
    write itself must not choose its rate-limit bucket or the address in the audit log."""
    count = int(app.config.get("TRUSTED_PROXIES") or 0)
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, without its work where there is no cookie (docs/PERFORMANCE.md,
    "hotpath4"): Flask builds the signing serializer for every request, a bearer-token API call
    included, before it looks whether a cookie came at all. Nothing else differs: a cookie that came
    is checked as before, and an answer sets a cookie only when the session holds something."""

    def open_session(self, app, request):
        # No Cookie header at all (a bearer-token call): nothing to parse (helper "hotpath7").
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified:
            # Flask's own would set nothing; a session looked at (Flask-Login looks at every request's)
            # adds "Vary: Cookie" as Flask's does (``response.vary.add``: joined to the answer's "Vary",
            # "Accept-Encoding" from Flask-Compress), without its cookie settings read and the header
            # parsed into a set and written back (helper "hotauth").
            if session.accessed:
                vary = response.headers.get("Vary")
                if not vary:
                    response.headers["Vary"] = "Cookie"
                elif "cookie" not in {item.strip().lower() for item in vary.split(",")}:
                    response.headers["Vary"] = f"{vary}, Cookie"
            return
        super().save_session(app, session, response)


def register_security_headers(app: Flask) -> None:
    trust_proxies(app)
    app.session_interface = CookieSessionInterface()
    app.json = StrictJSONProvider(app)
    app.before_request(refuse_malformed_json)
    app.before_request(refuse_nul_characters)

    # Built once: every answer carries them (docs/PERFORMANCE.md, "hotpath4": the five ``setdefault``
    # calls each searched the headers again).
    always = tuple((name.lower(), name, value) for name, value in (
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin")))
    # The interactive API docs start Swagger UI with an inline script; its files are ours.
    docs_csp = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'")

    @app.after_request
    def add_headers(response):
        headers = response.headers
        present = {key.lower() for key in headers.keys()}
        for key, name, value in always:
            if key not in present:
                headers.add(name, value)
        # LTI pages show in a partner LMS's iframe
        if "x-frame-options" not in present and not getattr(response, "frameable", False):
            headers.add("X-Frame-Options", "DENY")
        if "content-security-policy" not in present or not headers.get("Content-Security-Policy"):
            from flask import request

            headers["Content-Security-Policy"] = docs_csp if request.path.startswith("/api/v1/docs") else CSP
        if "strict-transport-security" not in present and app.config.get("SESSION_COOKIE_SECURE"):
            headers.add("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
