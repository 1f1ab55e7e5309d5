"""The trainer's workspace pages: what a trainer sees and does, without a browser."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests.factories_cohorts import csv_bytes

HEADER = "email,full_name,country,sector,organisation,language"


def test_my_cohorts_lists_only_the_trainers_own(make, sign_in):
    trainer = make.trainer()
    cohorts.cohort(trainer, name="Academia de Policía — Bogotá")
    cohorts.cohort(make.trainer(), name="Someone else's cohort")
    page = sign_in(trainer).get("/cohorts/").get_data(as_text=True)
    assert "Academia de Policía — Bogotá" in page and "Someone else" not in page
    assert "My cohorts" in page


def test_a_trainer_creates_a_cohort_from_the_page(make, sign_in):
    trainer = make.trainer()
    course = make.course()
    client = sign_in(trainer)
    response = client.post("/cohorts/new", data={
        "course": course.slug, "name": "Nairobi 2025", "country": "KE", "delivery": "blended",
        "starts_on": "2025-05-01", "ends_on": "2025-05-30", "attendance_rule": "all_sessions"})
    assert response.status_code == 302
    cohort = db.session.scalar(select(Cohort))
    assert (cohort.name, cohort.country, cohort.attendance_rule) == ("Nairobi 2025", "KE", "all_sessions")
    assert [t.user_id for t in cohort.trainers] == [trainer.id]


def test_an_admin_creates_a_cohort_and_assigns_trainers(make, sign_in):
    admin, trainer = make.admin(), make.trainer(full_name="Kofi Mensah")
    course = make.course()
    client = sign_in(admin)
    form = client.get("/cohorts/new").get_data(as_text=True)
    assert "Kofi Mensah" in form
    response = client.post("/cohorts/new", data={
        "course": course.slug, "name": "Accra", "country": "GH", "delivery": "in_person",
        "starts_on": "2025-05-01", "ends_on": "2025-05-30", "attendance_rule": "none", "trainers": [str(trainer.id)]})
    assert response.status_code == 302
    assert [t.user_id for t in db.session.scalar(select(Cohort)).trainers] == [trainer.id]


def test_bad_dates_are_shown_on_the_form(make, sign_in):
    client = sign_in(make.trainer())
    response = client.post("/cohorts/new", data={
        "course": make.course().slug, "name": "Backwards", "country": "KE", "delivery": "online",
        "starts_on": "2025-05-30", "ends_on": "2025-05-01", "attendance_rule": "none"})
    assert response.status_code == 422
    assert "The cohort cannot end before it starts." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Cohort.id))) == 0


def test_uploading_a_roster_shows_the_row_report_on_the_page(make, sign_in):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    client = sign_in(trainer)
    bad = csv_bytes(HEADER, "ana@example.org,Ana Gómez,Colombie,education,,fr", "ben@example,Ben,CO,pilots,,")
    response = client.post(f"/cohorts/{cohort.id}/roster", data={
        "file": (io.BytesIO(bad), "roster.csv"), "mode": "all_or_nothing"}, content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page
    assert "“ben@example” is not a valid e-mail address." in page and "Unknown sector “pilots”" in page
    assert db.session.scalar(select(func.count(Enrolment.id))) == 0
    good = csv_bytes(HEADER, "ana@example.org,Ana Gómez,Colombie,education,,fr")
    response = client.post(f"/cohorts/{cohort.id}/roster", data={
        "file": (io.BytesIO(good), "roster.csv"), "mode": "all_or_nothing"}, content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 new account invited. 1 person enrolled." in page and "Ana Gómez" in page


def test_sessions_attendance_sign_off_close_and_export_from_the_pages(make, sign_in):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
    ana, ben = cohorts.member(cohort, full_name="Ana"), cohorts.member(cohort, full_name="Ben")
    client = sign_in(trainer)
    response = client.post(f"/cohorts/{cohort.id}/sessions", data={
        "title": "Day one", "date": "2025-03-03", "time": "09:00", "place": "Bogotá"})
    assert response.status_code == 302
    attendance_url = response.headers["Location"]
    assert "Ana" in client.get(attendance_url).get_data(as_text=True)
    client.post(attendance_url, data={"present": [str(ana.user_id)]})
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "1 member meets the completion rule now." in page
    client.post(f"/cohorts/{cohort.id}/members/{ben.user_id}/complete")
    response = client.post(f"/cohorts/{cohort.id}/close", follow_redirects=True)
    assert "The cohort is closed. 1 member was signed off" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {e.status for e in db.session.scalars(select(Enrolment))} == {"completed"}
    export = client.get(f"/cohorts/{cohort.id}/roster.csv")
    assert export.mimetype == "text/csv" and export.get_data(as_text=True).count(",completed,") == 2


def test_settings_change_the_completion_rule(make, sign_in):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = sign_in(trainer).post(f"/cohorts/{cohort.id}/settings", data={
        "attendance_rule": "min_percent", "attendance_min_percent": "80", "capacity": "25"})
    assert response.status_code == 302
    db.session.refresh(cohort)
    assert (cohort.attendance_rule, cohort.attendance_min_percent, cohort.capacity) == ("min_percent", 80, 25)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("capacity", 0, "Use a whole number of places, at least 1, or leave it empty."),
    ("capacity", 2**31, "Use a whole number of places, at least 1, or leave it empty."),
    ("attendance_min_percent", 101, "Use a percentage from 1 to 100."),
    ("name", "x" * 201, "A name of at most 200 characters is required."),
])
def test_the_page_and_the_api_refuse_a_cohort_by_the_same_rule(make, sign_in, api, field, value, message):
    """One rule per field (``validate_cohort``), whether the cohort comes from the form or the API."""
    trainer, course = make.trainer(), make.course()
    fields = {"course": course.slug, "name": "Nairobi 2025", "country": "KE", "delivery": "blended",
              "starts_on": "2025-05-01", "ends_on": "2025-05-30", "attendance_rule": "min_percent",
              "attendance_min_percent": 50, field: value}
    answer = api.as_user(trainer).post("cohorts", json=fields)
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"][field] == [message]
    page = sign_in(trainer).post("/cohorts/new", data={k: str(v) for k, v in fields.items()})
    assert page.status_code == 422
    assert message in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Cohort.id))) == 0
