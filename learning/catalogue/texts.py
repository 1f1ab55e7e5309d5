"""Reading a course in a learner's language, and lessons as sanitised HTML.

A text falls back from the wanted language to the same base language
(``pt-BR`` for ``pt``), then to the course's own language.
"""

from __future__ import annotations

from dataclasses import dataclass

import markdown
import nh3
from markupsafe import Markup

from learning.catalogue.models import Course, Lesson
from learning.i18n import negotiate_language


@dataclass(frozen=True)
class CourseText:
    title: str
    summary: str
    language: str


def pick_language(available: list[str], wanted: str | None, fallback: str) -> str:
    """The best of ``available`` for ``wanted``: exact, same base language, else ``fallback``
    (``learning.i18n.negotiate_language``). With ``course_text``'s last resort (the first
    translation), the one rule for a course's title wherever it is shown or printed."""
    return negotiate_language(wanted, available, fallback)


def course_text(course: Course, wanted: str | None) -> CourseText:
    """The course's title and summary in the wanted language, or its own language."""
    by_language = {t.language: t for t in course.translations}
    language = pick_language(list(by_language), wanted, course.language)
    row = by_language.get(language) or next(iter(by_language.values()))
    return CourseText(row.title, row.summary, row.language)


def localised(item, field: str, wanted: str | None, base_language: str) -> str:
    """A module, lesson, question or choice's text in the wanted language where translated."""
    translations = item.translations or {}
    language = pick_language(list(translations), wanted, base_language)
    return (translations.get(language) or {}).get(field) or getattr(item, field)


def course_languages(course: Course) -> list[str]:
    """Every language the course's title and summary exist in."""
    return sorted({t.language for t in course.translations})


def all_lessons(course: Course) -> list[Lesson]:
    """The course's lessons in the order a learner takes them."""
    return [lesson for module in course.modules for lesson in module.lessons]


def render_markdown(text: str | None) -> Markup:
    """Markdown as HTML that is safe to show: scripts, handlers and odd URLs are removed."""
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    return Markup(nh3.clean(html, url_schemes={"http", "https", "mailto"}))


def lesson_html(lesson: Lesson, wanted: str | None) -> Markup:
    """A lesson's body in the wanted language, rendered and sanitised."""
    return render_markdown(localised(lesson, "body", wanted, lesson.module.course.language))


def reader_language() -> str:
    """The language a page is read in: the signed-in learner's own setting, else the interface's."""
    from flask_login import current_user

    from learning.i18n import current_language

    if current_user and getattr(current_user, "is_authenticated", False) and current_user.language:
        return current_user.language
    return current_language()
