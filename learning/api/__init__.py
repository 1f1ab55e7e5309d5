"""The JSON API at ``/api/v1``: one blueprint per feature, all calling the services."""

from __future__ import annotations

import importlib

from flask import Flask

from learning.extensions import csrf

API_MODULES = ("accounts", "catalogue", "enrolment", "cohorts", "certificates", "reports")


def register_api(app: Flask) -> None:
    from learning.api.schemas import ErrorSchema

    app.config["HTTP_ERROR_SCHEMA"] = ErrorSchema
    app.config["VALIDATION_ERROR_SCHEMA"] = ErrorSchema
    app.config["BASE_RESPONSE_SCHEMA"] = None
    app.security_schemes = {
        "BearerAuth": {"type": "http", "scheme": "bearer"},
    }
    for name in API_MODULES:
        try:
            module = importlib.import_module(f"learning.api.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"learning.api.{name}":
                raise
            continue
        # Bearer requests carry no cookie to forge; cookie requests are checked in auth.
        csrf.exempt(module.bp)
        app.register_blueprint(module.bp)
