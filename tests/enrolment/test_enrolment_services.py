"""The rules of a learner's journey: snapshots, completion and its event, recertification."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from learning.enrolment import services
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from tests import factories_catalogue as fc
from tests.concurrency import Lanes, race

# --- rule 3: the enrolment remembers who the learner was -------------------------------------


def test_an_enrolment_records_country_sector_and_organisation_at_that_moment(make):
    from learning.accounts.services import update_profile

    learner = make.user(country="CO", sector="law_enforcement", organisation="Policía Nacional")
    enrolment = make.enrolment(learner)
    update_profile(learner, {"country": "RO", "sector": "justice", "organisation": "Ministerul Justiției"})
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Enrolment, enrolment.id)
    assert (stored.country, stored.sector) == ("CO", "law_enforcement")
    assert stored.organisation_id is not None and stored.organisation_id != learner.organisation_id


# --- completion and its outbox event (DESIGN.md rule 1) -------------------------------------


def test_completion_writes_exactly_one_event_when_the_last_requirement_is_met(make):
    enrolment = make.enrolment(make.user())
    first, second = fc.lesson_ids(enrolment.course)
    services.complete_lesson(enrolment, first)
    services.submit_quiz(enrolment, fc.wrong_answers(enrolment.course))
    services.submit_quiz(enrolment, fc.right_answers(enrolment.course))
    db.session.commit()
    assert enrolment.status == "active" and fc.events() == []
    services.complete_lesson(enrolment, second)
    db.session.commit()
    assert enrolment.status == "completed" and enrolment.completed_at is not None
    events = fc.events()
    assert len(events) == 1 and events[0].payload == {"enrolment_id": enrolment.id}
    with pytest.raises(services.EnrolmentNotActive):
        services.complete_lesson(enrolment, second)
    db.session.rollback()
    assert len(fc.events()) == 1


def test_the_event_and_the_completion_share_one_transaction(make):
    enrolment = make.enrolment(make.user(), make.course(quiz=None))
    for lesson in fc.lesson_ids(enrolment.course):
        services.complete_lesson(enrolment, lesson)
    # Not committed: roll back, and neither the completion nor its event exists.
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "active"
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_a_course_without_a_quiz_completes_with_its_last_lesson(make):
    enrolment = make.enrolment(make.user(), make.course(quiz=None))
    *before, last = fc.lesson_ids(enrolment.course)
    for lesson in before:
        services.complete_lesson(enrolment, lesson)
    assert enrolment.status == "active"
    services.complete_lesson(enrolment, last)
    db.session.commit()
    assert enrolment.status == "completed" and len(fc.events()) == 1


def test_a_passed_quiz_alone_does_not_complete_the_course(make):
    enrolment = make.enrolment(make.user())
    result = services.submit_quiz(enrolment, fc.right_answers(enrolment.course))
    db.session.commit()
    assert result.passed and enrolment.status == "active" and fc.events() == []
    assert services.progress_of(enrolment).quiz_passed is True


def test_the_score_is_rounded_percent_against_the_pass_mark(make):
    enrolment = make.enrolment(make.user(), make.course(pass_mark=60))
    answers = fc.right_answers(enrolment.course)
    first = next(iter(answers))
    answers[first] = fc.wrong_answers(enrolment.course)[first]
    result = services.submit_quiz(enrolment, answers)
    assert (result.score, result.passed) == (50, False)
    unanswered = services.submit_quiz(enrolment, {})
    assert (unanswered.score, unanswered.passed) == (0, False)


def test_a_withdrawn_enrolment_can_neither_progress_nor_complete(make):
    enrolment = make.enrolment(make.user())
    services.withdraw(enrolment)
    db.session.commit()
    with pytest.raises(services.EnrolmentNotActive):
        services.complete_lesson(enrolment, fc.lesson_ids(enrolment.course)[0])
    with pytest.raises(services.EnrolmentNotActive):
        services.submit_quiz(enrolment, fc.right_answers(enrolment.course))


# --- recertification -----------------------------------------------------------------------------


def test_while_a_certificate_is_in_force_the_learner_cannot_enrol_again(make):
    learner, course = make.user(), make.course(certificate_validity_months=24)
    done = make.completed_enrolment(learner, course)
    assert services.can_enrol_again(learner.id, course.id)[0] is False  # certificate not issued yet
    fc.certificate(done, expires_at=utcnow() + fc.days(365))
    allowed, reason = services.can_enrol_again(learner.id, course.id)
    assert allowed is False and "still valid" in reason
    with pytest.raises(services.AlreadyEnrolled):
        services.enrol(learner, course)


def test_within_the_renewal_window_the_learner_enrols_again_and_history_is_kept(make):
    learner, course = make.user(), make.course(certificate_validity_months=12)
    first = make.completed_enrolment(learner, course)
    fc.certificate(first, expires_at=utcnow() + fc.days(30))  # the default window is 90 days
    assert services.can_enrol_again(learner.id, course.id) == (True, None)
    second = make.enrolment(learner, course)
    assert second.id != first.id and second.status == "active"
    assert services.progress_of(second).completed_lessons == 0  # each cycle has its own progress
    db.session.expire_all()
    assert db.session.get(Enrolment, first.id).status == "completed"
    assert services.can_enrol_again(learner.id, course.id)[0] is False  # one active cycle at a time


def test_after_expiry_the_learner_enrols_again_and_completes_a_second_cycle(make):
    learner, course = make.user(), make.course(certificate_validity_months=12)
    first = make.completed_enrolment(learner, course)
    fc.certificate(first, expires_at=utcnow() - fc.days(1))
    second = make.completed_enrolment(learner, course)
    enrolments = db.session.scalars(select(Enrolment).where(Enrolment.user_id == learner.id)).all()
    assert sorted(e.id for e in enrolments) == sorted([first.id, second.id])
    assert all(e.status == "completed" for e in enrolments)
    assert sorted(e.payload["enrolment_id"] for e in fc.events()) == sorted([first.id, second.id])
    assert services.can_enrol_again(learner.id, course.id)[0] is False  # the new cycle awaits its certificate


def test_a_certificate_that_never_expires_is_never_renewed(make):
    learner, course = make.user(), make.course(certificate_validity_months=None)
    fc.certificate(make.completed_enrolment(learner, course), expires_at=None)
    allowed, reason = services.can_enrol_again(learner.id, course.id)
    assert allowed is False and "already completed" in reason


def test_a_revoked_certificate_lets_the_learner_take_the_course_again(make):
    learner, course = make.user(), make.course()
    fc.certificate(make.completed_enrolment(learner, course), expires_at=utcnow() + fc.days(700), revoked=True)
    assert services.can_enrol_again(learner.id, course.id) == (True, None)


def test_someone_elses_certificate_does_not_matter(make):
    learner, other, course = make.user(), make.user(), make.course()
    fc.certificate(make.completed_enrolment(other, course), expires_at=utcnow() + fc.days(700))
    assert services.can_enrol_again(learner.id, course.id) == (True, None)


def test_two_requests_finishing_the_last_two_lessons_at_once_complete_exactly_once(make, app):
    """Each request alone sees one lesson missing; the row lock makes the second see the first."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are what PostgreSQL's concurrency needs; SQLite serialises writers itself")
    enrolment = make.enrolment(make.user(), make.course(quiz=None))
    lessons = fc.lesson_ids(enrolment.course)
    assert len(lessons) == 2

    def finish(me: int, lanes: Lanes) -> None:
        mine = db.session.get(Enrolment, enrolment.id)
        lanes.start()
        services.complete_lesson(mine, lessons[me])
        lanes.hold_open(me)
        db.session.commit()

    race(app, finish)
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "completed"
    assert len(fc.events()) == 1


