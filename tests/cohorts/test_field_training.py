"""In-person training (issue 18): self check-in with a code that changes every minute, the
paper sign-in sheet, future sessions refused, and who is below the attendance rule before closing."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from learning.audit.models import AuditEntry
from learning.cohorts import checkin
from learning.cohorts import sessions as session_service
from learning.cohorts.models import Attendance
from learning.extensions import db, limiter
from tests import factories_cohorts as cohorts
from tests.factories import PASSWORD

STARTS = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)  # the factory's session


class Clock:
    """The time the check-in service and the register see."""

    def __init__(self, monkeypatch, now: datetime):
        self.now = now
        for module in (checkin, session_service):
            monkeypatch.setattr(module, "utcnow", lambda: self.now)

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, STARTS + timedelta(minutes=5, seconds=10))


@pytest.fixture
def room(make):
    """A trainer's cohort with one session and two members."""
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort, title="Día 1")
    first, second = cohorts.member(cohort), cohorts.member(cohort)
    return trainer, cohort, session, first, second


@pytest.fixture
def sign_in(client):
    def as_user(user):
        client.get("/account/logout")
        client.post("/account/logout")
        response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
        return client
    return as_user


def _present(session) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(select(Attendance.enrolment_id).where(
        Attendance.session_id == session.id, Attendance.present.is_(True))))


def _code(api, trainer, cohort, session) -> dict:
    response = api.as_user(trainer).post(f"cohorts/{cohort.id}/sessions/{session.id}/check-in-code")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- the code -------------------------------------------------------------------------------

def test_the_trainer_gets_a_code_that_expires_at_the_end_of_the_next_minute(api, room, clock):
    trainer, cohort, session, *_ = room
    body = _code(api, trainer, cohort, session)
    assert body["code"].startswith(str(session.id)) and body["code"].isdigit()
    assert len(body["code"]) == len(str(session.id)) + 6
    assert body["expires_at"] == "2025-03-03T14:07:00+00:00"
    assert f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-qr.svg?code={body['code']}" in body["qr_url"]
    assert body["check_in_url"].endswith(f"/check-in?code={body['code']}")
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "cohort.check_in_code_shown"))


def test_the_code_changes_every_minute_and_differs_between_sessions(api, room, clock):
    trainer, cohort, session, *_ = room
    other = cohorts.session(cohort, days=1)
    first = _code(api, trainer, cohort, session)["code"]
    assert _code(api, trainer, cohort, session)["code"] == first  # the same minute: the same code
    assert _code(api, trainer, cohort, other)["code"][-6:] != first[-6:]
    clock.advance(minutes=1)
    assert _code(api, trainer, cohort, session)["code"] != first


def test_a_learner_or_another_trainer_cannot_get_the_code(api, room, make, clock):
    trainer, cohort, session, first, _second = room
    learner = db.session.get(type(make.user()), first.user_id)
    assert api.as_user(learner).post(f"cohorts/{cohort.id}/sessions/{session.id}/check-in-code").status_code == 403
    assert api.as_user(make.trainer()).post(
        f"cohorts/{cohort.id}/sessions/{session.id}/check-in-code").status_code == 404


# --- checking in ----------------------------------------------------------------------------

def _user(enrolment):
    from learning.accounts.models import User

    return db.session.get(User, enrolment.user_id)


def test_a_member_checks_in_with_the_code_and_is_marked_present_once(api, room, clock):
    trainer, cohort, session, first, second = room
    code = _code(api, trainer, cohort, session)["code"]
    response = api.as_user(_user(first)).post("check-in", json={"code": code})
    assert response.status_code == 200
    assert response.get_json() == {"cohort": cohort.id, "session_id": session.id, "status": "present"}
    assert _present(session) == {first.id}
    # Typed with the screen's grouping: the same code.
    display = f"{code[:-6]}-{code[-6:-3]} {code[-3:]}"
    assert api.as_user(_user(second)).post("check-in", json={"code": display}).status_code == 200
    assert _present(session) == {first.id, second.id}
    # Checking in again changes nothing and is not audited twice.
    assert api.as_user(_user(first)).post("check-in", json={"code": code}).status_code == 200
    marks = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "cohort.attendance_marked")).all()
    assert sorted(m.details["enrolment_id"] for m in marks) == sorted([first.id, second.id])
    assert all(m.details["how"] == "check_in" for m in marks)


