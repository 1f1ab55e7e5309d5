"""Partner organisations API: their managers' view of their own staff, assignments and figures.

Admins see every organisation; an ``org_manager`` their own. Another organisation answers 404,
so ids cannot be probed; people with neither role are refused (403).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, DateTime, Integer, List, Nested, String
from flask import request

from learning.api.auth import auth, current_api_user
from learning.api.reports import FILTERS_DOC, FilterQuerySchema, SummarySchema
from learning.api.schemas import BoundedDate, Id, JsonBoolean, PageQuerySchema, page_of
from learning.organisations import services

bp = APIBlueprint("api_organisations", __name__, url_prefix="/api/v1", tag="Organisations")
STEERS = ["admin", "org_manager"]
NOT_YOURS = {401: "Not signed in", 403: "Not an organisation manager or admin",
             404: "No such organisation, or not one the caller manages"}


class OrganisationSchema(Schema):
    id = Integer(required=True)
    name = String(required=True)
    country = String(allow_none=True, required=True)
    members = Integer(required=True, metadata={"description": "People whose current organisation it is"})


class MemberEnrolmentSchema(Schema):
    course = String(required=True, metadata={"description": "The course slug"})
    status = String(required=True, metadata={"description": "active, completed or withdrawn"})
    enrolled_at = DateTime(required=True)
    completed_at = DateTime(allow_none=True, required=True)
    completed_lessons = Integer(required=True)
    total_lessons = Integer(required=True)


class MemberCertificateSchema(Schema):
    code = String(required=True)
    course = String(required=True)
    status = String(required=True, metadata={"description": "valid, expired or revoked"})
    issued_at = DateTime(required=True)
    expires_at = DateTime(allow_none=True, required=True)


class OrgMemberSchema(Schema):
    user_id = Integer(required=True)
    full_name = String(required=True)
    email = String(required=True)
    current = Boolean(required=True, metadata={
        "description": "Their current organisation; if false, only enrolments recorded with it are shown"})
    enrolments = List(Nested(MemberEnrolmentSchema), required=True)
    certificates = List(Nested(MemberCertificateSchema), required=True)


class AssignmentInSchema(Schema):
    course = String(required=True, metadata={"description": "A published course's slug"})
    due_on = BoundedDate(required=True, metadata={"description": "Today or later"})
    user_ids = List(Id(), metadata={"description": "Current members to assign (or all_members)"})
    all_members = JsonBoolean(load_default=False, metadata={"description": "Assign every current member"})


class AssignmentSchema(Schema):
    id = Integer(required=True)
    course = String(required=True)
    due_on = Date(required=True)
    assigned = Integer(required=True)
    completed = Integer(required=True, metadata={
        "description": "Completed, with a certificate in force on the due date"})
    overdue = Integer(required=True, metadata={"description": "Not completed and past the due date"})


def serialise_member(view: services.MemberView) -> dict:
    return {"user_id": view.user.id, "full_name": view.user.full_name, "email": view.user.email,
            "current": view.current, "enrolments": view.enrolments, "certificates": view.certificates}


@bp.get("/organisations")
@bp.auth_required(auth, roles=STEERS)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(page_of(OrganisationSchema, "OrganisationPageSchema"))
@bp.doc(summary="Organisations (every one for admins, their own for managers)",
        responses={401: "Not signed in", 403: "Not an organisation manager or admin"})
def list_organisations(query):
    rows, total = services.organisations_for(current_api_user(), query["page"], query["per_page"])
    counts = services.current_member_counts(o.id for o in rows)
    return {"items": [{"id": o.id, "name": o.name, "country": o.country, "members": counts.get(o.id, 0)}
                      for o in rows], "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.get("/organisations/<int:organisation_id>/members")
@bp.auth_required(auth, roles=STEERS)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(page_of(OrgMemberSchema, "OrgMemberPageSchema"))
@bp.doc(summary="An organisation's members, their enrolments, progress and certificates",
        description="Members are the people whose current organisation it is and the people with an "
                    "enrolment recorded with it; of someone who left, only those enrolments show.",
        responses=NOT_YOURS)
def list_members(organisation_id: int, query):
    organisation = services.get_organisation_for(current_api_user(), organisation_id)
    views, total = services.members(organisation, query["page"], query["per_page"])
    return {"items": [serialise_member(view) for view in views], "page": query["page"],
            "per_page": query["per_page"], "total": total}


@bp.post("/organisations/<int:organisation_id>/assignments")
@bp.auth_required(auth, roles=STEERS)
@bp.input(AssignmentInSchema, arg_name="data")
@bp.output(AssignmentSchema, status_code=201)
@bp.doc(summary="Assign a course with a due date",
        description="The people are enrolled (an active enrolment counts as it is) and reminded: when "
                    "assigned, 7 days before the due date and once overdue.",
        responses={**NOT_YOURS, 422: "Unpublished course, due date in the past, or people who are not "
                                     "current members"})
def create_assignment(organisation_id: int, data):
    actor = current_api_user()
    organisation = services.get_organisation_for(actor, organisation_id)
    assignment = services.create_assignment(actor, organisation, data["course"], data["due_on"],
                                            data.get("user_ids"), data.get("all_members", False))
    counts = services.assignment_counts([assignment.id]).get(assignment.id, services.Counts())
    return services.serialise_assignment(assignment, counts), 201


@bp.get("/organisations/<int:organisation_id>/assignments")
@bp.auth_required(auth, roles=STEERS)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(page_of(AssignmentSchema, "AssignmentPageSchema"))
@bp.doc(summary="An organisation's assignments with their counts", responses=NOT_YOURS)
def list_assignments(organisation_id: int, query):
    organisation = services.get_organisation_for(current_api_user(), organisation_id)
    rows, total = services.assignments_of(organisation, query["page"], query["per_page"])
    counts = services.assignment_counts(a.id for a in rows)
    return {"items": [services.serialise_assignment(a, counts.get(a.id, services.Counts())) for a in rows],
            "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.get("/organisations/<int:organisation_id>/summary")
@bp.auth_required(auth, roles=STEERS)
@bp.input(FilterQuerySchema, location="query", arg_name="query")
@bp.output(SummarySchema)
@bp.doc(summary="The organisation's training statistics",
        description="The reports summary restricted to enrolments recorded with the organisation. " + FILTERS_DOC,
        responses={**NOT_YOURS, 422: "A filter is invalid"})
def summary(organisation_id: int, query):
    organisation = services.get_organisation_for(current_api_user(), organisation_id)
    return services.summary(organisation, request.args)
