"""The completion rule, stated once: what completes an active enrolment by the learner's own progress.

An active enrolment is completed when every one of ``REQUIREMENTS`` holds. Two paths apply the rule, and
both are derived from the list below: ``services.check_completion`` (the ORM, any database) asks each
requirement in Python, in order, stopping at the first that fails (``requirements_met``); the API's hot
path (``hot.py``, PostgreSQL) makes their conjunction the condition of its one statement (``SQL_COLUMNS``,
``SQL_ALL_MET``). Each requirement gives its two forms side by side; tests/enrolment/test_completion_rule.py
drives both paths over the same cases and asserts that they agree.

A requirement added here reaches both paths; its SQL form may use the hot statement's parameters
(``:enrolment_id``, ``:cohort_id``, ``:lesson_ids``, ``:has_quiz``) and its ``done`` CTE (the lessons done,
``lesson_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from learning.cohorts.models import ATTENDANCE_DECIDES, Cohort
from learning.enrolment.models import Enrolment, LessonProgress, QuizAttempt
from learning.extensions import db

if TYPE_CHECKING:
    from learning.enrolment.services import CourseOutline


def completed_lesson_ids(enrolment: Enrolment) -> set[int]:
    """The lessons of this enrolment the learner has done."""
    return set(db.session.scalars(
        select(LessonProgress.lesson_id).where(LessonProgress.enrolment_id == enrolment.id)
    ))


def quiz_passed(enrolment: Enrolment) -> bool:
    """Whether any attempt of this enrolment at its course's quiz passed."""
    return db.session.scalar(
        select(QuizAttempt.id).where(QuizAttempt.enrolment_id == enrolment.id, QuizAttempt.passed.is_(True)).limit(1)
    ) is not None


def attendance_decides(enrolment: Enrolment) -> bool:
    """In a cohort with an attendance rule, attendance decides: the member is completed (and certified)
    when the trainer closes the cohort having met the rule, or signs them off by hand; finishing the
    online part alone does not (issue 18: certificates for those who met the rule)."""
    if enrolment.cohort_id is None:
        return False
    rule = db.session.scalar(select(Cohort.attendance_rule).where(Cohort.id == enrolment.cohort_id))
    return rule in ATTENDANCE_DECIDES


Done = Callable[[], set[int]]  # the lessons done, read only if a requirement asks


@dataclass(frozen=True)
class Requirement:
    """One condition of completion: its name (the hot statement's column), in Python and in SQL."""

    name: str
    holds: Callable[[Enrolment, CourseOutline, Done], bool]
    sql: str


_DECIDING_RULES = ", ".join(f"'{rule}'" for rule in ATTENDANCE_DECIDES)

REQUIREMENTS: tuple[Requirement, ...] = (
    # First: in such a cohort nothing else needs reading.
    Requirement(
        "progress_decides",
        lambda enrolment, outline, done: not attendance_decides(enrolment),
        f"NOT EXISTS (SELECT 1 FROM cohorts WHERE id = :cohort_id AND attendance_rule IN ({_DECIDING_RULES}))"),
    Requirement(
        "lessons_done",
        lambda enrolment, outline, done: set(outline.lesson_ids) <= done(),
        "NOT EXISTS (SELECT 1 FROM unnest(:lesson_ids) AS outline(id) "
        "WHERE outline.id NOT IN (SELECT lesson_id FROM done))"),
    Requirement(
        "quiz_done",  # passed, if the course has a quiz
        lambda enrolment, outline, done: not outline.has_quiz or quiz_passed(enrolment),
        "(NOT :has_quiz OR EXISTS (SELECT 1 FROM quiz_attempts WHERE enrolment_id = :enrolment_id AND passed))"),
)


def requirements_met(enrolment: Enrolment, outline: CourseOutline, done: set[int] | None = None) -> bool:
    """Whether every requirement holds for this (active) enrolment; ``done``: the lessons done, if known."""
    lessons = (lambda: done) if done is not None else (lambda: completed_lesson_ids(enrolment))
    return all(requirement.holds(enrolment, outline, lessons) for requirement in REQUIREMENTS)


# The hot statement's forms: each requirement as a named column, and their conjunction over those columns.
SQL_COLUMNS = ", ".join(f"{requirement.sql} AS {requirement.name}" for requirement in REQUIREMENTS)
SQL_ALL_MET = " AND ".join(requirement.name for requirement in REQUIREMENTS)
