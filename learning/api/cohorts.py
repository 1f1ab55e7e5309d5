"""Cohorts API: cohorts, sessions, attendance, sign-off, closing (rosters: ``cohort_rosters``).

Every path is for the cohort's trainers and admins; other trainers get 404 and
learners 403 (``learning.cohorts.services.get_cohort_for``).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, DateTime, Integer, List, Nested, String
from marshmallow import ValidationError
from marshmallow.validate import Length

from learning.api.auth import auth, current_api_user
from learning.api.schemas import (
    BoundedDate,
    BoundedDateTime,
    Id,
    PageQuerySchema,
    page_of,
)
from learning.catalogue.services import course_text
from learning.cohorts import checkin, completion, services, sessions
from learning.cohorts.models import ATTENDANCE_RULES, CAPACITY_MAX, DELIVERY_MODES, NAME_MAX
from learning.extensions import limiter

bp = APIBlueprint("api_cohorts", __name__, url_prefix="/api/v1", tag="Cohorts")
RUNNERS = ["admin", "trainer"]
ROSTER_PATH = "/api/v1/cohorts/{cohort_id}/roster"


# The cohort's fields as the API takes them. The rules on their values are the service's
# (``learning.cohorts.services``): ``FIELD_RULES`` applied as the body is parsed, so that one answer
# names every bad field, and ``validate_cohort`` for the rest; the page's forms use the same.


def rule_of(field: str):
    """The service's rule for ``field`` as a marshmallow validator (same message)."""
    problem_of = services.FIELD_RULES[field]

    def validate(value) -> None:
        if problem := problem_of(value):
            raise ValidationError(problem)

    return validate


NAME = {"maxLength": NAME_MAX}
DELIVERY = {"enum": list(DELIVERY_MODES)}
CAPACITY = {"minimum": 1, "maximum": CAPACITY_MAX, "description": "Places; null for no limit"}
RULE = {"enum": list(ATTENDANCE_RULES),
        "description": "none: trainer sign-off only; all_sessions; min_percent (with attendance_min_percent)"}
PERCENT = {"minimum": 1, "maximum": 100}


class CohortInSchema(Schema):
    course = String(required=True, metadata={"description": "The course's slug"})
    name = String(required=True, metadata=NAME)
    country = String(required=True, metadata={"example": "CO"})
    delivery = String(required=True, validate=rule_of("delivery"), metadata=DELIVERY)
    starts_on = BoundedDate(required=True)
    ends_on = BoundedDate(required=True, metadata={"description": "Not before starts_on"})
    capacity = Integer(allow_none=True, validate=rule_of("capacity"), metadata=CAPACITY)
    attendance_rule = String(validate=rule_of("attendance_rule"), metadata=RULE)
    attendance_min_percent = Integer(allow_none=True, validate=rule_of("attendance_min_percent"), metadata=PERCENT)
    trainers = List(Id(), metadata={"description": "User ids of trainers (admins only)"})


class CohortPatchSchema(Schema):
    name = String(metadata=NAME)
    delivery = String(validate=rule_of("delivery"), metadata=DELIVERY)
    starts_on = BoundedDate()
    ends_on = BoundedDate()
    capacity = Integer(allow_none=True, validate=rule_of("capacity"), metadata=CAPACITY)
    attendance_rule = String(validate=rule_of("attendance_rule"), metadata=RULE)
    attendance_min_percent = Integer(allow_none=True, validate=rule_of("attendance_min_percent"), metadata=PERCENT)
    trainers = List(Id(), metadata={"description": "Replaces the trainers (admins only)"})


class TrainerSchema(Schema):
    user_id = Integer(required=True)
    full_name = String(required=True)
    email = String(required=True)


class MemberSchema(Schema):
    user_id = Integer(required=True)
    full_name = String(required=True)
    email = String(required=True)
    status = String(required=True, metadata={"description": "active, completed"})
    completed_at = DateTime(allow_none=True)
    enrolled_at = DateTime(required=True)
    signed_off = Boolean(required=True, metadata={"description": "Completed by a trainer's sign-off"})
    completed_lessons = Integer(required=True)
    total_lessons = Integer(required=True)
    quiz_passed = Boolean(required=True)
    sessions_attended = Integer(required=True)
    sessions_total = Integer(required=True)


class SessionInSchema(Schema):
    starts_at = BoundedDateTime(required=True, metadata={"example": "2025-03-31T09:00:00-05:00"})
    title = String()
    place = String()
    notes = String()


