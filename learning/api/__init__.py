"""The JSON API at ``/api/v1``: one blueprint per feature, all calling the services."""

from __future__ import annotations

import importlib

from flask import Flask

from learning.extensions import csrf

API_MODULES = ("accounts", "catalogue", "enrolment", "cohorts", "cohort_rosters", "certificates", "reports", "audit")


def register_api(app: Flask) -> None:
    from learning.api.schemas import ErrorSchema

    app.config["HTTP_ERROR_SCHEMA"] = ErrorSchema
    app.config["VALIDATION_ERROR_SCHEMA"] = ErrorSchema
    app.config["BASE_RESPONSE_SCHEMA"] = None
    app.security_schemes = {
        "BearerAuth": {"type": "http", "scheme": "bearer"},
    }
    @app.spec_processor
    def document_common_errors(spec: dict) -> dict:
        """Every operation that takes input can answer 400 (malformed JSON, or text with a NUL
        character in the body, query or path) with the error body."""
        ref = {"$ref": "#/components/schemas/ErrorSchema"}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict) and ("requestBody" in operation or operation.get("parameters")):
                    operation["responses"].setdefault(
                        "400", {"description": "Malformed request", "content": {"application/json": {"schema": ref}}}
                    )
        return spec

    from learning.api.docs import register_docs

    register_docs(app)
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
