"""Offline learning API: a course's package for the device, and the device's events back.

The contract is API.md's; the rules (each event applied at most once, ever) live in
``learning.enrolment.sync`` (DESIGN.md rule 9).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, Integer, List, Nested, String
from apiflask.validators import Length
from flask import jsonify, request

from learning.api.auth import auth, current_api_user
from learning.api.enrolment import EnrolmentSchema, enrolment_body
from learning.catalogue.services import visible_course
from learning.enrolment import package, services, sync

bp = APIBlueprint("api_offline", __name__, url_prefix="/api/v1", tag="Offline")


class SyncEventSchema(Schema):
    """An event as the device made it. The body's shape (types, required fields) is checked for the
    whole batch (422); what each event means (a UUID, a known type, the caller's enrolment, a time
    neither in the future nor before the enrolment) is judged event by event, answered ``rejected``
    with its reason while the others still apply."""

    id = String(required=True, metadata={"description": "A UUID made by the device; applied at most once, ever",
                                         "example": "0b542a32-9824-4485-ada8-445eac16ae7a"})
    type = String(required=True, metadata={"description": "lesson.completed, quiz.attempted or attendance.marked",
                                           "example": "lesson.completed"})
    enrolment_id = Integer(required=True, strict=True, metadata={
        "description": "One of the caller's enrolments; for attendance.marked, the enrolment of the member marked"})
    lesson_id = Integer(strict=True, metadata={"description": "For lesson.completed: a lesson of the course"})
    session_id = Integer(strict=True, metadata={
        "description": "For attendance.marked: a session (already begun) of a cohort the caller runs"})
    attendance = String(metadata={"description": "For attendance.marked: present, absent or excused",
                                  "example": "present"})
    answers = Dict(keys=String(), values=Integer(strict=True), metadata={
        "description": "For quiz.attempted: question id to the chosen choice id", "example": {"12": 40}})
    occurred_at = String(required=True, metadata={
        "description": "When it happened on the device: ISO 8601 with its offset; not in the future, "
                       "not before the enrolment", "example": "2026-11-30T09:15:00+00:00"})


class SyncRequestSchema(Schema):
    events = List(Nested(SyncEventSchema), required=True, validate=Length(max=sync.MAX_EVENTS))


class SyncEventResultSchema(Schema):
    id = String(allow_none=True, required=True, metadata={"description": "The event's id as sent (null if none)"})
    status = String(required=True, metadata={"description": "applied, duplicate or rejected"})
    error = String(metadata={"description": "Why it was rejected, for the learner"})


class SyncEnrolmentSchema(EnrolmentSchema):
    """An enrolment the batch touched. (A class of its own: APIFlask warns when a schema nested
    in a list is also used on its own.)"""


class SyncMarkSchema(Schema):
    session_id = Integer(required=True)
    enrolment_id = Integer(required=True)
    user_id = Integer(required=True)
    attendance = String(required=True, metadata={"description": "present, absent or excused, as recorded now"})
    recorded_at = String(allow_none=True, required=True, metadata={
        "description": "When the mark on the register was made (null: never marked)"})


class SyncResultSchema(Schema):
    results = List(Nested(SyncEventResultSchema), required=True,
                   metadata={"description": "One per event, in the order sent"})
    enrolments = List(Nested(SyncEnrolmentSchema), required=True,
                      metadata={"description": "The caller's enrolments the events applied to, as they are now"})
    attendance = List(Nested(SyncMarkSchema), metadata={
        "description": "The register marks the attendance events named, as they are now: an older mark "
                       "arriving after a later one is applied (counted once) but does not replace it"})


@bp.post("/sync")
@bp.auth_required(auth)
@bp.input(SyncRequestSchema, arg_name="data")
@bp.output(SyncResultSchema)
@bp.doc(summary="Apply lesson completions, quiz attempts and attendance marks made offline; each event id "
                "counts once, ever",
        description="Events are applied in the order they happened. A rejected event (unknown type, not "
                    "a UUID, someone else's enrolment, a time in the future or before the enrolment, an "
                    "archived course or a withdrawn enrolment; for attendance.marked: a session not in "
                    "the caller's cohorts, not begun, of a closed cohort, or someone not a member) changes "
                    "nothing and is reported with its reason. Attendance marks: the latest mark by its own "
                    "time wins (docs/FIELD_TRAINING.md).",
        responses={401: "Not signed in", 422: "Not {events: [...]} of events of the documented shape, or more than 500"})
def sync_events(data):
    user = current_api_user()
    result = sync.apply_events(user, data["events"])
    body = {"results": result.results,
            "enrolments": [enrolment_body(e, services.progress_of(e), user.language) for e in result.enrolments],
            "attendance": sync.marks_now(result.marks)}
    return body


class PackageLessonSchema(Schema):
    id = Integer(required=True)
    module_id = Integer(required=True)
    title = String(required=True)
    html = String(required=True, metadata={"description": "The body as the lesson page shows it (sanitised HTML)"})
    url = String(required=True, metadata={"description": "The lesson's page, for the device to keep"})


class PackageModuleSchema(Schema):
    id = Integer(required=True)
    title = String(required=True)
    lesson_ids = List(Integer(), required=True)


class PackageChoiceSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)


class PackageQuestionSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)
    choices = List(Nested(PackageChoiceSchema), required=True)


class PackageQuizSchema(Schema):
    questions = List(Nested(PackageQuestionSchema), required=True, metadata={"description": "Without the answers"})
    pass_mark = Integer(required=True)
    url = String(required=True, metadata={"description": "The quiz page"})


class PackageEnrolmentSchema(EnrolmentSchema):
    """The caller's enrolment in the packed course. (A class of its own; see SyncEnrolmentSchema.)"""


class PackageHeadersSchema(Schema):
    etag = String(data_key="ETag", required=True, metadata={"description": "Send it back in If-None-Match"})


class PackageSchema(Schema):
    format = Integer(required=True, metadata={"description": "The package's version; a device drops other versions"})
    slug = String(required=True)
    title = String(required=True)
    summary = String(required=True)
    language = String(required=True, metadata={"description": "The language the texts are in"})
    url = String(required=True, metadata={"description": "The course's page"})
    modules = List(Nested(PackageModuleSchema), required=True)
    lessons = List(Nested(PackageLessonSchema), required=True, metadata={"description": "In the order taken"})
    quiz = Nested(PackageQuizSchema, allow_none=True, required=True)
    assets = List(String(), required=True, metadata={"description": "URLs of the images the lessons show"})
    enrolment = Nested(PackageEnrolmentSchema, required=True)


@bp.get("/courses/<slug>/package")
@bp.auth_required(auth)
@bp.output(PackageSchema, headers=PackageHeadersSchema)
@bp.doc(summary="Everything to learn a course offline, in the caller's language (enrolled learners)",
        description="With If-None-Match carrying the ETag of the package the device holds, answers 304 "
                    "and no body when nothing changed.",
        responses={304: "Not modified", 401: "Not signed in", 403: "Not enrolled in this course",
                   404: "No such course"})
def course_package(slug: str):
    user = current_api_user()
    packed = package.package_for(user, visible_course(slug, user))
    body = PackageSchema().dump({**packed.body, "enrolment": enrolment_body(
        packed.enrolment, services.progress_of(packed.enrolment), user.language)})
    response = jsonify(body)
    response.set_etag(package.etag_of(body))
    response.headers["Cache-Control"] = "private, no-cache"  # kept, but checked with the ETag before use
    return response.make_conditional(request)
