"""Names and Role Provisioning Services: a trainer of a context's cohort pulls the partner course's roster from
the real platform of tests/lti_platform.py (pages, roles, statuses), by the API and by the cohort page's
button; who may not; a platform down changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from learning.accounts.models import User
from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.lti import client as lti_client
from learning.lti.models import LtiIdentity
from tests import factories, factories_cohorts
from tests.lti.conftest import launch
from tests.lti_platform import INSTRUCTOR, LEARNER

MENTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"
LEARNERS = 120


@pytest.fixture(autouse=True)
def _fresh_tokens():
    lti_client._tokens.clear()
    yield
    lti_client._tokens.clear()


@pytest.fixture
def context_cohort(app, client, registered, lms):
    """Ana launched first (enrolled, no cohort yet), then Teo (the instructor: the context's cohort); the
    platform's roster: Ana, 120 more learners, Teo, a new instructor, an inactive learner, a mentor, and a
    learner whose address belongs to someone outside the platform's organisation."""
    course = factories.course()
    assert launch(app.test_client(), lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302
    assert launch(client, lms, "teo", lms.resource_link(custom={"course": course.slug})).status_code == 302
    factories.user(email="outsider@elsewhere.example")
    lms.members = [
        {"user_id": "moodle-user-17", "name": "Ana Gómez", "email": "ana@academia.example", "roles": [LEARNER],
         "status": "Active"},
        *({"user_id": f"moodle-user-{1000 + n}", "name": f"Learner {n}", "given_name": "Learner",
           "family_name": str(n), "email": f"learner{n}@academia.example", "roles": [LEARNER]} for n in range(LEARNERS)),
        {"user_id": "moodle-user-3", "name": "Teo Ruiz", "email": "teo@academia.example", "roles": [INSTRUCTOR]},
        {"user_id": "moodle-user-5", "name": "Iris Mora", "email": "iris@academia.example", "roles": [INSTRUCTOR]},
        {"user_id": "moodle-user-6", "name": "Gone", "email": "gone@academia.example", "roles": [LEARNER],
         "status": "Inactive"},
        {"user_id": "moodle-user-7", "name": "Mentor", "email": "mentor@academia.example", "roles": [MENTOR]},
        {"user_id": "moodle-user-8", "name": "Outsider", "email": "outsider@elsewhere.example", "roles": [LEARNER]},
    ]
    lms.page_size = 50
    cohort = db.session.scalar(select(Cohort))
    teo = db.session.scalar(select(User).where(User.email == "teo@academia.example"))
    return cohort, teo


def members_of(cohort_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.cohort_id == cohort_id))


def test_the_trainer_pulls_every_page_of_the_roster_into_the_cohort(api, context_cohort, lms):
    cohort, teo = context_cohort
    response = api.as_user(teo).post(f"/api/v1/cohorts/{cohort.id}/lti-roster")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"members": LEARNERS + 6, "created": LEARNERS + 1, "enrolled": LEARNERS,
                                   "already_enrolled": 1, "trainers": 1, "skipped": 3}
    assert members_of(cohort.id) == LEARNERS + 1  # Ana's enrolment joined the cohort
    assert lms.service_calls >= 4  # the token, then three pages
    iris = db.session.scalar(select(User).where(User.email == "iris@academia.example"))
    assert iris.is_trainer and {t.user_id for t in db.session.get(Cohort, cohort.id).trainers} == {teo.id, iris.id}
    learner = db.session.scalar(select(User).join(LtiIdentity).where(LtiIdentity.subject == "moodle-user-1007"))
    assert learner.full_name == "Learner 7" and learner.organisation.name == "Academia de Policía"
    assert learner.last_login_at is None  # named by a roster, not signed in
    assert db.session.scalar(select(User).where(User.email == "gone@academia.example")) is None

    again = api.as_user(teo).post(f"/api/v1/cohorts/{cohort.id}/lti-roster").get_json()
    assert again == {"members": LEARNERS + 6, "created": 0, "enrolled": 0, "already_enrolled": LEARNERS + 1,
                     "trainers": 0, "skipped": 3}


