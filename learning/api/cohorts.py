"""Cohorts API: cohorts, rosters (CSV import and export), sessions, attendance, sign-off, closing.

Every path is for the cohort's trainers and admins; other trainers get 404 and
learners 403 (``learning.cohorts.services.get_cohort_for``).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, Date, DateTime, Integer, List, Nested, String
from apiflask.validators import OneOf, Range
from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _

from learning.api.auth import auth, current_api_user
from learning.api.schemas import DATABASE_INT_MAX, ErrorDetailSchema, Id, PageQuerySchema, page_of
from learning.catalogue.services import course_text
from learning.cohorts import imports, services, sessions
from learning.cohorts.models import ATTENDANCE_RULES, DELIVERY_MODES
from learning.cohorts.roster import RosterFileInvalid
from learning.errors import ValidationFailed, error_body
from learning.extensions import db

bp = APIBlueprint("api_cohorts", __name__, url_prefix="/api/v1", tag="Cohorts")
RUNNERS = ["admin", "trainer"]
ROSTER_PATH = "/api/v1/cohorts/{cohort_id}/roster"


class CohortInSchema(Schema):
    course = String(required=True, metadata={"description": "The course's slug"})
    name = String(required=True)
    country = String(required=True, metadata={"example": "CO"})
    delivery = String(required=True, validate=OneOf(DELIVERY_MODES))
    starts_on = Date(required=True)
    ends_on = Date(required=True)
    capacity = Integer(allow_none=True, validate=Range(min=1, max=DATABASE_INT_MAX))
    attendance_rule = String(validate=OneOf(ATTENDANCE_RULES), metadata={
        "description": "none: trainer sign-off only; all_sessions; min_percent (with attendance_min_percent)"})
    attendance_min_percent = Integer(allow_none=True, validate=Range(min=1, max=100))
    trainers = List(Id(), metadata={"description": "User ids of trainers (admins only)"})


class CohortPatchSchema(Schema):
    name = String()
    delivery = String(validate=OneOf(DELIVERY_MODES))
    starts_on = Date()
    ends_on = Date()
    capacity = Integer(allow_none=True, validate=Range(min=1, max=DATABASE_INT_MAX))
    attendance_rule = String(validate=OneOf(ATTENDANCE_RULES))
    attendance_min_percent = Integer(allow_none=True, validate=Range(min=1, max=100))
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
    starts_at = DateTime(required=True, metadata={"example": "2025-03-31T09:00:00-05:00"})
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


class RowErrorSchema(Schema):
    row = Integer(required=True, metadata={"description": "Spreadsheet row: 1 is the header, 0 the whole file"})
    field = String(required=True)
    message = String(required=True)


class RosterReportSchema(Schema):
    created = Integer(required=True, metadata={"description": "New accounts (each gets an invitation e-mail)"})
    enrolled = Integer(required=True)
    already_enrolled = Integer(required=True)
    errors = List(Nested(RowErrorSchema), required=True)
    rows = Integer(metadata={"description": "Rows of people in the file"})
    ignored_columns = List(String())
    mode = String()
    applied = Boolean(metadata={"description": "Whether anything was written"})
    error = Nested(ErrorDetailSchema, metadata={"description": "Present when the file was rejected"})


class ImportReportSchema(RosterReportSchema):
    pass


class RosterQuerySchema(Schema):
    mode = String(load_default=imports.ALL_OR_NOTHING, validate=OneOf(imports.MODES))
    background = Boolean(load_default=False, metadata={"description": "Queue the import and answer 202 at once"})


class RosterImportSchema(Schema):
    id = Integer(required=True)
    status = String(required=True, metadata={"description": "queued, running, done, rejected or failed"})
    mode = String(required=True)
    filename = String(required=True)
    total_rows = Integer(required=True)
    processed_rows = Integer(required=True)
    report = Nested(ImportReportSchema, allow_none=True)
    created_at = DateTime(required=True)
    finished_at = DateTime(allow_none=True)
    status_url = String(required=True)


class AttendanceInSchema(Schema):
    present = List(Id(), required=True, metadata={"description": "User ids of the members present; "
                                                                      "every other member is recorded absent"})


class AttendanceSchema(Schema):
    session_id = Integer(required=True)
    present = List(Integer(), required=True)
    absent = List(Integer(), required=True)
    recorded = Boolean(required=True)


def serialise_cohort(cohort, counts: tuple[int, int] | None = None) -> dict:
    from learning.accounts.models import User

    members, completed = counts or services.member_counts([cohort.id]).get(cohort.id, (0, 0))
    trainer_ids = [t.user_id for t in cohort.trainers]
    trainers = db.session.query(User).filter(User.id.in_(trainer_ids)).order_by(User.full_name).all() if trainer_ids else []
    return {
        "id": cohort.id, "course": cohort.course.slug, "course_title": course_text(cohort.course, None).title,
        "name": cohort.name, "country": cohort.country, "delivery": cohort.delivery,
        "starts_on": cohort.starts_on, "ends_on": cohort.ends_on, "capacity": cohort.capacity,
        "status": cohort.status, "attendance_rule": cohort.attendance_rule,
        "attendance_min_percent": cohort.attendance_min_percent,
        "trainers": [{"user_id": u.id, "full_name": u.full_name, "email": u.email} for u in trainers],
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


def serialise_import(cohort_id: int, job) -> dict:
    return {
        "id": job.id, "status": job.status, "mode": job.mode, "filename": job.filename,
        "total_rows": job.total_rows, "processed_rows": job.processed_rows, "report": job.report,
        "created_at": job.created_at, "finished_at": job.finished_at,
        "status_url": url_for("api_cohorts.get_roster_import", cohort_id=cohort_id, import_id=job.id),
    }


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
    return {"items": [serialise_cohort(c, counts.get(c.id, (0, 0))) for c in cohorts],
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
    db.session.commit()
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
    db.session.commit()
    return serialise_cohort(cohort)


def _uploaded_file() -> tuple[bytes, str]:
    """The CSV from a multipart field ``file`` or from a ``text/csv`` body."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(_("Send the CSV in the multipart field 'file'."), {"file": [_("Missing file.")]})
        return upload.read(), upload.filename or ""
    return request.get_data(cache=False), ""


