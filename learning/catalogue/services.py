"""Creating, publishing and finding courses, and reading them in a learner's language."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from learning.audit.services import record as audit
from learning.catalogue.models import (
    Course,
    CourseTranslation,
    Lesson,
    Module,
    Quiz,
    QuizChoice,
    QuizQuestion,
)
from learning.errors import Conflict, NotFound, ValidationFailed
from learning.extensions import db
from learning.i18n import is_sector, normalise_language
from learning.models_base import utcnow

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class CourseErrors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _text(errors: CourseErrors, field: str, value, required: bool = True, max_len: int = 300) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, "This field is required.")
        return None if value is None else ""
    if not isinstance(value, str):
        errors.add(field, "Must be text.")
        return None
    if len(value) > max_len:
        errors.add(field, f"Use at most {max_len} characters.")
        return None
    return value.strip()


def validate_course_data(data: dict, partial: bool = False) -> tuple[dict, CourseErrors]:
    """Check a course definition as the API and forms send it; collect every problem."""
    errors = CourseErrors()
    clean: dict = {}
    if not isinstance(data, dict):
        errors.add("_schema", "A JSON object is required.")
        return clean, errors
    if not partial or "slug" in data:
        slug = data.get("slug")
        if not isinstance(slug, str) or not SLUG_RE.match(slug or "") or len(slug) > 100:
            errors.add("slug", "Use lower-case letters, digits and hyphens (e.g. 'safeguarding-basics').")
        else:
            clean["slug"] = slug
    if not partial or "title" in data:
        clean["title"] = _text(errors, "title", data.get("title"))
    if not partial or "summary" in data:
        clean["summary"] = _text(errors, "summary", data.get("summary"), required=False, max_len=5000) or ""
    if not partial or "language" in data:
        language = normalise_language(data.get("language"))
        if language is None:
            errors.add("language", f"Not a BCP 47 language tag: {data.get('language')!r}")
        clean["language"] = language
    if "pass_mark" in data:
        mark = data["pass_mark"]
        if not isinstance(mark, int) or isinstance(mark, bool) or not 0 <= mark <= 100:
            errors.add("pass_mark", "Must be a whole number from 0 to 100.")
        else:
            clean["pass_mark"] = mark
    if "certificate_validity_months" in data:
        months = data["certificate_validity_months"]
        if months is not None and (not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 240):
            errors.add("certificate_validity_months", "Must be a number of months from 1 to 240, or null.")
        else:
            clean["certificate_validity_months"] = months
    if "estimated_minutes" in data:
        minutes = data["estimated_minutes"]
        if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 100000):
            errors.add("estimated_minutes", "Must be a positive number of minutes, or null.")
        else:
            clean["estimated_minutes"] = minutes
    if "sectors" in data:
        sectors = data["sectors"]
        if not isinstance(sectors, list) or not all(is_sector(s) for s in sectors):
            errors.add("sectors", "Must be a list of sector codes.")
        else:
            clean["sectors"] = list(dict.fromkeys(sectors))
    if "translations" in data:
        clean["translations"] = _validate_translations(errors, data["translations"])
    if not partial or "modules" in data:
        clean["modules"] = _validate_modules(errors, data.get("modules"))
    if "quiz" in data:
        clean["quiz"] = _validate_quiz(errors, data["quiz"])
    return clean, errors


def _validate_translations(errors: CourseErrors, translations) -> dict:
    clean: dict = {}
    if translations is None:
        return clean
    if not isinstance(translations, dict):
        errors.add("translations", 'Must be an object such as {"es": {"title": ..., "summary": ...}}.')
        return clean
    for tag, texts in translations.items():
        language = normalise_language(tag)
        field = f"translations.{tag}"
        if language is None:
            errors.add(field, f"Not a BCP 47 language tag: {tag!r}")
            continue
        if not isinstance(texts, dict):
            errors.add(field, "Must be an object with title and summary.")
            continue
        title = _text(errors, f"{field}.title", texts.get("title"))
        summary = _text(errors, f"{field}.summary", texts.get("summary"), required=False, max_len=5000) or ""
        clean[language] = {"title": title, "summary": summary}
    return clean


def _validate_modules(errors: CourseErrors, modules) -> list:
    if not isinstance(modules, list) or not modules:
        errors.add("modules", "A course needs at least one module with at least one lesson.")
        return []
    clean = []
    for m_index, module in enumerate(modules):
        field = f"modules.{m_index}"
        if not isinstance(module, dict):
            errors.add(field, "Must be an object with title and lessons.")
            continue
        title = _text(errors, f"{field}.title", module.get("title"))
        lessons = module.get("lessons")
        clean_lessons = []
        if not isinstance(lessons, list) or not lessons:
            errors.add(f"{field}.lessons", "A module needs at least one lesson.")
        else:
            for l_index, lesson in enumerate(lessons):
                lfield = f"{field}.lessons.{l_index}"
                if not isinstance(lesson, dict):
                    errors.add(lfield, "Must be an object with title and body.")
                    continue
                clean_lessons.append({
                    "title": _text(errors, f"{lfield}.title", lesson.get("title")),
                    "body": _text(errors, f"{lfield}.body", lesson.get("body"), required=False, max_len=200_000) or "",
                    "translations": lesson.get("translations") if isinstance(lesson.get("translations"), dict) else {},
                })
        clean.append({
            "title": title,
            "lessons": clean_lessons,
            "translations": module.get("translations") if isinstance(module.get("translations"), dict) else {},
        })
    return clean


def _validate_quiz(errors: CourseErrors, quiz) -> dict | None:
    if quiz is None:
        return None
    if not isinstance(quiz, dict) or not isinstance(quiz.get("questions"), list) or not quiz["questions"]:
        errors.add("quiz.questions", "A quiz needs at least one question.")
        return None
    questions = []
    for q_index, question in enumerate(quiz["questions"]):
        field = f"quiz.questions.{q_index}"
        if not isinstance(question, dict):
            errors.add(field, "Must be an object with text and choices.")
            continue
        text = _text(errors, f"{field}.text", question.get("text"), max_len=5000)
        choices = question.get("choices")
        clean_choices = []
        if not isinstance(choices, list) or len(choices) < 2:
            errors.add(f"{field}.choices", "A question needs at least two choices.")
        else:
            for c_index, choice in enumerate(choices):
                cfield = f"{field}.choices.{c_index}"
                if not isinstance(choice, dict):
                    errors.add(cfield, "Must be an object with text and correct.")
                    continue
                correct = choice.get("correct", False)
                if not isinstance(correct, bool):
                    errors.add(f"{cfield}.correct", "Must be true or false.")
                clean_choices.append({
                    "text": _text(errors, f"{cfield}.text", choice.get("text"), max_len=2000),
                    "correct": bool(correct),
                    "translations": choice.get("translations") if isinstance(choice.get("translations"), dict) else {},
                })
            if clean_choices and not any(c["correct"] for c in clean_choices):
                errors.add(f"{field}.choices", "Mark at least one choice as correct.")
        questions.append({
            "text": text,
            "choices": clean_choices,
            "translations": question.get("translations") if isinstance(question.get("translations"), dict) else {},
        })
    return {"questions": questions}


def _build_modules(course: Course, modules: list) -> None:
    course.modules = [
        Module(
            position=m_index,
            title=module["title"],
            translations=module.get("translations") or {},
            lessons=[
                Lesson(position=l_index, title=lesson["title"], body=lesson["body"],
                       translations=lesson.get("translations") or {})
                for l_index, lesson in enumerate(module["lessons"])
            ],
        )
        for m_index, module in enumerate(modules)
    ]


def _build_quiz(course: Course, quiz: dict | None) -> None:
    if quiz is None:
        course.quiz = None
        return
    course.quiz = Quiz(
        questions=[
            QuizQuestion(
                position=q_index,
                text=question["text"],
                translations=question.get("translations") or {},
                choices=[
                    QuizChoice(position=c_index, text=choice["text"], correct=choice["correct"],
                               translations=choice.get("translations") or {})
                    for c_index, choice in enumerate(question["choices"])
                ],
            )
            for q_index, question in enumerate(quiz["questions"])
        ]
    )


def _set_translations(course: Course, base: dict, translations: dict) -> None:
    wanted = {course.language: base, **{k: v for k, v in translations.items() if k != course.language}}
    existing = {t.language: t for t in course.translations}
    for language, texts in wanted.items():
        row = existing.get(language)
        if row is None:
            course.translations.append(CourseTranslation(language=language, **texts))
        else:
            row.title, row.summary = texts["title"], texts["summary"]


def create_course(actor_id: int | None, data: dict) -> Course:
    """A new draft course from its full definition; every bad field is reported at once."""
    clean, errors = validate_course_data(data)
    if errors:
        raise ValidationFailed("The course definition has errors.", dict(errors))
    if db.session.scalar(select(Course.id).where(Course.slug == clean["slug"])) is not None:
        raise Conflict(f"A course with slug {clean['slug']!r} already exists.", {"slug": ["Already used."]})
    course = Course(
        slug=clean["slug"],
        language=clean["language"],
        pass_mark=clean.get("pass_mark", 80),
        certificate_validity_months=clean.get("certificate_validity_months"),
        estimated_minutes=clean.get("estimated_minutes"),
        sectors=clean.get("sectors", []),
        created_by_id=actor_id,
    )
    _set_translations(course, {"title": clean["title"], "summary": clean["summary"]}, clean.get("translations", {}))
    _build_modules(course, clean["modules"])
    _build_quiz(course, clean.get("quiz"))
    db.session.add(course)
    db.session.flush()
    audit(actor_id, "course.created", "course", course.slug)
    return course


def publish_course(actor_id: int | None, course: Course) -> Course:
    """Make a course visible in the catalogue."""
    if course.status == "published":
        return course
    if not any(module.lessons for module in course.modules):
        raise ValidationFailed("A course needs at least one lesson before it is published.",
                               {"modules": ["Add a lesson."]})
    course.status = "published"
    course.published_at = utcnow()
    audit(actor_id, "course.published", "course", course.slug)
    return course


def archive_course(actor_id: int | None, course: Course) -> Course:
    """Take a course out of the catalogue; enrolments and certificates stay."""
    course.status = "archived"
    audit(actor_id, "course.archived", "course", course.slug)
    return course


def get_course(slug: str, published_only: bool = False) -> Course:
    query = select(Course).where(Course.slug == slug)
    course = db.session.scalar(query)
    if course is None or (published_only and course.status != "published"):
        raise NotFound(f"No course {slug!r}.")
    return course


def list_published(language: str | None = None, sector: str | None = None, search: str | None = None,
                   page: int = 1, per_page: int = 50) -> tuple[list[Course], int]:
    """Published courses, filtered by language available, intended sector and a text search."""
    from sqlalchemy import func

    query = select(Course).where(Course.status == "published")
    if language:
        base = language.split("-")[0]
        query = query.where(
            Course.id.in_(
                select(CourseTranslation.course_id).where(
                    or_(CourseTranslation.language == language, CourseTranslation.language.like(f"{base}%"))
                )
            )
        )
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            Course.id.in_(
                select(CourseTranslation.course_id).where(
                    or_(func.lower(CourseTranslation.title).like(pattern),
                        func.lower(CourseTranslation.summary).like(pattern))
                )
            )
        )
    courses = db.session.scalars(query.options(selectinload(Course.translations)).order_by(Course.slug)).all()
    if sector:
        courses = [c for c in courses if not c.sectors or sector in c.sectors]
    total = len(courses)
    start = (page - 1) * per_page
    return list(courses[start:start + per_page]), total


@dataclass(frozen=True)
class CourseText:
    title: str
    summary: str
    language: str


def pick_language(available: list[str], wanted: str | None, fallback: str) -> str:
    """The best of ``available`` for ``wanted``: exact, same base language, else ``fallback``."""
    if wanted:
        if wanted in available:
            return wanted
        base = wanted.split("-")[0]
        for language in available:
            if language.split("-")[0] == base:
                return language
    return fallback


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
    return sorted({t.language for t in course.translations})


def all_lessons(course: Course) -> list[Lesson]:
    return [lesson for module in course.modules for lesson in module.lessons]
