"""A learner can take their data away and have it erased; the anonymous facts stay."""

from __future__ import annotations

import pytest

from learning.accounts.models import User
from learning.accounts.privacy import erase_user
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.outbox.models import OutboxEvent


def test_export_holds_the_profile_and_the_learning_history(api, make):
    learner = make.user(full_name="Layla Haddad", country="JO", sector="health")
    make.completed_enrolment(learner)
    response = api.as_user(learner).get("me/export")
    assert response.status_code == 200
    data = response.get_json()
    assert data["account"]["full_name"] == "Layla Haddad" and data["account"]["country"] == "JO"
    assert data["enrolments"][0]["status"] == "completed"
    assert data["enrolments"][0]["recorded_country"] == "JO"
    assert len(data["lessons_completed"]) == 2 and data["quiz_attempts"][0]["passed"] is True
    assert "token_hash" not in str(data)


def test_export_needs_sign_in(api):
    assert api.get("me/export").status_code == 401


def test_erasure_locks_the_account_at_once_and_queues_the_work(api, make):
    learner = make.user(email="leaving@example.org")
    client = api.as_user(learner)
    response = client.delete("me")
    assert response.status_code == 202
    assert client.get("me").status_code == 401  # the token died with the request
    event = db.session.query(OutboxEvent).filter_by(event_type="account.erasure_requested").one()
    assert event.payload == {"user_id": learner.id}


def test_erasure_removes_personal_data_and_keeps_the_anonymous_facts(make, app_context):
    learner = make.user(email="gone@example.org", full_name="Omar Khalil", country="EG", sector="justice",
                        organisation="Court of Cairo")
    enrolment = make.completed_enrolment(learner)
    assert erase_user(learner.id) is True
    db.session.expire_all()
    user = db.session.get(User, learner.id)
    assert user.full_name == "" and "gone@example.org" not in user.email
    assert user.country is None and user.organisation_id is None and user.password_hash is None
    kept = db.session.get(Enrolment, enrolment.id)
    assert (kept.status, kept.country, kept.sector) == ("completed", "EG", "justice")
    assert kept.organisation_id is not None
    assert erase_user(learner.id) is False  # running it again changes nothing


def test_the_address_can_register_again_after_erasure(api, make, app_context):
    learner = make.user(email="again@example.org")
    erase_user(learner.id)
    response = api.post("users", json={"email": "again@example.org", "password": "a-Good-password-42",
                                       "full_name": "New", "country": "FR", "sector": "education", "language": "fr"})
    assert response.status_code == 201


def test_only_admins_erase_others(api, make):
    admin, learner, other = make.admin(), make.user(), make.user()
    assert api.as_user(other).post(f"users/{learner.id}/erase").status_code == 403
    assert api.as_user(admin).post(f"users/{learner.id}/erase").status_code == 202
    assert api.as_user(admin).post("users/987654/erase").status_code == 404


@pytest.mark.celery
@pytest.mark.xdist_group("celery")
def test_erasure_is_carried_out_by_the_worker(live_app, celery_worker):
    from tests import factories
    from tests.conftest import wait_until

    with live_app.app_context():
        learner = factories.user(email="worker-erase@example.org")
        client = factories.ApiClient(live_app.test_client(), live_app).as_user(learner)
        assert client.delete("me").status_code == 202

        def erased():
            db.session.expire_all()
            return db.session.get(User, learner.id).erased_at is not None

        wait_until(erased, message="the erasure by the worker")
        db.session.remove()


def _age(user, days: int) -> None:
    from datetime import timedelta

    from learning.models_base import utcnow

    past = utcnow() - timedelta(days=days)
    user.created_at = past
    user.last_login_at = past
    db.session.commit()


def test_retention_erases_long_inactive_learners_only(app, make, base_config):
    from datetime import timedelta

    from learning.accounts.privacy import apply_retention
    from learning.audit.models import AuditEntry
    from learning.enrolment.models import Enrolment
    from learning.models_base import utcnow
    from tests.conftest import build_app

    gone = make.user(email="gone-quiet@example.org")
    _age(gone, 4 * 365)
    studying = make.user(email="still-learning@example.org")
    _age(studying, 4 * 365)
    item = make.enrolment(studying)
    item.last_activity_at = utcnow() - timedelta(days=30)
    db.session.commit()
    staff = make.trainer(email="trainer-quiet@example.org")
    _age(staff, 4 * 365)
    fresh = make.user(email="new@example.org")

    assert apply_retention() == 0  # off unless configured (the test app does not set it)

    policy = build_app(base_config, ACCOUNT_RETENTION_DAYS=3 * 365)
    with policy.app_context():
        assert apply_retention() == 1
        events = db.session.query(OutboxEvent).filter_by(event_type="account.erasure_requested").all()
        assert [e.payload["user_id"] for e in events] == [gone.id]
        entry = db.session.query(AuditEntry).filter_by(action="user.retention_expired").one()
        assert entry.actor_id is None and entry.target_id == str(gone.id)
        assert apply_retention() == 0  # already locked and queued: not chosen again
        db.session.remove()
    db.session.expire_all()
    assert db.session.get(User, gone.id).active is False
    for kept in (studying, staff, fresh):
        assert db.session.get(User, kept.id).active is True
    assert db.session.query(Enrolment).count() == 1
