"""The demo speaks every interface language, down to each lesson, question and answer.

A newcomer who reads the demo in Spanish, French, Portuguese or Arabic must not meet
English placeholders ("Indicators: part 1", "True/False").
"""

from __future__ import annotations

import re

import pytest

from learning.demo_content import COURSES, LANGUAGES, course_spec
from tests.factories import PASSWORD

ARABIC = re.compile("[\u0600-\u06ff]")


def every_text(course: dict):
    """(where, {language: text}) for every text of a demo course."""
    yield "course", {lang: " ".join(pair) for lang, pair in course["texts"].items()}
    for m, module in enumerate(course["modules"]):
        yield f"module {m}", module["title"]
        for n, lesson in enumerate(module["lessons"]):
            yield f"lesson {m}.{n}", {lang: " ".join(pair) for lang, pair in lesson.items()}
    for q, question in enumerate(course.get("quiz", [])):
        yield f"question {q}", question["text"]
        for c, (texts, _correct) in enumerate(question["choices"]):
            yield f"choice {q}.{c}", texts


@pytest.mark.parametrize("course", COURSES, ids=lambda c: c["slug"])
def test_every_text_of_the_demo_exists_in_the_five_languages(course):
    for where, texts in every_text(course):
        assert set(texts) == set(LANGUAGES), (course["slug"], where)
        assert all(text.strip() for text in texts.values()), (course["slug"], where)
        for lang, text in texts.items():
            assert bool(ARABIC.search(text)) == (lang == "ar"), (course["slug"], where, lang)
        if where.startswith("lesson"):  # really translated, not copied
            assert len(set(texts.values())) == len(LANGUAGES), (course["slug"], where)


def test_lessons_have_a_real_body_not_a_placeholder():
    for course in COURSES:
        for module in course["modules"]:
            for lesson in module["lessons"]:
                for lang, (title, body) in lesson.items():
                    assert "part 1" not in title and len(body) > 120 and body.count("\n- ") >= 2, (lang, title)


def test_a_spanish_reader_of_an_english_demo_course_reads_spanish_throughout(client, make):
    from sqlalchemy import select

    from learning.catalogue.services import create_course, publish_course
    from learning.enrolment.models import Enrolment
    from learning.extensions import db

    course = create_course(None, course_spec(COURSES[0]))
    publish_course(None, course)
    db.session.commit()
    reader = make.user(language="es")
    client.post("/account/login", data={"email": reader.email, "password": PASSWORD})
    outline = client.get(f"/courses/{course.slug}").get_data(as_text=True)
    assert "Cómo se presenta la explotación" in outline and "Indicadores" in outline
    client.post(f"/courses/{course.slug}/enrol")
    item = db.session.scalar(select(Enrolment).where(Enrolment.user_id == reader.id))
    lesson = course.modules[0].lessons[0]
    page = client.get(f"/learning/{item.id}/lessons/{lesson.id}").get_data(as_text=True)
    assert "La explotación rara vez se anuncia." in page and "Exploitation is rarely" not in page
    quiz = client.get(f"/learning/{item.id}/quiz").get_data(as_text=True)
    assert "Verdadero" in quiz and "Escuchar y tranquilizar" in quiz
    assert not re.search(r">\s*(True|False)\s*<", quiz) and "What comes first" not in quiz