class SessionSchema(Schema):
    id = Integer(required=True)
    title = String(required=True)
    starts_at = DateTime(required=True)
    place = String(required=True)
    notes = String(required=True)
    present_count = Integer(required=True)


class CohortSchema(Schema):
    id = Integer(required=True)
    course = String(required=True, metadata={"description": "The course's slug"})
    course_title = String(required=True)
    name = String(required=True)
    country = String(required=True)
    delivery = String(required=True)
    starts_on = Date(required=True)
    ends_on = Date(required=True)
    capacity = Integer(allow_none=True)
    status = String(required=True, metadata={"description": "open or closed"})
    attendance_rule = String(required=True)
    attendance_min_percent = Integer(allow_none=True)
    trainers = List(Nested(TrainerSchema), required=True)
    member_count = Integer(required=True)
    completed_count = Integer(required=True)
    created_at = DateTime(required=True)
    closed_at = DateTime(allow_none=True)


# APIFlask registers a schema used both nested and top-level twice; nested uses get their own names.
class CohortSummarySchema(CohortSchema):
    pass


class MemberEntrySchema(MemberSchema):
    pass


class SessionEntrySchema(SessionSchema):
    pass


class CohortDetailSchema(CohortSchema):
    members = List(Nested(MemberEntrySchema), required=True)
    sessions = List(Nested(SessionEntrySchema), required=True)


class ClosedCohortSchema(CohortSchema):
    signed_off = Integer(required=True, metadata={"description": "Members signed off by the attendance rule"})
    still_active = Integer(required=True)


class AttendanceInSchema(Schema):
    present = List(Id(), required=True, metadata={"description": "User ids of the members present; "
                                                                      "every other member is recorded absent"})
    excused = List(Id(), metadata={"description": "User ids of members absent with a reason accepted "
                                                  "(present wins for someone in both lists)"})


class AttendanceSchema(Schema):
    session_id = Integer(required=True)
    present = List(Integer(), required=True)
    absent = List(Integer(), required=True, metadata={"description": "Everyone not present, the excused included"})
    recorded = Boolean(required=True)
    excused = List(Integer(), required=True, metadata={"description": "Absent with a reason the trainer accepted"})


def serialise_cohort(cohort, counts: tuple[int, int] | None = None,
                     trainers: list[services.Trainer] | None = None) -> dict:
    """A cohort as the API shows it; a list passes the counts and trainers it read for the whole page."""
    members, completed = counts or services.member_counts([cohort.id]).get(cohort.id, (0, 0))
    if trainers is None:
        trainers = services.trainers_of([cohort.id]).get(cohort.id, [])
    return {
        "id": cohort.id, "course": cohort.course.slug, "course_title": course_text(cohort.course, None).title,
        "name": cohort.name, "country": cohort.country, "delivery": cohort.delivery,
        "starts_on": cohort.starts_on, "ends_on": cohort.ends_on, "capacity": cohort.capacity,
        "status": cohort.status, "attendance_rule": cohort.attendance_rule,
        "attendance_min_percent": cohort.attendance_min_percent,
        "trainers": [{"user_id": t.user_id, "full_name": t.full_name, "email": t.email} for t in trainers],
        "member_count": members, "completed_count": completed,
        "created_at": cohort.created_at, "closed_at": cohort.closed_at,
    }


def serialise_member(member: services.Member) -> dict:
    return {
        "user_id": member.user_id, "full_name": member.full_name, "email": member.email, "status": member.status,
        "completed_at": member.completed_at, "enrolled_at": member.enrolled_at, "signed_off": member.signed_off,
        "completed_lessons": member.lessons_done, "total_lessons": member.lessons_total,
        "quiz_passed": member.quiz_passed, "sessions_attended": member.sessions_attended,
        "sessions_total": member.sessions_total,
    }


def serialise_session(session, present_count: int) -> dict:
    return {"id": session.id, "title": session.title, "starts_at": session.starts_at, "place": session.place,
            "notes": session.notes, "present_count": present_count}


def _cohort(cohort_id: int):
    return services.get_cohort_for(current_api_user(), cohort_id)