def test_check_in_keeps_the_trainers_other_marks(api, room, clock):
    trainer, cohort, session, first, second = room
    api.as_user(trainer).request("PUT", f"cohorts/{cohort.id}/sessions/{session.id}/attendance", json={"present": [second.user_id]})
    assert _present(session) == {second.id}
    code = _code(api, trainer, cohort, session)["code"]
    assert api.as_user(_user(first)).post("check-in", json={"code": code}).status_code == 200
    assert _present(session) == {first.id, second.id}
    sheet = api.as_user(trainer).get(f"cohorts/{cohort.id}/sessions/{session.id}/attendance").get_json()
    assert sorted(sheet["present"]) == sorted([first.user_id, second.user_id]) and sheet["absent"] == []


def test_the_previous_minutes_code_is_accepted_an_older_one_is_expired(api, room, clock):
    trainer, cohort, session, first, second = room
    code = _code(api, trainer, cohort, session)["code"]
    clock.advance(minutes=1)
    assert api.as_user(_user(first)).post("check-in", json={"code": code}).status_code == 200
    clock.advance(minutes=1)
    response = api.as_user(_user(second)).post("check-in", json={"code": code})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["code"] == [
        "This code is wrong or has expired. Type the code now on the screen."]
    assert _present(session) == {first.id}


@pytest.mark.parametrize("bad", ["", "abc", "12", "1234567", "٠١٢٣٤٥٦٧", "9999999999999999999999999999", None, 123])
def test_wrong_codes_are_refused_and_change_nothing(api, room, clock, bad):
    _trainer, _cohort, session, first, _second = room
    response = api.as_user(_user(first)).post("check-in", json={"code": bad})
    assert response.status_code == 422
    assert _present(session) == set()


def test_a_code_for_another_session_is_refused(api, room, clock):
    trainer, cohort, session, first, _second = room
    other = cohorts.session(cohort, starts_at=STARTS)
    code = _code(api, trainer, cohort, other)["code"]
    forged = f"{session.id}{code[-6:]}"  # the other session's digits with this session's id
    assert api.as_user(_user(first)).post("check-in", json={"code": forged}).status_code == 422
    assert _present(session) == set() and _present(other) == set()


def test_someone_not_in_the_cohort_is_refused(api, room, make, clock):
    trainer, cohort, session, *_ = room
    code = _code(api, trainer, cohort, session)["code"]
    response = api.as_user(make.user()).post("check-in", json={"code": code})
    assert response.status_code == 403
    assert "not a member" in response.get_json()["error"]["message"]
    assert _present(session) == set()


def test_a_session_that_has_not_started_is_refused(api, room, clock):
    trainer, cohort, session, first, _second = room
    clock.now = STARTS - timedelta(minutes=10)
    code = _code(api, trainer, cohort, session)["code"]
    response = api.as_user(_user(first)).post("check-in", json={"code": code})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "session_not_started"
    assert _present(session) == set()


def test_check_in_ends_twelve_hours_after_the_start(api, room, clock):
    trainer, cohort, session, first, _second = room
    clock.now = STARTS + timedelta(hours=12, minutes=1)
    code = _code(api, trainer, cohort, session)["code"]
    response = api.as_user(_user(first)).post("check-in", json={"code": code})
    assert response.status_code == 409
    assert _present(session) == set()


def test_a_closed_cohort_takes_no_check_in(api, room, clock):
    trainer, cohort, session, first, _second = room
    code = _code(api, trainer, cohort, session)["code"]
    assert api.as_user(trainer).post(f"cohorts/{cohort.id}/close").status_code == 200
    assert api.as_user(_user(first)).post("check-in", json={"code": code}).status_code == 409
    assert api.as_user(trainer).post(f"cohorts/{cohort.id}/sessions/{session.id}/check-in-code").status_code == 409
    assert _present(session) == set()


