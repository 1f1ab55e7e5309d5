"""The demo's dates are coherent: a cohort's members enrol shortly before it starts and finish while
it runs, so a cohort named for 2026 has no completions dated 2024; nothing is dated in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow


def test_cohort_members_enrol_and_finish_around_the_cohorts_dates(app_context):
    from learning.demo import seed_demo

    seed_demo(learners=150)
    now = utcnow() + timedelta(minutes=1)
    rows = db.session.execute(select(Enrolment, Cohort).join(Cohort, Cohort.id == Enrolment.cohort_id)).all()
    assert len(rows) > 10
    completed = 0
    for item, cohort in rows:
        opens = datetime.combine(cohort.starts_on - timedelta(days=14), datetime.min.time(), tzinfo=UTC)
        closes = datetime.combine(cohort.ends_on + timedelta(days=8), datetime.min.time(), tzinfo=UTC)
        assert opens <= item.enrolled_at <= now, (cohort.name, item.enrolled_at)
        if item.completed_at is not None:
            completed += 1
            assert item.enrolled_at <= item.completed_at <= min(closes, now), (cohort.name, item.completed_at)
            assert f" {cohort.starts_on.year}-" in cohort.name  # "CO cohort 2026-9"
            assert item.completed_at.year in (cohort.starts_on.year, (cohort.ends_on + timedelta(days=7)).year)
    assert completed > 5
    for item in db.session.scalars(select(Enrolment)):
        assert item.enrolled_at <= now and (item.completed_at is None or item.completed_at <= now)
