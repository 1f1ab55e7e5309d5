"""Erasure and evaluations: the person's answers stay as anonymous figures, detached from them; what
they wrote is blanked, and their name is scrubbed from what others wrote. Past reports do not move."""

from __future__ import annotations

from learning.accounts.privacy import erase_user
from learning.evaluations import report, services
from learning.evaluations.models import Evaluation
from learning.extensions import db
from learning.reporting.queries import ReportFilter
from learning.signals import ERASED
from tests import factories_evaluations as fe


def test_erasure_detaches_the_evaluation_blanks_its_texts_and_keeps_the_figures(make):
    person = make.user(full_name="Zaïnab Qurayshi", email="zq@example.org")
    enrolment, mine = fe.evaluated(person, answers={"relevance": 2, "recommend": "no",
                                                    "comments": "As the only judge in Lamu, I struggled."})
    course = enrolment.course
    colleague_text = "Zaïnab Qurayshi (ZQ@example.org) explained referrals well."
    for n in range(5):
        fe.evaluated(of_course=course, answers={"relevance": 4, "comments": colleague_text if n == 0 else f"Fine {n}"})
    filters = ReportFilter(course=course.id)
    before = report.published(filters, 5, with_texts=True)

    assert erase_user(person.id)
    db.session.expire_all()
    kept = db.session.get(Evaluation, mine.id)
    assert kept.enrolment_id is None  # nothing links the answers to the person any more
    assert services.answers_as_data(kept) == {"comments": ERASED, "recommend": "no", "relevance": 2}
    assert services.evaluations_of_person(person.id) == []
    after = report.published(filters, 5, with_texts=True)
    comments = next(q for q in after["questions"] if q["question"] == "comments")
    assert comments["responses"] == 6  # still counted, never listed
    assert "As the only judge in Lamu, I struggled." not in comments["answers"]
    assert "[erased] ([erased]) explained referrals well." in comments["answers"]
    assert [q for q in after["questions"] if q["kind"] != "text"] == [
        q for q in before["questions"] if q["kind"] != "text"]
    assert after["respondents"] == before["respondents"] == 6


def test_erasure_leaves_other_people_s_evaluations_alone(make):
    person = make.user(full_name="Ada Lovelace")
    _enrolment, other = fe.evaluated(answers={"change": "Nothing about anyone."})
    fe.evaluated(person)
    assert erase_user(person.id)
    db.session.expire_all()
    kept = db.session.get(Evaluation, other.id)
    assert kept.enrolment_id is not None and kept.answers[0].text == "Nothing about anyone."
