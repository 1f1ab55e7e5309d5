"""Enrolment API: enrol, follow progress, complete lessons, take the quiz, withdraw.

Only the learner acts on an enrolment; to anyone else it answers 404, so
enrolment ids reveal nothing. Admins may read any enrolment.
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from flask import Response, jsonify
from flask_babel import gettext as _
from marshmallow import missing

from learning.api.auth import auth, current_api_user
from learning.api.schemas import PageQuerySchema, page_of
from learning.catalogue.content import course_title
from learning.catalogue.services import visible_course
from learning.enrolment import hot, queries, services
from learning.enrolment.models import Enrolment
from learning.enrolment.services import Progress
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.reporting.rollup import defer_refresh

bp = APIBlueprint("api_enrolment", __name__, url_prefix="/api/v1", tag="Enrolment")

SIGNED_IN = {401: "Not signed in"}


class ProgressSchema(Schema):
    completed_lessons = Integer(required=True)
    total_lessons = Integer(required=True)
    completed_lesson_ids = List(Integer(), required=True)
    next_lesson_id = Integer(allow_none=True, required=True)
    quiz_required = Boolean(required=True)
    quiz_passed = Boolean(required=True)


class EnrolmentSchema(Schema):
    id = Integer(required=True)
    course = String(required=True, metadata={"description": "The course's slug"})
    course_title = String(required=True, metadata={"description": "In the caller's language where translated"})
    status = String(required=True, metadata={"description": "active, completed or withdrawn"})
    enrolled_at = DateTime(required=True)
    completed_at = DateTime(allow_none=True)
    withdrawn_at = DateTime(allow_none=True)
    cohort_id = Integer(allow_none=True)
    progress = Nested(ProgressSchema, required=True)


class EnrolmentItemSchema(EnrolmentSchema):
    """An enrolment in a list. (A class of its own: APIFlask warns when the schema nested in
    a page is also used on its own.)"""


EnrolmentPageSchema = page_of(EnrolmentItemSchema, "EnrolmentPageSchema")


class MyEnrolmentsQuerySchema(PageQuerySchema):
    status = String(metadata={"description": "active, completed or withdrawn"})


class QuizAnswersSchema(Schema):
    answers = Dict(keys=String(), values=Integer(), required=True,
                   metadata={"description": "Question id to the chosen choice id", "example": {"12": 40, "13": 44}})


class QuizResultSchema(Schema):
    id = Integer(required=True)
    score = Integer(required=True, metadata={"description": "Percent of questions answered right, 0-100"})
    passed = Boolean(required=True)
    pass_mark = Integer(required=True)
    submitted_at = DateTime(required=True)
    enrolment_status = String(required=True, metadata={"description": "completed when this attempt finished the course"})


def enrolment_body(enrolment: Enrolment, progress: Progress, language: str | None) -> dict:
    return {
        "id": enrolment.id,
        "course": enrolment.course.slug,
        "course_title": course_title(db.session(), enrolment.course, language),
        "status": enrolment.status,
        "enrolled_at": enrolment.enrolled_at,
        "completed_at": enrolment.completed_at,
        "withdrawn_at": enrolment.withdrawn_at,
        "cohort_id": enrolment.cohort_id,
        "progress": {
            "completed_lessons": progress.completed_lessons,
            "total_lessons": progress.total_lessons,
            "completed_lesson_ids": sorted(progress.done),
            "next_lesson_id": progress.next_lesson_id,
            "quiz_required": progress.quiz_required,
            "quiz_passed": progress.quiz_passed,
        },
    }


def _answer(enrolment: Enrolment) -> dict:
    return enrolment_body(enrolment, services.progress_of(enrolment), current_api_user().language)


_DATES = ("enrolled_at", "completed_at", "withdrawn_at")


def hot_answer(body: dict, status: int = 200) -> Response:
    """The answer of the learner's hot path (enrol, complete a lesson) as ``EnrolmentSchema`` would dump
    it, built by hand: the body is already the schema's shape, so only its dates need the schema's
    ISO 8601 text. Returning a response skips APIFlask's marshmallow dump of it (docs/PERFORMANCE.md,
    "Hot path (fifth session)"); the OpenAPI document still says ``EnrolmentSchema``, and
    tests/enrolment/test_hot_path_statements.py checks that the two agree."""
    for key in _DATES:
        if body[key] is not None:
            body[key] = body[key].isoformat()
    response = jsonify(body)
    response.status_code = status
    return response


@bp.post("/courses/<slug>/enrolments")
@bp.auth_required(auth)
@bp.output(EnrolmentSchema, status_code=201)
@bp.doc(summary="Enrol the caller in a published course",
        responses={**SIGNED_IN, 404: "No such course",
                   409: "Already enrolled, certificate still valid, or the course is not open"})
def enrol(slug: str):
    user = current_api_user()
    session = db.session()
    defer_refresh(session)  # the statistics follow in the worker (docs/PERFORMANCE.md, hot path)
    if hot.available(session):  # PostgreSQL: rows, not objects (learning/enrolment/hot.py)
        return hot_answer(hot.enrol(session, user, slug), 201)
    enrolment = services.enrol(user, visible_course(slug, user, texts=False))
    return hot_answer(_answer(enrolment), 201)  # built before commit, which would expire what it reads


@bp.get("/me/enrolments")
@bp.auth_required(auth)
@bp.input(MyEnrolmentsQuerySchema, location="query", arg_name="query")
@bp.output(EnrolmentPageSchema)
@bp.doc(summary="The caller's enrolments, active first", responses={**SIGNED_IN, 422: "Unknown status"})
def my_enrolments(query):
    user = current_api_user()
    rows, total = queries.my_enrolments(user, query.get("status"), query["page"], query["per_page"])
    progress = queries.progress_of_many(rows)
    return {"items": [enrolment_body(e, progress[e.id], user.language) for e in rows],
            "page": query["page"], "per_page": query["per_page"], "total": total}


@bp.get("/enrolments/<int:enrolment_id>")
@bp.auth_required(auth)
@bp.output(EnrolmentSchema)
@bp.doc(summary="An enrolment (its learner, or an admin)", responses={**SIGNED_IN, 404: "No such enrolment"})
def get_enrolment(enrolment_id: int):
    return _answer(services.get_enrolment_for(current_api_user(), enrolment_id))


@bp.post("/enrolments/<int:enrolment_id>/lessons/<int:lesson_id>/complete")
@bp.auth_required(auth)
@bp.output(EnrolmentSchema)
@bp.doc(summary="Mark a lesson done (the learner); completing the last requirement completes the course",
        responses={**SIGNED_IN, 404: "No such enrolment, or the lesson is not in its course",
                   409: "The enrolment is completed or withdrawn"})
def complete_lesson(enrolment_id: int, lesson_id: int):
    session = db.session()
    defer_refresh(session)  # the statistics follow in the worker
    if hot.available(session):  # PostgreSQL: rows, not objects (learning/enrolment/hot.py)
        return hot_answer(hot.complete_lesson(session, current_api_user(), enrolment_id, lesson_id))
    enrolment = services.get_own_enrolment(current_api_user(), enrolment_id, for_update=True)
    services.complete_lesson(enrolment, lesson_id, locked=True)
    return hot_answer(_answer(enrolment))  # built before commit, which would expire what it reads


@bp.post("/enrolments/<int:enrolment_id>/quiz-attempts")
@bp.auth_required(auth)
@bp.input(QuizAnswersSchema, arg_name="data", validation=False)
@bp.output(QuizResultSchema, status_code=201)
@bp.doc(summary="Submit quiz answers (the learner); scored on the server, right answers are not revealed",
        description="A course allows `max_quiz_attempts` attempts within any `quiz_cooldown_minutes` (0: ever), "
                    "counted over all the learner's enrolments in it; past that the answer is 429 "
                    "`too_many_attempts`, with `retry_at` (UTC; null: no more attempts) in the error and a "
                    "`Retry-After` header.",
        responses={**SIGNED_IN, 404: "No such enrolment, or the course has no quiz",
                   409: "The enrolment is completed or withdrawn", 422: "Unknown questions or choices",
                   429: "Too many attempts for now (see `retry_at`)"})
def submit_quiz(enrolment_id: int, data):
    enrolment = services.get_own_enrolment(current_api_user(), enrolment_id)
    if data is missing or not isinstance(data, dict) or "answers" not in data:
        raise ValidationFailed(_("Send the answers as {\"answers\": {\"<question_id>\": <choice_id>}}."),
                               {"answers": [_("This field is required.")]})
    defer_refresh(db.session())  # a pass that completes the course: the statistics follow in the worker
    result = services.submit_quiz(enrolment, data["answers"])
    return {"id": result.attempt.id, "score": result.score, "passed": result.passed,
            "pass_mark": enrolment.course.pass_mark, "submitted_at": result.attempt.submitted_at,
            "enrolment_status": enrolment.status}


@bp.post("/enrolments/<int:enrolment_id>/withdraw")
@bp.auth_required(auth)
@bp.output(EnrolmentSchema)
@bp.doc(summary="Withdraw from a course (the learner); the history is kept",
        responses={**SIGNED_IN, 404: "No such enrolment", 409: "The enrolment is not active"})
def withdraw(enrolment_id: int):
    enrolment = services.withdraw(services.get_own_enrolment(current_api_user(), enrolment_id))
    return _answer(enrolment)
