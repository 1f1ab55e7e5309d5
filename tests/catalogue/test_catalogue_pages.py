"""Catalogue pages: what a visitor, a learner and an admin see and may do."""

from __future__ import annotations

import html

from sqlalchemy import select

from learning.catalogue.models import Course, Lesson
from learning.enrolment import services
from learning.extensions import db
from tests import factories_catalogue as fc
from tests.factories import PASSWORD


def sign_in(client, user):
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the catalogue ---------------------------------------------------------------------

def test_the_catalogue_lists_published_courses_with_their_languages(client, make):
    make.course(title="Recognising exploitation", translations={"fr": {"title": "Reconnaître", "summary": ""}})
    make.course(title="Hidden draft", published=False)
    page = text(client.get("/courses/"))
    assert "Recognising exploitation" in page and "Hidden draft" not in page
    assert "français" in page.lower() or "french" in page.lower()
    assert "1 course" in page


def test_the_catalogue_filters_by_language_sector_and_words(client, make):
    make.course(title="Police evidence", sectors=["law_enforcement"], translations={})
    make.course(title="School safety", sectors=["education"], translations={"es": {"title": "Escuela segura", "summary": ""}})
    offered_in_spanish = text(client.get("/courses/?language=es"))
    assert "School safety" in offered_in_spanish and "Police evidence" not in offered_in_spanish
    by_sector = text(client.get("/courses/?sector=law_enforcement"))
    assert "Police evidence" in by_sector and "School safety" not in by_sector
    by_words = text(client.get("/courses/?q=school"))
    assert "School safety" in by_words and "Police evidence" not in by_words


def test_unknown_filters_are_ignored_with_a_message_not_an_error(client, make):
    make.course(title="Still listed")
    response = client.get("/courses/?sector=astronauts&language=not!a!tag")
    assert response.status_code == 200
    assert "Still listed" in text(response) and "That filter is not one we know" in text(response)


def test_a_learner_reads_course_texts_in_their_language_with_fallback(client, make):
    make.course(title="Safeguarding", translations={"es": {"title": "Protección", "summary": "Resumen"}})
    make.course(title="English only", translations={})
    sign_in(client, make.user(language="es"))
    page = text(client.get("/courses/"))
    assert "Protección" in page and "English only" in page and "Safeguarding" not in page


# --- the course page --------------------------------------------------------------------

def test_the_course_page_shows_outline_languages_duration_and_validity(client, make):
    course = make.course(title="Online safety", estimated_minutes=90, certificate_validity_months=24)
    page = text(client.get(f"/courses/{course.slug}"))
    for expected in ("Online safety", "Module one", "Lesson one", "Lesson two", "About 90 minutes",
                     "Valid for 24 months", "Pass mark: <bdi>50%</bdi>", "Sign in to enrol"):
        assert expected in page, expected
    assert "Yes" not in page  # quiz choices, let alone the right ones, are not on the course page


def test_the_course_page_offers_enrol_then_continue_then_shows_completion(client, make):
    learner = make.user()
    course = make.course(certificate_validity_months=None)
    sign_in(client, learner)
    assert 'id="enrol"' in text(client.get(f"/courses/{course.slug}"))
    enrolment = make.enrolment(learner, course)
    page = text(client.get(f"/courses/{course.slug}"))
    assert 'id="continue"' in page and 'id="enrol"' not in page and "You have done 0 of 2 lessons" in page
    for lesson_id in fc.lesson_ids(course):
        services.complete_lesson(enrolment, lesson_id)
    services.submit_quiz(enrolment, fc.right_answers(course))
    db.session.commit()
    page = text(client.get(f"/courses/{course.slug}"))
    assert "You completed this course on" in page and 'id="enrol"' not in page  # the certificate never expires


def test_drafts_are_not_found_for_learners_and_flagged_for_admins(client, make):
    course = make.course(published=False, title="Work in progress")
    assert client.get(f"/courses/{course.slug}").status_code == 404
    sign_in(client, make.admin())
    page = text(client.get(f"/courses/{course.slug}"))
    assert "This course is a draft" in page


# --- admin pages ---------------------------------------------------------------------------

def course_form(**overrides) -> dict:
    form = {
        "slug": "child-safe-banking", "title": "Child-safe banking", "summary": "Spotting payments for abuse.",
        "language": "en", "pass_mark": "60", "certificate_validity_months": "12", "estimated_minutes": "45",
        "sectors": ["financial"],
        "translations-0-language": "es", "translations-0-title": "Banca segura", "translations-0-summary": "",
        "modules-0-title": "Payments", "modules-0-lessons-0-title": "Patterns",
        "modules-0-lessons-0-body": "# Patterns\n\nSmall, repeated payments.",
        "modules-0-lessons-1-title": "", "modules-0-lessons-1-body": "",
        "questions-0-text": "Which is a red flag?",
        "questions-0-choices-0-text": "Many small payments", "questions-0-choices-0-correct": "y",
        "questions-0-choices-1-text": "A salary", "questions-0-choices-2-text": "",
    }
    form.update(overrides)
    return form


