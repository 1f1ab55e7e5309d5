"""Domain errors and the one place that turns errors into responses.

Services raise ``DomainError`` subclasses; the handlers registered here answer
the API's JSON error body under ``/api/`` and a friendly page elsewhere.
"""

from __future__ import annotations

import logging

from apiflask.exceptions import HTTPError
from flask import Flask, flash, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class DomainError(Exception):
    """A rule of the business refused the request. Nothing was changed."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.fields = fields or None
        self.extra = extra
        self.headers: dict[str, str] = {}  # e.g. Retry-After on a 429


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Conflict(DomainError):
    status = 409
    code = "conflict"


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    """The API's error body: ``{"error": {"code", "message", "fields"?}}``."""
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    error.update(extra)
    return {"error": error}


def wants_json() -> bool:
    """API paths always get JSON; other clients get it when they prefer it."""
    if request.path.startswith("/api/") or request.path.startswith("/.well-known/"):
        return True
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return True  # an API client fetching a document the API points to (a QR code, a sign-in sheet)
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _flatten_fields(messages) -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"field.path": ["message"]}``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("json", "query", "form", "files", "headers", "view_args") and not prefix:
                    walk("", inner)
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list | tuple):
            if all(isinstance(item, str) for item in value):
                flat.setdefault(prefix or "_schema", []).extend(value)
            else:
                for item in value:
                    walk(prefix, item)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    walk("", messages)
    return flat


def _page_message(error: HTTPException) -> str:
    """What an HTTP error means, in the reader's language (Werkzeug's texts are English only)."""
    from flask_wtf.csrf import CSRFError

    if isinstance(error, CSRFError):
        return _("This form has expired. Reload the page and try again.")
    messages = {
        400: _("The request could not be understood. Check what you entered and try again."),
        401: _("Please sign in to see this page."),
        403: _("You do not have permission to see this page."),
        404: _("We could not find that page. It may have moved, or the address may be mistyped."),
        405: _("This page cannot be used that way. Go back and use the page's own buttons and links."),
        409: _("This conflicts with a change made meanwhile. Reload the page and try again."),
        410: _("This page is no longer available."),
        413: _("What you sent is too large."),
        415: _("That kind of file is not accepted."),
        422: _("Some of what you sent is not valid."),
        429: _("Too many attempts. Please wait a moment and try again."),
        503: _("The service is briefly unavailable. Nothing was changed; please try again in a moment."),
    }
    status = error.code or 500
    if status >= 500 and status != 503:
        return _("Something went wrong on our side. It has been logged.")
    return messages.get(status, _("This request could not be completed."))


def _html_error(status: int, message: str):
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Answer every error as the API body or a page; never leak a traceback."""

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        if wants_json():
            extra = dict(error.extra)
            body = error_body(extra.pop("code", error.code), error.message, error.fields, **extra)
            return jsonify(body), error.status, getattr(error, "headers", None) or {}
        if request.method == "POST" and error.status in (409, 422, 400):
            flash(error.message, "error")
            from learning.security import safe_redirect_target

            return redirect(safe_redirect_target(request.referrer, request.path))
        return _html_error(error.status, error.message)

    def handle_apiflask_error(error: HTTPError):
        status = error.status_code
        code = HTTP_CODES.get(status, "error")
        fields = None
        message = error.message or _("Error")
        if error.detail:
            fields = _flatten_fields(error.detail)
            if status == 422:
                message = _("Some fields are invalid: %(fields)s", fields=", ".join(sorted(fields)))
        if status == 400 and fields:
            code = "bad_request"
        return jsonify(error_body(code, message, fields)), status, error.headers

    app.error_processor(handle_apiflask_error)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        status = error.code or 500
        if wants_json():
            message = error.description if status != 404 else _("Not found.")
            response = jsonify(error_body(HTTP_CODES.get(status, "error"), message))
            response.status_code = status
            for key, value in error.get_headers():
                if key.lower() != "content-type":
                    response.headers[key] = value
            return response
        return _html_error(status, _page_message(error))

    @app.errorhandler(OperationalError)
    def handle_database_unavailable(error: OperationalError):
        """The database is restarting or unreachable: say so, and that a retry is safe."""
        log.error("Database unavailable on %s %s: %s", request.method, request.path, error.orig)
        from learning.extensions import db

        try:
            db.session.rollback()
        except Exception:  # the connection is gone; the pool will replace it
            log.debug("rollback after a database outage failed", exc_info=True)
        message = _("The service is briefly unavailable. Nothing was changed; please try again in a moment.")
        if wants_json():
            response = jsonify(error_body("unavailable", message))
        else:
            response = app.make_response(_html_error(503, message))
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("Unhandled error on %s %s", request.method, request.path)
        message = _("Something went wrong on our side. It has been logged.")
        if wants_json():
            return jsonify(error_body("server_error", message)), 500
        return _html_error(500, message)
