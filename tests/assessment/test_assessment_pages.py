"""The pages: a learner takes the pre-test on starting and the post-test after the lessons; an
admin writes the tests; the dashboard shows the learning gain (test client, and one real browser)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from learning.assessment import services
from learning.assessment.models import KnowledgeTestAttempt
from learning.extensions import db
from tests import factories_assessment as fa
from tests import factories_catalogue as fc
from tests import factories_reporting as rf
from tests.assessment.test_assessment_api import pair
from tests.catalogue.test_catalogue_pages import sign_in, text
from tests.reporting.test_reporting_pages import sign_in as browser_sign_in


def form_answers(course_id: int, kind: str, right: int) -> dict[str, str]:
    return {f"q{qid}": str(choice) for qid, choice in fa.answers(course_id, kind, right).items()}


def test_a_learner_takes_the_pre_test_on_starting_and_the_post_test_after_the_lessons(client, make):
    course = make.course()
    fa.give_tests(course, pre=4)
    learner = make.user()
    sign_in(client, learner)
    response = client.post(f"/courses/{course.slug}/enrol")
    enrolment_id = int(re.search(r"/learning/(\d+)/tests/pre$", response.headers["Location"]).group(1))
    page = text(client.get(f"/learning/{enrolment_id}/tests/pre"))
    assert "Before the course" in page and "Skip this test" in page and "correct" not in page
    taken = client.post(f"/learning/{enrolment_id}/tests/pre", data=form_answers(course.id, "pre", 1))
    assert taken.status_code == 200 and "Your score: <bdi>25%</bdi>" in text(taken)
    first, second = fc.lesson_ids(course)
    assert f"/lessons/{first}" in text(taken)  # "Continue" leads to the first lesson
    client.post(f"/learning/{enrolment_id}/lessons/{first}/done")
    last = client.post(f"/learning/{enrolment_id}/lessons/{second}/done")
    assert last.headers["Location"].endswith(f"/learning/{enrolment_id}/tests/post")
    done = client.post(f"/learning/{enrolment_id}/tests/post", data=form_answers(course.id, "post", 3))
    page = text(done)
    assert "Your score: <bdi>75%</bdi>" in page and "50 points more than before the course" in page
    assert f"/learning/{enrolment_id}/quiz" in page  # then the quiz, which decides completion
    assert client.get(f"/learning/{enrolment_id}").headers["Location"].endswith(f"/learning/{enrolment_id}/quiz")


def test_skipping_the_pre_test_leads_to_the_lessons_and_it_is_not_pushed_again(client, make):
    course = make.course()
    fa.give_tests(course)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    sign_in(client, learner)
    page = text(client.get(f"/learning/{enrolment.id}/tests/pre"))
    first = fc.lesson_ids(course)[0]
    assert re.search(rf'href="/learning/{enrolment.id}/lessons/{first}" id="skip-test"', page)
    client.post(f"/learning/{enrolment.id}/lessons/{first}/done")
    assert "/lessons/" in client.get(f"/learning/{enrolment.id}").headers["Location"]


def test_a_pre_test_after_the_post_test_is_refused_on_the_page_too(client, make):
    course = make.course()
    fa.give_tests(course)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    fa.finish_lessons(enrolment)
    services.submit_test(enrolment, "post", fa.answers(course.id, "post", 2))
    db.session.commit()
    sign_in(client, learner)
    response = client.post(f"/learning/{enrolment.id}/tests/pre", data=form_answers(course.id, "pre", 4))
    assert response.status_code == 409
    assert "You have taken the post-test" in text(response)
    assert db.session.scalar(select(func.count()).select_from(KnowledgeTestAttempt)) == 1


def test_an_unanswered_question_is_asked_again_and_nothing_is_recorded(client, make):
    course = make.course()
    fa.give_tests(course, pre=2)
    learner = make.user()
    enrolment = make.enrolment(learner, course)
    sign_in(client, learner)
    answers = form_answers(course.id, "pre", 2)
    answers.pop(next(iter(answers)))
    response = client.post(f"/learning/{enrolment.id}/tests/pre", data=answers)
    assert response.status_code == 422 and "Choose an answer." in text(response)
    assert db.session.scalar(select(func.count()).select_from(KnowledgeTestAttempt)) == 0


def test_a_course_without_tests_or_an_unknown_test_is_not_found(client, make):
    learner = make.user()
    enrolment = make.enrolment(learner, make.course())
    sign_in(client, learner)
    assert client.get(f"/learning/{enrolment.id}/tests/pre").status_code == 404
    assert client.get(f"/learning/{enrolment.id}/tests/during").status_code == 404
    assert "/lessons/" in client.get(f"/learning/{enrolment.id}").headers["Location"]


def test_an_admin_writes_a_pre_test_that_the_post_test_repeats(client, make):
    course = make.course()
    sign_in(client, make.admin())
    assert 'id="knowledge-tests"' in text(client.get(f"/admin/courses/{course.slug}/edit"))
    response = client.post(f"/admin/courses/{course.slug}/knowledge-tests", data={
        "pre_questions-0-text": "What is grooming?",
        "pre_questions-0-choices-0-text": "Building trust to abuse", "pre_questions-0-choices-0-correct": "y",
        "pre_questions-0-choices-1-text": "A haircut",
        "post_mode": "same",
    })
    assert response.status_code == 302
    definition = services.definition_of(course.id)
    assert [q["text"] for q in definition["pre"]["questions"]] == ["What is grooming?"]
    assert definition["post"]["same_as_pre"] is True
    page = text(client.get(f"/admin/courses/{course.slug}/knowledge-tests"))
    assert "What is grooming?" in page and "A haircut" in page


def test_an_admins_bad_test_is_shown_with_its_errors_and_changes_nothing(client, make):
    course = make.course()
    sign_in(client, make.admin())
    response = client.post(f"/admin/courses/{course.slug}/knowledge-tests", data={
        "pre_questions-0-text": "No right answer?", "pre_questions-0-choices-0-text": "A",
        "pre_questions-0-choices-1-text": "B", "post_mode": "same"})
    assert response.status_code == 422 and "Mark at least one choice as correct." in text(response)
    assert services.tests_of(course.id) == {}


def test_the_dashboard_shows_the_learning_gain_with_a_text_alternative(client, make):
    course = rf.course("policing", "Investigating online abuse")
    for n in range(6):
        pair(rf.person("CO", "law_enforcement"), course, date(2024, 3, 1 + n), 40, 80)
    db.session.commit()
    sign_in(client, make.admin())
    page = text(client.get("/reports/"))
    assert 'id="gain-people">6<' in page and 'id="gain-gain">+40.0<' in page
    assert 'id="gain-country-table"' in page and "Colombia" in page
    assert "/api/v1/reports/learning-gain.csv?group_by=country" in page
    assert 'id="gain-people">0<' in text(client.get("/reports/?from=2025-01-01"))


@pytest.mark.browser
def test_the_dashboard_draws_the_learning_gain_chart(page, live_server, make):
    course = rf.course("policing", "Investigating online abuse")
    for n in range(6):
        pair(rf.person("CO", "law_enforcement"), course, date(2024, 3, 1 + n), 40, 75)
    for n in range(5):
        pair(rf.person("KE", "health"), course, date(2024, 4, 1 + n), 30, 60)
    db.session.commit()
    browser_sign_in(page, make.admin())
    page.goto("/reports/#learning-gain")
    page.wait_for_selector("#chart-gain-country[data-ready=true]")
    assert page.locator("#chart-gain-country").bounding_box()["height"] > 100
    assert page.locator("#gain-people").inner_text() == "11"
    # The learning-gain section's own table (other sections of the dashboard have theirs).
    page.locator("#learning-gain details.chart-table summary").click()
    table = page.locator("#gain-country-table").inner_text()
    assert "Colombia" in table and "Kenya" in table and "+35.0" in table and "+30.0" in table
