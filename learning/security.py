"""Security headers on every response, and URL ids that fit the database."""

from flask import Flask, request
from werkzeug.exceptions import BadRequest
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


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def refuse_nul_characters() -> None:
    """Text with a NUL character cannot be stored or compared by PostgreSQL: refuse it up front
    (400), in the path, the query, a form or a JSON body, rather than fail deep in a query (500)."""
    if ("\x00" in request.path or _has_nul(request.args.to_dict(flat=False))
            or (request.method not in ("GET", "HEAD") and _has_nul(request.form.to_dict(flat=False)))
            or (request.is_json and _has_nul(request.get_json(silent=True)))):
        raise BadRequest("Text may not contain NUL characters.")


def register_security_headers(app: Flask) -> None:
    app.before_request(refuse_nul_characters)

    @app.after_request
    def add_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if not response.headers.get("Content-Security-Policy"):
            from flask import request

            if request.path.startswith("/api/v1/docs"):
                # The interactive API docs start Swagger UI with an inline script; its files are ours.
                headers["Content-Security-Policy"] = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
            else:
                headers["Content-Security-Policy"] = CSP
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
