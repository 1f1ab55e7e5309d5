"""Least privilege: a trainer sees and changes only the cohorts they run; learners none.

Every cohort endpoint and page is tried by another trainer (404: the cohort's
existence is not revealed), a learner (403) and an anonymous caller, and
nothing changes.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from learning.audit.models import AuditEntry
from learning.cohorts.models import Attendance, Cohort, TrainingSession
from learning.enrolment.models import Enrolment
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests.factories import PASSWORD
from tests.factories_cohorts import csv_bytes

ROSTER = csv_bytes("email,full_name,country,sector", "new@example.org,New Person,CO,health")

API_CALLS = [
    ("GET", "cohorts/{cohort}", None),
    ("PATCH", "cohorts/{cohort}", {"json": {"name": "Renamed"}}),
    ("POST", "cohorts/{cohort}/roster", {"data": ROSTER, "headers": {"Content-Type": "text/csv"}}),
    ("GET", "cohorts/{cohort}/roster.csv", None),
    ("GET", "cohorts/{cohort}/roster-imports/1", None),
    ("POST", "cohorts/{cohort}/members/{member}/complete", None),
    ("POST", "cohorts/{cohort}/close", None),
    ("GET", "cohorts/{cohort}/sessions", None),
    ("POST", "cohorts/{cohort}/sessions", {"json": {"starts_at": "2025-03-04T09:00:00Z"}}),
    ("GET", "cohorts/{cohort}/sessions/{session}/attendance", None),
    ("PUT", "cohorts/{cohort}/sessions/{session}/attendance", {"json": {"present": []}}),
]

PAGES = [
    ("GET", "/cohorts/{cohort}", None),
    ("POST", "/cohorts/{cohort}/roster", {"data": {"mode": "partial", "file": "roster"}}),
    ("GET", "/cohorts/{cohort}/imports/1", None),
    ("POST", "/cohorts/{cohort}/members/{member}/complete", None),
    ("POST", "/cohorts/{cohort}/close", None),
    ("POST", "/cohorts/{cohort}/settings", {"data": {"attendance_rule": "none"}}),
    ("POST", "/cohorts/{cohort}/sessions", {"data": {"date": "2025-03-04", "time": "09:00"}}),
    ("GET", "/cohorts/{cohort}/sessions/{session}", None),
    ("POST", "/cohorts/{cohort}/sessions/{session}", {"data": {"present": []}}),
    ("GET", "/cohorts/{cohort}/roster.csv", None),
]


@pytest.fixture
def world(make):
    """A cohort run by one trainer, with a member and a session, and the other people who try to reach it."""
    owner = make.trainer()
    cohort = cohorts.cohort(owner)
    member = cohorts.member(cohort)
    session = cohorts.session(cohort)
    return {"cohort": cohort, "ids": {"cohort": cohort.id, "member": member.user_id, "session": session.id},
            "other_trainer": make.trainer(), "learner": member.user, "owner": owner}


def state() -> tuple:
    cohort = db.session.scalar(select(Cohort))
    db.session.refresh(cohort)
    return (cohort.name, cohort.status, cohort.attendance_rule,
            tuple(db.session.scalars(select(Enrolment.status).order_by(Enrolment.id))),
            db.session.scalar(select(func.count(TrainingSession.id))),
            db.session.scalar(select(func.count(Attendance.session_id))),
            db.session.scalar(select(func.count(AuditEntry.id))))


def _kwargs(extra):
    extra = dict(extra or {})
    if isinstance(extra.get("data"), dict) and extra["data"].get("file") == "roster":
        extra["data"] = {**extra["data"], "file": (io.BytesIO(ROSTER), "roster.csv")}
        extra["content_type"] = "multipart/form-data"
    return extra


@pytest.mark.parametrize(("method", "path", "extra"), API_CALLS, ids=[f"{m} {p}" for m, p, _ in API_CALLS])
@pytest.mark.parametrize(("who", "status"), [("other_trainer", 404), ("learner", 403), (None, 401)])
def test_api_refuses_anyone_who_does_not_run_the_cohort(api, world, method, path, extra, who, status):
    before = state()
    client = api.as_user(world[who]) if who else api
    response = client.request(method, path.format(**world["ids"]), **(extra or {}))
    assert response.status_code == status
    assert "error" in response.get_json()
    assert state() == before


@pytest.mark.parametrize(("method", "path", "extra"), PAGES, ids=[f"{m} {p}" for m, p, _ in PAGES])
@pytest.mark.parametrize(("who", "status"), [("other_trainer", 404), ("learner", 403), (None, 302)])
def test_pages_refuse_anyone_who_does_not_run_the_cohort(client, world, method, path, extra, who, status):
    if who:
        assert client.post("/account/login", data={"email": world[who].email, "password": PASSWORD}).status_code == 302
    before = state()
    response = client.open(path.format(**world["ids"]), method=method, **_kwargs(extra))
    assert response.status_code == status
    if who is None:
        assert "/account/login" in response.headers["Location"]
    assert state() == before


def test_the_owner_reaches_every_page_and_endpoint_that_reads(api, client, world):
    for method, path, _extra in API_CALLS:
        if method == "GET" and "roster-imports" not in path:
            assert api.as_user(world["owner"]).get(path.format(**world["ids"])).status_code == 200, path
    client.post("/account/login", data={"email": world["owner"].email, "password": PASSWORD})
    for method, path, _extra in PAGES:
        if method == "GET" and "imports" not in path:
            assert client.get(path.format(**world["ids"])).status_code == 200, path


def test_lists_and_the_new_cohort_page_are_for_trainers_and_admins_only(api, client, world):
    assert api.as_user(world["learner"]).get("cohorts").status_code == 403
    assert api.as_user(world["learner"]).post("cohorts", json={}).status_code == 403
    assert api.as_user(world["other_trainer"]).get("cohorts").get_json()["items"] == []
    client.post("/account/login", data={"email": world["learner"].email, "password": PASSWORD})
    assert client.get("/cohorts/").status_code == 403
    assert client.get("/cohorts/new").status_code == 403


def test_an_admin_reaches_any_cohort(api, make, world):
    admin = make.admin()
    assert api.as_user(admin).get(f"cohorts/{world['cohort'].id}").status_code == 200
