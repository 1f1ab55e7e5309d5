"""The learner's hot path leaves the statistics to the worker: one ``reporting.refresh`` outbox event per
request that changes someone's facts, written in the request's own transaction (DESIGN.md rule 1),
applied by the worker, any number of times, to the same exact result (docs/PERFORMANCE.md,
"Hot path (fourth session)").

"Exact" is checked against a recount from the raw rows that does not use the rollup's own rebuild:
the facts computed from enrolments and certificates, and their cells counted in Python.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select, update

from learning.extensions import db
from learning.outbox.models import OutboxEvent
from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.rollup import REFRESH_EVENT, _fact_key, cells_of, facts_query


def stored() -> tuple[dict, list]:
    """The rollup as kept: non-empty cells and every fact."""
    cells = {(c.kind, c.dims, c.period, c.country, c.sector, c.course_id, c.cohort_id, c.organisation_id): c.n
             for c in db.session.scalars(select(ReportCell)) if c.n}
    facts = sorted((f.user_id, f.kind, f.day, f.country, f.sector, f.course_id, f.cohort_id, f.organisation_id,
                    f.weight) for f in db.session.scalars(select(ReportFact)))
    return cells, facts


def recount() -> tuple[dict, list]:
    """The rollup as the raw rows say it should be, counted without the rollup's tables."""
    facts: dict[tuple, int] = {}
    for row in db.session.execute(select(facts_query(db.engine.dialect.name))):
        key = _fact_key(row)
        facts[key] = facts.get(key, 0) + int(row.weight)
    cells = {key: n for key, n in cells_of(facts.keys(), facts.values()).items() if n}
    return cells, sorted((*key, weight) for key, weight in facts.items())


def refresh_events() -> list[OutboxEvent]:
    return list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == REFRESH_EVENT)
                                   .order_by(OutboxEvent.id)))


def short_course(make, lessons: int = 3):
    return make.course(quiz=None, modules=[{"title": "M", "lessons": [
        {"title": f"Lesson {i}", "body": "Text."} for i in range(lessons)]}])


def lesson_ids(course) -> list[int]:
    from learning.catalogue.services import all_lessons

    return [lesson.id for lesson in all_lessons(course)]


def take_course(client, course, lessons: list[int]) -> int:
    response = client.post(f"courses/{course.slug}/enrolments")
    assert response.status_code == 201, response.get_json()
    enrolment_id = response.get_json()["id"]
    for lesson_id in lessons:
        response = client.post(f"enrolments/{enrolment_id}/lessons/{lesson_id}/complete")
        assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "completed"
    return enrolment_id


def test_the_hot_path_writes_one_refresh_event_per_change_and_the_worker_makes_the_rollup_exact(api, make):
    from learning.outbox.services import process

    course = short_course(make)
    learner = make.user(country="KE", sector="education")
    make.completed_enrolment(make.user(country="CO"), course)  # someone counted already, inline
    before = stored()
    assert before == recount() and before[0]

    take_course(api.as_user(learner), course, lesson_ids(course))
    db.session.expire_all()
    events = refresh_events()
    # Enrolling and completing the course change the learner's facts; the lessons before the last do not.
    assert [e.payload for e in events] == [{"user_ids": [learner.id]}, {"user_ids": [learner.id]}]
    assert all(e.status == "pending" for e in events)
    assert stored() == before  # nothing refreshed while the learner waited

    for event in events:
        assert process(event.id) == "done"
    db.session.expire_all()
    assert stored() == recount()
    facts = stored()[1]
    assert {(f[0], f[1]) for f in facts if f[0] == learner.id} == {(learner.id, "reached"), (learner.id, "trained")}


def test_a_refresh_event_applied_again_changes_nothing(api, make):
    from learning.outbox.services import process, process_batch

    course = short_course(make, lessons=2)
    learners = [make.user() for _ in range(3)]
    for learner in learners:
        take_course(api.as_user(learner), course, lesson_ids(course))
    ids = [e.id for e in refresh_events()]
    assert len(ids) == 2 * len(learners)
    assert process_batch(ids) == {"done-or-busy": 0, "batched": len(ids)}
    db.session.expire_all()
    exact = stored()
    assert exact == recount()

    # The worker died after the refresh but the events are redelivered anyway (at-least-once): once
    # pending again, each applied one by one, then all in a batch, then the handler called directly.
    db.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(status="pending"))
    db.session.commit()
    assert [process(event_id) for event_id in ids] == ["done"] * len(ids)
    db.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(status="pending"))
    db.session.commit()
    assert process_batch(ids)["batched"] == len(ids)
    from learning.reporting.rollup import apply_refresh_events

    apply_refresh_events([e.payload for e in refresh_events()] * 2)
    db.session.commit()
    db.session.expire_all()
    assert stored() == exact == recount()


