"""The rules of a course's knowledge tests: authoring them, and taking each once.

* A course has no tests, or a **pre-test** and a **post-test**. The post-test asks the pre-test's
  questions again (``same_as_pre``) or parallel questions of its own.
* The pre-test is offered when the learner starts and may be skipped; it is accepted until the
  post-test is taken. A pre-test after the post-test is refused (409 ``pre_test_after_post_test``):
  it would not measure what the learner knew before the course.
* The post-test opens once every lesson is done (the enrolment active or already completed) and is
  not a completion requirement: the course's quiz and certificate do not wait for it.
* One scored attempt per enrolment and test (a unique constraint backs the check); answers are
  scored on the server and which choices are right is never sent. A question left unanswered
  counts as wrong; an unknown question or choice is a 422 and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from learning.assessment.models import (
    KINDS,
    KnowledgeChoice,
    KnowledgeQuestion,
    KnowledgeTest,
    KnowledgeTestAttempt,
)
from learning.audit.services import record as audit
from learning.catalogue.models import Course
from learning.catalogue.questions import score_answers
from learning.catalogue.validation import CourseErrors
from learning.catalogue.validation import (
    validate_quiz as validate_questions,  # the quiz's rules, one place
)
from learning.enrolment.models import Enrolment
from learning.enrolment.services import completed_lesson_ids, course_outline
from learning.errors import Conflict, NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow


class TestAlreadyTaken(Conflict):
    code = "already_taken"


class PreTestAfterPostTest(Conflict):
    code = "pre_test_after_post_test"


class PostTestNotYet(Conflict):
    code = "post_test_not_open"


class TestNotOpen(Conflict):
    code = "enrolment_not_active"


# --- authoring -------------------------------------------------------------------------------

def tests_of(course_id: int) -> dict[str, KnowledgeTest]:
    """The course's tests by kind (empty when it has none)."""
    return {test.kind: test for test in db.session.scalars(
        select(KnowledgeTest).where(KnowledgeTest.course_id == course_id))}


def questions_of(kind: str, tests: dict[str, KnowledgeTest]) -> list[KnowledgeQuestion]:
    """The questions a test asks: a post-test ``same_as_pre`` asks the pre-test's."""
    test = tests.get(kind)
    if test is None:
        return []
    if kind == "post" and test.same_as_pre and "pre" in tests:
        return list(tests["pre"].questions)
    return list(test.questions)


def definition_of(course_id: int, *, with_answers: bool = True) -> dict:
    """The tests in the API's shape: ``{pre: {questions}, post: {same_as_pre, questions}}`` or nulls."""
    tests = tests_of(course_id)
    result: dict = {}
    for kind in KINDS:
        test = tests.get(kind)
        if test is None:
            result[kind] = None
            continue
        questions = [] if test.same_as_pre else questions_of(kind, tests)
        result[kind] = {"questions": [_question_body(q, with_answers) for q in questions]}
        if kind == "post":
            result[kind]["same_as_pre"] = test.same_as_pre
    return result


def _question_body(question: KnowledgeQuestion, with_answers: bool) -> dict:
    choices = []
    for choice in question.choices:
        body = {"id": choice.id, "text": choice.text, "translations": choice.translations or {}}
        if with_answers:
            body["correct"] = choice.correct
        choices.append(body)
    return {"id": question.id, "text": question.text, "translations": question.translations or {},
            "choices": choices}


def validate_definition(data) -> dict:
    """Check a tests definition; every problem named by its path (``pre.questions.0.text``) in one 422."""
    errors = CourseErrors()
    clean: dict = {"pre": None, "post": None}
    if not isinstance(data, dict) or not set(data) <= {"pre", "post"}:
        errors.add("_schema", _('Send an object with "pre" and "post" (each an object, or null).'))
        raise ValidationFailed(_("The knowledge tests are invalid."), dict(errors))
    for kind in KINDS:
        value = data.get(kind)
        if value is None:
            continue
        if not isinstance(value, dict):
            errors.add(kind, _("Must be an object with questions, or null."))
            continue
        if kind == "post" and value.get("same_as_pre") is not None and not isinstance(value["same_as_pre"], bool):
            errors.add("post.same_as_pre", _("Must be true or false."))
            continue
        if kind == "post" and value.get("same_as_pre"):
            if value.get("questions"):
                errors.add("post.questions", _("A post-test that repeats the pre-test has no questions of its own."))
            clean["post"] = {"same_as_pre": True, "questions": []}
            continue
        found = CourseErrors()
        checked = validate_questions(found, {"questions": value.get("questions")})
        for path, messages in found.items():
            for message in messages:
                errors.add(f"{kind}.{path.removeprefix('quiz.')}", message)
        if checked is not None:
            clean[kind] = {"same_as_pre": False, "questions": checked["questions"]}
    if clean["pre"] is not None and data.get("post", "absent") == "absent":
        clean["post"] = {"same_as_pre": True, "questions": []}  # by default the post-test repeats the pre-test
    if not errors:
        if clean["post"] is not None and clean["pre"] is None:
            errors.add("pre", _("A post-test needs a pre-test to compare with."))
        elif clean["pre"] is not None and clean["post"] is None:
            errors.add("post", _("A pre-test needs a post-test: give its questions, or repeat the pre-test's."))
    if errors:
        raise ValidationFailed(_("The knowledge tests are invalid."), dict(errors))
    return clean


