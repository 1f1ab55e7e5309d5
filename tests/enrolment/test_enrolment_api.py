"""The enrolment API: enrol, progress, lessons, quiz attempts, withdrawal; who may do what."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from learning.enrolment.models import Enrolment, LessonProgress, QuizAttempt
from learning.extensions import db
from tests import factories_catalogue as fc


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- POST /courses/<slug>/enrolments ------------------------------------------------------

def test_a_learner_enrols_and_gets_the_enrolment_with_its_progress(api, make):
    make.course(slug="first-steps")
    response = api.as_user(make.user(language="es")).post("courses/first-steps/enrolments")
    assert response.status_code == 201
    body = response.get_json()
    assert body["course"] == "first-steps" and body["status"] == "active"
    assert body["course_title"].startswith("Curso")  # the learner's language
    assert body["enrolled_at"].endswith("+00:00") and body["completed_at"] is None
    assert body["progress"]["completed_lessons"] == 0 and body["progress"]["total_lessons"] == 2
    assert body["progress"]["quiz_required"] is True and body["progress"]["quiz_passed"] is False


def test_enrolling_twice_is_409_and_keeps_one_enrolment(api, make):
    make.course(slug="once")
    learner = api.as_user(make.user())
    assert learner.post("courses/once/enrolments").status_code == 201
    response = learner.post("courses/once/enrolments")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "already_enrolled"
    assert count(Enrolment) == 1


def test_enrolling_needs_a_sign_in_and_a_published_course(api, make):
    make.course(slug="open")
    make.course(slug="draft", published=False)
    assert api.post("courses/open/enrolments").status_code == 401
    learner = api.as_user(make.user())
    assert learner.post("courses/draft/enrolments").status_code == 404
    assert learner.post("courses/no-such-course/enrolments").status_code == 404
    closed = api.as_user(make.admin()).post("courses/draft/enrolments")
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "not_enrollable"
    assert count(Enrolment) == 0


# --- GET /me/enrolments and /enrolments/<id> -------------------------------------------------

def test_my_enrolments_lists_only_mine_paginated_and_filtered(api, make):
    me, other = make.user(), make.user()
    first, second, third = make.course(), make.course(), make.course()
    make.enrolment(me, first)
    make.completed_enrolment(me, second)
    make.enrolment(other, third)
    client = api.as_user(me)
    body = client.get("me/enrolments").get_json()
    assert body["total"] == 2 and body["page"] == 1 and body["per_page"] == 50
    assert [item["course"] for item in body["items"]] == [first.slug, second.slug]  # active first
    completed = client.get("me/enrolments?status=completed").get_json()["items"]
    assert [item["course"] for item in completed] == [second.slug]
    assert completed[0]["progress"] == {"completed_lessons": 2, "total_lessons": 2, "quiz_required": True,
                                        "quiz_passed": True, "next_lesson_id": None,
                                        "completed_lesson_ids": fc.lesson_ids(second)}
    page_two = client.get("me/enrolments?per_page=1&page=2").get_json()
    assert page_two["total"] == 2 and [i["course"] for i in page_two["items"]] == [second.slug]


def test_my_enrolments_errors(api, make):
    assert api.get("me/enrolments").status_code == 401
    response = api.as_user(make.user()).get("me/enrolments?status=lost")
    assert response.status_code == 422 and "status" in response.get_json()["error"]["fields"]


def test_an_enrolment_is_readable_by_its_learner_and_admins_only(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    assert api.as_user(learner).get(f"enrolments/{enrolment.id}").get_json()["id"] == enrolment.id
    assert api.as_user(make.admin()).get(f"enrolments/{enrolment.id}").status_code == 200
    stranger = api.as_user(make.user()).get(f"enrolments/{enrolment.id}")
    assert stranger.status_code == 404 and stranger.get_json()["error"]["code"] == "not_found"
    assert api.as_user(make.trainer()).get(f"enrolments/{enrolment.id}").status_code == 404
    assert api.get(f"enrolments/{enrolment.id}").status_code == 401
    assert api.as_user(learner).get("enrolments/999999").status_code == 404


# --- lessons -------------------------------------------------------------------------------------

def test_completing_a_lesson_advances_progress_and_repeating_it_changes_nothing(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    first, second = fc.lesson_ids(enrolment.course)
    client = api.as_user(learner)
    response = client.post(f"enrolments/{enrolment.id}/lessons/{first}/complete")
    assert response.status_code == 200
    progress = response.get_json()["progress"]
    assert progress["completed_lessons"] == 1 and progress["next_lesson_id"] == second
    again = client.post(f"enrolments/{enrolment.id}/lessons/{first}/complete").get_json()
    assert again["progress"]["completed_lessons"] == 1
    assert count(LessonProgress) == 1


def test_only_the_learner_completes_lessons_and_only_of_their_course(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    lesson = fc.lesson_ids(enrolment.course)[0]
    other_course_lesson = fc.lesson_ids(make.course())[0]
    path = f"enrolments/{enrolment.id}/lessons/{lesson}/complete"
    assert api.post(path).status_code == 401
    assert api.as_user(make.user()).post(path).status_code == 404
    assert api.as_user(make.admin()).post(path).status_code == 404
    assert api.as_user(learner).post(f"enrolments/{enrolment.id}/lessons/{other_course_lesson}/complete").status_code == 404
    assert api.as_user(learner).post(f"enrolments/999999/lessons/{lesson}/complete").status_code == 404
    assert count(LessonProgress) == 0


def test_a_finished_enrolment_refuses_more_progress_with_409(api, make):
    learner = make.user()
    enrolment = make.completed_enrolment(learner)
    lesson = fc.lesson_ids(enrolment.course)[0]
    response = api.as_user(learner).post(f"enrolments/{enrolment.id}/lessons/{lesson}/complete")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "enrolment_not_active"


# --- the quiz --------------------------------------------------------------------------------------

def test_a_failed_then_a_passed_attempt_completes_the_course(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    client = api.as_user(learner)
    for lesson in fc.lesson_ids(enrolment.course):
        client.post(f"enrolments/{enrolment.id}/lessons/{lesson}/complete")
    failed = client.post(f"enrolments/{enrolment.id}/quiz-attempts", json={"answers": fc.wrong_answers(enrolment.course)})
    assert failed.status_code == 201
    assert failed.get_json()["score"] == 0 and failed.get_json()["passed"] is False
    assert failed.get_json()["enrolment_status"] == "active"
    assert "correct" not in failed.get_data(as_text=True)
    passed = client.post(f"enrolments/{enrolment.id}/quiz-attempts", json={"answers": fc.right_answers(enrolment.course)})
    assert passed.status_code == 201
    assert passed.get_json()["score"] == 100 and passed.get_json()["passed"] is True
    assert passed.get_json()["enrolment_status"] == "completed"
    body = client.get(f"enrolments/{enrolment.id}").get_json()
    assert body["status"] == "completed" and body["completed_at"].endswith("+00:00")


def test_the_score_is_the_servers_whatever_the_client_claims(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    answers = fc.right_answers(enrolment.course)
    first_question = next(iter(answers))
    answers[first_question] = fc.wrong_answers(enrolment.course)[first_question]
    response = api.as_user(learner).post(f"enrolments/{enrolment.id}/quiz-attempts",
                                         json={"answers": answers, "score": 100, "passed": True})
    assert response.get_json()["score"] == 50 and response.get_json()["passed"] is True  # pass mark is 50


def test_bad_answers_are_422_naming_them_and_store_no_attempt(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    client = api.as_user(learner)
    question = next(iter(fc.right_answers(enrolment.course)))
    path = f"enrolments/{enrolment.id}/quiz-attempts"
    response = client.post(path, json={"answers": {question: 999999, "abc": 1, "424242": 1}})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {f"answers.{question}", "answers.abc", "answers.424242"}
    assert client.post(path, json={"answers": [1, 2]}).status_code == 422
    assert client.post(path, json={}).get_json()["error"]["fields"] == {"answers": ["This field is required."]}
    assert client.post(path).status_code == 422
    malformed = client.request("POST", path, data="{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    assert count(QuizAttempt) == 0


def test_quiz_attempts_are_the_learners_alone(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    body = {"answers": fc.right_answers(enrolment.course)}
    path = f"enrolments/{enrolment.id}/quiz-attempts"
    assert api.post(path, json=body).status_code == 401
    assert api.as_user(make.user()).post(path, json=body).status_code == 404
    assert count(QuizAttempt) == 0


def test_a_course_without_a_quiz_has_no_attempts(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner, make.course(quiz=None))
    response = api.as_user(learner).post(f"enrolments/{enrolment.id}/quiz-attempts", json={"answers": {}})
    assert response.status_code == 404


# --- withdrawal --------------------------------------------------------------------------------------

def test_withdrawing_keeps_the_history_and_allows_enrolling_again(api, make):
    learner = make.user()
    course = make.course(slug="try-again")
    enrolment = make.enrolment(learner, course)
    client = api.as_user(learner)
    client.post(f"enrolments/{enrolment.id}/lessons/{fc.lesson_ids(course)[0]}/complete")
    response = client.post(f"enrolments/{enrolment.id}/withdraw")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "withdrawn" and body["withdrawn_at"].endswith("+00:00")
    assert body["progress"]["completed_lessons"] == 1
    assert client.post(f"enrolments/{enrolment.id}/withdraw").status_code == 409
    again = client.post("courses/try-again/enrolments")
    assert again.status_code == 201 and again.get_json()["progress"]["completed_lessons"] == 0
    assert count(Enrolment) == 2


def test_only_the_learner_withdraws(api, make):
    enrolment = make.enrolment(make.user())
    assert api.post(f"enrolments/{enrolment.id}/withdraw").status_code == 401
    assert api.as_user(make.user()).post(f"enrolments/{enrolment.id}/withdraw").status_code == 404
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "active"


def test_the_openapi_document_describes_enrolment(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/courses/{slug}/enrolments"]
    assert "get" in paths["/api/v1/me/enrolments"] and "get" in paths["/api/v1/enrolments/{enrolment_id}"]
    complete = paths["/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete"]["post"]
    assert {"200", "401", "404", "409"} <= set(complete["responses"])
    attempts = paths["/api/v1/enrolments/{enrolment_id}/quiz-attempts"]["post"]
    assert {"201", "400", "401", "404", "409", "422"} <= set(attempts["responses"])
    assert "post" in paths["/api/v1/enrolments/{enrolment_id}/withdraw"]
    result = spec["components"]["schemas"]["QuizResultSchema"]["properties"]
    assert {"score", "passed"} <= set(result) and "correct" not in json.dumps(result)
