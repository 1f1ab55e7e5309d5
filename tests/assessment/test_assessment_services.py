"""The rules of knowledge tests: authoring, when each test opens, one scored attempt each."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from learning.assessment import services
from learning.assessment.models import KnowledgeQuestion, KnowledgeTest, KnowledgeTestAttempt
from learning.enrolment.services import submit_quiz, withdraw
from learning.errors import ValidationFailed
from learning.extensions import db
from tests import factories_assessment as fa


def attempts() -> int:
    return db.session.scalar(select(func.count()).select_from(KnowledgeTestAttempt))


def test_a_post_test_repeats_the_pre_test_unless_given_parallel_questions(make):
    same, parallel = make.course(), make.course()
    fa.give_tests(same, pre=3)
    fa.give_tests(parallel, pre=3, post=2)
    tests = services.tests_of(same.id)
    assert [q.id for q in services.questions_of("post", tests)] == [q.id for q in services.questions_of("pre", tests)]
    tests = services.tests_of(parallel.id)
    assert len(services.questions_of("post", tests)) == 2
    assert services.definition_of(same.id)["post"] == {"same_as_pre": True, "questions": []}
    assert len(services.definition_of(parallel.id)["post"]["questions"]) == 2


@pytest.mark.parametrize("data, field", [
    ({"post": {"same_as_pre": True}}, "pre"),
    ({"pre": {"questions": []}}, "pre.questions"),
    ({"pre": {"questions": [{"text": "Q", "choices": [{"text": "a", "correct": False},
                                                      {"text": "b", "correct": False}]}]}}, "pre.questions.0.choices"),
    ({"pre": fa.definition()["pre"], "post": None}, "post"),
    ({"pre": fa.definition()["pre"], "post": {"same_as_pre": "yes"}}, "post.same_as_pre"),
    ({"pre": fa.definition()["pre"], "post": {"same_as_pre": True, "questions": [fa.question(1)]}}, "post.questions"),
    ({"during": {}}, "_schema"),
    ([], "_schema"),
])
def test_a_bad_definition_is_refused_naming_the_field_and_changes_nothing(make, data, field):
    course = make.course()
    with pytest.raises(ValidationFailed) as error:
        services.set_tests(None, course, data)
    assert field in error.value.fields
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(KnowledgeTest)) == 0


def test_removing_the_tests_keeps_the_scores_already_recorded(make):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 2))
    services.set_tests(None, course, {"pre": None, "post": None})
    db.session.commit()
    assert services.tests_of(course.id) == {}
    assert db.session.scalar(select(func.count()).select_from(KnowledgeQuestion)) == 0
    assert attempts() == 1


def test_answers_are_scored_on_the_server_and_unanswered_questions_count_as_wrong(make):
    course = make.course()
    fa.give_tests(course, pre=4)
    enrolment = make.enrolment(make.user(), course)
    chosen = fa.answers(course.id, "pre", 3)
    chosen.pop(next(iter(chosen)))  # the first question (answered right) left out
    attempt = services.submit_test(enrolment, "pre", chosen)
    assert (attempt.correct, attempt.questions, attempt.score) == (2, 4, 50)


def test_each_test_is_taken_once(make):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 1))
    with pytest.raises(services.TestAlreadyTaken):
        services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 4))
    assert attempts() == 1


def test_the_post_test_opens_when_every_lesson_is_done_and_does_not_hold_up_completion(make):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    assert services.pending_test(enrolment) == "pre"
    with pytest.raises(services.PostTestNotYet):
        services.submit_test(enrolment, "post", fa.answers(course.id, "post", 4))
    fa.finish_lessons(enrolment)
    assert services.pending_test(enrolment) == "post"  # the pre-test is no longer pushed once lessons are done
    attempt = services.submit_test(enrolment, "post", fa.answers(course.id, "post", 4))
    assert attempt.score == 100 and enrolment.status == "active"  # the quiz still decides completion


def test_a_pre_test_after_the_post_test_is_refused(make):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    fa.finish_lessons(enrolment)
    services.submit_test(enrolment, "post", fa.answers(course.id, "post", 3))
    with pytest.raises(services.PreTestAfterPostTest) as error:
        services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 1))
    assert error.value.status == 409
    assert attempts() == 1 and services.learner_gain(enrolment) is None


def test_the_post_test_may_follow_completion_and_the_learner_sees_their_gain(make):
    course = make.course()
    fa.give_tests(course, pre=4, post=4)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 1))
    db.session.commit()
    fa.finish_lessons(enrolment)
    submit_quiz(enrolment, {str(q.id): next(c.id for c in q.choices if c.correct) for q in course.quiz.questions})
    assert enrolment.status == "completed"
    services.submit_test(enrolment, "post", fa.answers(course.id, "post", 3))
    assert services.learner_gain(enrolment) == 75 - 25


def test_a_withdrawn_enrolment_takes_no_test(make):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    withdraw(enrolment)
    with pytest.raises(services.TestNotOpen):
        services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 1))
    assert services.pending_test(enrolment) is None


@pytest.mark.parametrize("answers", [
    {"999999": 1}, {"abc": 1}, "not an object", {"QID": 999999}, {"QID": True}, {"QID": "1"},
])
def test_unknown_questions_or_choices_are_refused(make, answers):
    course = make.course()
    fa.give_tests(course)
    enrolment = make.enrolment(make.user(), course)
    qid = str(services.questions_of("pre", services.tests_of(course.id))[0].id)
    if isinstance(answers, dict):
        answers = {qid if key == "QID" else key: value for key, value in answers.items()}
    with pytest.raises(ValidationFailed):
        services.submit_test(enrolment, "pre", answers)
    assert attempts() == 0


def test_the_persons_data_export_holds_their_test_attempts(make):
    from learning.accounts.privacy import export_personal_data

    course = make.course()
    fa.give_tests(course)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 2))
    db.session.commit()
    exported = export_personal_data(learner)["knowledge_test_attempts"]
    assert [(a["kind"], a["score"]) for a in exported] == [("pre", 50)]


def test_an_erasure_keeps_the_attempts_as_anonymous_facts(make):
    from learning.accounts.privacy import erase_user

    course = make.course()
    fa.give_tests(course)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    services.submit_test(enrolment, "pre", fa.answers(course.id, "pre", 2))
    db.session.commit()
    erase_user(learner.id)
    db.session.commit()
    assert attempts() == 1  # like quiz attempts: hung off the kept enrolment, nothing personal in them
