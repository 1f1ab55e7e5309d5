"""``POST /api/v1/sync``: events made offline are applied once, ever (DESIGN.md rule 9)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from learning.catalogue.services import archive_course
from learning.certificates.models import Certificate
from learning.enrolment import services
from learning.enrolment.models import DeviceEvent, Enrolment, LessonProgress, QuizAttempt
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox import services as outbox
from tests import factories_catalogue as fc
from tests.concurrency import Lanes, race


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def lesson_event(enrolment, lesson_id, at, event_id=None) -> dict:
    return {"id": event_id or str(uuid.uuid4()), "type": "lesson.completed", "enrolment_id": enrolment.id,
            "lesson_id": lesson_id, "occurred_at": iso(at)}


def quiz_event(enrolment, answers, at, event_id=None) -> dict:
    return {"id": event_id or str(uuid.uuid4()), "type": "quiz.attempted", "enrolment_id": enrolment.id,
            "answers": answers, "occurred_at": iso(at)}


def backdated(enrolment, days: int = 10) -> None:
    """The learner enrolled some days ago (then went offline)."""
    enrolment.enrolled_at = utcnow() - timedelta(days=days)
    db.session.commit()


def whole_course(enrolment, start: datetime) -> list[dict]:
    """The events of taking the whole course offline: every lesson, a failed then a passed quiz."""
    lessons = fc.lesson_ids(enrolment.course)
    events = [lesson_event(enrolment, lesson_id, start + timedelta(minutes=i)) for i, lesson_id in enumerate(lessons)]
    events.append(quiz_event(enrolment, fc.wrong_answers(enrolment.course), start + timedelta(minutes=30)))
    events.append(quiz_event(enrolment, fc.right_answers(enrolment.course), start + timedelta(minutes=40)))
    return events


def issue_certificates() -> None:
    for event in fc.events():
        outbox.process(event.id)


def test_a_course_taken_offline_completes_on_the_day_it_happened_and_earns_its_certificate(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    start = (utcnow() - timedelta(days=3)).replace(microsecond=0)
    events = whole_course(enrolment, start)

    response = api.as_user(learner).post("sync", json={"events": events})

    assert response.status_code == 200
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == ["applied"] * len(events)
    assert [r["id"] for r in body["results"]] == [e["id"] for e in events]
    [answered] = body["enrolments"]
    assert answered["id"] == enrolment.id and answered["status"] == "completed"
    assert answered["progress"]["completed_lessons"] == 2 and answered["progress"]["quiz_passed"] is True
    db.session.expire_all()
    stored = db.session.get(Enrolment, enrolment.id)
    # The day it happened (the passing attempt, the last requirement), not the day it synced.
    assert stored.completed_at == start + timedelta(minutes=40)
    assert sorted(p.completed_at for p in stored.progress) == [start, start + timedelta(minutes=1)]
    attempts = db.session.scalars(select(QuizAttempt).order_by(QuizAttempt.submitted_at)).all()
    assert [(a.score, a.passed) for a in attempts] == [(0, False), (100, True)]  # scored on the server
    assert len(fc.events()) == 1
    issue_certificates()
    certificate = db.session.scalar(select(Certificate))
    assert certificate.enrolment_id == enrolment.id and certificate.issued_at == start + timedelta(minutes=40)


def test_the_reports_count_the_completion_on_the_day_it_happened(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment, days=40)
    start = (utcnow() - timedelta(days=30)).replace(microsecond=0)
    assert api.as_user(learner).post("sync", json={"events": whole_course(enrolment, start)}).status_code == 200
    admin = api.as_user(make.admin())

    def trained(day) -> int:
        response = admin.get(f"reports/summary?from={day.isoformat()}&to={day.isoformat()}")
        assert response.status_code == 200
        return response.get_json()["professionals_trained"]

    assert trained(start.date()) == 1
    assert trained(utcnow().date()) == 0


def test_replayed_doubled_and_reordered_batches_change_nothing(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    events = whole_course(enrolment, (utcnow() - timedelta(days=2)).replace(microsecond=0))
    client = api.as_user(learner)
    assert [r["status"] for r in client.post("sync", json={"events": events}).get_json()["results"]] == \
        ["applied"] * len(events)
    shuffled = events * 2
    random.Random(4).shuffle(shuffled)
    again = client.post("sync", json={"events": shuffled}).get_json()
    assert {r["status"] for r in again["results"]} == {"duplicate"}
    assert again["enrolments"][0]["status"] == "completed"
    assert count(LessonProgress) == 2 and count(QuizAttempt) == 2 and count(DeviceEvent) == len(events)
    assert len(fc.events()) == 1
    issue_certificates()
    issue_certificates()
    assert count(Certificate) == 1


def test_the_same_event_twice_in_one_batch_counts_once(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    event = quiz_event(enrolment, fc.wrong_answers(enrolment.course), utcnow() - timedelta(hours=1))
    body = api.as_user(learner).post("sync", json={"events": [event, event]}).get_json()
    assert [r["status"] for r in body["results"]] == ["applied", "duplicate"]
    assert count(QuizAttempt) == 1


def test_events_arriving_late_after_the_lessons_were_done_online_count_once(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    lessons = fc.lesson_ids(enrolment.course)
    client = api.as_user(learner)
    assert client.post(f"enrolments/{enrolment.id}/lessons/{lessons[0]}/complete").status_code == 200
    late = lesson_event(enrolment, lessons[0], utcnow() - timedelta(days=2))
    assert client.post("sync", json={"events": [late]}).get_json()["results"][0]["status"] == "applied"
    assert count(LessonProgress) == 1


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=1, max_size=12),
       seed=st.integers(0, 10_000))
def test_any_split_order_and_repetition_of_the_events_gives_the_same_outcome(app_context, plan, seed):
    """However the device's events are split into batches, repeated and reordered, the outcome is
    that of applying each once: one completion per lesson, one completion, one outbox event."""
    from tests import factories as make  # noqa: PLC0415

    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    events = whole_course(enrolment, (utcnow() - timedelta(days=1)).replace(microsecond=0))
    rng = random.Random(seed)
    for picks, _twice in plan:
        batch = rng.sample(events, k=min(picks + 1, len(events)))
        if _twice:
            batch = batch + batch
        rng.shuffle(batch)
        services.forget_transaction_caches(db.session)
        from learning.enrolment.sync import apply_events  # noqa: PLC0415
        apply_events(learner, batch)
        db.session.commit()
    from learning.enrolment.sync import apply_events  # noqa: PLC0415
    apply_events(learner, list(reversed(events)))  # and finally everything, once more
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Enrolment, enrolment.id)
    assert count(LessonProgress, LessonProgress.enrolment_id == enrolment.id) == 2
    assert count(QuizAttempt, QuizAttempt.enrolment_id == enrolment.id) <= 2
    assert count(DeviceEvent, DeviceEvent.enrolment_id == enrolment.id) <= len(events)
    assert stored.status == "completed"
    assert len([e for e in fc.events() if e.payload["enrolment_id"] == enrolment.id]) == 1


def test_each_bad_event_is_rejected_with_its_reason_and_changes_nothing(api, make):
    learner, other = make.user(), make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    theirs = make.enrolment(other)
    lesson = fc.lesson_ids(enrolment.course)[0]
    hour_ago = utcnow() - timedelta(hours=1)
    bad = [
        {**lesson_event(enrolment, lesson, hour_ago), "type": "lesson.skipped"},
        lesson_event(theirs, fc.lesson_ids(theirs.course)[0], hour_ago),
        {**lesson_event(enrolment, lesson, hour_ago), "id": "not-a-uuid"},
        lesson_event(enrolment, lesson, utcnow() + timedelta(days=1)),
        lesson_event(enrolment, lesson, utcnow() - timedelta(days=30)),
        lesson_event(enrolment, 999_999, hour_ago),
        {**lesson_event(enrolment, lesson, hour_ago), "occurred_at": "yesterday"},
        {**lesson_event(enrolment, lesson, hour_ago), "occurred_at": "2024-01-01T10:00:00"},
        quiz_event(enrolment, {"999999": 1}, hour_ago),
        {k: v for k, v in quiz_event(enrolment, {}, hour_ago).items() if k != "answers"},
        {k: v for k, v in lesson_event(enrolment, lesson, hour_ago).items() if k != "lesson_id"},
        {**lesson_event(enrolment, lesson, hour_ago), "enrolment_id": 2**40},
    ]
    response = api.as_user(learner).post("sync", json={"events": bad})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * len(bad)
    assert all(r["error"] for r in results)
    assert results[0]["id"] == bad[0]["id"] and results[2]["id"] == "not-a-uuid"
    assert "future" in results[3]["error"] and "before the enrolment" in results[4]["error"]
    assert results[1]["error"] == "No such enrolment."  # someone else's enrolment reveals nothing
    assert count(LessonProgress) == 0 and count(QuizAttempt) == 0 and count(DeviceEvent) == 0
    assert {e["id"] for e in response.get_json()["enrolments"]} == {enrolment.id}  # never theirs
    assert response.get_json()["enrolments"][0]["progress"]["completed_lessons"] == 0


def test_a_rejected_event_does_not_stop_the_good_ones(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    lessons = fc.lesson_ids(enrolment.course)
    hour_ago = utcnow() - timedelta(hours=1)
    events = [lesson_event(enrolment, lessons[0], hour_ago), lesson_event(enrolment, 999_999, hour_ago),
              lesson_event(enrolment, lessons[1], hour_ago)]
    results = api.as_user(learner).post("sync", json={"events": events}).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert count(LessonProgress) == 2 and count(DeviceEvent) == 2


@pytest.mark.parametrize("what", ["withdrawn", "archived"])
def test_a_withdrawn_enrolment_or_an_archived_course_rejects_the_event_with_its_reason(api, make, what):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    if what == "withdrawn":
        services.withdraw(enrolment)
    else:
        archive_course(None, enrolment.course)
    db.session.commit()
    event = lesson_event(enrolment, fc.lesson_ids(enrolment.course)[0], utcnow() - timedelta(hours=1))
    [result] = api.as_user(learner).post("sync", json={"events": [event]}).get_json()["results"]
    assert result["status"] == "rejected" and what in result["error"]
    assert count(LessonProgress) == 0 and count(DeviceEvent) == 0


def test_an_event_id_used_by_someone_else_is_rejected(api, make):
    first, second = make.user(), make.user()
    mine, theirs = make.enrolment(first), make.enrolment(second)
    backdated(mine)
    backdated(theirs)
    event_id = str(uuid.uuid4())
    hour_ago = utcnow() - timedelta(hours=1)
    api.as_user(first).post("sync", json={"events": [lesson_event(mine, fc.lesson_ids(mine.course)[0],
                                                                  hour_ago, event_id)]})
    [result] = api.as_user(second).post("sync", json={"events": [
        lesson_event(theirs, fc.lesson_ids(theirs.course)[0], hour_ago, event_id)]}).get_json()["results"]
    assert result["status"] == "rejected"
    assert count(LessonProgress, LessonProgress.enrolment_id == theirs.id) == 0


EVENT = {"id": "0b542a32-9824-4485-ada8-445eac16ae7a", "type": "lesson.completed", "enrolment_id": 1,
         "lesson_id": 1, "occurred_at": "2026-01-01T10:00:00+00:00"}


@pytest.mark.parametrize("body", [None, [], {"events": "many"}, {"events": [1, 2]}, {"other": []},
                                  {"events": [EVENT] * 501}, {"events": [{}]},
                                  {"events": [{**EVENT, "enrolment_id": "1"}]},
                                  {"events": [{**EVENT, "answers": "all right"}]},
                                  {"events": [{k: v for k, v in EVENT.items() if k != "occurred_at"}]}])
def test_a_malformed_body_or_too_many_events_is_a_422_and_changes_nothing(api, make, body):
    response = api.as_user(make.user()).post("sync", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"]
    assert count(DeviceEvent) == 0


def test_sync_needs_a_sign_in(api):
    assert api.post("sync", json={"events": []}).status_code == 401


def test_five_hundred_events_are_accepted(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    lesson = fc.lesson_ids(enrolment.course)[0]
    events = [lesson_event(enrolment, lesson, utcnow() - timedelta(minutes=i + 1)) for i in range(500)]
    results = api.as_user(learner).post("sync", json={"events": events}).get_json()["results"]
    assert len(results) == 500 and {r["status"] for r in results} == {"applied"}
    assert count(LessonProgress) == 1


def test_completion_date_of_an_out_of_order_batch_is_its_last_requirement(api, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
    events = whole_course(enrolment, start)
    # The quiz arrives first, in one batch; the lessons days later, in reverse order.
    client = api.as_user(learner)
    client.post("sync", json={"events": events[2:]})
    assert db.session.get(Enrolment, enrolment.id).status == "active"
    client.post("sync", json={"events": list(reversed(events[:2]))})
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).completed_at == start + timedelta(minutes=40)


def test_the_same_batch_sent_twice_at_once_applies_each_event_once(make, app):
    """Two requests carrying the same events at the same moment (a retry racing the first send):
    the enrolment's row lock and the event ids' primary key let exactly one apply each event."""
    from learning.enrolment.sync import apply_events  # noqa: PLC0415

    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are what PostgreSQL's concurrency needs; SQLite serialises writers itself")
    learner = make.user()
    enrolment = make.enrolment(learner)
    backdated(enrolment)
    events = whole_course(enrolment, (utcnow() - timedelta(days=1)).replace(microsecond=0))
    batches = [events, list(reversed(events))]

    def send(me: int, lanes: Lanes) -> list[dict]:
        caller = db.session.get(type(learner), learner.id)
        lanes.start()
        results = apply_events(caller, batches[me]).results
        db.session.commit()
        return results

    statuses = race(app, send)
    for event in events:
        outcomes = sorted(r["status"] for batch in statuses for r in batch if r["id"] == event["id"])
        assert outcomes == ["applied", "duplicate"]
    assert count(LessonProgress) == 2 and count(QuizAttempt) == 2 and count(DeviceEvent) == len(events)
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == "completed"
    assert len(fc.events()) == 1
