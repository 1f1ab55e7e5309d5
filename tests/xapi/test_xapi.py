"""xAPI statements reach a real (test) LRS once each, whatever the LRS does (learning/xapi).

The LRS is ``tests/xapi_lrs.py``, an HTTP server on loopback that validates every statement; the
outbox is driven by calling its processing services as a worker would (``process_batch``), so
that the batches, retries and done-marks are the real ones.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from learning.catalogue.services import all_lessons
from learning.enrolment import services as enrolment_services
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from learning.xapi import services as xapi_services
from learning.xapi import statements as xs
from learning.xapi.services import EVENT_TYPE
from tests import factories_cohorts as cohorts
from tests.xapi_lrs import validate


@pytest.fixture
def lrs(local_lrs, point_app_at):
    return point_app_at(local_lrs)


def xapi_events() -> list[OutboxEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == EVENT_TYPE)
                                   .order_by(OutboxEvent.id)))


def run_outbox() -> dict:
    """What a worker does with the xAPI events not done yet (published together, as after a commit)."""
    ids = [e.id for e in xapi_events() if e.status != "done"]
    db.session.remove()
    return outbox.process_batch(ids) if ids else {}


def journey(make):
    """A learner's whole journey: enrolled, a failed then a passed quiz, every lesson, a certificate."""
    learner = make.user(email="ana.learner@example.org", full_name="Ana Learner")
    course = make.course()
    enrolment = make.enrolment(learner, course)
    quiz = course.quiz
    wrong = {str(q.id): next(c.id for c in q.choices if not c.correct) for q in quiz.questions}
    right = {str(q.id): next(c.id for c in q.choices if c.correct) for q in quiz.questions}
    enrolment_services.submit_quiz(enrolment, wrong)
    db.session.commit()
    for lesson in all_lessons(course):
        enrolment_services.complete_lesson(enrolment, lesson.id)
        db.session.commit()
    enrolment_services.submit_quiz(enrolment, right)  # passes: the course is completed
    db.session.commit()
    # The certificate follows from the completion event, as the worker issues it.
    completed = db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.event_type == "enrolment.completed")).all()
    assert outbox.process(completed[0]) == "done"
    return learner.id, course.id, enrolment.id


def test_a_journey_arrives_once_each_in_one_batch_without_the_learners_address(app_context, make, lrs):
    learner_id, course_id, enrolment_id = journey(make)
    outcome = run_outbox()
    assert lrs.errors == []
    verbs = Counter(s["verb"]["id"].rsplit("/", 1)[1] for s in lrs.statements.values())
    # registered, 2 lessons + the course completed, 2 attempts (one failed, one passed), the certificate
    assert verbs == Counter(registered=1, completed=3, attempted=2, failed=1, passed=1, earned=1)
    assert outcome == {"done-or-busy": 0, "batched": 9} and lrs.posts == [9]
    assert all(e.status == "done" for e in xapi_events())
    assert "ana.learner" not in repr(lrs.statements) and "Ana Learner" not in repr(lrs.statements)
    actors = {repr(s["actor"]) for s in lrs.statements.values()}
    assert len(actors) == 1
    actor = next(iter(lrs.statements.values()))["actor"]
    assert actor["account"] == {"homePage": "http://127.0.0.1:5000", "name": xs.opaque_id(learner_id)}
    registrations = {s["context"]["registration"] for s in lrs.statements.values()}
    assert registrations == {xs.registration_of(enrolment_id)}
    course_iri = xs.course_iri(course_id)
    passed = next(s for s in lrs.statements.values() if s["verb"]["id"].endswith("/passed"))
    assert passed["result"]["success"] is True and passed["result"]["score"]["raw"] == 100
    assert passed["context"]["contextActivities"]["parent"][0]["id"] == course_iri
    earned = next(s for s in lrs.statements.values() if s["verb"]["id"].endswith("/earned"))
    assert earned["object"]["id"].startswith("http://127.0.0.1:5000/verify/")
    # Nothing is sent again: every event is done.
    assert run_outbox() == {} and lrs.posts == [9]
    # Done events keep only the statement's id.
    assert all(set(e.payload) == {"statement_id"} for e in xapi_events())


