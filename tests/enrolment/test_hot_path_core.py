"""The learner's hot path on SQLAlchemy Core (helper "hotview", learning/enrolment/hot.py): the services'
rules kept when enrolling and completing lessons through the API on PostgreSQL — completion exactly once
under concurrency, the quiz and a cohort's attendance rule, the outbox events and their publication, the
course's kept outline, slug and title after an edit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from learning.catalogue.models import Course
from learning.catalogue.services import update_course
from learning.enrolment import hot
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from learning.reporting.rollup import REFRESH_EVENT, defer_refresh
from tests import factories_catalogue as fc
from tests import factories_cohorts as cohorts
from tests.concurrency import Lanes, race


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the Core hot path serves PostgreSQL; SQLite keeps the ORM services")


def two_lessons(make, **overrides):
    return make.course(quiz=None, modules=[{"title": "M", "lessons": [
        {"title": "One", "body": "1."}, {"title": "Two", "body": "2."}]}], **overrides)


def events(event_type: str) -> list[OutboxEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == event_type)
                                   .order_by(OutboxEvent.id)))


def test_two_requests_finishing_the_last_two_lessons_at_once_complete_exactly_once(make, app):
    """The worst interleaving, as for the ORM service: each request holds its transaction open until the
    other has done its lesson; the row lock makes the second see the first's lesson."""
    learner = make.user()
    course = two_lessons(make)
    lessons = fc.lesson_ids(course)
    enrolment_id = make.enrolment(learner, course).id

    def finish(me: int, lanes: Lanes) -> dict:
        session = db.session()
        defer_refresh(session)
        person = db.session.get(type(learner), learner.id)
        lanes.start()
        answer = hot.complete_lesson(session, person, enrolment_id, lessons[me])
        lanes.hold_open(me)
        session.commit()
        return answer

    answers = race(app, finish)
    assert sorted(a["status"] for a in answers) == ["active", "completed"]
    assert db.session.get(Enrolment, enrolment_id).status == "completed"
    assert len(events("enrolment.completed")) == 1
    assert [e.payload for e in events("enrolment.completed")] == [{"enrolment_id": enrolment_id}]
    # The factory's enrolment refreshed the statistics before its commit (not deferred): the completion's only.
    assert [e.payload for e in events(REFRESH_EVENT)] == [{"user_ids": [learner.id]}]


def test_each_event_is_written_once_with_its_change_and_published_after_commit(api, make, monkeypatch):
    published: list[dict] = []
    monkeypatch.setattr(outbox, "publish", lambda ids, types=None, all_bulk=False: published.append(dict(types)))
    learner = make.user()
    course = two_lessons(make)
    client = api.as_user(learner)
    enrolled = client.post(f"courses/{course.slug}/enrolments")
    assert enrolled.status_code == 201
    assert [e.payload for e in events(REFRESH_EVENT)] == [{"user_ids": [learner.id]}]
    assert list(published[-1].values()) == [REFRESH_EVENT]
    first, second = fc.lesson_ids(course)
    enrolment_id = enrolled.get_json()["id"]
    before = len(published)
    assert client.post(f"enrolments/{enrolment_id}/lessons/{first}/complete").get_json()["status"] == "active"
    assert len(published) == before and len(events(REFRESH_EVENT)) == 1  # nothing counted changed
    assert client.post(f"enrolments/{enrolment_id}/lessons/{first}/complete").get_json()["status"] == "active"
    last = client.post(f"enrolments/{enrolment_id}/lessons/{second}/complete").get_json()
    assert last["status"] == "completed" and last["completed_at"]
    completed, refresh = events("enrolment.completed"), events(REFRESH_EVENT)
    assert [e.payload for e in completed] == [{"enrolment_id": enrolment_id}]
    assert [e.payload for e in refresh] == [{"user_ids": [learner.id]}] * 2
    assert all(e.status == "pending" and e.attempts == 0 for e in (*completed, *refresh))
    assert published[-1] == {completed[0].id: "enrolment.completed", refresh[1].id: REFRESH_EVENT}
    again = client.post(f"enrolments/{enrolment_id}/lessons/{second}/complete")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "enrolment_not_active"
    assert len(events("enrolment.completed")) == 1


def test_the_quiz_passed_before_the_last_lesson_completes_the_course_with_it(api, make):
    learner = make.user()
    course = make.course(modules=[{"title": "M", "lessons": [{"title": "One", "body": "1."},
                                                              {"title": "Two", "body": "2."}]}])
    client = api.as_user(learner)
    enrolment_id = client.post(f"courses/{course.slug}/enrolments").get_json()["id"]
    first, second = fc.lesson_ids(course)
    answer = client.post(f"enrolments/{enrolment_id}/lessons/{first}/complete").get_json()
    assert answer["progress"]["quiz_required"] is True and answer["progress"]["quiz_passed"] is False
    failed = client.post(f"enrolments/{enrolment_id}/quiz-attempts", json={"answers": fc.wrong_answers(course)})
    assert failed.status_code == 201 and failed.get_json()["passed"] is False
    passed = client.post(f"enrolments/{enrolment_id}/quiz-attempts", json={"answers": fc.right_answers(course)})
    assert passed.get_json()["passed"] is True and passed.get_json()["enrolment_status"] == "active"
    answer = client.post(f"enrolments/{enrolment_id}/lessons/{second}/complete").get_json()
    assert answer["status"] == "completed" and answer["progress"]["quiz_passed"] is True
    assert client.get(f"enrolments/{enrolment_id}").get_json() == answer  # what the schema makes of it
    assert len(events("enrolment.completed")) == 1


