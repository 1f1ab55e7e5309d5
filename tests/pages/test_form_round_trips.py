"""A form never drops a field it did not show: every edit form, loaded and submitted unchanged,
leaves its record exactly as it was (and a form re-rendered after another form's post still
shows the record's own values)."""

from __future__ import annotations

import pytest

from learning.accounts.models import User
from learning.catalogue.models import Course
from learning.cohorts.models import Cohort
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests.factories_cohorts import csv_bytes
from tests.html_forms import as_multidict, form_values


def _cohort_state(cohort_id: int) -> dict:
    db.session.expire_all()
    cohort = db.session.get(Cohort, cohort_id)
    return {"capacity": cohort.capacity, "attendance_rule": cohort.attendance_rule,
            "attendance_min_percent": cohort.attendance_min_percent, "starts_on": cohort.starts_on,
            "ends_on": cohort.ends_on, "name": cohort.name, "country": cohort.country,
            "trainers": sorted(t.user_id for t in cohort.trainers)}


@pytest.mark.parametrize("who", ["trainer", "admin"])
def test_cohort_settings_submitted_unchanged_change_nothing(make, sign_in, who):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, capacity=25, attendance_rule="min_percent", attendance_min_percent=75)
    before = _cohort_state(cohort.id)
    client = sign_in(trainer if who == "trainer" else make.admin())
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    response = client.post(f"/cohorts/{cohort.id}/settings",
                           data=as_multidict(form_values(page, f"/cohorts/{cohort.id}/settings")))
    assert response.status_code == 302
    assert _cohort_state(cohort.id) == before


def test_saving_the_rule_after_a_roster_upload_keeps_the_capacity(make, sign_in):
    """The reported bug: the page re-rendered after a roster upload showed an empty capacity."""
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, capacity=30, attendance_rule="none")
    client = sign_in(trainer)
    roster = csv_bytes("email,full_name,country,sector", "ana@example.org,Ana Gómez,CO,health")
    import io

    page = client.post(f"/cohorts/{cohort.id}/roster", data={"file": (io.BytesIO(roster), "roster.csv"),
                                                            "mode": "all_or_nothing"},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "1 person enrolled" in page or "enrolled" in page
    values = form_values(page, f"/cohorts/{cohort.id}/settings")
    assert ("capacity", "30") in values
    # The trainer changes only the rule.
    values = [(k, v) for k, v in values if k != "attendance_rule"] + [("attendance_rule", "all_sessions")]
    assert client.post(f"/cohorts/{cohort.id}/settings", data=as_multidict(values)).status_code == 302
    state = _cohort_state(cohort.id)
    assert (state["capacity"], state["attendance_rule"]) == (30, "all_sessions")


def test_cohort_settings_after_a_failed_session_form_keep_the_cohorts_values(make, sign_in):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, capacity=12, attendance_rule="all_sessions")
    client = sign_in(trainer)
    page = client.post(f"/cohorts/{cohort.id}/sessions", data={"title": "Day one"}).get_data(as_text=True)
    values = form_values(page, f"/cohorts/{cohort.id}/settings")
    assert ("capacity", "12") in values and ("attendance_rule", "all_sessions") in values


def _user_state(user_id: int) -> dict:
    db.session.expire_all()
    user = db.session.get(User, user_id)
    return {key: getattr(user, key) for key in ("full_name", "country", "sector", "language", "timezone",
                                                "organisation_id", "reminders_enabled", "email")} | {
        "roles": user.roles, "managed": [org.id for org in user.managed_organisations]}


def test_profile_submitted_unchanged_changes_nothing(make, sign_in):
    learner = make.user(full_name="Ana Gómez", country="CO", sector="health", language="es",
                        organisation="Policía Nacional", timezone="America/Bogota")
    learner.reminders_enabled = False
    db.session.commit()
    before = _user_state(learner.id)
    client = sign_in(learner)
    page = client.get("/account/profile").get_data(as_text=True)
    response = client.post("/account/profile", data=as_multidict(form_values(page, "")))
    assert response.status_code == 302
    assert _user_state(learner.id) == before


def test_an_admins_roles_form_submitted_unchanged_changes_nothing(make, sign_in):
    admin = make.admin()
    manager = make.trainer(organisation="Banco del Sur")
    from learning.accounts import management

    management.set_roles(admin, manager, ["trainer", "org_manager"], [manager.organisation_id])
    db.session.commit()
    before = _user_state(manager.id)
    client = sign_in(admin)
    page = client.get(f"/admin/users/{manager.id}").get_data(as_text=True)
    response = client.post(f"/admin/users/{manager.id}/roles",
                           data=as_multidict(form_values(page, f"/admin/users/{manager.id}/roles")))
    assert response.status_code == 302
    assert _user_state(manager.id) == before


def test_course_edit_form_submitted_unchanged_changes_nothing(make, sign_in):
    from learning.catalogue.forms import form_data_of

    course = make.course(published=False)
    db.session.expire_all()
    before = form_data_of(db.session.get(Course, course.id))
    client = sign_in(make.admin())
    page = client.get(f"/admin/courses/{course.slug}/edit").get_data(as_text=True)
    response = client.post(f"/admin/courses/{course.slug}/edit",
                           data=as_multidict(form_values(page, "")))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert form_data_of(db.session.get(Course, course.id)) == before
