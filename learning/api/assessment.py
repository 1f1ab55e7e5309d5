"""Knowledge tests API: a course's pre-test and post-test (admins author them), and taking them
(the learner, once each, scored on the server). Rules: ``learning.assessment.services``."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from flask_babel import gettext as _
from marshmallow import missing

from learning.api.auth import auth, current_api_user
from learning.api.catalogue import QuestionInSchema
from learning.api.schemas import JsonBoolean
from learning.assessment import services
from learning.assessment.models import KINDS
from learning.catalogue.services import get_course, localised
from learning.enrolment.models import Enrolment
from learning.enrolment.services import get_own_enrolment
from learning.errors import NotFound, ValidationFailed

bp = APIBlueprint("api_assessment", __name__, url_prefix="/api/v1", tag="Knowledge tests")

ADMIN_ERRORS = {401: "Not signed in", 403: "Not an admin"}
KIND_DOC = {"description": "pre or post", "enum": list(KINDS)}


class PreTestInSchema(Schema):
    questions = List(Nested(QuestionInSchema), required=True)


class PostTestInSchema(Schema):
    same_as_pre = JsonBoolean(metadata={"description": "Ask the pre-test's questions again (then no questions)"})
    questions = List(Nested(QuestionInSchema), metadata={"description": "Parallel questions of its own"})


class KnowledgeTestsInSchema(Schema):
    pre = Nested(PreTestInSchema, allow_none=True, metadata={"description": "null: the course has no tests"})
    post = Nested(PostTestInSchema, allow_none=True, metadata={
        "description": "Left out: the post-test repeats the pre-test"})


class ChoiceAdminSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)
    correct = Boolean(required=True)
    translations = Dict(keys=String(), values=Dict(keys=String(), values=String()))


class QuestionAdminSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)
    translations = Dict(keys=String(), values=Dict(keys=String(), values=String()))
    choices = List(Nested(ChoiceAdminSchema), required=True)


class PreTestOutSchema(Schema):
    questions = List(Nested(QuestionAdminSchema), required=True)


class PostTestOutSchema(PreTestOutSchema):
    same_as_pre = Boolean(required=True)


class KnowledgeTestsSchema(Schema):
    pre = Nested(PreTestOutSchema, allow_none=True, required=True)
    post = Nested(PostTestOutSchema, allow_none=True, required=True)


class TestChoiceOutSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)


class TestQuestionOutSchema(Schema):
    id = Integer(required=True)
    text = String(required=True)
    choices = List(Nested(TestChoiceOutSchema), required=True)


class AttemptSchema(Schema):
    kind = String(required=True, metadata=KIND_DOC)
    score = Integer(required=True, metadata={"description": "Percent of the questions answered right, 0-100"})
    correct = Integer(required=True)
    questions = Integer(required=True)
    submitted_at = DateTime(required=True)


class TestStateSchema(Schema):
    kind = String(required=True, metadata=KIND_DOC)
    open = Boolean(required=True, metadata={"description": "Whether the learner may take it now"})
    reason = String(allow_none=True, required=True, metadata={"description": "Why it is not open"})
    attempt = Nested(AttemptSchema, allow_none=True, required=True)
    questions = List(Nested(TestQuestionOutSchema), required=True,
                     metadata={"description": "In the caller's language; which choices are right is never sent"})


class EnrolmentTestsSchema(Schema):
    enrolment_id = Integer(required=True)
    tests = List(Nested(TestStateSchema), required=True, metadata={"description": "Empty: the course has none"})
    gain = Integer(allow_none=True, required=True,
                   metadata={"description": "Post-test score minus pre-test score, once both are taken"})


class AnswersSchema(Schema):
    answers = Dict(keys=String(), values=Integer(), required=True,
                   metadata={"description": "Question id to the chosen choice id", "example": {"12": 40}})


class AttemptResultSchema(AttemptSchema):
    gain = Integer(allow_none=True, required=True, metadata={"description": "After the post-test, when the "
                                                                            "pre-test was taken: the difference"})


def attempt_body(attempt) -> dict:
    return {"kind": attempt.kind, "score": attempt.score, "correct": attempt.correct,
            "questions": attempt.questions, "submitted_at": attempt.submitted_at}


def enrolment_tests(enrolment: Enrolment, language: str | None) -> dict:
    """Where the learner stands with the course's tests, and their questions in ``language``."""
    tests = services.tests_of(enrolment.course_id)
    base = enrolment.course.language

    def text(item, field: str) -> str:
        return localised(item, field, language, base)

    states = services.states_of(enrolment) if tests else {}
    return {
        "enrolment_id": enrolment.id,
        "tests": [{
            "kind": kind, "open": state.open, "reason": state.reason,
            "attempt": attempt_body(state.attempt) if state.attempt else None,
            "questions": [{"id": q.id, "text": text(q, "text"),
                           "choices": [{"id": c.id, "text": text(c, "text")} for c in q.choices]}
                          for q in services.questions_of(kind, tests)] if state.open else [],
        } for kind, state in states.items()],
        "gain": services.learner_gain(enrolment),
    }