def test_instructors_are_left_out_when_the_platform_s_are_not_trainers_here(api, context_cohort, registered):
    cohort, teo = context_cohort
    registered.instructors_are_trainers = False
    db.session.commit()
    body = api.as_user(teo).post(f"/api/v1/cohorts/{cohort.id}/lti-roster").get_json()
    assert body["trainers"] == 0 and body["skipped"] == 5 and body["created"] == LEARNERS
    assert db.session.scalar(select(User).where(User.email == "iris@academia.example")) is None


def test_a_learner_another_trainer_and_strangers_cannot_pull(api, app, context_cohort):
    cohort, _teo = context_cohort
    ana = db.session.scalar(select(User).where(User.email == "ana@academia.example"))
    path = f"/api/v1/cohorts/{cohort.id}/lti-roster"
    assert api.as_user(ana).post(path).status_code == 403
    assert api.as_user(factories.trainer()).post(path).status_code == 404
    stranger = app.test_client().post(path)
    assert stranger.status_code in (401, 403)
    assert members_of(cohort.id) == 0
    assert api.as_user(factories.admin()).post(path).status_code == 200


def test_a_cohort_not_made_by_a_platform_context_has_no_roster_to_pull(api, app_context):
    trainer = factories.trainer()
    cohort = factories_cohorts.cohort(trainer)
    response = api.as_user(trainer).post(f"/api/v1/cohorts/{cohort.id}/lti-roster")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert api.as_user(trainer).post("/api/v1/cohorts/999999/lti-roster").status_code == 404


@pytest.mark.parametrize("how", ["refused", 503])
def test_a_platform_down_changes_nothing(api, context_cohort, lms, how):
    cohort, teo = context_cohort
    users = db.session.scalar(select(func.count()).select_from(User))
    lms.go_down(how)
    try:
        response = api.as_user(teo).post(f"/api/v1/cohorts/{cohort.id}/lti-roster")
    finally:
        lms.come_back()
    assert response.status_code == 502 and response.get_json()["error"]["code"] == "lti_roster_unavailable"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == users and members_of(cohort.id) == 0


def test_a_page_failing_half_way_changes_nothing(api, context_cohort, lms):
    cohort, teo = context_cohort
    lms.allowed_scopes = set()  # the platform's admin did not grant the roster scope
    response = api.as_user(teo).post(f"/api/v1/cohorts/{cohort.id}/lti-roster")
    assert response.status_code == 502 and members_of(cohort.id) == 0


def test_the_cohort_page_offers_the_pull_to_its_trainer(client, context_cohort, lms):
    cohort, _teo = context_cohort  # ``client`` is Teo's browser, signed in by the launch
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert f'action="/lti/cohorts/{cohort.id}/roster"' in page
    response = client.post(f"/lti/cohorts/{cohort.id}/roster")
    assert response.status_code == 302 and response.location.endswith(f"/cohorts/{cohort.id}")
    shown = client.get(response.location).get_data(as_text=True)  # in Spanish, Teo's language
    assert "flash-success" in shown and f"{LEARNERS} personas" in shown
    assert members_of(cohort.id) == LEARNERS + 1
    lms.go_down(503)
    try:
        failed = client.post(f"/lti/cohorts/{cohort.id}/roster")
    finally:
        lms.come_back()
    assert failed.status_code == 302
    assert "flash-error" in client.get(failed.location).get_data(as_text=True)


def test_the_button_is_not_offered_for_other_cohorts_and_learners_cannot_press_it(app, context_cohort):
    from tests.factories_certificates import sign_in

    cohort, _teo = context_cohort
    admin = app.test_client()
    sign_in(admin, factories.admin())
    other = factories_cohorts.cohort(factories.trainer())
    assert f'action="/lti/cohorts/{other.id}/roster"' not in admin.get(f"/cohorts/{other.id}").get_data(as_text=True)
    assert f'action="/lti/cohorts/{cohort.id}/roster"' in admin.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    learner = app.test_client()
    sign_in(learner, factories.user())
    assert learner.post(f"/lti/cohorts/{cohort.id}/roster").status_code == 403
    assert app.test_client().post(f"/lti/cohorts/{cohort.id}/roster").status_code in (302, 401, 403)
    assert members_of(cohort.id) == 0
