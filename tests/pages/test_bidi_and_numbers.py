"""Mixed-direction text reads right in Arabic: user and course text is isolated (``<bdi>``,
``dir="auto"``) and numbers and percentages are formatted by Babel in the page's locale.

Without isolation an English title ending in "?" shows as "?What comes first" inside an
Arabic page, and "0%" as "%0".
"""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD


def page(client, path: str) -> str:
    return client.get(path).get_data(as_text=True)


@pytest.fixture
def arabic_learner(client, make):
    learner = make.user(language="ar", full_name="Kwame Mensah")
    client.post("/account/login", data={"email": learner.email, "password": PASSWORD})
    return learner


def test_an_english_course_inside_an_arabic_page_is_isolated(client, make, arabic_learner):
    course = make.course(title="What comes first?", pass_mark=80, modules=[
        {"title": "Listening to children.", "lessons": [{"title": "Disclosure?", "body": "Listen, then refer."}]}])
    item = make.enrolment(arabic_learner, course)
    lesson = item.course.modules[0].lessons[0]

    course_page = page(client, f"/courses/{course.slug}")
    assert '<html lang="ar" dir="rtl">' in course_page
    assert "<bdi>What comes first?</bdi>" in course_page
    assert "<bdi>Listening to children.</bdi>" in course_page
    assert "<bdi>80%</bdi>" in course_page  # the pass mark: "%80" without isolation

    lesson_page = page(client, f"/learning/{item.id}/lessons/{lesson.id}")
    assert "<h1><bdi>Disclosure?</bdi></h1>" in lesson_page
    assert '<div class="lesson-body" dir="auto">' in lesson_page
    assert "<bdi>Kwame Mensah</bdi>" in lesson_page  # the header's name

    quiz_page = page(client, f"/learning/{item.id}/quiz")
    assert '<bdi dir="auto">Is this right?</bdi>' in quiz_page
    assert '<bdi dir="auto">Yes</bdi>' in quiz_page


def test_a_quiz_score_is_a_percentage_in_the_readers_locale(client, make):
    learner = make.user(language="fr")
    item = make.enrolment(learner)
    client.post("/account/login", data={"email": learner.email, "password": PASSWORD})
    questions = item.course.quiz.questions
    wrong = {f"q{q.id}": next(c.id for c in q.choices if not c.correct) for q in questions}
    html = client.post(f"/learning/{item.id}/quiz", data=wrong, follow_redirects=True).get_data(as_text=True)
    # French puts a (narrow) no-break space before the sign: "0 %", as Babel's CLDR data says.
    assert re.search(r"Votre score\s:\s<bdi>0\s%</bdi>", html), html[html.find("quiz-result"):][:400]
    assert re.search(r"<td><bdi>0\s%</bdi></td>", html)


def test_a_trainers_roster_isolates_names_and_addresses(client, make):
    from tests import factories_cohorts as cohorts

    trainer = make.trainer(language="ar")
    cohort = cohorts.cohort(trainer, name="Policía Nacional — Bogotá.", attendance_rule="min_percent",
                            attendance_min_percent=75)
    cohorts.member(cohort, full_name="Ana Gómez")
    client.post("/account/login", data={"email": trainer.email, "password": PASSWORD})
    html = page(client, f"/cohorts/{cohort.id}")
    assert "<h1><bdi>Policía Nacional — Bogotá.</bdi>" in html
    assert re.search(r"<td[^>]*><bdi>Ana Gómez</bdi></td>", html)
    assert "<bdi>75%</bdi>" in html


def test_a_name_inside_a_flash_message_is_isolated(client, make):
    from tests import factories_cohorts as cohorts

    trainer = make.trainer(language="ar")
    cohort = cohorts.cohort(trainer, attendance_rule="none")
    member = cohorts.member(cohort, full_name="Ana G.")
    client.post("/account/login", data={"email": trainer.email, "password": PASSWORD})
    html = client.post(f"/cohorts/{cohort.id}/members/{member.user_id}/complete", follow_redirects=True).get_data(as_text=True)
    assert "\u2068Ana G.\u2069" in html  # Unicode's first-strong isolate: "Ana G." keeps its full stop


def test_what_people_type_keeps_its_own_direction(client):
    html = client.get("/account/signup?lang=ar").get_data(as_text=True)
    def tag(control_id: str) -> str:
        return re.search(rf'<input[^>]*\bid="{control_id}"[^>]*>', html).group(0)

    assert 'dir="auto"' in tag("full_name") and 'dir="auto"' in tag("organisation")
    assert 'dir="ltr"' in tag("email")
