"""Hostile input found by an outside attack, kept as plain examples: redirects after sign-in go only
to this site, and numbers, dates and JSON that the parsers of ``learning.parsing`` refuse are a
clear 4xx (or, on a page, the first page or an ignored filter), never a 500.

The Hypothesis fuzzing of every page is in ``test_html_fuzz.py``; the API's in
``test_schemathesis.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from learning.extensions import db
from learning.parsing import (
    MAX_JSON_DEPTH,
    InvalidInput,
    loads_json,
    page_number,
    parse_date,
    parse_datetime,
    parse_int,
)
from tests import factories_cohorts as cohorts
from tests.security_fixtures import sign_in

# --- open redirects --------------------------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example/x", "/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/\\evil.example",
    "\\\\evil.example", "/%5Cevil.example", "%09//evil.example", "%20//evil.example", "https://evil.example/",
    "http:evil.example", "javascript:alert(1)", "//evil.example@127.0.0.1", "/%0d%0aSet-Cookie:x=y",
    "%00//evil.example", "/\t\\evil.example", "http://[::1", "/%1b//evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_redirects_to_another_site(client, make, target):
    make.user(email="amina@example.org")
    response = client.post(f"/account/login?next={target}",
                           data={"email": "amina@example.org", "password": "a-Good-password-42"})
    if "%00" in target:  # text with a NUL character is refused at the door
        assert response.status_code == 400
        return
    assert response.status_code == 302
    location = response.headers["Location"]
    # What a browser would do with the Location header: drop tabs and newlines, read "\" as "/".
    read = location.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/").strip()
    assert read.startswith("/") and not read.startswith("//"), location


@pytest.mark.parametrize(("target", "expected"), [
    ("/learning/", "/learning/"), ("/courses/?q=abuse#top", "/courses/?q=abuse#top"),
    ("http://localhost/cohorts/", "/cohorts/"), ("/\tlearning/", "/learning/"),
])
def test_sign_in_still_returns_to_a_page_of_this_site(client, make, target, expected):
    make.user(email="amina@example.org")
    response = client.post(f"/account/login?next={quote(target, safe='/')}",
                           data={"email": "amina@example.org", "password": "a-Good-password-42"})
    assert response.headers["Location"] == expected


def test_the_two_factor_step_keeps_only_a_safe_next(client, make):
    from learning.accounts.models import User

    person = make.user(email="amina@example.org")
    db.session.get(User, person.id).totp_secret = "JBSWY3DPEHPK3PXP"
    db.session.commit()
    response = client.post("/account/login?next=/%09/evil.example",
                           data={"email": "amina@example.org", "password": "a-Good-password-42"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


# --- the parsers themselves ------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["²", "٣", "1e3", "0x10", " ", "-1", "+1", "1_000", "99999999999999999999"])
def test_only_ascii_digits_within_bounds_are_numbers(raw):
    with pytest.raises(InvalidInput):
        parse_int(raw, minimum=0, maximum=2**31 - 1)


@given(st.text(max_size=30))
def test_a_page_number_is_always_a_page_the_database_can_offset(raw):
    page = page_number({"page": raw})
    assert 1 <= page <= 1_000_000


@pytest.mark.parametrize("raw", ["9999-12-31", "0001-01-01", "2025-02-30", "2025-1-1", "２０２５-01-01", ""])
def test_dates_outside_the_platforms_years_or_malformed_are_refused(raw):
    with pytest.raises(InvalidInput):
        parse_date(raw)


@pytest.mark.parametrize("raw", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2025-03-31T09:00:00",
                                 "2025-03-31T09:00:00+25:00", "nonsense", "2025-03-31T09:00:00-05:00\x00"])
def test_date_times_that_would_overflow_or_lack_an_offset_are_refused(raw):
    with pytest.raises(InvalidInput):
        parse_datetime(raw)


def test_a_date_time_is_returned_in_utc():
    assert parse_datetime("2025-03-31T09:00:00-05:00") == datetime(2025, 3, 31, 14, tzinfo=UTC)
    assert parse_date("2025-03-31") == date(2025, 3, 31)


@pytest.mark.parametrize("body", ["[" * 1000 + "]" * 1000, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
                                  '{"a": "\\ud800"}', '{"\\udfff": 1}', '["ok", ["\\ud83d"]]'])
def test_json_too_deep_or_with_lone_surrogates_is_refused(body):
    with pytest.raises(InvalidInput):
        loads_json(body)


def test_json_within_the_limits_is_read_as_usual():
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads_json(nested) is not None
    assert loads_json('{"name": "\\ud83d\\ude00 Ana"}') == {"name": "\U0001F600 Ana"}


# --- through the application -------------------------------------------------------------------------

@pytest.fixture
def admin_browser(app, client, make):
    admin = make.admin()
    sign_in(client, admin.email)
    return client


@pytest.mark.parametrize("path", [
    "/courses/?page=²", "/courses/?page=99999999999999999999", "/cohorts/?page=99999999999999999999",
    "/cohorts/?page=²", "/admin/audit/?page=99999999999999999999", "/admin/audit/?until=9999-12-31",
    "/admin/audit/?since=0001-01-01&until=9999-12-31", "/certificates?page=99999999999999999999",
    "/admin/courses/?page=99999999999999999999",
])
def test_lists_and_filters_with_impossible_numbers_and_dates_answer_a_page(admin_browser, path):
    response = admin_browser.get(path)
    assert response.status_code == 200, path


@pytest.mark.parametrize("query", ["cohort=²", "cohort=99999999999999999999", "organisation=²", "from=9999-12-31",
                                   "to=0001-01-01"])
def test_report_filters_that_are_not_numbers_or_dates_name_the_field(api, make, admin_browser, query):
    response = api.as_user(make.admin()).get(f"/api/v1/reports/summary?{query}")
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["error"]["fields"]
    page = admin_browser.get(f"/reports/?{query}")
    assert page.status_code in (200, 422)


def test_the_audit_api_refuses_dates_beyond_its_years_naming_the_field(api, make):
    response = api.as_user(make.admin()).get("/api/v1/audit?until=9999-12-31")
    assert response.status_code == 422
    assert "until" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("body", [b"[" * 1000 + b"]" * 1000, b'{"full_name": "\\ud800"}', b'{"full_name": "a',
                                  b'{"full_name": "\xff"}'])
def test_malformed_json_bodies_are_a_bad_request_with_the_error_body(api, make, body):
    person = make.user(full_name="Ana Learner")
    response = api.as_user(person).patch("/api/v1/me", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    db.session.refresh(person)
    assert person.full_name == "Ana Learner"


def test_a_session_whose_offset_carries_it_past_the_calendar_is_refused(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = api.as_user(trainer).post(f"/api/v1/cohorts/{cohort.id}/sessions",
                                         json={"starts_at": "9999-12-31T23:59:59-12:00", "title": "Late"})
    assert response.status_code == 422
    assert "starts_at" in response.get_json()["error"]["fields"]


def test_a_session_page_form_beyond_the_calendar_is_refused_too(app, client, make):
    from learning.accounts.models import User

    trainer = make.trainer()
    db.session.get(User, trainer.id).timezone = "Etc/GMT+12"
    db.session.commit()
    cohort = cohorts.cohort(trainer)
    sign_in(client, trainer.email)
    response = client.post(f"/cohorts/{cohort.id}/sessions", data={"date": "9999-12-31", "time": "23:59"})
    assert response.status_code in (302, 422)
    from learning.cohorts.models import TrainingSession

    assert db.session.query(TrainingSession).filter_by(cohort_id=cohort.id).count() == 0


def test_attendance_ids_that_are_not_ascii_digits_are_ignored(client, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort)
    sign_in(client, trainer.email)
    response = client.post(f"/cohorts/{cohort.id}/sessions/{session.id}", data={"present": ["²", "99999999999999"]})
    assert response.status_code in (200, 302)
