"""The learner's hot path in round trips: a token check is one statement, and noting a token's use
does not make the request read the user again (docs/PERFORMANCE.md, "The learner's hot path").

Statement counts, not timings: they are deterministic and are what the load test's figures follow.
"""

from __future__ import annotations

from datetime import timedelta

from learning.accounts.models import ApiToken
from learning.extensions import db
from learning.models_base import utcnow
from tests.support import statements


def test_a_token_its_user_and_roles_are_read_in_one_statement_and_its_use_noted_aside(api, make):
    learner = make.user(roles=("trainer",))
    client = api.as_user(learner)
    with statements() as first:
        assert client.get("/api/v1/me").status_code == 200
    token = db.session.query(ApiToken).one()
    assert token.last_used_at is not None and utcnow() - token.last_used_at < timedelta(minutes=1)
    reads_of_roles = [s for s in first if s.startswith("SELECT") and "FROM user_roles" in s]
    reads_of_user = [s for s in first if s.startswith("SELECT users.") and "api_tokens" not in s]
    assert reads_of_roles == [] and reads_of_user == []  # joined into the token's statement, not read again
    assert sum(1 for s in first if s.startswith("UPDATE api_tokens")) == 1

    with statements() as again:  # within five minutes: nothing written
        response = client.get("/api/v1/me")
    assert response.status_code == 200 and "trainer" in response.get_json()["roles"]
    assert not any(s.startswith("UPDATE api_tokens") for s in again)
    assert sum(1 for s in again if "FROM api_tokens" in s) == 1


def test_a_revoked_or_expired_token_is_refused_at_once(api, make):
    learner = make.user()
    client = api.as_user(learner)
    token = db.session.query(ApiToken).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_enrolling_reads_the_course_once_and_answers_from_it(api, make):
    slug = make.course().slug
    client = api.as_user(make.user())
    with statements() as seen:
        response = client.post(f"/api/v1/courses/{slug}/enrolments")
    assert response.status_code == 201
    assert response.get_json()["course"] == slug and response.get_json()["course_title"]
    assert sum(1 for s in seen if "FROM courses" in s) == 1, "\n".join(s[:120] for s in seen)


def test_the_hot_path_in_round_trips_once_the_course_is_kept(api, make):
    """Fourth session (docs/PERFORMANCE.md, "Hot path (fourth session)"): enrolling is the token, the course,
    the enrolment (on PostgreSQL with whether the learner may enrol as its condition; SQLite asks first) and
    the statistics' outbox event; a lesson is the token,
    the locked enrolment and one statement recording it; the last lesson adds the completion, its event
    and the statistics' event. The course's outline and titles are read once per process and version."""
    from learning.catalogue.services import all_lessons

    course = make.course(quiz=None, modules=[{"title": "M", "lessons": [
        {"title": f"Lesson {i}", "body": "Text."} for i in range(3)]}])
    lessons = [lesson.id for lesson in all_lessons(course)]
    slug = course.slug
    first = api.as_user(make.user())
    first.get("me")  # the token's first use is noted (once per five minutes), not counted below
    with statements() as warm_up:
        assert first.post(f"courses/{slug}/enrolments").status_code == 201
    client = api.as_user(make.user())
    client.get("me")
    with statements() as enrol:
        response = client.post(f"courses/{slug}/enrolments")
    assert response.status_code == 201 and response.get_json()["progress"]["total_lessons"] == 3
    if db.engine.dialect.name == "postgresql":
        # Helper "hotview": the course, the enrolment (whether the learner may enrol is its condition) and the
        # statistics' event are one statement after the token's (learning/enrolment/hot.py).
        assert len(enrol) == len(warm_up) - 3 == 2, "\n".join(s[:120] for s in enrol)  # outline (2) and titles kept
        # Helper "hotpath6": the token's statement is a ``WITH`` too (its use noted in the same round trip), and
        # reads no ORM object (``caller_for_token``).
        assert [s.split()[0] for s in enrol] == ["WITH", "WITH"], "\n".join(s[:120] for s in enrol)
        assert "FROM api_tokens" in enrol[0] and "INSERT INTO enrolments" in enrol[1]
    else:
        assert len(enrol) == len(warm_up) - 3 == 5, "\n".join(s[:120] for s in enrol)
        assert [s.split()[0] for s in enrol] == ["SELECT", "SELECT", "SELECT", "INSERT", "INSERT"], \
            "\n".join(s[:120] for s in enrol)
    counts = []
    enrolment_id = response.get_json()["id"]
    for lesson_id in lessons:
        with statements() as seen:
            response = client.post(f"enrolments/{enrolment_id}/lessons/{lesson_id}/complete")
        assert response.status_code == 200
        counts.append(len(seen))
    assert response.get_json()["status"] == "completed"
    if db.engine.dialect.name == "postgresql":
        # No LTI platform links the course (``courses.lti_linked``, read with the enrolment): no learning
        # event looks for the links that pass a grade back (fifth session; tests/lti/test_ags.py has the rest).
        # Helper "hotview": the last lesson's completion, its event and the statistics' event are part of the
        # lesson's statement (the rule as its condition, learning/enrolment/hot.py).
        # Helper "hotpath6": the locked enrolment comes with the token's statement (``caller_for_token(...,
        # lock_enrolment=...)``), so a lesson is the token with its enrolment locked, then the lesson's statement.
        assert counts == [2, 2, 2], counts
    else:  # the lessons done, the progress and the activity in three statements (no data-modifying CTE)
        assert counts == [5, 5, 7], counts


def test_the_hot_answers_are_what_the_schema_would_make(api, make, app):
    """Fifth session: enrolling and completing a lesson answer with a body built by hand (no marshmallow
    dump); it is what ``EnrolmentSchema``, which the OpenAPI document names for both, makes of the same
    enrolment read afresh, dates and the completed course included."""
    import json

    from learning.api.enrolment import EnrolmentSchema, enrolment_body
    from learning.catalogue.services import all_lessons
    from learning.enrolment import services
    from learning.enrolment.models import Enrolment

    course = make.course(quiz=None, modules=[{"title": "M", "lessons": [
        {"title": f"Lesson {i}", "body": "Text."} for i in range(2)]}])
    lessons = [lesson.id for lesson in all_lessons(course)]
    learner = make.user(language="fr")
    client = api.as_user(learner)

    def made_by_the_schema(enrolment_id: int) -> dict:
        db.session.expire_all()
        enrolment = db.session.get(Enrolment, enrolment_id)
        body = enrolment_body(enrolment, services.progress_of(enrolment), learner.language)
        return json.loads(app.json.dumps(EnrolmentSchema().dump(body)))

    response = client.post(f"courses/{course.slug}/enrolments")
    assert response.status_code == 201
    answers = [response]
    for lesson_id in lessons:
        answers.append(client.post(f"enrolments/{response.get_json()['id']}/lessons/{lesson_id}/complete"))
    assert [a.status_code for a in answers] == [201, 200, 200]
    assert answers[-1].get_json()["status"] == "completed" and answers[-1].get_json()["completed_at"]
    for answer in answers[1:]:
        assert answer.get_json().keys() == made_by_the_schema(answer.get_json()["id"]).keys()
    assert answers[-1].get_json() == made_by_the_schema(answers[-1].get_json()["id"])
    assert answers[0].get_json()["enrolled_at"] == answers[-1].get_json()["enrolled_at"]