def test_every_lesson_done_without_the_quiz_leaves_the_course_active(api, make):
    course = make.course(modules=[{"title": "M", "lessons": [{"title": "One", "body": "1."}]}])
    client = api.as_user(make.user())
    enrolment_id = client.post(f"courses/{course.slug}/enrolments").get_json()["id"]
    answer = client.post(f"enrolments/{enrolment_id}/lessons/{fc.lesson_ids(course)[0]}/complete").get_json()
    assert answer["status"] == "active" and answer["progress"]["completed_lessons"] == 1
    assert answer["progress"]["next_lesson_id"] is None and answer["progress"]["quiz_passed"] is False
    assert events("enrolment.completed") == [] and len(events(REFRESH_EVENT)) == 1  # the enrolment's only
    passed = api.as_user(db.session.get(Enrolment, enrolment_id).user).post(
        f"enrolments/{enrolment_id}/quiz-attempts", json={"answers": fc.right_answers(course)})
    assert passed.get_json()["enrolment_status"] == "completed"


@pytest.mark.parametrize("rule", ["all_sessions", "min_percent", "none"])
def test_in_a_cohort_whose_attendance_decides_the_lessons_do_not_complete_it(api, make, rule):
    course = two_lessons(make)
    fields = {"attendance_min_percent": 60} if rule == "min_percent" else {}
    cohort = cohorts.cohort(course=course, attendance_rule=rule, **fields)
    enrolment = cohorts.member(cohort)
    client = api.as_user(enrolment.user)
    for lesson_id in fc.lesson_ids(course):
        answer = client.post(f"enrolments/{enrolment.id}/lessons/{lesson_id}/complete").get_json()
    assert answer["cohort_id"] == cohort.id and answer["progress"]["completed_lessons"] == 2
    assert answer["status"] == ("completed" if rule == "none" else "active")
    assert len(events("enrolment.completed")) == (1 if rule == "none" else 0)


def test_the_kept_title_follows_an_edit(api, make):
    course = two_lessons(make)
    client = api.as_user(make.user(language="es"))
    enrolment_id = client.post(f"courses/{course.slug}/enrolments").get_json()["id"]
    first = fc.lesson_ids(course)[0]
    answer = client.post(f"enrolments/{enrolment_id}/lessons/{first}/complete").get_json()
    assert answer["course"] == course.slug and answer["course_title"].startswith("Curso")

    course = db.session.get(Course, course.id)
    update_course(None, course, {"translations": {"es": {"title": "Nuevo título", "summary": "Otro."}}})
    db.session.commit()
    answer = client.post(f"enrolments/{enrolment_id}/lessons/{first}/complete").get_json()
    assert answer["course"] == course.slug and answer["course_title"] == "Nuevo título"
    assert answer == client.get(f"enrolments/{enrolment_id}").get_json()


def test_someone_elses_enrolment_is_neither_read_nor_locked(api, make):
    owner, other = make.user(), make.user()
    course = two_lessons(make)
    enrolment = make.enrolment(owner, course)
    response = api.as_user(other).post(f"enrolments/{enrolment.id}/lessons/{fc.lesson_ids(course)[0]}/complete")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    foreign = fc.lesson_ids(two_lessons(make))[0]
    response = api.as_user(owner).post(f"enrolments/{enrolment.id}/lessons/{foreign}/complete")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).last_activity_at is None  # nothing written


def test_without_a_deferred_refresh_the_statistics_are_refreshed_before_commit(make, app):
    """``hot`` outside the API's views (no ``defer_refresh``): no statistics' event; the person is noted and
    refreshed before the commit, as for any change."""
    from learning.reporting.models import ReportFact

    learner = make.user()
    course = two_lessons(make)
    enrolment_id = make.enrolment(learner, course).id
    session = db.session()
    for lesson_id in fc.lesson_ids(course):
        answer = hot.complete_lesson(session, learner, enrolment_id, lesson_id)
    assert answer["status"] == "completed"
    session.commit()
    assert events(REFRESH_EVENT) == [] and len(events("enrolment.completed")) == 1
    kinds = set(db.session.scalars(select(ReportFact.kind).where(ReportFact.user_id == learner.id)))
    assert kinds == {"reached", "trained"}
