"""The learner's hot routes' caller (helper "hotpath6", docs/PERFORMANCE.md): on PostgreSQL, enrolling and
completing a lesson read who calls as a ``TokenCaller`` (the few values they use, no ORM ``User``), in one
statement that decides on the token as every route does, notes its use and, for a lesson, reads and locks
the caller's own enrolment in the same round trip.

Whatever ends a token's power ends it on the very next request in every process, as on the other routes
(tests/accounts/test_token_lookup.py): nothing is kept between requests.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import request_finished
from sqlalchemy import event, func, select, update

from learning.accounts.models import ApiToken, User
from learning.enrolment.models import Enrolment, LessonProgress
from learning.extensions import db
from learning.models_base import utcnow
from tests.accounts.test_token_lookup import call, change, in_other
from tests.conftest import build_app


@pytest.fixture(autouse=True)
def postgresql_only(app_context):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the hot routes use the ORM services and a User (learning/enrolment/hot.py)")


@pytest.fixture
def other_process(base_config, app):
    return build_app(base_config)


def lessons_of(course) -> list[int]:
    from learning.catalogue.services import all_lessons

    return [lesson.id for lesson in all_lessons(course)]


def count(model, **where) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def enrol(app, token, slug):
    return call(app, token, "POST", f"/api/v1/courses/{slug}/enrolments", json={})


def complete(app, token, enrolment_id, lesson_id):
    return call(app, token, "POST", f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete", json={})


def test_the_caller_is_read_with_its_enrolment_locked_and_no_user_object_is_made(app, make):
    course = make.course(quiz=None)
    slug, lessons = course.slug, lessons_of(course)
    token = make.token(make.user())
    seen: list[str] = []
    users_in_session: list[int] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    def after(sender, response, **extra):
        users_in_session.append(sum(1 for obj in db.session.identity_map.values() if isinstance(obj, User)))

    event.listen(db.engine, "before_cursor_execute", log)
    request_finished.connect(after, app)
    try:
        enrolled = enrol(app, token, slug)
        assert enrolled.status_code == 201
        enrol_statements, seen[:] = list(seen), []
        assert complete(app, token, enrolled.get_json()["id"], lessons[0]).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
        request_finished.disconnect(after, app)
    assert enrol_statements[0].startswith("WITH caller AS") and "FROM api_tokens" in enrol_statements[0]
    assert "FOR UPDATE" not in enrol_statements[0]
    assert len(seen) == 2 and seen[0].startswith("WITH caller AS") and "FOR UPDATE OF e" in seen[0], seen
    assert users_in_session == [0, 0]  # the caller is not an object of the session


@pytest.mark.parametrize("ending", ["revoked", "expired", "disabled", "erased"])
def test_an_ended_token_is_refused_on_the_hot_routes_at_once_in_every_process_and_nothing_is_written(
        app, other_process, make, ending):
    first, second = make.course(quiz=None), make.course(quiz=None)
    first_slug, second_slug, lessons = first.slug, second.slug, lessons_of(first)
    learner = make.user()
    user_id = learner.id
    token = make.token(learner)
    enrolled = enrol(app, token, first_slug)
    assert enrolled.status_code == 201
    enrolment_id = enrolled.get_json()["id"]
    assert complete(app, token, enrolment_id, lessons[0]).status_code == 200
    ended = {
        "revoked": update(ApiToken).values(revoked_at=utcnow()),
        "expired": update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)),
        "disabled": update(User).where(User.id == user_id).values(active=False),
        "erased": update(User).where(User.id == user_id).values(erased_at=utcnow()),
    }[ending]
    change(ended)
    refused = complete(app, token, enrolment_id, lessons[1])
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert enrol(app, token, second_slug).status_code == 401
    lesson_path = f"/api/v1/enrolments/{enrolment_id}/lessons/{lessons[1]}/complete"
    assert in_other(other_process, token, method="POST", path=lesson_path, json={}).status_code == 401
    assert in_other(other_process, token, method="POST", path=f"/api/v1/courses/{second_slug}/enrolments",
                    json={}).status_code == 401
    assert count(LessonProgress, enrolment_id=enrolment_id) == 1
    assert count(Enrolment, user_id=user_id) == 1


def test_someone_elses_enrolment_is_404_with_a_valid_token_and_401_without_one(app, make):
    course = make.course(quiz=None)
    lessons = lessons_of(course)
    owner_token, other_token = make.token(make.user()), make.token(make.user())
    enrolment_id = enrol(app, owner_token, course.slug).get_json()["id"]
    assert complete(app, other_token, enrolment_id, lessons[0]).status_code == 404
    assert complete(app, "lp_no-such-token", enrolment_id, lessons[0]).status_code == 401
    assert complete(app, other_token, 999_999_999, lessons[0]).status_code == 404
    assert count(LessonProgress, enrolment_id=enrolment_id) == 0
    assert complete(app, owner_token, enrolment_id, lessons[0]).status_code == 200
    assert count(LessonProgress, enrolment_id=enrolment_id) == 1


def test_the_token_use_is_noted_in_the_same_statement_every_five_minutes(app, make):
    course = make.course(quiz=None)
    slug, lessons = course.slug, lessons_of(course)
    token = make.token(make.user())
    assert enrol(app, token, slug).status_code == 201
    db.session.remove()
    noted = db.session.scalar(select(ApiToken.last_used_at))
    assert noted is not None and utcnow() - noted < timedelta(minutes=1)
    enrolment_id = db.session.scalar(select(Enrolment.id))
    assert complete(app, token, enrolment_id, lessons[0]).status_code == 200
    db.session.remove()
    assert db.session.scalar(select(ApiToken.last_used_at)) == noted  # within five minutes: not written again
    change(update(ApiToken).values(last_used_at=utcnow() - timedelta(minutes=6)))
    assert complete(app, token, enrolment_id, lessons[1]).status_code == 200
    db.session.remove()
    assert utcnow() - db.session.scalar(select(ApiToken.last_used_at)) < timedelta(minutes=1)


def test_admins_on_the_hot_routes_two_factor_required_and_the_admin_role_read_from_the_database(
        base_config, app, make):
    strict = build_app(base_config, ADMIN_2FA_REQUIRED=True)
    published, draft = make.course(quiz=None), make.course(published=False, quiz=None)
    published_slug, draft_slug, lesson = published.slug, draft.slug, lessons_of(published)[0]
    boss = make.user(roles=("admin",))
    boss_id = boss.id
    token, learner_token = make.token(boss), make.token(make.user())
    enrolment_id = make.enrolment(boss, published).id
    with strict.app_context():
        client = strict.test_client()
        headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
        for path in (f"/api/v1/courses/{published_slug}/enrolments",
                     f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson}/complete"):
            refused = client.post(path, headers=headers, json={})
            assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "two_factor_required"
        db.session.remove()
    assert count(LessonProgress, enrolment_id=enrolment_id) == 0
    change(update(User).where(User.id == boss_id).values(totp_secret="JBSWY3DPEHPK3PXP"))
    with strict.app_context():
        client = strict.test_client()
        done = client.post(f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson}/complete", headers=headers, json={})
        assert done.status_code == 200
        db.session.remove()
    # Only an admin is told that a course not yet published is not open (409); anyone else: no such course.
    assert enrol(app, token, draft_slug).status_code == 409
    assert enrol(app, learner_token, draft_slug).status_code == 404


def test_the_light_routes_name_no_role_the_caller_could_not_answer(app):
    """A ``TokenCaller`` knows whether its person is an admin and nothing of their other roles: a route that
    asks for a role must get a ``User`` (``learning/api/auth.py``'s ``LIGHT_ENDPOINTS``)."""
    from learning.api.auth import LIGHT_ENDPOINTS, auth

    for endpoint in LIGHT_ENDPOINTS:
        spec = app.view_functions[endpoint]._spec
        assert spec["auth"] is auth and not spec.get("roles"), endpoint


def test_with_an_xapi_store_the_hot_routes_still_queue_statements_and_read_only_whether_erased(app, make):
    """The xAPI receiver asks whether the person is erased; the hot routes hold no ``User`` for it to find, so
    it reads ``erased_at`` alone (learning/xapi/services.py), not the person with their organisation and roles."""
    from learning.outbox.models import OutboxEvent

    course = make.course(quiz=None)
    slug, lessons = course.slug, lessons_of(course)
    token = make.token(make.user())
    app.config["XAPI_ENDPOINT"] = "https://lrs.example.org/xapi"
    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    try:
        enrolment_id = enrol(app, token, slug).get_json()["id"]
        event.listen(db.engine, "before_cursor_execute", log)
        try:
            assert complete(app, token, enrolment_id, lessons[0]).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", log)
    finally:
        app.config["XAPI_ENDPOINT"] = ""
    assert count(OutboxEvent, event_type="xapi.statement") == 2  # registered, lesson completed
    assert not any("FROM user_roles" in s and "api_tokens" not in s for s in seen), seen
    assert sum(1 for s in seen if s.startswith("SELECT users.erased_at")) == 1, seen


def test_the_hot_statements_are_prepared_on_their_first_execution_and_others_keep_the_threshold(app, make):
    """Helper "hotpath7": the caller's statement (and the enrolment's and the lesson's, marked alike) is
    prepared by psycopg the first time a connection sends it, not after five executions; an unmarked
    statement is not; the statement's events still fire (the statement counts rely on them)."""
    from sqlalchemy import text

    from learning.accounts.tokens import caller_for_token

    if db.engine.dialect.driver != "psycopg":
        pytest.skip("psycopg 3 only")
    token = make.token(make.user())
    db.session.commit()
    db.session.remove()
    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        db.engine.dispose()  # a new connection: nothing prepared on it yet
        connection = db.session.connection()
        assert caller_for_token(token) is not None
        connection.execute(text("SELECT 41 + 1"))
        prepared = [row[0] for row in connection.execute(text("SELECT statement FROM pg_prepared_statements"))]
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
        db.session.rollback()
    assert any(statement.startswith("WITH caller AS") for statement in seen)
    assert any(statement.startswith("WITH caller AS") for statement in prepared), prepared
    assert not any("41 + 1" in statement for statement in prepared)
