"""What a web process may keep of a course between requests, and how it knows it is stale.

Every learner's request needs the same few facts of its course: the lessons in order, whether it has a
quiz, its title in the learner's language. Reading them costs three round trips per request; they change
only when an editor changes the course. So each process keeps them, keyed by the course's id, its
creation time and its ``content_version``, which a session hook (``bump_content_versions``, attached by
``learning.catalogue.init_app``) raises by one in the same flush as any change of the course, its
translations, modules, lessons or quiz. A request reads the version with the course row it reads anyway
(an enrolment joins its course), so another process's edit is seen by the next request that reads the
course after that edit commits, exactly as if nothing were kept.

A transaction that itself changed a course's content neither reads nor fills the kept values (they
might never commit); it reads the database, as before, once per transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from learning.catalogue.models import (
    Course,
    CourseTranslation,
    Lesson,
    Module,
    Quiz,
    QuizChoice,
    QuizQuestion,
)

T = TypeVar("T")

CHANGED_KEY = "catalogue_content_changed"  # this transaction changed some course's content
# ``courses.lti_linked`` of the courses this transaction read as rows (Core, no ``Course`` object in the
# identity map): course id to the flag (``learning.lti.ags._course_may_be_linked``).
LTI_LINKED_KEY = "catalogue_lti_linked_read"
_KEPT: dict[tuple, object] = {}
_KEPT_LIMIT = 4096  # entries (a few per course); emptied whole when reached, then filled again
_lock = threading.Lock()


def kept(session: Session, course: Course, name: str, load: Callable[[], T]) -> T:
    """``load()``'s value for this course, kept by the process for as long as the course's content
    version does not change."""
    if session.info.get(CHANGED_KEY):
        return load()
    key = (course.id, course.created_at, course.content_version, name)
    try:
        return _KEPT[key]  # type: ignore[return-value]
    except KeyError:
        pass
    value = load()
    with _lock:
        if len(_KEPT) >= _KEPT_LIMIT:
            _KEPT.clear()
        _KEPT[key] = value
    return value


def forget_all() -> None:
    """Empty what this process keeps (tests; never needed for correctness)."""
    with _lock:
        _KEPT.clear()


def _course_id_of(session: Session, obj) -> int | None | bool:
    """The id of the course ``obj`` belongs to; None for a course not flushed yet (a new course has
    nothing kept); False when it cannot be told."""
    if isinstance(obj, Course):
        return obj.id
    if isinstance(obj, (CourseTranslation, Module, Quiz)):
        if obj.course_id is not None:
            return obj.course_id
        return obj.course.id if obj.course is not None else False
    if isinstance(obj, Lesson):
        module = obj.module
        if module is None and obj.module_id is not None:
            module = session.get(Module, obj.module_id)
        return _course_id_of(session, module) if module is not None else False
    if isinstance(obj, QuizQuestion):
        quiz = obj.quiz if obj.quiz is not None else (session.get(Quiz, obj.quiz_id) if obj.quiz_id else None)
        return _course_id_of(session, quiz) if quiz is not None else False
    if isinstance(obj, QuizChoice):
        question = obj.question if obj.question is not None else (
            session.get(QuizQuestion, obj.question_id) if obj.question_id else None)
        return _course_id_of(session, question) if question is not None else False
    return None


_CONTENT = (Course, CourseTranslation, Module, Lesson, Quiz, QuizQuestion, QuizChoice)


def bump_content_versions(session: Session, flush_context, instances) -> None:
    """``before_flush``: raise the content version of every course whose content this flush changes.

    The increment is an SQL expression (``content_version + 1``), so two editors of one course never
    write the same version: the second waits for the first's row lock and adds one to its value. A
    change whose course cannot be told raises every course's version."""
    changed = [obj for obj in (*session.new, *session.dirty, *session.deleted) if isinstance(obj, _CONTENT)]
    if not changed:
        return
    session.info[CHANGED_KEY] = True
    course_ids: set[int] = set()
    unknown = False
    for obj in changed:
        if isinstance(obj, Course):
            if obj in session.new or obj in session.deleted or not _content_modified(session, obj):
                continue
        course_id = _course_id_of(session, obj)
        if course_id is False:
            unknown = True
        elif course_id is not None:
            course_ids.add(course_id)
    if unknown:
        session.execute(update(Course).values(content_version=Course.content_version + 1)
                        .execution_options(synchronize_session=False))
        for obj in session.identity_map.values():
            if isinstance(obj, Course) and obj not in session.new:
                session.expire(obj, ["content_version"])
        return
    for course_id in course_ids:
        course = session.get(Course, course_id)
        if course is not None and course not in session.deleted:
            course.content_version = Course.content_version + 1


def _content_modified(session: Session, course: Course) -> bool:
    """Whether a course's own change is a real one (not only its version, set by this hook)."""
    state = sa_inspect(course)
    return any(attr.key != "content_version" and attr.history.has_changes() for attr in state.attrs)


def transaction_ended(session: Session, transaction) -> None:
    """``after_transaction_end``: the outermost transaction is over, committed or not."""
    if transaction.parent is None:
        session.info.pop(CHANGED_KEY, None)
        session.info.pop(LTI_LINKED_KEY, None)


def note_lti_linked(session: Session, course_id: int, linked: bool) -> None:
    """A course's ``lti_linked`` as this transaction read it with Core (see ``LTI_LINKED_KEY``)."""
    session.info.setdefault(LTI_LINKED_KEY, {})[course_id] = bool(linked)


class CourseKey:
    """What ``kept`` needs of a course when the request read its row with Core, not as a ``Course``
    object (the learner's hot path, ``learning.enrolment.hot``)."""

    __slots__ = ("id", "created_at", "content_version")

    def __init__(self, course_id: int, created_at, content_version: int) -> None:
        self.id, self.created_at, self.content_version = course_id, created_at, content_version


def _read_titles(session: Session, course_id: int) -> dict[str, str]:
    table = CourseTranslation.__table__
    return dict(session.connection().execute(
        select(table.c.language, table.c.title).where(table.c.course_id == course_id).order_by(table.c.id)).all())


def _read_card(session: Session, course_id: int) -> tuple[str, str]:
    table = Course.__table__
    return tuple(session.connection().execute(
        select(table.c.slug, table.c.language).where(table.c.id == course_id)).one())


def course_card(session: Session, key: CourseKey) -> tuple[str, str]:
    """The course's slug and original language, kept like its outline (both are part of its content:
    changing them raises its version)."""
    return kept(session, key, "card", lambda: _read_card(session, key.id))


def title_of(session: Session, key: CourseKey, course_language: str, wanted: str | None) -> str:
    """``course_title`` for a course read as a row (``CourseKey``): the same kept titles, the same rule."""
    from learning.catalogue.texts import pick_language

    titles: dict[str, str] = kept(session, key, "titles", lambda: _read_titles(session, key.id))
    language = pick_language(list(titles), wanted, course_language)
    return titles.get(language) or next(iter(titles.values()))


def course_title(session: Session, course: Course, wanted: str | None) -> str:
    """``course_text(course, wanted).title``, from the titles the process keeps (no round trip once kept)."""
    from learning.catalogue.texts import pick_language

    titles: dict[str, str] = kept(session, course, "titles",
                                  lambda: {t.language: t.title for t in course.translations})
    language = pick_language(list(titles), wanted, course.language)
    return titles.get(language) or next(iter(titles.values()))
