"""Accounts API: sign-up, tokens, the caller's profile, and admin changes to users."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Integer, List, String
from apiflask.validators import Length, OneOf
from flask import current_app, jsonify, request
from flask_babel import gettext as _

from learning.accounts import management, services, tokens, twofactor
from learning.accounts.management import STATUSES, UserFilters, status_of
from learning.accounts.models import ROLES
from learning.api.auth import auth, current_api_user, must_set_up_two_factor
from learning.api.schemas import Id, JsonBoolean, PageQuerySchema, page_of
from learning.errors import Forbidden, Unauthorized, ValidationFailed
from learning.extensions import db, limiter

bp = APIBlueprint("api_accounts", __name__, url_prefix="/api/v1", tag="Accounts")


class UserSchema(Schema):
    id = Integer(required=True)
    email = String(required=True)
    full_name = String(required=True)
    country = String(allow_none=True, metadata={"example": "CO"})
    sector = String(allow_none=True, metadata={"example": "law_enforcement"})
    language = String(required=True, metadata={"example": "es"})
    timezone = String()
    organisation = String(allow_none=True)
    reminders_enabled = Boolean()
    email_verified = Boolean()
    active = Boolean()
    roles = List(String(), required=True)
    managed_organisations = List(Integer(), metadata={
        "description": "For an org_manager, the ids of the organisations they manage"})
    status = String(metadata={"description": "active, disabled or erased"})


class SignUpSchema(Schema):
    email = String(required=True, metadata={"example": "ana@example.org"})
    password = String(required=True, metadata={"example": "correct horse battery"})
    full_name = String(required=True)
    country = String(required=True, metadata={"description": "ISO 3166-1 alpha-2"})
    sector = String(required=True, metadata={"description": "A sector code"})
    language = String(required=True, metadata={"description": "BCP 47 tag"})
    organisation = String(allow_none=True)
    timezone = String()


class TokenRequestSchema(Schema):
    email = String(required=True)
    password = String(required=True)
    name = String(validate=Length(max=tokens.TOKEN_NAME_MAX),
                  metadata={"description": "A label for the token, shown in GET /api/v1/me/tokens"})
    otp = String(metadata={"description": "The current six-digit code from the authenticator app: required when "
                                          "two-factor sign-in is on. Each code is accepted once."})


class TokenSchema(Schema):
    token = String(required=True)
    expires_at = DateTime(required=True)


class TokenInfoSchema(Schema):
    id = Integer(required=True)
    name = String(required=True, allow_none=True)
    created_at = DateTime(required=True)
    last_used_at = DateTime(required=True, allow_none=True)
    expires_at = DateTime(required=True)


TokenPageSchema = page_of(TokenInfoSchema)


class ProfilePatchSchema(Schema):
    full_name = String()
    country = String()
    sector = String()
    language = String()
    organisation = String(allow_none=True)
    reminders_enabled = JsonBoolean()
    timezone = String()


class AdminUserPatchSchema(ProfilePatchSchema):
    roles = List(String(), metadata={"description": f"Any of {', '.join(ROLES)}"})
    active = JsonBoolean(metadata={"description": "false disables the account (not one's own): its sessions and API "
                                              "tokens end at once, and stay ended if it is enabled again"})
    managed_organisations = List(Id(), metadata={
        "description": "Organisation ids an org_manager manages (required with that role the first time)"})


class UserQuerySchema(PageQuerySchema):
    q = String(validate=Length(max=254), metadata={"description": "Part of the name or e-mail address"})
    role = String(validate=OneOf(ROLES))
    country = String(validate=Length(max=2), metadata={"description": "ISO 3166-1 alpha-2"})
    organisation = String(validate=Length(max=200), metadata={"description": "An organisation id, or its name"})
    status = String(validate=OneOf(STATUSES))


def serialise_user(user) -> dict:
    return {
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "country": user.country,
        "sector": user.sector,
        "language": user.language,
        "timezone": user.timezone,
        "organisation": user.organisation.name if user.organisation else None,
        "reminders_enabled": user.reminders_enabled,
        "email_verified": user.email_verified_at is not None,
        "active": user.active,
        "roles": user.roles,
        "managed_organisations": [org.id for org in user.managed_organisations],
        "status": status_of(user),
    }


def _signup_limit() -> str:
    return current_app.config["SIGNUP_RATE_LIMIT"]


def _token_limit() -> str:
    return current_app.config["TOKEN_RATE_LIMIT"]


@bp.post("/users")
@limiter.limit(_signup_limit)
@bp.input(SignUpSchema, arg_name="data")
@bp.output(UserSchema, status_code=201)
@bp.doc(summary="Create an account", responses={409: "Already registered", 429: "Too many sign-ups from this address"})
def create_user(data):
    from learning.organisations.services import place_new_member

    user = services.register_user(data)
    place_new_member(user)  # a partner organisation is joined once its manager confirms
    return serialise_user(user)


@bp.post("/auth/tokens")
@limiter.limit(_token_limit)
@bp.input(TokenRequestSchema, arg_name="data")
@bp.output(TokenSchema, status_code=201)
@bp.doc(summary="Get a bearer token", description=(
    "With two-factor sign-in on, send the app's current code as `otp` (401 `otp_required` without it, "
    "401 `otp_invalid` for a wrong or already used code). Where admins must use two-factor sign-in "
    "(`ADMIN_2FA_REQUIRED`), an admin without it gets 403 `two_factor_required`. Repeated failures "
    "make the next attempt wait: 429 `too_many_attempts` with `retry_after` seconds and `Retry-After`."),
    responses={401: "Bad credentials or code", 403: "Two-factor sign-in required first",
               429: "Too many attempts: wait"})
def create_token(data):
    user = services.authenticate(data["email"], data["password"], ip=request.remote_addr)
    if user.totp_secret:
        if not data.get("otp"):
            db.session.rollback()
            raise Unauthorized(_("This account uses two-factor sign-in: send the current code as 'otp'."),
                               {"otp": [_("A valid code is required.")]}, code="otp_required")
        try:
            twofactor.check_code(user, data["otp"])
        except ValidationFailed as error:
            db.session.rollback()
            raise Unauthorized(error.message, {"otp": [error.message]}, code="otp_invalid") from error
    elif must_set_up_two_factor(user):
        db.session.rollback()
        raise Forbidden(_("Administrators must turn on two-factor sign-in first, at /account/two-factor."),
                        code="two_factor_required")
    token, row = tokens.issue_api_token(user, data.get("name"))
    services.record_sign_in(user, "api_token")
    return {"token": token, "expires_at": row.expires_at}


@bp.get("/me/tokens")
@bp.auth_required(auth)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(TokenPageSchema)
@bp.doc(summary="The caller's API tokens that still work, newest first (never the secret)")
def my_tokens(query):
    rows, total = tokens.tokens_of(current_api_user(), query["page"], query["per_page"])
    items = [{"id": r.id, "name": r.name, "created_at": r.created_at, "last_used_at": r.last_used_at,
              "expires_at": r.expires_at} for r in rows]
    return {"items": items, "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.delete("/me/tokens/<int:token_id>")
@bp.auth_required(auth)
@bp.output({}, status_code=204)
@bp.doc(summary="Revoke one of the caller's API tokens (the one in use, too)",
        responses={404: "No such token of the caller's"})
def revoke_my_token(token_id: int):
    tokens.revoke_token(current_api_user(), token_id)
    return ""


@bp.get("/me")
@bp.auth_required(auth)
@bp.output(UserSchema)
@bp.doc(summary="The caller's account")
def get_me():
    return serialise_user(current_api_user())


@bp.patch("/me")
@bp.auth_required(auth)
@bp.input(ProfilePatchSchema, arg_name="data")
@bp.output(UserSchema)
@bp.doc(summary="Change the caller's profile", responses={422: "Invalid field"})
def patch_me(data):
    user = services.update_profile(current_api_user(), data)
    return serialise_user(user)


EXPORT_LISTS = ("enrolments", "lessons_completed", "quiz_attempts", "certificates", "api_tokens", "sessions",
                "reminders_sent", "actions_in_audit_log", "knowledge_test_attempts", "single_sign_on", "evaluations",
                "attendance", "offline_events", "learning_platforms")


@bp.get("/me/export")
@bp.auth_required(auth)
@bp.doc(summary="Download the caller's personal data", responses={200: {
    "description": "Every piece of personal data held on the caller",
    "content": {"application/json": {"schema": {"type": "object", "properties": {
        key: {"type": "array", "items": {"type": "object"}} for key in EXPORT_LISTS
    } | {"account": {"type": "object"}, "exported_at": {"type": "string", "format": "date-time"}},
        "required": ["account", "exported_at", *EXPORT_LISTS]}}},
}})
def export_me():
    from learning.accounts.privacy import export_personal_data

    user = current_api_user()
    data = export_personal_data(user)
    from learning.audit.services import record

    record(user.id, "user.data_exported", "user", user.id)
    return jsonify(data)


class AcceptedSchema(Schema):
    status = String(required=True, metadata={"example": "erasure_scheduled"})


@bp.delete("/me")
@bp.auth_required(auth)
@bp.output(AcceptedSchema, status_code=202)
@bp.doc(summary="Erase the caller's personal data (anonymous statistics are kept)")
def erase_me():
    from learning.accounts.privacy import request_erasure

    request_erasure(current_api_user())
    return {"status": "erasure_scheduled"}


@bp.post("/users/<int:user_id>/erase")
@bp.auth_required(auth, roles=["admin"])
@bp.output(AcceptedSchema, status_code=202)
@bp.doc(summary="Erase a user's personal data (admin)", responses={404: "No such user"})
def erase_user(user_id: int):
    from learning.accounts.privacy import request_erasure

    request_erasure(services.get_user(user_id), actor_id=current_api_user().id)
    return {"status": "erasure_scheduled"}


@bp.get("/users")
@bp.auth_required(auth, roles=["admin"])
@bp.input(UserQuerySchema, location="query", arg_name="query")
@bp.output(page_of(UserSchema))
@bp.doc(summary="Find users (admin)", description="Filters combine: `q` (part of the name or e-mail), `role`, "
        "`country`, `organisation` (id, or else the exact name ignoring case), `status` (active, disabled, "
        "erased). Ordered by name.")
def list_users(query):
    page, per_page = query.pop("page"), query.pop("per_page")
    users, total = management.search_users(UserFilters(**query), page=page, per_page=per_page)
    return {"items": [serialise_user(user) for user in users], "page": page, "per_page": per_page, "total": total}


@bp.patch("/users/<int:user_id>")
@bp.auth_required(auth, roles=["admin"])
@bp.input(AdminUserPatchSchema, arg_name="data")
@bp.output(UserSchema)
@bp.doc(summary="Change a user (admin)", description="`roles` replaces the roles; an `org_manager` needs "
        "`managed_organisations` (organisation ids; an unknown id is refused with 422 naming the field). "
        "Omitting `managed_organisations` keeps the current ones.", responses={404: "No such user"})
def patch_user(user_id: int, data):
    actor = current_api_user()
    user = services.get_user(user_id)
    roles = data.pop("roles", None)
    managed = data.pop("managed_organisations", None)
    if roles is None and managed is not None:
        roles = user.roles  # a change of organisations alone keeps the roles
    if roles is not None:
        if not isinstance(roles, list):
            raise ValidationFailed(_("The roles must be a list."), {"roles": [_("Must be a list.")]})
        management.set_roles(actor, user, roles, managed)
    active = data.pop("active", None)
    if active is not None:
        management.set_active(actor, user, active)
    services.update_profile(user, data, by_admin=True)
    if data:
        from learning.audit.services import record

        record(actor.id, "user.updated", "user", user.id, fields=sorted(data))
    return serialise_user(user)
