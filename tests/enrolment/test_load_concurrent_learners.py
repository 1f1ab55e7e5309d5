"""Hundreds of learners at once, against the real server on loopback: every completion counted once.

Gunicorn (two processes, four threads each, as deployed) serves the application on
PostgreSQL. Two hundred learners, each in a thread of this process, enrol in a course through
the JSON API and complete its lessons; each also "double-clicks" the last lesson (two requests
at the same moment). Afterwards the database must hold each lesson done once per learner, each
enrolment completed once, and exactly one ``enrolment.completed`` event per enrolment: the event
that earns the certificate.

SQLite cannot take this concurrency, so the test needs ``LEARNING_TEST_DATABASE_URL`` (CI sets it).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select

from learning.extensions import db
from tests.security_fixtures import start_gunicorn, stop_server

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("LEARNING_TEST_DATABASE_URL"),
                       reason="needs PostgreSQL for hundreds of concurrent writers: set LEARNING_TEST_DATABASE_URL "
                              "(CI does)"),
]

LEARNERS = int(os.environ.get("LEARNING_LOAD_LEARNERS", "200"))
LESSONS = 4


@pytest.fixture
def learners(app):
    """A published course of four lessons (no quiz) and the learners' API tokens."""
    from learning.accounts.models import User
    from learning.accounts.tokens import issue_api_token
    from learning.catalogue.services import all_lessons, create_course, publish_course

    with app.app_context():
        course = create_course(None, {
            "slug": "under-load", "title": "Under load", "summary": "Many at once", "language": "en",
            "modules": [{"title": "Only", "lessons": [{"title": f"Lesson {i}", "body": "Text."}
                                                      for i in range(LESSONS)]}],
        })
        publish_course(None, course)
        db.session.flush()
        lesson_ids = [lesson.id for lesson in all_lessons(course)]
        # Rows made directly: hashing 200 passwords would only slow the test down.
        people = [User(email=f"load{i}@example.org", full_name=f"Learner {i}", country="KE", sector="education",
                       language="en") for i in range(LEARNERS)]
        db.session.add_all(people)
        db.session.flush()
        tokens = [issue_api_token(person)[0] for person in people]
        db.session.commit()
        db.session.remove()
    return "under-load", lesson_ids, tokens


class Browser:
    """One learner's keep-alive connection to the server."""

    def __init__(self, base: str):
        self.connection = http.client.HTTPConnection(urlparse(base).netloc, timeout=120)

    def post(self, path: str, token: str) -> tuple[int, bytes]:
        self.connection.request("POST", path, body=b"{}", headers={
            "Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def click(base: str, path: str, token: str) -> int:
    """One request on a connection of its own, as a second browser tab would."""
    tab = Browser(base)
    try:
        return tab.post(path, token)[0]
    finally:
        tab.close()


def run_learners(base: str, slug: str, lesson_ids: list[int], tokens: list[str]) -> list[str]:
    """Every learner at once: enrol, complete the lessons, double-click the last one. Returns problems."""
    problems: list[str] = []
    lock = threading.Lock()
    clicks = ThreadPoolExecutor(2 * len(tokens))

    def note(problem: str) -> None:
        with lock:
            problems.append(problem)

    def learner(token: str) -> None:
        browser = Browser(base)
        try:
            status, body = browser.post(f"/api/v1/courses/{slug}/enrolments", token)
            if status != 201:
                return note(f"enrol answered {status}: {body[:200]!r}")
            path = f"/api/v1/enrolments/{json.loads(body)['id']}/lessons/{{}}/complete"
            for lesson_id in lesson_ids[:-1]:
                status, body = browser.post(path.format(lesson_id), token)
                if status != 200:
                    note(f"lesson answered {status}: {body[:200]!r}")
        finally:
            browser.close()
        last = [clicks.submit(click, base, path.format(lesson_ids[-1]), token) for _ in range(2)]
        statuses = sorted(future.result() for future in last)
        if statuses not in ([200, 200], [200, 409]):
            note(f"the double-click on the last lesson answered {statuses}")

    with ThreadPoolExecutor(len(tokens)) as pool:
        for future in [pool.submit(learner, token) for token in tokens]:
            future.result()
    clicks.shutdown()
    return problems


def test_hundreds_of_concurrent_learners_have_every_completion_counted_once(app, base_config, learners, tmp_path):
    from learning.enrolment.models import Enrolment, LessonProgress
    from learning.outbox.models import OutboxEvent

    slug, lesson_ids, tokens = learners
    server, base = start_gunicorn({**base_config, "OUTBOX_PUBLISH": "false"}, tmp_path / "gunicorn.log", workers=2)
    try:
        problems = run_learners(base, slug, lesson_ids, tokens)
    finally:
        stop_server(server)
    assert problems == [], f"{len(problems)} problems, e.g. {problems[:5]}; server log: " \
                           f"{(tmp_path / 'gunicorn.log').read_text()[-2000:]}"

    with app.app_context():
        progress = db.session.execute(select(LessonProgress.enrolment_id, LessonProgress.lesson_id)).all()
        assert len(progress) == len(set(progress)) == LEARNERS * LESSONS
        enrolments = db.session.execute(select(Enrolment.status, Enrolment.completed_at)).all()
        assert len(enrolments) == LEARNERS
        assert all(status == "completed" and completed_at is not None for status, completed_at in enrolments)
        events = db.session.scalars(select(OutboxEvent.payload).where(OutboxEvent.event_type == "enrolment.completed"))
        per_enrolment = Counter(payload["enrolment_id"] for payload in events)
        assert len(per_enrolment) == LEARNERS and set(per_enrolment.values()) == {1}
        assert db.session.scalar(select(func.count(func.distinct(Enrolment.user_id)))) == LEARNERS
        db.session.remove()
