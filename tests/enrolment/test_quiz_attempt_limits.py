"""Quiz attempts are limited per course, so the score shown cannot be used to find the answers by trial.

A course allows ``max_quiz_attempts`` attempts within any ``quiz_cooldown_minutes``
(defaults 3 per 60 minutes; null: no limit; 0 minutes: the limit is for good),
counted over every enrolment of the person in the course. Past it, the API
answers 429 ``too_many_attempts`` with ``retry_at`` and ``Retry-After``, the page
says when, and nothing is recorded.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from learning.enrolment import services
from learning.enrolment.models import Enrolment, QuizAttempt
from learning.extensions import db
from tests import factories_catalogue as fc
from tests.catalogue.test_catalogue_pages import sign_in, text


def attempts_of(user_id: int) -> int:
    return db.session.scalar(select(func.count(QuizAttempt.id)).join(Enrolment).where(Enrolment.user_id == user_id))


def age_attempts(minutes: int) -> None:
    """Move every attempt into the past, as if the learner had waited."""
    for attempt in db.session.scalars(select(QuizAttempt)):
        attempt.submitted_at -= timedelta(minutes=minutes)
    db.session.commit()


def test_a_new_course_allows_three_attempts_an_hour_by_default(api, make):
    admin = api.as_user(make.admin())
    body = admin.post("courses", json=make.course_data()).get_json()
    assert (body["max_quiz_attempts"], body["quiz_cooldown_minutes"]) == (3, 60)


def test_the_fourth_attempt_within_the_hour_is_refused_until_the_first_leaves_it(make):
    enrolment = make.enrolment(make.user(), make.course())
    for _ in range(3):
        assert services.submit_quiz(enrolment, fc.wrong_answers(enrolment.course)).passed is False
    db.session.commit()
    first = db.session.scalar(select(func.min(QuizAttempt.submitted_at)))
    with pytest.raises(services.QuizAttemptsExhausted) as refused:
        services.submit_quiz(enrolment, fc.right_answers(enrolment.course))
    assert refused.value.status == 429
    assert refused.value.extra["retry_at"] == (first + timedelta(minutes=60)).isoformat()
    assert services.quiz_wait(enrolment).retry_at == first + timedelta(minutes=60)
    age_attempts(61)
    assert services.quiz_wait(enrolment) is None
    assert services.submit_quiz(enrolment, fc.right_answers(enrolment.course)).passed is True


def test_leaving_and_enrolling_again_does_not_reset_the_count(make):
    learner = make.user()
    course = make.course(max_quiz_attempts=2)
    first = make.enrolment(learner, course)
    for _ in range(2):
        services.submit_quiz(first, fc.wrong_answers(course))
    services.withdraw(first)
    db.session.commit()
    again = make.enrolment(learner, course)
    with pytest.raises(services.QuizAttemptsExhausted):
        services.submit_quiz(again, fc.right_answers(course))


def test_a_cooldown_of_zero_makes_the_limit_final(make):
    enrolment = make.enrolment(make.user(), make.course(max_quiz_attempts=1, quiz_cooldown_minutes=0))
    services.submit_quiz(enrolment, fc.wrong_answers(enrolment.course))
    db.session.commit()
    age_attempts(60 * 24 * 365)
    wait = services.quiz_wait(enrolment)
    assert wait is not None and wait.retry_at is None
    with pytest.raises(services.QuizAttemptsExhausted) as refused:
        services.submit_quiz(enrolment, fc.right_answers(enrolment.course))
    assert refused.value.extra["retry_at"] is None and "Ask your trainer" in refused.value.message


def test_no_limit_when_the_course_says_so(make):
    enrolment = make.enrolment(make.user(), make.course(max_quiz_attempts=None))
    for _ in range(12):
        services.submit_quiz(enrolment, fc.wrong_answers(enrolment.course))
    assert services.submit_quiz(enrolment, fc.right_answers(enrolment.course)).passed is True


def test_the_api_answers_429_with_when_to_retry_and_records_nothing(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner, make.course(max_quiz_attempts=2, quiz_cooldown_minutes=30))
    client = api.as_user(learner)
    path = f"enrolments/{enrolment.id}/quiz-attempts"
    for _ in range(2):
        assert client.post(path, json={"answers": fc.wrong_answers(enrolment.course)}).status_code == 201
    refused = client.post(path, json={"answers": fc.right_answers(enrolment.course)})
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert error["code"] == "too_many_attempts" and error["allowed"] == 2
    retry_at = services.quiz_wait(db.session.get(Enrolment, enrolment.id)).retry_at
    assert error["retry_at"] == retry_at.isoformat() and "try again from" in error["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 30 * 60 + 1
    assert attempts_of(learner.id) == 2
    assert db.session.get(Enrolment, enrolment.id).status == "active"


def test_admins_set_the_limits_through_the_api_and_bad_values_are_refused(api, make):
    admin = api.as_user(make.admin())
    course = make.course()
    changed = admin.patch(f"courses/{course.slug}", json={"max_quiz_attempts": None, "quiz_cooldown_minutes": 0})
    assert changed.status_code == 200
    assert (changed.get_json()["max_quiz_attempts"], changed.get_json()["quiz_cooldown_minutes"]) == (None, 0)
    bad = admin.patch(f"courses/{course.slug}", json={"max_quiz_attempts": 0, "quiz_cooldown_minutes": -5})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"max_quiz_attempts", "quiz_cooldown_minutes"}
    assert admin.get(f"courses/{course.slug}").get_json()["max_quiz_attempts"] is None


def test_the_openapi_document_describes_the_limits(api):
    spec = api.get("openapi.json").get_json()
    attempts = spec["paths"]["/api/v1/enrolments/{enrolment_id}/quiz-attempts"]["post"]
    assert "429" in attempts["responses"]
    patch = spec["paths"]["/api/v1/courses/{slug}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    patch = spec["components"]["schemas"][patch["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert {"max_quiz_attempts", "quiz_cooldown_minutes"} <= set(patch)


def test_the_quiz_page_says_when_the_learner_can_try_again(client, make):
    learner = make.user()
    course = make.course(max_quiz_attempts=1, quiz_cooldown_minutes=45)
    enrolment = make.enrolment(learner, course)
    sign_in(client, learner)
    page = text(client.get(f"/learning/{enrolment.id}/quiz"))
    assert "Attempts allowed: 1 every 45 minutes." in page
    services.submit_quiz(enrolment, fc.wrong_answers(course))
    db.session.commit()
    page = client.get(f"/learning/{enrolment.id}/quiz")
    body = text(page)
    assert page.status_code == 200 and 'id="quiz-wait"' in body and "You can try again from" in body
    assert 'id="quiz-form"' not in body


def test_admins_set_the_limits_with_the_course_form(client, make):
    from learning.catalogue.models import Course
    from tests.catalogue.test_catalogue_pages import course_form

    sign_in(client, make.admin())
    assert 'name="max_quiz_attempts"' in text(client.get("/admin/courses/new"))
    response = client.post("/admin/courses/new", data=course_form(max_quiz_attempts="5", quiz_cooldown_minutes="120"))
    assert response.status_code == 302
    course = db.session.scalars(select(Course)).one()
    assert (course.max_quiz_attempts, course.quiz_cooldown_minutes) == (5, 120)
    edit = text(client.get(f"/admin/courses/{course.slug}/edit"))
    assert 'name="max_quiz_attempts"' in edit and 'value="5"' in edit
    refused = client.post("/admin/courses/new", data=course_form(slug="other", max_quiz_attempts="0"))
    assert refused.status_code == 422 and "from 1 to 1000" in text(refused)
