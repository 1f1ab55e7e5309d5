"""Grades end to end with a real Celery worker on the real broker: a learner launched from the platform of
tests/lti_platform.py finishes the course, and the worker posts the final score to the platform once; with
the platform down, the score waits and is posted once it is back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from learning.accounts.models import Organisation, User
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.lti import launch as lti_launch
from learning.lti import services
from learning.lti.ags import EVENT_TYPE
from learning.models_base import utcnow
from learning.outbox.models import OutboxEvent
from tests import factories
from tests.certificates.test_certificate_worker import _restore_celery_app, use_celery_of  # noqa: F401
from tests.conftest import wait_until
from tests.lti.conftest import launch
from tests.lti.test_ags import finish

pytestmark = [pytest.mark.celery, pytest.mark.xdist_group("celery")]


@pytest.fixture
def browser(live_app, lms, monkeypatch):
    """The platform registered with the publishing app; a browser of that app."""
    monkeypatch.setitem(live_app.config, "LTI_ALLOW_HTTP", True)
    use_celery_of(live_app)
    lti_launch._jwks_cache.clear()
    lms.reset()
    web = live_app.test_client()
    lms.tool_jwks = lambda: live_app.test_client().get("/lti/jwks").get_json()
    with live_app.app_context():
        org = Organisation(name="Academia de Policía", country="CO", sector="law_enforcement")
        db.session.add(org)
        services.create_platform(**lms.registration, organisation=org)
        db.session.commit()
        db.session.remove()
    yield web
    drain(live_app)


def drain(live_app) -> None:
    def drained() -> bool:
        with live_app.app_context():
            pending = db.session.scalar(select(db.func.count()).select_from(OutboxEvent)
                                        .where(OutboxEvent.status == "pending"))
            db.session.remove()
        return pending == 0

    wait_until(drained, timeout=60, message="the outbox to drain")


def learner_launches(live_app, web, lms) -> None:
    with live_app.app_context():
        course = factories.course()
        slug = course.slug
        db.session.remove()
    assert launch(web, lms, "ana", lms.resource_link(custom={"course": slug})).status_code == 302


def learner_finishes(live_app, right: int = 2) -> None:
    with live_app.app_context():
        ana = db.session.scalar(select(User).where(User.email == "ana@academia.example"))
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == ana.id))
        finish(enrolment, enrolment.course, right=right)  # the commit publishes the four score events
        db.session.remove()


def test_the_worker_posts_the_final_score_once(live_app, celery_worker, browser, lms):
    learner_launches(live_app, browser, lms)
    learner_finishes(live_app, right=1)
    wait_until(lambda: lms.score_posts, timeout=60, message="the score at the platform")
    drain(live_app)
    [(item, score)] = lms.score_posts
    assert item == "link-1" and score["userId"] == "moodle-user-17"
    assert (score["activityProgress"], score["gradingProgress"], score["scoreGiven"]) == ("Completed", "FullyGraded", 50)
    assert lms.token_refusals == []


def test_a_score_made_while_the_platform_was_down_is_posted_once_it_is_back(live_app, celery_worker, browser, lms):
    from learning.outbox.services import sweep

    learner_launches(live_app, browser, lms)
    lms.go_down("refused")
    try:
        learner_finishes(live_app)

        def tried():
            with live_app.app_context():
                event = db.session.scalar(select(OutboxEvent).where(OutboxEvent.event_type == EVENT_TYPE,
                                                                    OutboxEvent.attempts > 0,
                                                                    OutboxEvent.status == "pending"))
                db.session.remove()
            return event

        waiting = wait_until(tried, timeout=60, message="the worker to find the platform down")
        assert "unreachable" in waiting.last_error and lms.score_posts == []
    finally:
        lms.come_back()
    with live_app.app_context():  # later: the beat's sweep finds it due
        db.session.execute(OutboxEvent.__table__.update().where(OutboxEvent.id == waiting.id).values(
            next_attempt_at=utcnow(), created_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        assert sweep() == 1
        db.session.remove()
    wait_until(lambda: lms.score_posts, timeout=60, message="the score at the platform")
    drain(live_app)
    [(_item, score)] = lms.score_posts
    assert (score["activityProgress"], score["scoreGiven"]) == ("Completed", 100)