def test_guessing_is_rate_limited_per_person(api, app, room, clock, monkeypatch):
    limiter.reset()
    trainer, cohort, session, first, second = room
    monkeypatch.setitem(app.config, "CHECK_IN_RATE_LIMIT", "3 per minute")
    guesser = api.as_user(_user(first))
    for n in range(3):
        assert guesser.post("check-in", json={"code": f"{session.id}00000{n}"}).status_code == 422
    code = _code(api, trainer, cohort, session)["code"]
    assert guesser.post("check-in", json={"code": code}).status_code == 429
    assert _present(session) == set()
    # Someone else in the same room (the same address) is not held up by the guesser.
    assert api.as_user(_user(second)).post("check-in", json={"code": code}).status_code == 200


def test_the_limit_is_the_person_s_whatever_tokens_they_use(api, app, room, clock, monkeypatch):
    """Outside check: the limit was keyed by the token, so a guesser minting a token per few guesses
    (POST /api/v1/auth/tokens) had a fresh allowance each time; now every token of a person shares one."""
    limiter.reset()
    _trainer, _cohort, session, first, _second = room
    monkeypatch.setitem(app.config, "CHECK_IN_RATE_LIMIT", "3 per minute")
    person = _user(first)
    for n in range(3):
        assert api.as_user(person).post("check-in", json={"code": f"{session.id}00000{n}"}).status_code == 422
    response = api.as_user(person).post("check-in", json={"code": f"{session.id}000009"})  # a new token
    assert response.status_code == 429 and response.get_json()["error"]["code"] == "rate_limited"


def test_an_anonymous_caller_is_refused(api, room, clock):
    assert api.post("check-in", json={"code": "123456789"}).status_code == 401


# --- the register refuses future sessions ---------------------------------------------------

def test_a_future_session_cannot_be_marked_by_the_trainer(api, room, clock):
    trainer, cohort, _session, first, _second = room
    future = cohorts.session(cohort, starts_at=STARTS + timedelta(days=2))
    response = api.as_user(trainer).request("PUT", f"cohorts/{cohort.id}/sessions/{future.id}/attendance",
                                        json={"present": [first.user_id]})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == (
        "This session has not started yet: attendance can be recorded once it has begun.")
    assert _present(future) == set()
    assert not db.session.scalar(select(Attendance).where(Attendance.session_id == future.id))


def test_the_attendance_page_of_a_future_session_says_so_and_offers_no_save(sign_in, room, clock):
    trainer, cohort, _session, first, _second = room
    future = cohorts.session(cohort, starts_at=STARTS + timedelta(days=2))
    client = sign_in(trainer)
    page = client.get(f"/cohorts/{cohort.id}/sessions/{future.id}").get_data(as_text=True)
    assert 'id="not-started"' in page and "Save attendance" not in page
    response = client.post(f"/cohorts/{cohort.id}/sessions/{future.id}", data={"present": [str(first.user_id)]},
                           headers={"Referer": f"/cohorts/{cohort.id}/sessions/{future.id}"})
    assert response.status_code == 302
    assert _present(future) == set()


# --- the pages ------------------------------------------------------------------------------

def test_the_check_in_page_prefills_the_code_and_checks_in_without_javascript(sign_in, room, clock):
    trainer, cohort, session, first, _second = room
    code = checkin.current_code(session).code
    client = sign_in(_user(first))
    page = client.get(f"/check-in?code={code}").get_data(as_text=True)
    assert f'value="{code}"' in page and 'inputmode="numeric"' in page
    response = client.post("/check-in", data={"code": code}, follow_redirects=True)
    assert response.status_code == 200
    assert "You are checked in to" in response.get_data(as_text=True)
    assert _present(session) == {first.id}


def test_the_check_in_page_explains_a_refusal(sign_in, room, make, clock):
    _trainer, _cohort, session, first, _second = room
    client = sign_in(_user(first))
    response = client.post("/check-in", data={"code": f"{session.id}000000"})
    assert response.status_code == 422
    assert "This code is wrong or has expired." in response.get_data(as_text=True)
    client = sign_in(make.user())
    response = client.post("/check-in", data={"code": checkin.current_code(session).code})
    assert response.status_code == 403
    assert "not a member of this session" in response.get_data(as_text=True)
    assert _present(session) == set()


def test_the_check_in_page_needs_a_sign_in_and_keeps_the_code(client, room, clock):
    response = client.get("/check-in?code=12345678")
    assert response.status_code == 302 and "/account/login" in response.location
    assert "code%3D12345678" in response.location or "code=12345678" in response.location


