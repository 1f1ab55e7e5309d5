"""Factories for cohorts, sessions and members; tests pass only the fields they care about."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from learning.cohorts import services, sessions
from learning.extensions import db
from tests import factories

_seq = itertools.count(1)


def cohort(trainer=None, course=None, **fields):
    """An open cohort run by ``trainer`` (a new trainer if not given)."""
    n = next(_seq)
    runner = trainer or factories.trainer()
    data = {
        "course": (course or factories.course()).slug,
        "name": f"Cohort {n}",
        "country": "CO",
        "delivery": "in_person",
        "starts_on": date(2025, 3, 1),
        "ends_on": date(2025, 3, 31),
    }
    data.update(fields)
    created = services.create_cohort(runner, data)
    db.session.commit()
    return created


def member(of_cohort, learner=None, **fields):
    """A learner enrolled in the cohort, as a trainer's roster would enrol them."""
    from learning.enrolment.services import enrol

    person = learner or factories.user(**fields)
    enrolment = enrol(person, of_cohort.course, cohort_id=of_cohort.id, by_trainer=True)
    db.session.commit()
    return enrolment


def session(of_cohort, days: int = 0, **fields):
    data = {"starts_at": datetime(2025, 3, 3, 14, 0, tzinfo=UTC) + timedelta(days=days), "title": "Session",
            "place": "Bogotá"}
    data.update(fields)
    created = sessions.add_session(of_cohort.created_by_id, of_cohort, data)
    db.session.commit()
    return created


def csv_bytes(*lines: str, bom: bool = False, encoding: str = "utf-8") -> bytes:
    text = "\r\n".join(lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
