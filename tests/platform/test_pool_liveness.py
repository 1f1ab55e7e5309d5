"""A pooled connection the server ended is replaced before the request uses it, without a ``SELECT 1``
before every request (learning/db_liveness.py; docs/PERFORMANCE.md, helper "hotpath3")."""

from __future__ import annotations

import gc
import os
import warnings

import pytest
from sqlalchemy import text

from tests.conftest import build_app

pytestmark = [
    pytest.mark.skipif(not (os.environ.get("LEARNING_TEST_DATABASE_URL") or "").startswith("postgres"),
                       reason="needs PostgreSQL: set LEARNING_TEST_DATABASE_URL (CI does)"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def own_pool_app(base_config, app):
    """An app with a pool of its own, so that ending its connections touches nobody else's."""
    separate = build_app(base_config)
    yield separate
    with separate.app_context():
        from learning.extensions import db

        db.engine.dispose()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()


def _pooled_backends(application, how_many: int) -> list[int]:
    """Fill the app's pool with ``how_many`` connections and return their server process ids."""
    from learning.extensions import db

    with application.app_context():
        held = [db.engine.connect() for _ in range(how_many)]
        pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar_one() for conn in held]
        for conn in held:
            conn.close()  # back to the pool, idle
    return pids


def _end(pids: list[int]) -> None:
    """``pg_terminate_backend``, waiting (up to 5 s) until each has gone."""
    from learning.extensions import db

    with db.engine.connect() as conn:
        ended = conn.execute(text("SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM unnest(CAST(:pids AS int[])) pid"),
                             {"pids": pids}).scalar_one()
    assert ended


def test_a_request_sends_no_ping_before_its_statements(own_pool_app, make, monkeypatch):
    from learning.extensions import db

    user = make.user(email="ping@example.org")
    token = make.token(user)
    client = own_pool_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with own_pool_app.app_context():
        engine = db.engine
    assert engine.pool._pre_ping is False
    pings = []
    monkeypatch.setattr(type(engine.dialect), "do_ping", lambda self, conn: pings.append(conn) or True)
    for _ in range(3):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert pings == []


def test_connections_the_server_ended_in_the_pool_give_the_learner_no_error(own_pool_app, make):
    from learning.extensions import db

    user = make.user(email="steady@example.org")
    token = make.token(user)
    slug = make.course().slug
    client = own_pool_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    ended = _pooled_backends(own_pool_app, 3)
    _end(ended)

    # Every pooled connection is dead: each request gets a live one without noticing.
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    enrolled = client.post(f"/api/v1/courses/{slug}/enrolments", headers=headers, json={})
    assert enrolled.status_code == 201, enrolled.get_data(as_text=True)
    enrolment_id = enrolled.get_json()["id"]
    now_serving = _pooled_backends(own_pool_app, 3)
    assert not set(now_serving) & set(ended)

    _end(now_serving)  # again, in the middle of a learner's course
    lessons = _lessons(slug)
    for lesson_id in lessons:
        answer = client.post(f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete", headers=headers,
                             json={})
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["progress"]["completed_lessons"] == len(lessons)
    done = db.session.execute(text("SELECT count(*), count(DISTINCT lesson_id) FROM lesson_progress "
                                   "WHERE enrolment_id = :e"), {"e": enrolment_id}).one()
    assert tuple(done) == (len(lessons), len(lessons))  # each once


def _lessons(slug: str) -> list[int]:
    from learning.catalogue.models import Course
    from learning.catalogue.services import all_lessons
    from learning.extensions import db

    course = db.session.query(Course).filter_by(slug=slug).one()
    return [lesson.id for lesson in all_lessons(course)]


def test_a_connection_with_unread_input_is_asked_not_dropped(own_pool_app, base_config):
    """Something unread that is not the end (here a notification the connection listens for): one real
    ping, and the same connection serves on."""
    import psycopg
    from sqlalchemy.engine import make_url

    from learning.extensions import db

    with own_pool_app.app_context():
        engine = db.engine
    engine.dispose()
    with engine.connect() as conn:
        conn.exec_driver_sql("LISTEN hotpath3")
        conn.commit()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.commit()
    url = make_url(base_config["DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as outside:
        outside.execute("NOTIFY hotpath3")
    with engine.connect() as again:
        assert again.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