def test_statement_ids_are_stable_so_the_same_fact_is_the_same_statement(app_context, make, lrs):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort)
    member = cohorts.member(cohort)
    from learning.cohorts import sessions

    sessions.record_attendance(trainer.id, cohort, session, [member.user_id])
    db.session.commit()
    sessions.record_attendance(trainer.id, cohort, session, [member.user_id])  # the register saved again
    db.session.commit()
    ref = f"{session.id}:{member.user_id}"
    run_outbox()
    attended = [s for s in lrs.statements.values() if s["verb"]["id"].endswith("/attended")]
    assert len(attended) == 1
    assert attended[0]["id"] == xs.statement_id("attended", "attended", ref)
    assert attended[0]["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/meeting"
    assert lrs.errors == []


def test_mbox_actor_when_the_partner_asks_for_it(app, app_context, make, lrs):
    app.config["XAPI_ACTOR"] = "mbox"
    make.enrolment(make.user(email="bea@example.org"))
    run_outbox()
    (statement,) = lrs.statements.values()
    assert statement["actor"] == {"objectType": "Agent", "mbox": "mailto:bea@example.org"}


def test_lrs_down_then_5xx_then_up_delivers_everything_once(app_context, make, lrs):
    course = make.course()
    for _learner in range(3):
        make.enrolment(make.user(), course)
    lrs.stop()  # connection refused
    run_outbox()
    events = xapi_events()
    assert [e.status for e in events] == ["pending"] * 3
    assert all(e.attempts == 1 and "unreachable" in e.last_error for e in events)
    assert all(e.next_attempt_at > e.created_at + timedelta(seconds=5) for e in events)  # backed off
    lrs.start()
    lrs.fail_next = 100  # up, but answering 503
    xapi_services._paused_until.clear()  # as when the retry comes, 10 s later
    run_outbox()
    events = xapi_events()
    assert all(e.status == "pending" and e.attempts == 2 for e in events)
    assert all("503" in e.last_error and "moments ago" in e.last_error for e in events)
    assert lrs.statements == {}
    assert lrs.fail_next == 100 - 1  # the batch was refused; the events alone then waited (paused)
    lrs.fail_next = 0
    xapi_services._paused_until.clear()
    assert run_outbox() == {"done-or-busy": 0, "batched": 3}
    assert len(lrs.statements) == 3 and lrs.posts == [3]
    assert all(e.status == "done" for e in xapi_events())
    assert lrs.errors == []


def test_409_for_known_statements_counts_as_delivered_and_nothing_is_doubled(app_context, make, lrs):
    course = make.course()
    first_id = make.enrolment(make.user(), course).id
    run_outbox()
    assert len(lrs.statements) == 1
    # The LRS stored the batch but its answer was lost: the event is still pending here.
    db.session.execute(update(OutboxEvent).values(status="pending", processed_at=None))
    db.session.commit()
    second_id = make.enrolment(make.user(), make.course()).id
    lrs.conflict_on_known = True
    assert run_outbox() == {"done-or-busy": 0, "batched": 2}  # 409 for the batch, then one by one
    assert all(e.status == "done" for e in xapi_events())
    assert len(lrs.statements) == 2  # the new one stored, the known one not doubled
    registrations = {s["context"]["registration"] for s in lrs.statements.values()}
    assert registrations == {xs.registration_of(first_id), xs.registration_of(second_id)}
    assert lrs.errors == []


def test_a_statement_the_lrs_refuses_does_not_hold_the_others_back(app_context, make, lrs):
    course = make.course()
    for _learner in range(3):
        make.enrolment(make.user(), course)
    events = xapi_events()
    lrs.refuse_ids = {events[1].payload["statement_id"]}
    run_outbox()
    events = xapi_events()
    assert [e.status for e in events] == ["done", "pending", "done"]
    assert "400" in events[1].last_error and len(lrs.statements) == 2
    lrs.refuse_ids = set()  # the LRS's rule is fixed: the retry delivers it
    run_outbox()
    assert len(lrs.statements) == 3 and all(e.status == "done" for e in xapi_events())


def test_an_erased_person_is_never_named_to_the_lrs_again(app_context, make, lrs):
    from learning.accounts.privacy import erase_user

    kept = make.enrolment(make.user())
    kept_id, course_id = kept.id, kept.course_id
    erased = make.user(email="gone@example.org")
    enrolment = make.enrolment(erased, kept.course)
    enrolment_services.complete_lesson(enrolment, all_lessons(kept.course)[0].id)
    db.session.commit()
    assert erase_user(erased.id)
    db.session.commit()
    dropped = [e for e in xapi_events() if e.status == "done"]
    assert len(dropped) == 2 and all(e.payload == {} for e in dropped)
    run_outbox()
    assert len(lrs.statements) == 1
    assert next(iter(lrs.statements.values()))["context"]["registration"] == xs.registration_of(kept_id)
    # A statement still queued when the person is erased (erased by another path) is not sent either.
    from learning.accounts.models import User
    from learning.catalogue.models import Course

    other = make.user()
    make.enrolment(other, db.session.get(Course, course_id))
    db.session.execute(update(User).where(User.id == other.id).values(erased_at=utcnow()))
    db.session.commit()
    run_outbox()
    assert len(lrs.statements) == 1 and all(e.status == "done" for e in xapi_events())


def test_nothing_is_recorded_without_an_endpoint(app_context, make):
    make.enrolment(make.user())
    assert xapi_events() == []


def test_the_test_lrs_refuses_malformed_statements():
    """The validator the tests rely on can fail: each rule refuses a statement that breaks it."""
    good = {"id": "0b8f5f0e-5b1e-5a8f-9f3c-2b9c4b8f3a11", "actor": {"account": {"homePage": "https://x.org", "name": "a"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
            "object": {"id": "https://x.org/course/1"}, "timestamp": "2026-01-02T03:04:05.000Z"}
    validate(good)
    bad = [
        {**good, "id": "not-a-uuid"},
        {**good, "actor": {"mbox": "ana@example.org"}},
        {**good, "actor": {"mbox": "mailto:a@b.org", "account": {"homePage": "https://x.org", "name": "a"}}},
        {**good, "verb": {"id": "completed"}},
        {**good, "object": {"id": "course 1"}},
        {**good, "timestamp": "2026-01-02 03:04:05"},
        {**good, "result": {"score": {"scaled": 2}}},
        {**good, "context": {"registration": "x"}},
        {key: value for key, value in good.items() if key != "verb"},
    ]
    for statement in bad:
        with pytest.raises(ValueError):
            validate(statement)


def test_the_configuration_is_checked():
    from learning.config import ConfigError, load_config

    env = {"SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests"}
    config = load_config({**env, "XAPI_ENDPOINT": "https://lrs.example.org/xapi/ ", "XAPI_ACTOR": "MBOX"})
    assert config["XAPI_ENDPOINT"] == "https://lrs.example.org/xapi" and config["XAPI_ACTOR"] == "mbox"
    assert load_config(env)["XAPI_ENDPOINT"] == "" and load_config(env)["XAPI_ACTOR"] == "account"
    with pytest.raises(ConfigError, match="XAPI_ACTOR"):
        load_config({**env, "XAPI_ACTOR": "email"})
    with pytest.raises(ConfigError, match="XAPI_ENDPOINT"):
        load_config({**env, "XAPI_ENDPOINT": "lrs.example.org"})


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_a_timeout_that_could_never_send_refuses_to_start(timeout):
    """Outside check: XAPI_TIMEOUT=0 or -5 started, and then every batch failed in requests (a timeout
    must be positive) and was retried for ever; now the start-up names the setting."""
    from learning.config import ConfigError, load_config

    env = {"SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests", "XAPI_ENDPOINT": "https://lrs.example.org/xapi"}
    with pytest.raises(ConfigError, match="XAPI_TIMEOUT must be 1 or more"):
        load_config({**env, "XAPI_TIMEOUT": timeout})
    assert load_config({**env, "XAPI_TIMEOUT": "3"})["XAPI_TIMEOUT"] == 3