def _rejected(report: imports.RosterReport, message: str, code: str = "roster_invalid") -> Response:
    body = report.as_dict()
    body.update(error_body(code, message))
    response = jsonify(body)
    response.status_code = 422
    return response


@bp.post("/cohorts/<int:cohort_id>/roster")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(RosterQuerySchema, location="query", arg_name="query")
@bp.output(RosterReportSchema)
@bp.doc(summary="Import a roster from CSV",
        description="Header `email,full_name,country,sector,organisation,language` in any order and case; "
        "UTF-8 with or without BOM; comma, semicolon or tab. Countries as codes or names (English, Spanish, French, "
        "Portuguese), sectors as codes or labels. New people get an account and an invitation e-mail. "
        "In all_or_nothing mode any bad row rejects the file (422, nothing changed); in partial mode good rows "
        "are imported and bad ones reported.",
        responses={202: {"description": "Queued (with background=true)",
                         "content": {"application/json": {"schema": RosterImportSchema}}},
                   403: "Not a trainer or admin", 404: "No such cohort", 409: "The cohort is closed",
                   413: "The file is too large",
                   422: {"description": "Bad rows or unreadable file: the report, with `error`, and nothing changed; "
                                        "or a bad `mode`: the error body",
                         "content": {"application/json": {"schema": {"anyOf": [
                             {"$ref": "#/components/schemas/RosterReportSchema"},
                             {"$ref": "#/components/schemas/ErrorSchema"}]}}}}})