@bp.get("/cohorts")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(page_of(CohortSummarySchema, "CohortPageSchema"))
@bp.doc(summary="The caller's cohorts (every cohort for admins)", responses={403: "Not a trainer or admin"})
def list_cohorts(query):
    cohorts, total = services.cohorts_for(current_api_user(), query["page"], query["per_page"])
    counts = services.member_counts([c.id for c in cohorts])
    trainers = services.trainers_of([c.id for c in cohorts])
    return {"items": [serialise_cohort(c, counts.get(c.id, (0, 0)), trainers.get(c.id, [])) for c in cohorts],
            "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.post("/cohorts")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(CohortInSchema, arg_name="data")
@bp.output(CohortSchema, status_code=201)
@bp.doc(summary="Create a cohort", description="A trainer who creates a cohort runs it; admins assign trainers "
        "by user id.", responses={403: "Not a trainer or admin, or a trainer assigning trainers",
                                  422: "Invalid field"})
def create_cohort(data):
    cohort = services.create_cohort(current_api_user(), data)
    return serialise_cohort(cohort)


@bp.get("/cohorts/<int:cohort_id>")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(CohortDetailSchema)
@bp.doc(summary="A cohort with its members and sessions", responses={403: "Not a trainer or admin",
                                                                     404: "No such cohort among the caller's"})
def get_cohort(cohort_id: int):
    cohort = _cohort(cohort_id)
    members, _total = services.members_of(cohort)
    body = serialise_cohort(cohort)
    body["members"] = [serialise_member(m) for m in members]
    body["sessions"] = [serialise_session(s, n) for s, n in sessions.sessions_of(cohort)]
    return body


@bp.patch("/cohorts/<int:cohort_id>")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(CohortPatchSchema, arg_name="data")
@bp.output(CohortSchema)
@bp.doc(summary="Change a cohort's details or completion rule", responses={
    403: "Not allowed (only admins change trainers)", 404: "No such cohort", 409: "The cohort is closed",
    422: "Invalid field"})
def patch_cohort(cohort_id: int, data):
    cohort = services.update_cohort(current_api_user(), _cohort(cohort_id), data)
    return serialise_cohort(cohort)


@bp.post("/cohorts/<int:cohort_id>/members/<int:user_id>/complete")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(MemberSchema)
@bp.doc(summary="Sign a member off: their enrolment is completed and a certificate follows",
        description="Idempotent: a member already completed is answered as they are (200), and no second "
                    "completion, certificate event or audit entry is written, however many requests arrive at once.",
        responses={404: "No such cohort or member", 409: "The cohort is closed"})
def sign_off_member(cohort_id: int, user_id: int):
    member = completion.sign_off(current_api_user(), _cohort(cohort_id), user_id)
    return serialise_member(member)


@bp.post("/cohorts/<int:cohort_id>/close")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(ClosedCohortSchema)
@bp.doc(summary="Close the cohort, signing off every member who met its attendance rule",
        responses={404: "No such cohort", 409: "Already closed"})
def close_cohort(cohort_id: int):
    cohort = _cohort(cohort_id)
    result = completion.close_cohort(current_api_user(), cohort)
    return {**serialise_cohort(cohort), "signed_off": result.signed_off, "still_active": result.still_active}


SessionPageSchema = page_of(SessionSchema)


@bp.get("/cohorts/<int:cohort_id>/sessions")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(PageQuerySchema, location="query", arg_name="query")
@bp.output(SessionPageSchema)
@bp.doc(summary="The cohort's sessions, in time order (paginated, as every list: API.md's conventions)",
        responses={404: "No such cohort", 422: "Invalid page or per_page"})
def list_sessions(cohort_id: int, query):
    rows = sessions.sessions_of(_cohort(cohort_id))
    page, per_page = query["page"], query["per_page"]
    items = [serialise_session(s, n) for s, n in rows[(page - 1) * per_page:page * per_page]]
    return {"items": items, "page": page, "per_page": per_page, "total": len(rows)}


@bp.post("/cohorts/<int:cohort_id>/sessions")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(SessionInSchema, arg_name="data")
@bp.output(SessionSchema, status_code=201)
@bp.doc(summary="Schedule a session", responses={404: "No such cohort", 409: "The cohort is closed",
                                                 422: "Invalid field"})
def add_session(cohort_id: int, data):
    session = sessions.add_session(current_api_user().id, _cohort(cohort_id), data)
    return serialise_session(session, 0)


@bp.get("/cohorts/<int:cohort_id>/sessions/<int:session_id>/attendance")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(AttendanceSchema)
@bp.doc(summary="Who attended a session", responses={404: "No such cohort or session"})
def get_attendance(cohort_id: int, session_id: int):
    cohort = _cohort(cohort_id)
    sheet = sessions.attendance_of(sessions.get_session(cohort, session_id))
    return {"session_id": session_id, "present": sheet.present, "absent": sheet.absent, "recorded": sheet.recorded,
            "excused": sheet.excused}


@bp.put("/cohorts/<int:cohort_id>/sessions/<int:session_id>/attendance")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(AttendanceInSchema, arg_name="data")
@bp.output(AttendanceSchema)
@bp.doc(summary="Record a session's register", responses={404: "No such cohort or session",
                                                          409: "The cohort is closed",
                                                          422: "Someone listed is not a member"})
def put_attendance(cohort_id: int, session_id: int, data):
    cohort = _cohort(cohort_id)
    session = sessions.get_session(cohort, session_id)
    sheet = sessions.record_attendance(current_api_user().id, cohort, session, data["present"], data.get("excused", []))
    return {"session_id": session_id, "present": sheet.present, "absent": sheet.absent, "recorded": sheet.recorded,
            "excused": sheet.excused}


def _document_roster_body(spec: dict) -> dict:
    """The roster takes a raw CSV body or a multipart upload, which schemas cannot declare."""
    operation = spec.get("paths", {}).get(ROSTER_PATH, {}).get("post")
    if operation is not None:
        operation["requestBody"] = {"required": True, "content": {
            "text/csv": {"schema": {"type": "string"}, "example": "email,full_name,country,sector,organisation,"
                         "language\nana@example.org,Ana Gómez,Colombia,law_enforcement,Policía Nacional,es\n"},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        }}
        operation["responses"].setdefault("400", {"description": "Malformed request", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorSchema"}}}})
    return spec


@bp.record_once
def _chain_spec_processor(state) -> None:
    previous = state.app.spec_callback

    def process(spec):
        return _document_roster_body(previous(spec) if previous else spec)

    state.app.spec_callback = process


# Self check-in (learning.cohorts.checkin): the trainer's code for the room's screen, and the member's check-in.

class CheckInCodeSchema(Schema):
    code = String(required=True, metadata={"description": "Digits: the session id, then six digits that change "
                                                          "every minute"})
    display = String(required=True, metadata={"description": "The code grouped for reading on a screen"})
    expires_at = DateTime(required=True, metadata={"description": "When the code stops being accepted"})
    qr_url = String(required=True, metadata={"description": "An SVG QR code of the check-in page with the code"})
    check_in_url = String(required=True)


class CheckInSchema(Schema):
    code = String(required=True, validate=Length(max=40), metadata={"description": "The code on the screen"})


class CheckedInSchema(Schema):
    cohort = Integer(required=True)
    session_id = Integer(required=True)
    status = String(required=True, metadata={"enum": ["present"]})


def serialise_code(cohort, code) -> dict:
    from flask import url_for

    return {"code": code.code, "display": code.display, "expires_at": code.expires_at,
            "qr_url": url_for("cohorts.check_in_qr", cohort_id=cohort.id, session_id=code.session_id,
                              code=code.code, _external=True),
            "check_in_url": url_for("checkin.page", code=code.code, _external=True)}


def _check_in_limit() -> str:
    from flask import current_app

    return current_app.config["CHECK_IN_RATE_LIMIT"]


@bp.post("/cohorts/<int:cohort_id>/sessions/<int:session_id>/check-in-code")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(CheckInCodeSchema, status_code=201)
@bp.doc(summary="The session's check-in code and QR code for the room's screen",
        description="The code changes every minute; the previous minute's code is still accepted.",
        responses={404: "No such cohort or session", 409: "The cohort is closed"})
def create_check_in_code(cohort_id: int, session_id: int):
    cohort = _cohort(cohort_id)
    code = checkin.issue_code(current_api_user().id, cohort, sessions.get_session(cohort, session_id))
    return serialise_code(cohort, code)


@bp.post("/check-in")
@limiter.limit(_check_in_limit, key_func=checkin.rate_limit_key)
@bp.auth_required(auth)
@bp.input(CheckInSchema, arg_name="data")
@bp.output(CheckedInSchema)
@bp.doc(summary="Check in to a session with the code on the screen", responses={
    403: "Not a member of the session's cohort", 409: "The session has not started, its check-in has ended, "
    "or the cohort is closed", 422: "A wrong or expired code", 429: "Too many attempts"})
def check_in(data):
    result = checkin.check_in(current_api_user(), data["code"])
    return {"cohort": result.cohort.id, "session_id": result.session.id, "status": "present"}
