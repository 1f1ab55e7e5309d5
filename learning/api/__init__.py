"""The JSON API at ``/api/v1``: one blueprint per feature, all calling the services."""

from __future__ import annotations

from flask import Flask

from learning.extensions import csrf

# Text in a body, a query or a path may not contain NUL (PostgreSQL cannot hold it; see
# learning.security.refuse_nul_characters): every free-text string the document describes says so.
NO_NUL_PATTERN = "^[^\\x00]*$"


def document_what_input_is_refused(spec: dict) -> None:
    """Make the document as strict as the server where a schema can say it: free text never holds
    a NUL character, and a body with required fields is itself required (a request without one is
    refused, so it is not "valid")."""
    schemas = spec.get("components", {}).get("schemas", {})

    def no_nul(schema: dict) -> None:
        if not isinstance(schema, dict):
            return
        if schema.get("type") == "string" and not ({"enum", "format", "pattern"} & schema.keys()):
            schema["pattern"] = NO_NUL_PATTERN
        for inner in (schema.get("properties") or {}).values():
            no_nul(inner)
        for key in ("items", "additionalProperties"):
            no_nul(schema.get(key))
        for key in ("allOf", "anyOf", "oneOf"):
            for inner in schema.get(key) or ():
                no_nul(inner)

    def resolve(schema: dict) -> dict:
        ref = schema.get("$ref", "")
        return schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else schema

    for schema in schemas.values():
        no_nul(schema)
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters") or ():
                no_nul(parameter.get("schema"))
            body = operation.get("requestBody")
            if body:
                for media in body.get("content", {}).values():
                    schema = media.get("schema") or {}
                    no_nul(schema)
                    if resolve(schema).get("required"):
                        body["required"] = True


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
                if isinstance(operation, dict) and operation.get("security"):
                    # ADMIN_2FA_REQUIRED: an admin without two-factor sign-in is refused everywhere.
                    operation["responses"].setdefault("403", {
                        "description": "Not allowed (`two_factor_required`: an admin must turn on two-factor "
                                       "sign-in first)", "content": {"application/json": {"schema": ref}}})
        document_what_input_is_refused(spec)
        return spec

    from learning.api.docs import register_docs

    register_docs(app)
    from learning.api import (
        accounts,
        assessment,
        audit,
        catalogue,
        certificates,
        cohort_rosters,
        cohorts,
        enrolment,
        evaluations,
        learning_gain,
        lti,
        offline,
        organisations,
        reports,
    )

    for module in (accounts, catalogue, enrolment, offline, cohorts, cohort_rosters, certificates, reports, audit,
                   organisations, assessment, learning_gain, lti, evaluations):
        # Bearer requests carry no cookie to forge; cookie requests are checked in auth.
        csrf.exempt(module.bp)
        app.register_blueprint(module.bp)