def import_roster(cohort_id: int, query):
    actor = current_api_user()
    cohort = _cohort(cohort_id)
    data, filename = _uploaded_file()
    if query["background"]:
        job = imports.start_import(cohort, data, query["mode"], actor.id, filename)
        db.session.commit()
        response = jsonify(RosterImportSchema().dump(serialise_import(cohort.id, job)))
        response.status_code = 202
        return response
    try:
        report = imports.import_roster(cohort, data, query["mode"], actor.id)
    except imports.RosterInvalid as invalid:
        db.session.rollback()
        return _rejected(invalid.report, invalid.message)
    except RosterFileInvalid as invalid:
        db.session.rollback()
        return _rejected(imports.RosterReport(errors=invalid.errors, mode=query["mode"]), invalid.message)
    db.session.commit()
    return report.as_dict()


@bp.get("/cohorts/<int:cohort_id>/roster-imports/<int:import_id>")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(RosterImportSchema)
@bp.doc(summary="Progress and report of a background roster import", responses={404: "No such import"})
def get_roster_import(cohort_id: int, import_id: int):
    cohort = _cohort(cohort_id)
    return serialise_import(cohort.id, imports.get_import(cohort, import_id))


@bp.get("/cohorts/<int:cohort_id>/roster.csv")
@bp.auth_required(auth, roles=RUNNERS)
@bp.doc(summary="The roster as CSV, with progress and attendance",
        responses={200: {"description": "CSV, UTF-8", "content": {"text/csv": {"schema": {"type": "string"}}}},
                   403: "Not a trainer or admin", 404: "No such cohort"})
def export_roster(cohort_id: int):
    cohort = _cohort(cohort_id)
    return Response(services.export_roster(current_api_user().id, cohort), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cohort-{cohort.id}-roster.csv"'})


@bp.post("/cohorts/<int:cohort_id>/members/<int:user_id>/complete")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(MemberSchema)
@bp.doc(summary="Sign a member off: their enrolment is completed and a certificate follows",
        responses={404: "No such cohort or member", 409: "The cohort is closed"})
def sign_off_member(cohort_id: int, user_id: int):
    member = services.sign_off(current_api_user(), _cohort(cohort_id), user_id)
    db.session.commit()
    return serialise_member(member)


@bp.post("/cohorts/<int:cohort_id>/close")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(ClosedCohortSchema)
@bp.doc(summary="Close the cohort, signing off every member who met its attendance rule",
        responses={404: "No such cohort", 409: "Already closed"})
def close_cohort(cohort_id: int):
    cohort = _cohort(cohort_id)
    result = services.close_cohort(current_api_user(), cohort)
    db.session.commit()
    return {**serialise_cohort(cohort), "signed_off": result.signed_off, "still_active": result.still_active}


@bp.get("/cohorts/<int:cohort_id>/sessions")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(SessionSchema(many=True))
@bp.doc(summary="The cohort's sessions", responses={404: "No such cohort"})
def list_sessions(cohort_id: int):
    return [serialise_session(s, n) for s, n in sessions.sessions_of(_cohort(cohort_id))]


@bp.post("/cohorts/<int:cohort_id>/sessions")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(SessionInSchema, arg_name="data")
@bp.output(SessionSchema, status_code=201)
@bp.doc(summary="Schedule a session", responses={404: "No such cohort", 409: "The cohort is closed",
                                                 422: "Invalid field"})
def add_session(cohort_id: int, data):
    session = sessions.add_session(current_api_user().id, _cohort(cohort_id), data)
    db.session.commit()
    return serialise_session(session, 0)


@bp.get("/cohorts/<int:cohort_id>/sessions/<int:session_id>/attendance")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(AttendanceSchema)
@bp.doc(summary="Who attended a session", responses={404: "No such cohort or session"})
def get_attendance(cohort_id: int, session_id: int):
    cohort = _cohort(cohort_id)
    sheet = sessions.attendance_of(sessions.get_session(cohort, session_id))
    return {"session_id": session_id, "present": sheet.present, "absent": sheet.absent, "recorded": sheet.recorded}


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
    sheet = sessions.record_attendance(current_api_user().id, cohort, session, data["present"])
    db.session.commit()
    return {"session_id": session_id, "present": sheet.present, "absent": sheet.absent, "recorded": sheet.recorded}


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
