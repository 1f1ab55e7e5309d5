"""Creating, editing, publishing and finding courses.

A course is a draft until published, and archived when taken out of the
catalogue; enrolments and certificates of an archived course stay. The checks
of a definition live in ``validation.py``, reading in a language in ``texts.py``
(both re-exported here so callers have one module to import).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Text, cast, func, null, or_, select
from sqlalchemy.orm import lazyload, selectinload

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
from learning.catalogue.texts import (  # noqa: F401  (re-exported)
    CourseText,
    all_lessons,
    course_languages,
    course_text,
    lesson_html,
    localised,
    pick_language,
    render_markdown,
)
from learning.catalogue.validation import SLUG_RE, CourseErrors, validate_course_data  # noqa: F401
from learning.errors import Conflict, NotFound, ValidationFailed
from learning.extensions import db
from learning.i18n import is_sector, normalise_language, primary_language
from learning.models_base import utcnow


def _questions(quiz: dict) -> list[QuizQuestion]:
    return [
        QuizQuestion(
            position=q_index,
            text=question["text"],
            translations=question["translations"],
            choices=[
                QuizChoice(position=c_index, text=choice["text"], correct=choice["correct"],
                           translations=choice["translations"])
                for c_index, choice in enumerate(question["choices"])
            ],
        )
        for q_index, question in enumerate(quiz["questions"])
    ]


def _set_quiz(course: Course, quiz: dict | None) -> None:
    """Replace the quiz's questions; the quiz row itself is kept (one per course, unique)."""
    if quiz is None:
        course.quiz = None
    elif course.quiz is None:
        course.quiz = Quiz(questions=_questions(quiz))
    else:
        course.quiz.questions = _questions(quiz)


def _set_modules(course: Course, modules: list, errors: CourseErrors) -> None:
    """Lay out modules and lessons as given, keeping the rows (and learners' progress) of those named by id."""
    old_modules = {m.id: m for m in course.modules}
    old_lessons = {lesson.id: lesson for m in course.modules for lesson in m.lessons}
    laid_out: list[tuple[Module, list[Lesson]]] = []
    for m_index, data in enumerate(modules):
        module = Module()
        if data.get("id") is not None:
            module = old_modules.pop(data["id"], None)
            if module is None:
                errors.add(f"modules.{m_index}.id", _("Not a module of this course."))
                continue
        module.position, module.title, module.translations = m_index, data["title"], data["translations"]
        lessons = []
        for l_index, lesson_data in enumerate(data["lessons"]):
            lesson = Lesson()
            if lesson_data.get("id") is not None:
                lesson = old_lessons.pop(lesson_data["id"], None)
                if lesson is None:
                    errors.add(f"modules.{m_index}.lessons.{l_index}.id", _("Not a lesson of this course."))
                    continue
            lesson.position, lesson.title = l_index, lesson_data["title"]
            lesson.body, lesson.translations = lesson_data["body"], lesson_data["translations"]
            lessons.append(lesson)
        laid_out.append((module, lessons))
    if errors:
        return
    # Set the parent by key as well as by collection, so a lesson moved between modules is
    # updated in place rather than treated as an orphan.
    course.modules = [module for module, _ in laid_out]
    for module, lessons in laid_out:
        module.lessons = lessons
        for lesson in lessons:
            lesson.module = module


def _set_translations(course: Course, base: dict, translations: dict | None) -> None:
    """The course's own texts plus, when given, exactly these translations."""
    wanted = {course.language: base}
    if translations is None:
        wanted.update({t.language: {"title": t.title, "summary": t.summary}
                       for t in course.translations if t.language != course.language})
    else:
        wanted.update({k: v for k, v in translations.items() if k != course.language})
    existing = {t.language: t for t in course.translations}
    for language, texts in wanted.items():
        row = existing.get(language)
        if row is None:
            course.translations.append(CourseTranslation(language=language, **texts))
        else:
            row.title, row.summary = texts["title"], texts["summary"]
    course.translations = [t for t in course.translations if t.language in wanted]


def _raise_if(errors: CourseErrors) -> None:
    if errors:
        raise ValidationFailed(_("The course definition has errors."), dict(errors))


def _ensure_slug_free(slug: str) -> None:
    if db.session.scalar(select(Course.id).where(Course.slug == slug)) is not None:
        raise Conflict(_("A course with slug %(slug)r already exists.", slug=slug), {"slug": [_("Already used.")]})


def create_course(actor_id: int | None, data: dict) -> Course:
    """A new draft course from its full definition; every bad field is reported at once."""
    clean, errors = validate_course_data(data)
    for index, module in enumerate(clean.get("modules", [])):
        if module["id"] is not None or any(lesson["id"] is not None for lesson in module["lessons"]):
            errors.add(f"modules.{index}", _("A new course cannot name existing modules or lessons by id."))
    _raise_if(errors)
    _ensure_slug_free(clean["slug"])
    course = Course(
        slug=clean["slug"],
        language=clean["language"],
        pass_mark=clean.get("pass_mark", 80),
        certificate_validity_months=clean.get("certificate_validity_months"),
        # null() and not None: None would let the column's default (3) fill it in.
        max_quiz_attempts=_or_null(clean.get("max_quiz_attempts", 3)),
        quiz_cooldown_minutes=clean.get("quiz_cooldown_minutes", 60),
        estimated_minutes=clean.get("estimated_minutes"),
        sectors=clean.get("sectors", []),
        created_by_id=actor_id,
    )
    _set_translations(course, {"title": clean["title"], "summary": clean["summary"]}, clean.get("translations", {}))
    _set_modules(course, clean["modules"], errors)
    _set_quiz(course, clean.get("quiz"))
    db.session.add(course)
    db.session.flush()
    audit(actor_id, "course.created", "course", course.slug)
    return course


