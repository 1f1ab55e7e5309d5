"""Factories that tests call with only the fields they care about.

Each builds through the services where a rule applies, and commits, so that
what a test sets up is what the platform would have stored.
"""

from __future__ import annotations

import itertools

from learning.accounts import services as accounts
from learning.accounts.models import User
from learning.accounts.tokens import issue_api_token
from learning.extensions import db

_seq = itertools.count(1)
PASSWORD = "a-Good-password-42"


def user(roles: tuple[str, ...] = (), **fields) -> User:
    n = next(_seq)
    data = {
        "email": f"person{n}@example.org",
        "password": PASSWORD,
        "full_name": f"Person {n}",
        "country": "CO",
        "sector": "law_enforcement",
        "language": "en",
    }
    data.update(fields)
    created = accounts.register_user(data, roles=list(roles), send_verification=False)
    db.session.commit()
    return created


def admin(**fields) -> User:
    return user(roles=("admin",), **fields)


def trainer(**fields) -> User:
    return user(roles=("trainer",), **fields)


def token(for_user: User) -> str:
    plain, _row = issue_api_token(for_user)
    db.session.commit()
    return plain


def course_data(**overrides) -> dict:
    n = next(_seq)
    data = {
        "slug": f"course-{n}",
        "title": f"Course {n}",
        "summary": "What professionals need to know.",
        "language": "en",
        "translations": {"es": {"title": f"Curso {n}", "summary": "Lo que hay que saber."}},
        "pass_mark": 50,
        "certificate_validity_months": 24,
        "modules": [
            {"title": "Module one", "lessons": [{"title": "Lesson one", "body": "# One\n\nText."},
                                                {"title": "Lesson two", "body": "Two."}]},
        ],
        "quiz": {"questions": [
            {"text": "Is this right?", "choices": [{"text": "Yes", "correct": True}, {"text": "No", "correct": False}]},
            {"text": "And this?", "choices": [{"text": "Yes", "correct": False}, {"text": "No", "correct": True}]},
        ]},
    }
    data.update(overrides)
    return data


def course(published: bool = True, **overrides):
    from learning.catalogue.services import create_course, publish_course

    created = create_course(None, course_data(**overrides))
    if published:
        publish_course(None, created)
    db.session.commit()
    return created


def enrolment(learner: User, of_course=None, **kwargs):
    from learning.enrolment.services import enrol

    item = enrol(learner, of_course or course(), **kwargs)
    db.session.commit()
    return item


def completed_enrolment(learner: User, of_course=None):
    """An enrolment taken to completion the way a learner would: lessons, then the quiz."""
    from learning.catalogue.services import all_lessons
    from learning.enrolment import services

    item = enrolment(learner, of_course)
    for lesson in all_lessons(item.course):
        services.complete_lesson(item, lesson.id)
    if item.course.quiz is not None:
        answers = {str(q.id): next(c.id for c in q.choices if c.correct) for q in item.course.quiz.questions}
        services.submit_quiz(item, answers)
    db.session.commit()
    return item


class ApiClient:
    """Calls ``/api/v1`` as a given user with a bearer token."""

    def __init__(self, client, app, token: str | None = None):
        self.client, self.app, self.token = client, app, token

    def as_user(self, who: User | None) -> ApiClient:
        return ApiClient(self.client, self.app, token(who) if who is not None else None)

    def _headers(self, extra=None):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def request(self, method: str, path: str, json=None, headers=None, **kwargs):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.open(url, method=method, json=json, headers=self._headers(headers), **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)