def test_the_learners_pages_defer_too_and_the_worker_makes_the_rollup_exact(client, make):
    """Fifth session: the enrol button and a lesson's "mark as done" write the same event as the API (the
    learner's page answers without the refresh); the worker's handling makes the rollup what a recount says."""
    from learning.enrolment.models import Enrolment
    from learning.outbox.services import process
    from tests.catalogue.test_catalogue_pages import sign_in

    course = short_course(make, lessons=2)
    learner = make.user(country="KE", sector="education")
    make.completed_enrolment(make.user(country="CO"), course)  # counted inline, no event
    before = stored()
    assert before == recount()
    sign_in(client, learner)
    assert client.post(f"/courses/{course.slug}/enrol").status_code == 302
    enrolment_id = db.session.scalar(select(Enrolment.id).where(Enrolment.user_id == learner.id))
    for lesson_id in lesson_ids(course):
        assert client.post(f"/learning/{enrolment_id}/lessons/{lesson_id}/done").status_code == 302
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment_id).status == "completed"
    events = refresh_events()
    assert [e.payload for e in events] == [{"user_ids": [learner.id]}, {"user_ids": [learner.id]}]
    assert stored() == before  # nothing refreshed while the learner waited
    for event in events:
        assert process(event.id) == "done"
    db.session.expire_all()
    assert stored() == recount() != before


def test_a_quiz_that_completes_the_course_defers_too_page_and_api(client, api, make):
    """Helper "hotpath3": the quiz (page and API) was the last learner's action refreshing inline. A failed
    attempt changes no one's facts and writes no event; the pass that completes the course writes one;
    the worker's handling makes the rollup what a recount says."""
    from learning.enrolment.models import Enrolment
    from learning.outbox.services import process
    from tests import factories_catalogue as fc
    from tests.catalogue.test_catalogue_pages import sign_in

    course = make.course()  # lessons and a quiz
    by_page, by_api = make.user(country="KE", sector="education"), make.user(country="CO")
    make.completed_enrolment(make.user(country="PE"), course)  # counted inline, no event
    enrolments = {who: make.enrolment(who, course) for who in (by_page, by_api)}
    for enrolment in enrolments.values():
        for lesson_id in fc.lesson_ids(course):
            services_complete(enrolment, lesson_id)
    db.session.commit()
    before = stored()
    assert before == recount()
    assert refresh_events() == []

    def form(answers):
        return {f"q{question}": str(choice) for question, choice in answers.items()}

    sign_in(client, by_page)
    page = f"/learning/{enrolments[by_page].id}/quiz"
    assert client.post(page, data=form(fc.wrong_answers(course))).status_code == 200
    assert refresh_events() == []  # a failed attempt changes no fact
    assert client.post(page, data=form(fc.right_answers(course))).status_code == 200
    answer = api.as_user(by_api).post(f"enrolments/{enrolments[by_api].id}/quiz-attempts",
                                      json={"answers": fc.right_answers(course)})
    assert answer.status_code == 201 and answer.get_json()["enrolment_status"] == "completed"
    db.session.expire_all()
    assert {db.session.get(Enrolment, e.id).status for e in enrolments.values()} == {"completed"}
    events = refresh_events()
    assert [e.payload for e in events] == [{"user_ids": [by_page.id]}, {"user_ids": [by_api.id]}]
    assert stored() == before  # nothing refreshed while the learners waited
    for event in events:
        assert process(event.id) == "done"
    db.session.expire_all()
    assert stored() == recount() != before


def services_complete(enrolment, lesson_id: int) -> None:
    from learning.enrolment import services

    services.complete_lesson(enrolment, lesson_id)