def _or_null(value):
    return null() if value is None else value


EDITABLE_SETTINGS = ("pass_mark", "certificate_validity_months", "max_quiz_attempts", "quiz_cooldown_minutes",
                     "estimated_minutes", "sectors")


def update_course(actor_id: int | None, course: Course, data: dict) -> Course:
    """Change the fields given (the slug stays); modules and lessons named by id keep learners' progress."""
    clean, errors = validate_course_data(data, partial=True)
    if "slug" in clean and clean["slug"] != course.slug:
        errors.add("slug", _("The slug of a course cannot change; links and integrations rely on it."))
    _raise_if(errors)
    if "modules" in clean:
        _set_modules(course, clean["modules"], errors)
        _raise_if(errors)
    # When the original language changes, its texts are those already translated into it, if any.
    base = course_text(course, clean.get("language") or course.language)
    if clean.get("language"):
        course.language = clean["language"]
    texts = {"title": clean.get("title") or base.title,
             "summary": clean["summary"] if "summary" in clean else base.summary}
    _set_translations(course, texts, clean.get("translations"))
    for name in EDITABLE_SETTINGS:
        if name in clean:
            setattr(course, name, clean[name])
    if "quiz" in clean:
        _set_quiz(course, clean["quiz"])
    db.session.flush()
    audit(actor_id, "course.updated", "course", course.slug, fields=sorted(data))
    return course


def publish_course(actor_id: int | None, course: Course) -> Course:
    """Make a course visible in the catalogue."""
    if course.status == "published":
        return course
    if not any(module.lessons for module in course.modules):
        raise ValidationFailed(_("A course needs at least one lesson before it is published."),
                               {"modules": [_("Add a lesson.")]})
    course.status = "published"
    course.published_at = utcnow()
    audit(actor_id, "course.published", "course", course.slug)
    return course


def archive_course(actor_id: int | None, course: Course) -> Course:
    """Take a course out of the catalogue; enrolments and certificates stay."""
    if course.status != "archived":
        course.status = "archived"
        audit(actor_id, "course.archived", "course", course.slug)
    return course


def check_language(tag: str | None, field: str = "language") -> str | None:
    """A valid BCP 47 tag in canonical form, None when not given; a bad tag is a ValidationFailed."""
    if not tag:
        return None
    language = normalise_language(tag)
    if language is None:
        raise ValidationFailed(_("Unknown language."), {field: [_("Not a BCP 47 language tag: %(tag)r", tag=tag)]})
    return language


def get_course(slug: str, published_only: bool = False, *, texts: bool = True) -> Course:
    """The course with this slug (only if published, when asked); else NotFound.

    ``texts=False``: its translations are read only when something asks for them (the learner's hot
    path takes the title the process keeps, ``learning.catalogue.content.course_title``)."""
    query = select(Course).where(Course.slug == slug)
    if not texts:
        query = query.options(lazyload(Course.translations))
    course = db.session.scalar(query)
    if course is None or (published_only and course.status != "published"):
        raise NotFound(_("No course %(slug)r.", slug=slug))
    return course


def visible_course(slug: str, user, *, texts: bool = True) -> Course:
    """A course as ``user`` may see it: admins see every state, everyone else published ones."""
    return get_course(slug, published_only=not (user is not None and user.is_admin), texts=texts)


def _sector_condition(sector: str):
    # Sectors are a JSON list; an empty list means the course is meant for every sector.
    as_text = cast(Course.sectors, Text)
    return or_(as_text.like(f'%"{sector}"%'), as_text == "[]")


def catalogue_filters_errors(language: str | None, sector: str | None,
                             field: str = "available_in") -> dict[str, list[str]]:
    """Which catalogue filters are not valid codes, by the name the caller used for them."""
    errors: dict[str, list[str]] = {}
    if language and normalise_language(language) is None:
        errors[field] = [_("Not a BCP 47 language tag: %(tag)r", tag=language)]
    if sector and not is_sector(sector):
        errors["sector"] = [_("Unknown sector %(sector)r", sector=sector)]
    return errors


def list_published(available_in: str | None = None, sector: str | None = None, search: str | None = None,
                   page: int = 1, per_page: int = 50) -> tuple[list[Course], int]:
    """Published courses, filtered by a language they are offered in, intended sector and a text search."""
    return list_courses(("published",), available_in, sector, search, page, per_page)


def list_courses(statuses: tuple[str, ...], available_in: str | None = None, sector: str | None = None,
                 search: str | None = None, page: int = 1, per_page: int = 50) -> tuple[list[Course], int]:
    """One page of courses in these states, filtered, with the total before paging."""
    errors = catalogue_filters_errors(available_in, sector)
    if errors:
        raise ValidationFailed(_("Some filters are invalid."), errors)
    query = select(Course).where(Course.status.in_(statuses))
    if available_in:
        language = normalise_language(available_in)
        base = primary_language(language)
        query = query.where(Course.id.in_(
            select(CourseTranslation.course_id).where(or_(
                CourseTranslation.language == language,
                CourseTranslation.language == base,
                CourseTranslation.language.like(f"{base}-%"),
            ))
        ))
    if sector:
        query = query.where(_sector_condition(sector))
    if search and search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(Course.id.in_(
            select(CourseTranslation.course_id).where(or_(
                func.lower(CourseTranslation.title).like(pattern),
                func.lower(CourseTranslation.summary).like(pattern),
            ))
        ))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    courses = db.session.scalars(
        query.options(selectinload(Course.translations))
        .order_by(Course.published_at.desc(), Course.slug)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(courses), total or 0
