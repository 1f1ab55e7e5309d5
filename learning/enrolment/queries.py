"""Reading a learner's enrolments: pages of them, their progress, lessons and attempts.

Nothing here changes state; the rules live in ``services.py``.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from learning.accounts.models import User
from learning.catalogue.models import Course, Lesson, Module
from learning.catalogue.services import all_lessons
from learning.enrolment.models import ENROLMENT_STATUSES, Enrolment, LessonProgress, QuizAttempt
from learning.enrolment.services import Progress
from learning.errors import NotFound, ValidationFailed
from learning.extensions import db


def my_enrolments(user: User, status: str | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[list[Enrolment], int]:
    """One page of the learner's enrolments (active first, then newest), with the total."""
    if status is not None and status not in ENROLMENT_STATUSES:
        raise ValidationFailed(_("Unknown enrolment status."),
                               {"status": [_("Use one of %(values)s.", values=", ".join(ENROLMENT_STATUSES))]})
    query = select(Enrolment).where(Enrolment.user_id == user.id)
    if status:
        query = query.where(Enrolment.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    active_first = case((Enrolment.status == "active", 0), else_=1)
    rows = db.session.scalars(
        query.options(selectinload(Enrolment.course).selectinload(Course.modules).selectinload(Module.lessons))
        .order_by(active_first, Enrolment.enrolled_at.desc(), Enrolment.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).unique().all()
    return list(rows), total


def progress_of_many(enrolments: list[Enrolment]) -> dict[int, Progress]:
    """The progress of each enrolment, read with two queries whatever their number."""
    ids = [e.id for e in enrolments]
    done: dict[int, set[int]] = {i: set() for i in ids}
    passed: set[int] = set()
    if ids:
        for enrolment_id, lesson_id in db.session.execute(
            select(LessonProgress.enrolment_id, LessonProgress.lesson_id).where(LessonProgress.enrolment_id.in_(ids))
        ):
            done[enrolment_id].add(lesson_id)
        passed = set(db.session.scalars(
            select(QuizAttempt.enrolment_id).where(QuizAttempt.enrolment_id.in_(ids), QuizAttempt.passed.is_(True))
        ))
    result = {}
    for enrolment in enrolments:
        lessons = all_lessons(enrolment.course)
        mine = done[enrolment.id]
        result[enrolment.id] = Progress(
            completed_lessons=sum(1 for lesson in lessons if lesson.id in mine),
            total_lessons=len(lessons),
            next_lesson_id=next((lesson.id for lesson in lessons if lesson.id not in mine), None),
            quiz_required=enrolment.course.quiz is not None,
            quiz_passed=enrolment.id in passed,
            done=frozenset(mine),
        )
    return result


def current_enrolment(user: User, course: Course) -> Enrolment | None:
    """The learner's active enrolment in the course, else their latest completed one, else None."""
    return db.session.scalars(
        select(Enrolment)
        .where(Enrolment.user_id == user.id, Enrolment.course_id == course.id, Enrolment.status != "withdrawn")
        .order_by(case((Enrolment.status == "active", 0), else_=1), Enrolment.enrolled_at.desc())
        .limit(1)
    ).first()


def lesson_of(enrolment: Enrolment, lesson_id: int) -> Lesson:
    """A lesson of the enrolment's course; any other id is NotFound."""
    lesson = db.session.scalar(
        select(Lesson).join(Module).where(Lesson.id == lesson_id, Module.course_id == enrolment.course_id)
    )
    if lesson is None:
        raise NotFound(_("This lesson is not part of the course."))
    return lesson


def lesson_after(enrolment: Enrolment, lesson: Lesson) -> Lesson | None:
    """The lesson that follows in the course's order, or None after the last."""
    lessons = all_lessons(enrolment.course)
    index = next(i for i, item in enumerate(lessons) if item.id == lesson.id)
    return lessons[index + 1] if index + 1 < len(lessons) else None


def quiz_attempts(enrolment: Enrolment) -> list[QuizAttempt]:
    """The enrolment's quiz attempts, oldest first."""
    return list(db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.enrolment_id == enrolment.id)
        .order_by(QuizAttempt.submitted_at, QuizAttempt.id)
    ))