def test_a_refused_request_writes_no_event(api, make):
    course = short_course(make, lessons=1)
    client = api.as_user(make.user())
    take_course(client, course, lesson_ids(course))
    count = len(refresh_events())
    assert client.post(f"courses/{course.slug}/enrolments").status_code == 409  # completed, no expiry yet
    assert client.post("courses/no-such-course/enrolments").status_code == 404
    db.session.expire_all()
    assert len(refresh_events()) == count


def test_the_rest_of_the_platform_still_refreshes_in_its_own_transaction(make):
    """Only the requests that ask for it defer: a service call elsewhere (a page, a trainer's action,
    a task) keeps the rollup exact at its commit, with no event."""
    course = short_course(make, lessons=1)
    make.completed_enrolment(make.user(), course)
    assert refresh_events() == []
    assert stored() == recount()


# --- with a real worker, under a burst of concurrent learners -----------------------------------------

LEARNERS = int(os.environ.get("LEARNING_DEFERRED_REFRESH_LEARNERS", "40"))


@pytest.mark.postgres
@pytest.mark.celery
@pytest.mark.xdist_group("celery")
@pytest.mark.skipif(not os.environ.get("LEARNING_TEST_DATABASE_URL"),
                    reason="needs PostgreSQL for concurrent writers: set LEARNING_TEST_DATABASE_URL (CI does)")
def test_after_a_burst_of_concurrent_learners_the_worker_leaves_the_rollup_exact(
        app, base_config, celery_worker, tmp_path):
    """Gunicorn (two processes) publishes each request's events to the broker; the real worker applies
    them (the refreshes, and the certificates the completions earn) while the learners are still at
    work. Once it has drained the queue, the rollup equals the recount from the raw rows."""
    from learning.accounts.models import User
    from learning.accounts.tokens import issue_api_token
    from learning.catalogue.services import all_lessons, create_course, publish_course
    from tests.conftest import wait_until
    from tests.security_fixtures import start_gunicorn, stop_server

    with app.app_context():
        course = create_course(None, {
            "slug": "burst", "title": "Burst", "summary": "Many at once", "language": "en",
            "modules": [{"title": "Only", "lessons": [{"title": f"L{i}", "body": "Text."} for i in range(3)]}],
        })
        publish_course(None, course)
        db.session.flush()
        lessons = [lesson.id for lesson in all_lessons(course)]
        people = [User(email=f"burst{i}@example.org", full_name=f"Burst {i}", country=("KE", "CO", "PH")[i % 3],
                       sector="education", language="en") for i in range(LEARNERS)]
        db.session.add_all(people)
        db.session.flush()
        tokens = [issue_api_token(person)[0] for person in people]
        db.session.commit()
        db.session.remove()

    server, base = start_gunicorn({**base_config, "OUTBOX_PUBLISH": "true"}, tmp_path / "gunicorn.log", workers=2)
    problems: list[str] = []
    lock = threading.Lock()

    def learner(token: str) -> None:
        connection = http.client.HTTPConnection(urlparse(base).netloc, timeout=120)

        def post(path: str) -> tuple[int, bytes]:
            connection.request("POST", path, body=b"{}", headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            return response.status, response.read()

        try:
            status, body = post("/api/v1/courses/burst/enrolments")
            if status != 201:
                with lock:
                    problems.append(f"enrol {status} {body[:200]!r}")
                return
            enrolment_id = json.loads(body)["id"]
            for lesson_id in lessons:
                status, body = post(f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete")
                if status != 200:
                    with lock:
                        problems.append(f"lesson {status} {body[:200]!r}")
        finally:
            connection.close()

    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(learner, tokens))
    finally:
        stop_server(server)
    assert problems == [], problems[:5]

    with app.app_context():
        def drained():
            db.session.rollback()
            return db.session.scalar(select(func.count()).select_from(OutboxEvent)
                                     .where(OutboxEvent.status != "done")) == 0

        wait_until(drained, timeout=180, message="the worker to drain the outbox")
        events = db.session.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == REFRESH_EVENT)).all()
        assert len(events) == 2 * LEARNERS  # one per enrolment, one per completion
        assert stored() == recount()
        facts = stored()[1]
        for kind in ("reached", "trained", "certified"):
            assert len({f[0] for f in facts if f[1] == kind}) == LEARNERS, kind
        db.session.remove()
