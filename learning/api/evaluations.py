"""Evaluations API: a learner's form for a completed enrolment, and the admins' anonymous report."""

from __future__ import annotations

import csv
import io

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Float, Integer, List, Nested, Raw, String

from learning.api.auth import auth, current_api_user
from learning.api.reports import (
    FILTERS_DOC,
    FilterQuerySchema,
    csv_attachment,
    published_count,
    requested_filters,
)
from learning.enrolment.services import get_own_enrolment
from learning.evaluations import report, services
from learning.evaluations.questions import TEXT_MAX
from learning.i18n import current_language
from learning.reporting import exports
from learning.reporting import services as reporting

bp = APIBlueprint("api_evaluations", __name__, url_prefix="/api/v1", tag="Evaluations")

ANSWERS_DOC = (
    "Answers by question key: a rating question takes an integer from 1 to 5 (a number, not a string), a "
    f"choice question one of its `values`, a text question a string of at most {TEXT_MAX} characters. Every "
    "question is optional (null or blank is unanswered) but at least one must be answered. An unknown question, a rating outside 1-5 or a "
    "value not offered answers 422 naming each question at fault, and nothing is stored."
)


class QuestionSchema(Schema):
    question = String(required=True, metadata={"description": "The question's key"})
    text = String(required=True, metadata={"description": "The question in the caller's language"})
    kind = String(required=True, metadata={"description": "scale (1-5), choice or text"})
    values = List(Raw(), required=True, metadata={"description": "The answers a scale or choice accepts"})
    labels = Dict(keys=String(), values=String(), required=True,
                  metadata={"description": "How values read (a scale's two ends, every choice)"})


class EvaluationFormSchema(Schema):
    enrolment_id = Integer(required=True)
    state = String(allow_none=True, required=True,
                   metadata={"description": "open (may be sent), done (sent), or null (the course is not completed)"})
    questions = List(Nested(QuestionSchema), required=True)
    submitted_at = DateTime(allow_none=True)
    answers = Dict(keys=String(), values=Raw(), allow_none=True,
                   metadata={"description": "The caller's own answers, once sent"})


class EvaluationInSchema(Schema):
    answers = Dict(keys=String(), values=Raw(allow_none=True), required=True, metadata={
        "description": ANSWERS_DOC,
        "example": {"relevance": 5, "usefulness": 4, "recommend": "yes", "change": "Ask open questions first."}})


class QuestionFiguresSchema(Schema):
    question = String(required=True, metadata={"description": "The question's key"})
    text = String(required=True, metadata={"description": "The question in the caller's language"})
    kind = String(required=True, metadata={"description": "scale, choice or text"})
    responses = published_count()
    suppressed = Boolean(required=True, metadata={
        "description": "Answered by fewer people than the small-cell threshold: only `responses` (\"<5\") is given"})
    mean = Float(allow_none=True, required=True, metadata={"description": "The mean rating to two decimals (scales)"})
    counts = Dict(keys=String(), values=Integer(), allow_none=True, required=True,
                  metadata={"description": "People per rating (\"1\"..\"5\") or per choice value"})
    labels = Dict(keys=String(), values=String(), required=True)
    answers = List(String(), allow_none=True, metadata={
        "description": "Text questions: the newest 500 answers, in alphabetical order, without names or dates"})


class EvaluationReportSchema(Schema):
    respondents = published_count()
    small_cell_threshold = Integer(required=True)
    questions = List(Nested(QuestionFiguresSchema), required=True)


def _form_body(enrolment) -> dict:
    evaluation = services.evaluation_of(enrolment.id)
    return {
        "enrolment_id": enrolment.id,
        "state": services.evaluation_state(enrolment),
        "questions": [{"question": q.key, "text": str(q.text), "kind": q.kind, "values": list(q.values),
                       "labels": report.labels_of(q)} for q in services.questions_for(enrolment)],
        "submitted_at": evaluation.submitted_at if evaluation else None,
        "answers": services.answers_as_data(evaluation) if evaluation else None,
    }


@bp.get("/enrolments/<int:enrolment_id>/evaluation")
@bp.auth_required(auth)
@bp.output(EvaluationFormSchema)
@bp.doc(summary="A completed enrolment's evaluation form (the learner)",
        description="The questions in the caller's language, and whether the evaluation is open or sent.",
        responses={401: "Not signed in", 404: "No such enrolment of the caller"})
def evaluation_form(enrolment_id: int):
    return _form_body(get_own_enrolment(current_api_user(), enrolment_id))


@bp.post("/enrolments/<int:enrolment_id>/evaluation")
@bp.auth_required(auth)
@bp.input(EvaluationInSchema, arg_name="data")
@bp.output(EvaluationFormSchema, status_code=201)
@bp.doc(summary="Send the evaluation of a completed enrolment (the learner)",
        description=ANSWERS_DOC + " Once per enrolment: a second one answers 409 and the first stands.",
        responses={401: "Not signed in", 404: "No such enrolment of the caller",
                   409: "Already evaluated (`already_evaluated`), or the course is not completed (`not_completed`)",
                   422: "An answer is invalid"})
def submit_evaluation(enrolment_id: int, data):
    enrolment = get_own_enrolment(current_api_user(), enrolment_id)
    services.submit_evaluation(enrolment, data["answers"], current_language(), strict=True)
    return _form_body(enrolment), 201


@bp.get("/reports/evaluations")
@bp.auth_required(auth, roles=["admin"])
@bp.input(FilterQuerySchema, location="query", arg_name="query")
@bp.output(EvaluationReportSchema)
@bp.doc(summary="Course evaluations, anonymous (admin)",
        description="Per question: how many answered, the mean and the count of each rating (scales), the count "
                    "of each choice, the free-text answers (without names). A question answered by fewer people "
                    "than the small-cell threshold shows only `\"<5\"`. The period is the UTC day each evaluation "
                    "was sent; the other filters are what the enrolment recorded. " + FILTERS_DOC,
        responses={401: "Not signed in", 403: "Not an admin", 422: "A filter is invalid"})
def evaluations_report(query):
    filters = requested_filters()
    return report.published(filters, reporting.small_cell_threshold(), with_texts=True)


@bp.get("/reports/evaluations.csv")
@bp.auth_required(auth, roles=["admin"])
@bp.input(FilterQuerySchema, location="query", arg_name="query")
@bp.output({}, content_type="text/csv",
           description="One row per question and answer value: count, answers and mean; suppressed figures as "
                       "\"<5\" and \"x\"; no free texts")
@bp.doc(summary="Course evaluations as CSV (admin)", description=FILTERS_DOC,
        responses={401: "Not signed in", 403: "Not an admin", 422: "A filter is invalid"})
def report_csv(query):
    filters = requested_filters()
    exports.audit_export(current_api_user().id, "csv", ("evaluation",), filters)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(report.csv_rows(report.published(filters, reporting.small_cell_threshold(),
                                                                  with_texts=False)))
    return csv_attachment(buffer.getvalue(), "evaluations.csv")
