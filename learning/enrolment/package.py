"""A course packed for learning offline (``GET /api/v1/courses/<slug>/package``).

Everything a device needs to show the course with no connection, in the learner's language:
the outline, each lesson's body as the lesson page renders it (sanitised HTML), the quiz
without its answers, the URLs of the images the lessons show and of the pages to keep, and
where the learner stands. Its ETag is a digest of the whole answer, so a device asks again
cheaply (304) and downloads only when something changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _

from learning.accounts.models import User
from learning.catalogue.models import Course
from learning.catalogue.texts import all_lessons, course_text, lesson_html, localised
from learning.enrolment import queries
from learning.enrolment.models import Enrolment
from learning.errors import Forbidden

FORMAT = 1  # bumped when the package's shape changes, so devices drop what they kept
_IMAGE_SRC = re.compile(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", re.IGNORECASE)


class NotEnrolled(Forbidden):
    """A refusal like any other (code ``forbidden``): the message says what to do."""


@dataclass(frozen=True)
class Package:
    enrolment: Enrolment
    body: dict


def package_for(user: User, course: Course) -> Package:
    """The course as ``user`` learns it offline; only someone enrolled (active or completed) may take it."""
    enrolment = queries.current_enrolment(user, course)
    if enrolment is None:
        raise NotEnrolled(_("Enrol in this course to make it available offline."))
    language = user.language

    def text(item, field: str) -> str:
        return localised(item, field, language, course.language)

    lessons, assets = [], []
    for lesson in all_lessons(course):
        html = str(lesson_html(lesson, language))
        for src in _IMAGE_SRC.findall(html):
            if src not in assets:
                assets.append(src)
        lessons.append({"id": lesson.id, "module_id": lesson.module_id, "title": text(lesson, "title"),
                        "html": html,
                        "url": url_for("enrolment.lesson", enrolment_id=enrolment.id, lesson_id=lesson.id)})
    quiz = None
    if course.quiz is not None:
        quiz = {"questions": [
            {"id": q.id, "text": text(q, "text"), "choices": [{"id": c.id, "text": text(c, "text")} for c in q.choices]}
            for q in course.quiz.questions
        ], "pass_mark": course.pass_mark,
            "url": url_for("enrolment.quiz", enrolment_id=enrolment.id)}
    texts = course_text(course, language)
    content = {
        "format": FORMAT,
        "slug": course.slug,
        "title": texts.title,
        "summary": texts.summary,
        "language": texts.language,
        "url": url_for("catalogue.course", slug=course.slug),
        "modules": [{"id": m.id, "title": text(m, "title"), "lesson_ids": [lesson.id for lesson in m.lessons]}
                    for m in course.modules],
        "lessons": lessons,
        "quiz": quiz,
        "assets": assets,
    }
    return Package(enrolment, content)


def etag_of(body: dict) -> str:
    """A digest of the whole answer (content and progress): equal answers, equal tags."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:40]