def test_the_trainers_screen_shows_the_code_and_qr_and_reloads_when_it_changes(sign_in, room, clock):
    trainer, cohort, session, *_ = room
    client = sign_in(trainer)
    page = client.get(f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-code").get_data(as_text=True)
    code = checkin.current_code(session)
    assert code.display in page and f'data-code="{code.code}"' in page
    assert 'src="data:image/svg+xml' in page
    assert 'data-refresh-seconds="51"' in page  # 14:05:10 → the code changes at 14:06:00


def test_the_qr_url_serves_the_qr_of_a_current_code_only(sign_in, room, make, clock):
    trainer, cohort, session, *_ = room
    code = checkin.current_code(session).code
    client = sign_in(trainer)
    response = client.get(f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-qr.svg?code={code}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "http://www.w3.org/2000/svg" in response.get_data(as_text=True)
    clock.advance(minutes=2)
    assert client.get(f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-qr.svg?code={code}").status_code == 404
    other = sign_in(make.trainer())
    assert other.get(f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-qr.svg?code={code}").status_code == 404


# --- the sign-in sheet ----------------------------------------------------------------------

def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_sign_in_sheet_lists_the_members_and_the_session(sign_in, make):
    trainer = make.trainer(full_name="Lucía Ramos")
    cohort = cohorts.cohort(trainer, name="Policía Bogotá")
    session = cohorts.session(cohort, title="Día 1", place="Academia")
    cohorts.member(cohort, full_name="Ana Pérez")
    cohorts.member(cohort, full_name="Jorge Díaz")
    response = sign_in(trainer).get(f"/cohorts/{cohort.id}/sessions/{session.id}/sign-in-sheet.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _pdf_text(response.data)
    for expected in ("Sign-in sheet", "Signature", "Policía Bogotá", "Día 1", "Academia", "Lucía Ramos",
                     "Ana Pérez", "Jorge Díaz", "March 3, 2025"):
        assert expected in text, expected


def test_a_long_roster_runs_over_pages_with_every_member(sign_in, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort)
    for n in range(40):
        cohorts.member(cohort, full_name=f"Member {n:02d}")
    data = sign_in(trainer).get(f"/cohorts/{cohort.id}/sessions/{session.id}/sign-in-sheet.pdf").data
    assert len(PdfReader(io.BytesIO(data)).pages) >= 2
    text = _pdf_text(data)
    assert all(f"Member {n:02d}" in text for n in range(40))


def test_the_sign_in_sheet_is_in_the_cohorts_language_arabic_included(sign_in, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, course=make.course(language="ar"))
    session = cohorts.session(cohort)
    cohorts.member(cohort, full_name="ليلى حسن")
    data = sign_in(trainer).get(f"/cohorts/{cohort.id}/sessions/{session.id}/sign-in-sheet.pdf").data
    raw = data.decode("latin-1")
    assert "NotoSansArabic" in raw
    assert "Sign-in sheet" not in _pdf_text(data)


def test_only_the_cohorts_trainers_and_admins_get_the_sheet(sign_in, room, make):
    trainer, cohort, session, first, _second = room
    path = f"/cohorts/{cohort.id}/sessions/{session.id}/sign-in-sheet.pdf"
    assert sign_in(make.trainer()).get(path).status_code == 404
    assert sign_in(_user(first)).get(path).status_code == 403
    assert sign_in(make.admin()).get(path).status_code == 200


# --- who is below the rule, before closing ---------------------------------------------------

def test_the_close_page_lists_who_is_below_the_attendance_rule(sign_in, api, make, clock):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
    first, second = cohorts.session(cohort), cohorts.session(cohort, days=-1)
    keen = cohorts.member(cohort, full_name="Keen Learner")
    late = cohorts.member(cohort, full_name="Late Learner")
    api.as_user(trainer).request("PUT", f"cohorts/{cohort.id}/sessions/{first.id}/attendance",
                             json={"present": [keen.user_id, late.user_id]})
    api.as_user(trainer).request("PUT", f"cohorts/{cohort.id}/sessions/{second.id}/attendance", json={"present": [keen.user_id]})
    page = sign_in(trainer).get(f"/cohorts/{cohort.id}/close").get_data(as_text=True)
    table = page[page.index('id="below-rule"'):]
    assert "Late Learner" in table and "1 of 2" in table and "Keen Learner" not in table


@pytest.mark.parametrize("bad", ["²²²²²²²", "١٢٣٤٥٦٧٨", "12345678\x00", "%"])
def test_the_qr_endpoint_answers_404_to_any_odd_code(sign_in, room, clock, bad):
    trainer, cohort, session, *_ = room
    response = sign_in(trainer).get(f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-qr.svg",
                                    query_string={"code": bad})
    assert response.status_code in (400, 404)


def _finish_online_part(enrolment) -> None:
    from learning.enrolment import services as enrolment_services

    for module in enrolment.course.modules:
        for lesson in module.lessons:
            enrolment_services.complete_lesson(enrolment, lesson.id)
    if enrolment.course.quiz is not None:
        answers = {str(q.id): next(c.id for c in q.choices if c.correct) for q in enrolment.course.quiz.questions}
        enrolment_services.submit_quiz(enrolment, answers)
    db.session.commit()


def test_with_an_attendance_rule_the_online_part_alone_does_not_complete(api, make, clock):
    """Certificates go to those who met the rule: finishing the lessons and quiz waits for the close."""
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
    only = cohorts.session(cohort)
    attended, absent = cohorts.member(cohort), cohorts.member(cohort)
    api.as_user(trainer).request("PUT", f"cohorts/{cohort.id}/sessions/{only.id}/attendance",
                                 json={"present": [attended.user_id]})
    for enrolment in (attended, absent):
        _finish_online_part(enrolment)
        assert enrolment.status == "active" and enrolment.completed_at is None

    closed = api.as_user(trainer).post(f"cohorts/{cohort.id}/close")
    assert closed.status_code == 200, closed.get_json()
    db.session.expire_all()
    assert (attended.status, absent.status) == ("completed", "active")


def test_without_an_attendance_rule_the_online_part_completes_at_once(make):
    cohort = cohorts.cohort(make.trainer(), attendance_rule="none")
    enrolment = cohorts.member(cohort)
    _finish_online_part(enrolment)
    assert enrolment.status == "completed"


# --- an integrator with an API token (the outside check) --------------------------------------

def test_the_qr_url_and_the_sign_in_sheet_take_the_api_token(api, room, make, clock, client):
    """The API hands an integrator ``qr_url``, and API.md lists the sign-in sheet: with the bearer
    token they called the API with, both answer (they redirected to the sign-in page before);
    anyone else's token is refused with the API's error body, and no browser session is made."""
    trainer, cohort, session, *_ = room
    body = _code(api, trainer, cohort, session)
    qr = api.as_user(trainer).get(body["qr_url"].split("localhost", 1)[-1])
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    sheet_path = f"/cohorts/{cohort.id}/sessions/{session.id}/sign-in-sheet.pdf"
    sheet = api.as_user(trainer).get(sheet_path)
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")
    assert api.as_user(make.admin()).get(sheet_path).status_code == 200
    other = api.as_user(make.trainer()).get(sheet_path)
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "not_found"
    learner = api.as_user(make.user()).get(sheet_path)
    assert learner.status_code == 403 and learner.get_json()["error"]["code"] == "forbidden"
    bad = client.get(sheet_path, headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "unauthorized"
    assert api.as_user(trainer).get(f"/cohorts/{cohort.id}/sessions/999999/sign-in-sheet.pdf").status_code == 404
    # Other trainer pages still want the browser session.
    assert api.as_user(trainer).get(f"/cohorts/{cohort.id}").status_code == 302


@pytest.mark.parametrize("setting", ["CHECK_IN_RATE_LIMIT", "LOGIN_RATE_LIMIT", "TOKEN_RATE_LIMIT", "SIGNUP_RATE_LIMIT"])
def test_a_rate_limit_that_does_not_parse_refuses_to_start(setting):
    """Outside check: CHECK_IN_RATE_LIMIT=lots started, and Flask-Limiter then logged the error and
    limited nothing (codes could be guessed freely); now the start-up names the setting."""
    from learning.config import ConfigError, load_config

    env = {"SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests"}
    with pytest.raises(ConfigError, match=setting):
        load_config({**env, setting: "lots"})
    assert load_config({**env, setting: "3 per minute"})[setting] == "3 per minute"
    assert load_config(env)["CHECK_IN_RATE_LIMIT"] == "10 per minute"