@pytest.mark.parametrize("history", [
    "nothing", "active", "withdrawn", "completed, certificate to come", "certificate in force",
    "certificate within the renewal window", "certificate expired", "certificate never expires",
    "certificate revoked", "someone else's certificate"])
def test_enrolling_agrees_with_can_enrol_again_whatever_came_before(make, history):
    """Helper "hotpath3": on PostgreSQL ``enrol`` is one statement whose condition is ``can_enrol_again``'s
    rule in SQL; in every case it enrols exactly when the rule allows, and a refusal gives the rule's reason."""
    learner, course = make.user(), make.course(certificate_validity_months=12)
    if history == "active":
        make.enrolment(learner, course)
    elif history == "withdrawn":
        services.withdraw(make.enrolment(learner, course))
        db.session.commit()
    elif history != "nothing":
        done = make.completed_enrolment(make.user() if history == "someone else's certificate" else learner, course)
        expiry = {"certificate in force": fc.days(365), "certificate within the renewal window": fc.days(30),
                  "certificate expired": -fc.days(1), "certificate never expires": None,
                  "certificate revoked": fc.days(700), "someone else's certificate": fc.days(700)}
        if history in expiry:
            fc.certificate(done, expires_at=None if expiry[history] is None else utcnow() + expiry[history],
                           revoked=history == "certificate revoked")
    allowed, reason = services.can_enrol_again(learner.id, course.id)
    assert allowed == (history in ("nothing", "withdrawn", "certificate within the renewal window",
                                   "certificate expired", "certificate revoked", "someone else's certificate"))
    if allowed:
        enrolment = services.enrol(learner, course)
        assert enrolment.status == "active" and enrolment.user_id == learner.id
    else:
        with pytest.raises(services.AlreadyEnrolled) as refused:
            services.enrol(learner, course)
        assert refused.value.message == reason
