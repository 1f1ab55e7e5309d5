"""The demo's evaluations: made through the service, dated after the completion and never ahead."""

from __future__ import annotations

from sqlalchemy import select

from learning.evaluations.demo import seed_demo_evaluations
from learning.evaluations.models import Evaluation
from learning.extensions import db
from learning.models_base import utcnow


def test_the_demo_evaluates_most_completions_after_they_happen(make):
    course = make.course()
    enrolments = [make.completed_enrolment(make.user(language=lang), course) for lang in ("es", "ar", "fr", "en") * 3]
    made = seed_demo_evaluations(2026)
    db.session.commit()
    evaluations = db.session.scalars(select(Evaluation)).all()
    assert len(evaluations) == made and 3 <= made <= len(enrolments)
    completed = {e.id: e.completed_at for e in enrolments}
    for evaluation in evaluations:
        assert completed[evaluation.enrolment_id] <= evaluation.submitted_at <= utcnow()
        assert evaluation.answers
