"""Certificates API: a learner's certificates, public verification, signed credentials, revocation.

Verification is public: anyone holding a code may check it. Codes are
forgiving to type (case, dashes and look-alike letters) and a typo is caught
by the check character, answering 404 with a message saying so.
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, String
from apiflask.validators import Length, OneOf
from flask import Response, current_app, request, url_for

from learning.api.auth import auth, current_api_user
from learning.api.schemas import PageQuerySchema, page_of
from learning.catalogue.models import Course
from learning.certificates import credentials, keys, services, status_list
from learning.errors import NotFound
from learning.extensions import db, limiter
from learning.models_base import utcnow

NO_STORE = {"Cache-Control": "no-store"}  # what names a holder is not cached (as the pages: certificates/views.py)

bp = APIBlueprint("api_certificates", __name__, url_prefix="/api/v1", tag="Certificates")

VC_LD = "application/vc+ld+json"
VC_JWT = "application/vc+jwt"


def _public_limit() -> str:
    return current_app.config.get("CERTIFICATE_VERIFY_RATE_LIMIT", "120 per minute")


class MyCertificateSchema(Schema):
    code = String(required=True, metadata={"example": "7KQ4-M2XD-9PRT-V"})
    course = String(required=True, metadata={"description": "The course's slug"})
    course_title = String(required=True, metadata={"description": "As printed on the certificate"})
    issued_at = DateTime(required=True)
    expires_at = DateTime(allow_none=True, required=True, metadata={"description": "null: never expires"})
    status = String(required=True, metadata={"description": "valid, expired or revoked"})
    pdf_url = String(required=True)
    verify_url = String(required=True)
    credential_url = String(required=True)


MyCertificatePageSchema = page_of(MyCertificateSchema, "MyCertificatePageSchema")


class VerificationSchema(Schema):
    code = String(required=True)
    status = String(required=True, metadata={"description": "valid, expired or revoked"})
    holder_name = String(allow_none=True, required=True,
                         metadata={"description": "null when the holder's personal data was erased"})
    course_title = String(required=True)
    course_language = String(required=True, metadata={"example": "es"})
    issued_at = DateTime(required=True)
    expires_at = DateTime(allow_none=True, required=True)
    revoked_at = DateTime(allow_none=True, required=True)
    revocation_reason = String(allow_none=True, required=True)


class CredentialQuerySchema(Schema):
    format = String(load_default=None, validate=OneOf(["ld", "jwt"]),
                    metadata={"description": "`ld` (the default): JSON-LD with an embedded eddsa-rdfc-2022 "
                                             "proof; `jwt`: the JWT form"})


class RevokeSchema(Schema):
    reason = String(required=True, validate=Length(min=1, max=services.REASON_MAX), metadata={
        "description": "Public: shown to anyone who verifies the certificate"})
    note = String(allow_none=True, validate=Length(max=services.NOTE_MAX), metadata={
        "description": "Internal, optional: kept for admins and the audit log, never shown on the verify page "
                       "or API"})


def _absolute(endpoint: str, **values) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + url_for(endpoint, **values)


def serialise_mine(certificate, slugs: dict[int, str]) -> dict:
    return {
        "code": certificate.code,
        "course": slugs.get(certificate.course_id, ""),
        "course_title": certificate.course_title,
        "issued_at": certificate.issued_at,
        "expires_at": certificate.expires_at,
        "status": certificate.status_at(utcnow()),
        "pdf_url": _absolute("certificates.pdf", code=certificate.code),
        "verify_url": services.verify_url(certificate.code),
        "credential_url": credentials.credential_url(certificate.code),
    }


def serialise_verification(verification: services.Verification) -> dict:
    return {
        "code": verification.code,
        "status": verification.status,
        "holder_name": verification.holder_name,
        "course_title": verification.course_title,
        "course_language": verification.course_language,
        "issued_at": verification.issued_at,
        "expires_at": verification.expires_at,
        "revoked_at": verification.revoked_at,
        "revocation_reason": verification.revocation_reason,
    }


@bp.get("/me/certificates")
@bp.auth_required(auth)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(MyCertificatePageSchema)
@bp.doc(summary="The caller's certificates, newest first", responses={401: "Not signed in"})
def my_certificates(query):
    items, total = services.certificates_of(current_api_user(), query["page"], query["per_page"])
    course_ids = {item.course_id for item in items}
    slugs = dict(db.session.execute(
        db.select(Course.id, Course.slug).where(Course.id.in_(course_ids))
    ).all()) if course_ids else {}
    return {"items": [serialise_mine(item, slugs) for item in items], "page": query["page"],
            "per_page": query["per_page"], "total": total}


@bp.get("/certificates/<code>")
@limiter.limit(_public_limit)
@bp.output(VerificationSchema)
@bp.doc(summary="Verify a certificate (anyone)",
        responses={404: "No certificate has this code (or it has a typo)", 429: "Too many requests from this address"})
def verify_certificate(code: str):
    return serialise_verification(services.verify(code)), 200, NO_STORE


@bp.get("/certificates/<code>/credential")
@limiter.limit(_public_limit)
@bp.input(CredentialQuerySchema, location="query", arg_name="query")
@bp.doc(
    summary="The Open Badges 3.0 credential of a certificate (anyone)",
    description="JSON-LD with an embedded `eddsa-rdfc-2022` Data Integrity proof (`application/vc+ld+json`, "
                "the default), or with `?format=jwt` (or `Accept: application/vc+jwt`) the JWT form "
                "(`application/vc+jwt`) whose `kid` is in `/.well-known/jwks.json`.",
    responses={
        200: {"description": "The signed credential",
              "content": {VC_LD: {"schema": {"type": "object"}}, VC_JWT: {"schema": {"type": "string"}}}},
        404: "No certificate has this code",
        429: "Too many requests from this address",
    },
)
def credential(code: str, query):
    certificate = services.find_by_code(code)
    holder = services.holder_name_of(certificate)
    issuer = keys.active_key()
    wanted = query.get("format")
    if wanted is None and request.accept_mimetypes.best_match([VC_LD, VC_JWT, "application/json"]) == VC_JWT:
        wanted = "jwt"
    if wanted == "jwt":
        return Response(credentials.credential_jwt(certificate, holder, issuer), mimetype=VC_JWT, headers=NO_STORE)
    body = credentials.signed_credential(certificate, holder, issuer)
    return Response(current_app.json.dumps(body), mimetype=VC_LD, headers=NO_STORE)


@bp.post("/certificates/<code>/revoke")
@bp.auth_required(auth, roles=["admin"])
@bp.input(RevokeSchema, arg_name="data")
@bp.output(VerificationSchema)
@bp.doc(summary="Revoke a certificate (admin); it still verifies, as revoked",
        responses={401: "Not signed in", 403: "Not an admin", 404: "No certificate has this code",
                   409: "Already revoked", 422: "No reason given"})
def revoke(code: str, data):
    certificate = services.revoke(current_api_user(), code, data["reason"], data.get("note"))
    return serialise_verification(services.verify(certificate.code))


@bp.post("/certificates/<code>/render")
@bp.auth_required(auth, roles=["admin"])
@bp.output(VerificationSchema)
@bp.doc(summary="Render and store a certificate's PDF again (admin)",
        responses={401: "Not signed in", 403: "Not an admin", 404: "No certificate has this code"})
def rerender(code: str):
    certificate = services.rerender(current_api_user(), code)
    return serialise_verification(services.verify(certificate.code))


@bp.get("/status-lists/<int:list_number>")
@bp.doc(
    summary="A revocation Bitstring Status List credential (anyone)",
    description="Each credential's `credentialStatus.statusListCredential` points here.",
    responses={200: {"description": "The signed BitstringStatusListCredential",
                     "content": {VC_LD: {"schema": {"type": "object"}}}},
               404: "No such list"},
)
def status_list_credential(list_number: int):
    if not status_list.list_exists(list_number):
        raise NotFound("No such status list.")
    body = credentials.status_list_credential(
        list_number, status_list.revoked_positions(list_number), keys.active_key()
    )
    response = Response(current_app.json.dumps(body), mimetype=VC_LD)
    response.cache_control.max_age = 60
    response.cache_control.public = True
    return response