def set_tests(actor_id: int | None, course: Course, data) -> dict[str, KnowledgeTest]:
    """Replace the course's tests with ``data`` (both null: the course has none). Attempts already
    made keep their scores; the test rows are kept, so a learner's attempts stay attached to them."""
    clean = validate_definition(data)
    tests = tests_of(course.id)
    for kind in KINDS:
        wanted, test = clean[kind], tests.get(kind)
        if wanted is None:
            if test is not None:
                db.session.delete(test)
                del tests[kind]
            continue
        if test is None:
            test = tests[kind] = KnowledgeTest(course_id=course.id, kind=kind)
            db.session.add(test)
        test.same_as_pre = wanted["same_as_pre"]
        test.questions = [
            KnowledgeQuestion(position=q_index, text=q["text"], translations=q["translations"], choices=[
                KnowledgeChoice(position=c_index, text=c["text"], correct=c["correct"], translations=c["translations"])
                for c_index, c in enumerate(q["choices"])])
            for q_index, q in enumerate(wanted["questions"])
        ]
    db.session.flush()
    audit(actor_id, "course.knowledge_tests_set", "course", course.id,
          pre=clean["pre"] is not None, same_as_pre=bool(clean["post"] and clean["post"]["same_as_pre"]))
    return tests


# --- taking them ---------------------------------------------------------------------------------

def attempts_of(enrolment: Enrolment) -> dict[str, KnowledgeTestAttempt]:
    return {a.kind: a for a in db.session.scalars(
        select(KnowledgeTestAttempt).where(KnowledgeTestAttempt.enrolment_id == enrolment.id))}


@dataclass(frozen=True)
class TestState:
    """Where a learner stands with one of the course's tests."""

    kind: str
    exists: bool
    attempt: KnowledgeTestAttempt | None
    open: bool
    reason: str | None  # why it is not open, in the reader's language


def _lessons_done(enrolment: Enrolment) -> bool:
    return set(course_outline(enrolment.course_id).lesson_ids) <= completed_lesson_ids(enrolment)


def states_of(enrolment: Enrolment) -> dict[str, TestState]:
    """The pre-test's and post-test's state for this enrolment."""
    tests, attempts = tests_of(enrolment.course_id), attempts_of(enrolment)
    states = {}
    for kind in KINDS:
        reason = None
        if kind not in tests:
            reason = _("This course has no such test.")
        elif kind in attempts:
            reason = _("You have already taken this test.")
        elif enrolment.status == "withdrawn":
            reason = _("This enrolment is withdrawn.")
        elif kind == "pre" and "post" in attempts:
            reason = _("You have taken the post-test: a pre-test now would not show what you knew before the course.")
        elif kind == "pre" and enrolment.status != "active":
            reason = _("This enrolment is completed.")
        elif kind == "post" and not _lessons_done(enrolment):
            reason = _("The post-test opens when you have done every lesson.")
        states[kind] = TestState(kind, kind in tests, attempts.get(kind), reason is None, reason)
    return states


def _lock(enrolment: Enrolment) -> None:
    """Serialise a learner's tests on one enrolment, so that a pre-test and a post-test sent at
    the same moment are ordered (a row lock on PostgreSQL; SQLite serialises writers anyway)."""
    db.session.execute(select(Enrolment.id).where(Enrolment.id == enrolment.id).with_for_update())


def submit_test(enrolment: Enrolment, kind: str, answers, *, at: datetime | None = None) -> KnowledgeTestAttempt:
    """Score the answers on the server and record the one attempt of this enrolment at this test."""
    if kind not in KINDS:
        raise NotFound(_("No such test."))
    _lock(enrolment)
    tests = tests_of(enrolment.course_id)
    if kind not in tests:
        raise NotFound(_("This course has no such test."))
    state = states_of(enrolment)[kind]
    if not state.open:
        if state.attempt is not None:
            raise TestAlreadyTaken(state.reason)
        if kind == "pre" and "post" in attempts_of(enrolment):
            raise PreTestAfterPostTest(state.reason)
        if kind == "post" and enrolment.status != "withdrawn":
            raise PostTestNotYet(state.reason)
        raise TestNotOpen(state.reason)
    return record_attempt(enrolment, kind, answers, at=at, tests=tests)


def record_attempt(enrolment: Enrolment, kind: str, answers, *, at: datetime | None = None,
                   tests: dict[str, KnowledgeTest] | None = None) -> KnowledgeTestAttempt:
    """Score and record an attempt without the checks of when a test is open (``submit_test`` makes
    them): for results of the past loaded as history, such as the demo's. Still one per enrolment."""
    tests = tests_of(enrolment.course_id) if tests is None else tests
    questions = {q.id: q for q in questions_of(kind, tests)}
    scored = score_answers(answers, questions, not_asked=_l("Not a question of this test."))
    attempt = KnowledgeTestAttempt(
        enrolment_id=enrolment.id, kind=kind, submitted_at=at or utcnow(), correct=scored.correct,
        questions=scored.questions, score=scored.percent, answers=scored.answers_as_data())
    db.session.add(attempt)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the same test sent twice at once
        raise TestAlreadyTaken(_("You have already taken this test.")) from exc
    return attempt


def pending_test(enrolment: Enrolment) -> str | None:
    """The test to offer the learner next, if any: the pre-test before the first lesson is done,
    the post-test once every lesson is (both can be skipped; the next step then moves on)."""
    if enrolment.status == "withdrawn":
        return None
    tests = tests_of(enrolment.course_id)
    if not tests:
        return None
    states = states_of(enrolment)
    if enrolment.status == "active" and states["pre"].open and not completed_lesson_ids(enrolment):
        return "pre"
    if states["post"].open:
        return "post"
    return None


def learner_gain(enrolment: Enrolment) -> int | None:
    """The learner's own gain on this course (post-test score minus pre-test score, in points)."""
    attempts = attempts_of(enrolment)
    if "pre" in attempts and "post" in attempts:
        return attempts["post"].score - attempts["pre"].score
    return None