@bp.get("/courses/<slug>/knowledge-tests")
@bp.auth_required(auth, roles=["admin"])
@bp.output(KnowledgeTestsSchema)
@bp.doc(summary="A course's pre-test and post-test, with the right answers (admin)",
        responses={**ADMIN_ERRORS, 404: "No such course"})
def get_tests(slug: str):
    return services.definition_of(get_course(slug).id)


@bp.put("/courses/<slug>/knowledge-tests")
@bp.auth_required(auth, roles=["admin"])
@bp.input(KnowledgeTestsInSchema, arg_name="data", validation=False)
@bp.output(KnowledgeTestsSchema)
@bp.doc(summary="Set a course's pre-test and post-test (admin)",
        description="`{pre: {questions}, post: {same_as_pre: true} or {questions}}`; both null removes them. "
                    "Questions have the quiz's shape (text, choices with `correct`, translations). Scores "
                    "already recorded are kept.",
        responses={**ADMIN_ERRORS, 404: "No such course", 422: "Invalid fields, each named by its path"})
def put_tests(slug: str, data):
    course = get_course(slug)
    services.set_tests(current_api_user().id, course, None if data is missing else data)
    return services.definition_of(course.id)


@bp.get("/enrolments/<int:enrolment_id>/knowledge-tests")
@bp.auth_required(auth)
@bp.output(EnrolmentTestsSchema)
@bp.doc(summary="The learner's pre-test and post-test: whether each is open, its questions, the scores",
        responses={401: "Not signed in", 404: "No such enrolment"})
def my_tests(enrolment_id: int):
    user = current_api_user()
    return enrolment_tests(get_own_enrolment(user, enrolment_id), user.language)


@bp.post("/enrolments/<int:enrolment_id>/knowledge-tests/<kind>/attempts")
@bp.auth_required(auth)
@bp.input(AnswersSchema, arg_name="data", validation=False)
@bp.output(AttemptResultSchema, status_code=201)
@bp.doc(summary="Take the pre-test or the post-test (the learner), once; scored on the server",
        description="`kind` is `pre` or `post`. A question left out counts as wrong. The pre-test is "
                    "refused once the post-test is taken (409 `pre_test_after_post_test`); the post-test "
                    "opens when every lesson is done (409 `post_test_not_open`); a second attempt is 409 "
                    "`already_taken`.",
        responses={401: "Not signed in", 404: "No such enrolment, or the course has no such test",
                   409: "Taken already, not open yet, pre-test after the post-test, or enrolment withdrawn",
                   422: "Unknown questions or choices"})
def take_test(enrolment_id: int, kind: str, data):
    enrolment = get_own_enrolment(current_api_user(), enrolment_id)
    if kind not in KINDS:
        raise NotFound(_("No such test."))
    if data is missing or not isinstance(data, dict) or "answers" not in data:
        raise ValidationFailed(_("Send the answers as {\"answers\": {\"<question_id>\": <choice_id>}}."),
                               {"answers": [_("This field is required.")]})
    attempt = services.submit_test(enrolment, kind, data["answers"])
    return {**attempt_body(attempt), "gain": services.learner_gain(enrolment) if kind == "post" else None}
