"""Factories for evaluation tests: completed enrolments evaluated through the service, or evaluations
written directly with a chosen attribution and day (for reports and their property tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from learning.evaluations import services
from learning.evaluations.models import Evaluation, EvaluationAnswer
from learning.evaluations.questions import BY_KEY, SCALE, TEXT
from learning.extensions import db
from tests import factories


def evaluated(learner=None, of_course=None, answers: dict | None = None, **enrolment_kwargs):
    """A completed enrolment of ``learner`` (a new person if not given) and its evaluation."""
    person = learner or factories.user()
    enrolment = factories.completed_enrolment(person, of_course)
    evaluation = services.submit_evaluation(enrolment, answers or {"relevance": 4})
    db.session.commit()
    return enrolment, evaluation


def stored(course_id: int, answers: dict, day: date = date(2024, 6, 1), cohort_id: int | None = None,
           country: str | None = "CO", sector: str | None = "law_enforcement",
           organisation_id: int | None = None) -> Evaluation:
    """An evaluation row as the service would store it, attributed and dated as told."""
    evaluation = Evaluation(course_id=course_id, cohort_id=cohort_id, country=country, sector=sector,
                            organisation_id=organisation_id, language="en",
                            submitted_at=datetime.combine(day, time(12), tzinfo=UTC))
    evaluation.answers = [EvaluationAnswer(question=key, **kind_columns(key, value)) for key, value in answers.items()]
    db.session.add(evaluation)
    db.session.flush()
    return evaluation


def kind_columns(key: str, value) -> dict:
    """The column an answer to this question is stored in."""
    kind = BY_KEY[key].kind
    return {"rating": value if kind == SCALE else None, "text": value if kind == TEXT else None,
            "choice": value if kind not in (SCALE, TEXT) else None}
