"""The learner's pages: enrol, lessons, the quiz, My learning, withdrawal."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from learning.enrolment.models import Enrolment, QuizAttempt
from learning.extensions import db
from tests import factories_catalogue as fc
from tests.catalogue.test_catalogue_pages import sign_in, text


def test_enrolling_from_the_course_page_leads_to_the_first_lesson(client, make):
    learner, course = make.user(), make.course()
    sign_in(client, learner)
    response = client.post(f"/courses/{course.slug}/enrol")
    enrolment = db.session.scalars(select(Enrolment)).one()
    first = fc.lesson_ids(course)[0]
    assert response.headers["Location"].endswith(f"/learning/{enrolment.id}/lessons/{first}")
    assert enrolment.country == learner.country and enrolment.sector == learner.sector


def test_enrolling_twice_explains_and_changes_nothing(client, make):
    learner, course = make.user(), make.course()
    make.enrolment(learner, course)
    sign_in(client, learner)
    response = client.post(f"/courses/{course.slug}/enrol", headers={"Referer": f"/courses/{course.slug}"},
                           follow_redirects=True)
    assert "You are already enrolled in this course." in text(response)
    assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 1


def test_a_lesson_renders_its_markdown_safely_and_leads_to_the_next(client, make):
    learner = make.user()
    data = make.course_data()
    data["modules"][0]["lessons"][0]["body"] = "# Signs\n\nWatch for **gifts**.<script>alert(1)</script>"
    enrolment = make.enrolment(learner, make.course(**data))
    first, second = fc.lesson_ids(enrolment.course)
    sign_in(client, learner)
    page = text(client.get(f"/learning/{enrolment.id}/lessons/{first}"))
    assert "<h1>Signs</h1>" in page and "<strong>gifts</strong>" in page and "alert(1)" not in page
    assert "Mark as done and continue" in page
    response = client.post(f"/learning/{enrolment.id}/lessons/{first}/done")
    assert response.headers["Location"].endswith(f"/learning/{enrolment.id}/lessons/{second}")
    last = client.post(f"/learning/{enrolment.id}/lessons/{second}/done")
    assert last.headers["Location"].endswith(f"/learning/{enrolment.id}/quiz")


def test_someone_elses_enrolment_is_not_found(client, make):
    enrolment = make.enrolment(make.user())
    lesson = fc.lesson_ids(enrolment.course)[0]
    sign_in(client, make.user())
    assert client.get(f"/learning/{enrolment.id}/lessons/{lesson}").status_code == 404
    assert client.post(f"/learning/{enrolment.id}/lessons/{lesson}/done").status_code == 404
    assert client.get(f"/learning/{enrolment.id}/quiz").status_code == 404
    assert client.post(f"/learning/{enrolment.id}/withdraw").status_code == 404
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "active"


def test_the_learners_pages_need_a_sign_in(client, make):
    enrolment = make.enrolment(make.user())
    for path in ("/learning/", f"/learning/{enrolment.id}/quiz"):
        response = client.get(path)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_the_quiz_page_never_reveals_the_right_answers(client, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    sign_in(client, learner)
    page = text(client.get(f"/learning/{enrolment.id}/quiz"))
    assert "Is this right?" in page and "And this?" in page
    assert "correct" not in page.lower()
    # Each choice is only an id: nothing tells the right one from the others.
    inputs = re.findall(r'<input[^>]*type="radio"[^>]*>', page)
    assert len(inputs) == 4 and all(set(re.findall(r'(\w[\w-]*)=', i)) <= {"id", "name", "required", "type", "value"}
                                    for i in inputs)


def test_a_failed_quiz_shows_the_score_and_lets_the_learner_retry_then_pass(client, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    course = enrolment.course
    sign_in(client, learner)
    for lesson in fc.lesson_ids(course):
        client.post(f"/learning/{enrolment.id}/lessons/{lesson}/done")

    def form(answers):
        return {f"q{question}": str(choice) for question, choice in answers.items()}

    failed = text(client.post(f"/learning/{enrolment.id}/quiz", data=form(fc.wrong_answers(course))))
    assert "Your score: <bdi>0%</bdi>" in failed and "You did not reach the pass mark of <bdi>50%</bdi>" in failed
    assert 'id="submit-quiz"' in failed and "Try again" in failed
    passed = text(client.post(f"/learning/{enrolment.id}/quiz", data=form(fc.right_answers(course))))
    assert "Your score: <bdi>100%</bdi>" in passed and "You passed." in passed
    assert "You completed this course on" in passed
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 2


def test_an_unanswered_quiz_asks_for_answers_and_records_nothing(client, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    sign_in(client, learner)
    response = client.post(f"/learning/{enrolment.id}/quiz", data={})
    assert response.status_code == 422 and text(response).count("Choose an answer.") == 2
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 0


def test_my_learning_shows_progress_next_lesson_and_completed_courses(client, make):
    learner = make.user()
    doing = make.enrolment(learner, make.course(title="Course in progress"))
    make.completed_enrolment(learner, make.course(title="Course finished"))
    sign_in(client, learner)
    client.post(f"/learning/{doing.id}/lessons/{fc.lesson_ids(doing.course)[0]}/done")
    page = text(client.get("/learning/"))
    in_progress, completed = page.split('id="completed"')
    assert "Course in progress" in in_progress and '<progress max="2" value="1"' in in_progress
    assert "Next:" in in_progress and "Lesson two" in in_progress
    assert "Course finished" in completed and "Completed on" in completed


def test_withdrawing_from_my_learning_keeps_the_history(client, make):
    learner = make.user()
    enrolment = make.enrolment(learner, make.course(title="Left behind"))
    sign_in(client, learner)
    response = client.post(f"/learning/{enrolment.id}/withdraw", follow_redirects=True)
    page = text(response)
    assert "You have left the course" in page
    assert 'id="withdrawn"' in page and "Left behind" in page.split('id="withdrawn"')[1]
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "withdrawn"
