"""LTI 1.3 platforms API (admin): register the partners' LMSs that launch our courses, list them and remove
them, and their resource links.

The tool's own configuration (login, launch, JWKS and deep linking URLs) is public at ``GET /lti/config``.
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import Length
from flask_babel import gettext as _

from learning.api.auth import auth, current_api_user
from learning.api.schemas import Id, JsonBoolean, PageQuerySchema, page_of
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.lti import services

bp = APIBlueprint("api_lti", __name__, url_prefix="/api/v1", tag="LTI")
ADMIN_ERRORS = {401: "Not signed in", 403: "Not an admin"}


class PlatformInSchema(Schema):
    issuer = String(required=True, validate=Length(max=255), metadata={
        "description": "The platform's issuer (`iss` of its id tokens), an https URL"})
    client_id = String(required=True, validate=Length(min=1, max=255), metadata={
        "description": "The client id the platform gave the tool"})
    key_set_url = String(required=True, validate=Length(max=2000), metadata={
        "description": "The platform's public keyset (JWKS) URL"})
    auth_login_url = String(required=True, validate=Length(max=2000), metadata={
        "description": "The platform's OIDC authentication request URL"})
    auth_token_url = String(required=True, validate=Length(max=2000), metadata={
        "description": "The platform's OAuth 2 access token URL (grades and rosters)"})
    auth_token_audience = String(validate=Length(max=255), load_default=None, metadata={
        "description": "The `aud` of the tool's client assertions, when not the token URL"})
    deployment_ids = List(String(validate=Length(min=1, max=255)), required=True, validate=Length(min=1, max=100),
                          metadata={"description": "The deployment ids the platform gave the tool"})
    name = String(validate=Length(max=200), load_default=None)
    organisation_id = Id(load_default=None, metadata={
        "description": "The organisation its people belong to (accounts created by a launch join it)"})
    instructors_are_trainers = JsonBoolean(load_default=True, metadata={
        "description": "Whether its instructors run their context's cohort here (the trainer role)"})


class OrganisationRefSchema(Schema):
    id = Integer(required=True)
    name = String(required=True)


class PlatformSchema(Schema):
    id = Integer(required=True)
    name = String(required=True)
    issuer = String(required=True)
    client_id = String(required=True)
    key_set_url = String(required=True)
    auth_login_url = String(required=True)
    auth_token_url = String(required=True)
    auth_token_audience = String(allow_none=True, required=True)
    deployment_ids = List(String(), required=True)
    organisation = Nested(OrganisationRefSchema, allow_none=True, required=True)
    instructors_are_trainers = Boolean(required=True)
    enabled = Boolean(required=True)
    created_at = DateTime(required=True)


@bp.post("/lti/platforms")
@bp.auth_required(auth, roles=["admin"])
@bp.input(PlatformInSchema, arg_name="data")
@bp.output(PlatformSchema, status_code=201)
@bp.doc(summary="Register an LTI 1.3 platform (admin)",
        description="A partner's LMS (Moodle, Canvas, Open edX...) that will launch our courses. The issuer "
                    "and client id together name it; give every deployment id it uses.",
        responses={**ADMIN_ERRORS, 409: "This issuer and client id are already registered",
                   422: "Invalid fields (URLs must be https), each named"})
def create_platform(data):
    from learning.accounts.models import Organisation

    organisation = None
    if data.get("organisation_id") is not None:
        organisation = db.session.get(Organisation, data["organisation_id"])
        if organisation is None:
            raise ValidationFailed(_("Some fields are invalid."), {"organisation_id": [_("No such organisation.")]})
    platform = services.create_platform(
        issuer=data["issuer"], client_id=data["client_id"], key_set_url=data["key_set_url"],
        auth_login_url=data["auth_login_url"], auth_token_url=data["auth_token_url"],
        auth_token_audience=data.get("auth_token_audience"), deployment_ids=data["deployment_ids"],
        name=data.get("name"), organisation=organisation,
        instructors_are_trainers=data.get("instructors_are_trainers", True), actor=current_api_user())
    return services.describe(platform), 201


PlatformPageSchema = page_of(PlatformSchema)


@bp.get("/lti/platforms")
@bp.auth_required(auth, roles=["admin"])
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(PlatformPageSchema)
@bp.doc(summary="The registered LTI 1.3 platforms (admin; paginated, as every list: API.md's conventions)",
        responses={**ADMIN_ERRORS, 422: "Invalid page or per_page"})
def list_platforms(query):
    return _page(services.list_platforms(), query, services.describe)


def _page(rows: list, query: dict, describe) -> dict:
    """The query's page of ``rows``, each as ``describe`` shows it (API.md's lists)."""
    page, per_page = query["page"], query["per_page"]
    return {"items": [describe(row) for row in rows[(page - 1) * per_page:page * per_page]], "page": page,
            "per_page": per_page, "total": len(rows)}


class RemoveQuerySchema(Schema):
    cascade = Boolean(load_default=False, metadata={
        "description": "Also remove the resource links, contexts and account links launches left (the accounts "
                       "and their enrolments stay); without it a platform that has any is refused (409)"})


@bp.delete("/lti/platforms/<int:platform_id>")
@bp.auth_required(auth, roles=["admin"])
@bp.input(RemoveQuerySchema, location="query", arg_name="query")
@bp.output({}, status_code=204)
@bp.doc(summary="Remove an LTI 1.3 platform (admin)",
        description="Its launches are refused from now on; a course it linked stops counting as LTI-linked "
                    "once its last link goes. Audited (`lti.platform_removed`).",
        responses={**ADMIN_ERRORS, 404: "No such platform",
                   409: "Resource links or linked accounts depend on it (`platform_in_use`, with "
                        "`resource_links` and `linked_accounts`): ask with `cascade=true`, or turn it off"})
def remove_platform(platform_id: int, query):
    from learning.lti.removal import remove_platform as remove

    remove(current_api_user(), services.get_platform(platform_id), cascade=query["cascade"])
    return ""


class ResourceLinkSchema(Schema):
    id = Integer(required=True)
    platform_id = Integer(required=True)
    resource_link_id = String(required=True, metadata={"description": "The platform's id of the placement"})
    title = String(required=True)
    course = String(allow_none=True, required=True, metadata={"description": "The slug of the course it opens"})
    context = String(allow_none=True, required=True, metadata={"description": "The platform's course it is in"})
    members = Integer(required=True, metadata={"description": "People who launched it"})
    created_at = DateTime(required=True)


ResourceLinkPageSchema = page_of(ResourceLinkSchema)


@bp.get("/lti/platforms/<int:platform_id>/links")
@bp.auth_required(auth, roles=["admin"])
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(ResourceLinkPageSchema)
@bp.doc(summary="The resource links launched from an LTI 1.3 platform (admin; paginated)",
        responses={**ADMIN_ERRORS, 404: "No such platform", 422: "Invalid page or per_page"})
def list_resource_links(platform_id: int, query):
    from learning.lti.removal import described_links

    links, total = described_links(services.get_platform(platform_id), query["page"], query["per_page"])
    return {"items": links, "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.delete("/lti/links/<int:link_id>")
@bp.auth_required(auth, roles=["admin"])
@bp.output({}, status_code=204)
@bp.doc(summary="Remove an LTI resource link (admin)",
        description="Its scores are no longer sent; a new launch of it registers it again. Audited "
                    "(`lti.resource_link_removed`).",
        responses={**ADMIN_ERRORS, 404: "No such resource link"})
def remove_resource_link(link_id: int):
    from learning.lti.removal import get_resource_link
    from learning.lti.removal import remove_resource_link as remove

    remove(current_api_user(), get_resource_link(link_id))
    return ""


class RosterPullSchema(Schema):
    members = Integer(required=True, metadata={"description": "Members the platform listed"})
    created = Integer(required=True, metadata={"description": "New accounts (they sign in through their platform)"})
    enrolled = Integer(required=True, metadata={"description": "Learners enrolled in the cohort now"})
    already_enrolled = Integer(required=True, metadata={"description": "Learners already enrolled in the course"})
    trainers = Integer(required=True, metadata={"description": "Instructors added as the cohort's trainers"})
    skipped = Integer(required=True, metadata={
        "description": "Members left out: inactive, neither learner nor instructor, instructors when the platform's "
                       "instructors are not trainers here, anonymous, or an address taken outside the platform's "
                       "organisation"})


@bp.post("/cohorts/<int:cohort_id>/lti-roster")
@bp.auth_required(auth, roles=["trainer", "admin"])
@bp.output(RosterPullSchema)
@bp.doc(summary="Pull the LTI platform's roster into the cohort (NRPS)",
        description="For a cohort made by an LTI context (an instructor's launch) whose platform announced the "
                    "Names and Role Provisioning Service: every page of the context's members is read; learners "
                    "are enrolled in the cohort (accounts linked by platform and subject, created if needed), "
                    "instructors become trainers if the registration says so. Its trainers and admins only.",
        responses={403: "Not a trainer or admin", 404: "No such cohort (or not one of yours)",
                   409: "The cohort is closed, or not linked to a platform context with a roster service",
                   502: "The platform did not give the roster"})
def pull_lti_roster(cohort_id: int):
    from learning.cohorts.services import get_cohort_for
    from learning.lti import nrps

    actor = current_api_user()
    return nrps.pull_roster(actor, get_cohort_for(actor, cohort_id)).as_dict()