def test_an_admin_creates_a_course_with_the_form(client, make):
    sign_in(client, make.admin())
    assert client.get("/admin/courses/new").status_code == 200
    response = client.post("/admin/courses/new", data=course_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/courses/child-safe-banking/edit")
    course = db.session.scalars(select(Course)).one()
    assert course.status == "draft" and course.pass_mark == 60 and course.certificate_validity_months == 12
    assert course.sectors == ["financial"] and course.estimated_minutes == 45
    assert [lesson.title for lesson in fc_lessons(course)] == ["Patterns"]  # the empty slot is ignored
    assert [c.correct for c in course.quiz.questions[0].choices] == [True, False]
    assert sorted(t.language for t in course.translations) == ["en", "es"]


def fc_lessons(course):
    return [lesson for module in course.modules for lesson in module.lessons]


def test_form_errors_are_shown_next_to_their_fields_and_nothing_is_saved(client, make):
    sign_in(client, make.admin())
    response = client.post("/admin/courses/new", data=course_form(
        slug="Bad Slug", **{"modules-0-lessons-0-title": "", "questions-0-choices-0-correct": ""}))
    assert response.status_code == 422
    page = text(response)
    assert "Use lower-case letters, digits and hyphens" in page
    assert "This field is required." in page  # the lesson with a body but no title
    assert "Mark at least one choice as correct." in page
    assert db.session.scalar(select(Course.id)) is None


def test_editing_keeps_lessons_and_their_translations(client, make):
    data = make.course_data(slug="kept")
    data["modules"][0]["lessons"][0]["translations"] = {"es": {"title": "Lección uno", "body": "Uno."}}
    course = make.course(**data)
    first_id = fc.lesson_ids(course)[0]
    sign_in(client, make.admin())
    page = html.unescape(text(client.get("/admin/courses/kept/edit")))
    assert "Lesson one" in page and '"title": "Lección uno"' in page
    form = {
        "title": "Kept, renamed", "summary": "S", "language": "en", "pass_mark": "50",
        "modules-0-id": str(course.modules[0].id), "modules-0-title": "Module one",
        "modules-0-translations": "{}",
        "modules-0-lessons-0-id": str(first_id), "modules-0-lessons-0-title": "Lesson one, revised",
        "modules-0-lessons-0-body": "New text.",
        "modules-0-lessons-0-translations": '{"es": {"title": "Lección uno", "body": "Uno."}}',
        "modules-0-lessons-1-id": str(fc.lesson_ids(course)[1]), "modules-0-lessons-1-title": "",
        "modules-0-lessons-1-body": "",
    }
    response = client.post("/admin/courses/kept/edit", data=form)
    assert response.status_code == 302
    db.session.expire_all()
    lesson = db.session.get(Lesson, first_id)
    assert lesson.title == "Lesson one, revised" and lesson.translations["es"]["title"] == "Lección uno"
    assert len(fc.lesson_ids(db.session.get(Course, course.id))) == 1  # the cleared lesson is removed
    assert db.session.get(Course, course.id).quiz is None  # no questions in the form: no quiz


def test_an_admin_publishes_and_archives_from_the_pages(client, make):
    course = make.course(published=False, slug="lifecycle")
    sign_in(client, make.admin())
    assert "lifecycle" in text(client.get("/admin/courses/"))
    client.post("/admin/courses/lifecycle/publish")
    db.session.expire_all()
    assert db.session.get(Course, course.id).status == "published"
    client.post("/admin/courses/lifecycle/archive")
    db.session.expire_all()
    assert db.session.get(Course, course.id).status == "archived"


def test_an_admin_imports_a_course_as_json(client, make):
    import json

    sign_in(client, make.admin())
    data = make.course_data(slug="imported")
    response = client.post("/admin/courses/import", data={"definition": json.dumps(data)})
    assert response.status_code == 302
    assert db.session.scalar(select(Course.status).where(Course.slug == "imported")) == "draft"
    bad = client.post("/admin/courses/import", data={"definition": json.dumps({**data, "slug": "x y"})})
    assert bad.status_code == 422 and "slug" in text(bad)
    broken = client.post("/admin/courses/import", data={"definition": "{not json"})
    assert broken.status_code == 422 and "This is not valid JSON" in text(broken)


def test_admin_pages_are_for_admins_only(client, make):
    course = make.course(published=False, slug="guarded")
    assert client.get("/admin/courses/").status_code == 302  # to the sign-in page
    sign_in(client, make.user())
    for path in ("/admin/courses/", "/admin/courses/new", "/admin/courses/guarded/edit", "/admin/courses/import"):
        assert client.get(path).status_code == 403, path
    assert client.post("/admin/courses/guarded/publish").status_code == 403
    assert client.post("/admin/courses/new", data=course_form()).status_code == 403
    db.session.expire_all()
    assert db.session.get(Course, course.id).status == "draft"
    assert db.session.scalar(select(Course.id).where(Course.slug == "child-safe-banking")) is None


def test_lesson_markdown_is_rendered_and_sanitised():
    from learning.catalogue.texts import render_markdown

    html = str(render_markdown("# Title\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1))"
                               '\n\n<img src="x" onerror="alert(1)">'))
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html

