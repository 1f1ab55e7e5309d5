"""The completion rule has two paths (``learning.enrolment.completion``): ``services.check_completion`` asks
it in Python through the ORM; the API's hot path (``learning.enrolment.hot``, PostgreSQL) makes it the
condition of one statement. Both are derived from the same list of requirements; here they are driven over
the same cases, side by side, and must agree with each other and with the rule as the product states it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from learning.enrolment import hot, services
from learning.enrolment.models import Enrolment, LessonProgress, QuizAttempt
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from tests import factories_catalogue as fc
from tests import factories_cohorts as cohorts


@dataclass(frozen=True)
class Case:
    """What came before the learner completes the course's last lesson (again, if already done)."""

    quiz: str = "no quiz"  # or "not tried", "failed", "passed"
    lessons_before: int = 1  # of the course's two lessons, done in order
    cohort_rule: str | None = None  # a cohort's attendance rule, None outside a cohort
    status: str = "active"

    def __str__(self) -> str:
        cohort = "no cohort" if self.cohort_rule is None else f"cohort {self.cohort_rule}"
        return f"{self.quiz}-{self.lessons_before} done-{cohort}-{self.status}"

    @property
    def completes(self) -> bool:
        """The rule as the product states it: every lesson done, the quiz passed if there is one, no
        attendance rule of a cohort deciding instead; only an active enrolment changes."""
        return (self.status == "active" and self.quiz in ("no quiz", "passed")
                and self.cohort_rule in (None, "none"))


CASES = [
    *(Case(quiz, before) for quiz in ("no quiz", "not tried", "failed", "passed") for before in (0, 1, 2)),
    *(Case(quiz, 1, rule) for quiz in ("no quiz", "passed") for rule in ("none", "all_sessions", "min_percent")),
    Case(status="completed"), Case(status="withdrawn"),
]


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the Core hot path serves PostgreSQL; SQLite has only the ORM path")


def prepared(make, case: Case, course, cohort) -> Enrolment:
    """A learner's enrolment in the state the case describes, written as rows (neither path's doing)."""
    learner = make.user()
    enrolment = cohorts.member(cohort, learner) if cohort is not None else make.enrolment(learner, course)
    lessons = fc.lesson_ids(course)
    for lesson_id in lessons[:case.lessons_before]:
        db.session.add(LessonProgress(enrolment_id=enrolment.id, lesson_id=lesson_id, completed_at=utcnow()))
    if case.quiz in ("failed", "passed"):
        db.session.add(QuizAttempt(enrolment_id=enrolment.id, score=100 if case.quiz == "passed" else 0,
                                   passed=case.quiz == "passed", submitted_at=utcnow()))
    if case.status != "active":
        enrolment.status = case.status
        setattr(enrolment, f"{case.status}_at", utcnow())
    db.session.commit()
    return enrolment


def through_services(user, enrolment_id: int, lesson_id: int) -> None:
    enrolment = services.get_own_enrolment(user, enrolment_id, for_update=True)
    services.complete_lesson(enrolment, lesson_id, locked=True)


def through_hot_path(user, enrolment_id: int, lesson_id: int) -> None:
    hot.complete_lesson(db.session(), user, enrolment_id, lesson_id)


def outcome(path, enrolment: Enrolment, lesson_id: int) -> tuple[str, str, int]:
    """What the learner and the certificate would see: the answer, the status, the completion events."""
    try:
        path(enrolment.user, enrolment.id, lesson_id)
        answer = "done"
        db.session.commit()
    except services.EnrolmentNotActive as refused:
        answer = refused.code
        db.session.rollback()
    db.session.expire_all()
    events = db.session.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "enrolment.completed"))
    return (answer, db.session.get(Enrolment, enrolment.id).status,
            sum(1 for payload in events if payload == {"enrolment_id": enrolment.id}))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_services_and_the_hot_path_complete_the_same_enrolments(make, case):
    course = make.course(**({"quiz": None} if case.quiz == "no quiz" else {}))
    assert len(fc.lesson_ids(course)) == 2
    fields = {"attendance_min_percent": 60} if case.cohort_rule == "min_percent" else {}
    cohort = cohorts.cohort(course=course, attendance_rule=case.cohort_rule, **fields) if case.cohort_rule else None
    last = fc.lesson_ids(course)[-1] if case.lessons_before != 0 else fc.lesson_ids(course)[0]
    by_services = outcome(through_services, prepared(make, case, course, cohort), last)
    by_hot_path = outcome(through_hot_path, prepared(make, case, course, cohort), last)
    assert by_services == by_hot_path
    completes = case.completes and case.lessons_before >= 1  # the lesson done now is the last one missing
    answer = "done" if case.status == "active" else "enrolment_not_active"
    assert by_services == (answer, "completed" if completes else case.status, 1 if completes else 0)
