"""A cohort's whole field journey, end to end, with real parts (docs/FIELD_TRAINING.md, issue 18).

An admin makes a course with a pre-test, a post-test and a quiz; a trainer makes an in-person
cohort with an attendance rule (60 %: two of its three sessions), schedules three sessions (two
days ago, yesterday, today) and enrols four members from a roster. In Chromium: the code goes on
the room's screen and two members check in from 360 px phones (one scans the QR code from the
screen's pixels, one types the code); the trainer marks the first session's register offline and
it reaches the server once when the connection returns; the second session's paper sheet is
entered on the trainer's phone. Through the API: pre-tests, lessons, post-tests, the quiz. In
the browser again: the close page lists who is below the rule, and the trainer closes. The real
Celery worker then issues certificates to exactly the members who met the rule (and so
completed); those members fill in the evaluation; and the learning-gain and evaluation reports
equal a recount made here from the raw rows (attempts, evaluations, attendance), rounded and
suppressed as the property tests of the two reports require.
"""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from learning.assessment.models import KnowledgeTestAttempt
from learning.certificates.models import Certificate
from learning.cohorts import sessions as registers
from learning.cohorts.models import Attendance, TrainingSession
from learning.enrolment.models import DeviceEvent, Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from tests import factories
from tests import factories_assessment as fa
from tests.assessment.test_learning_gain_properties import published_groups, rounded
from tests.assessment.test_learning_gain_properties import recount as gain_recount
from tests.conftest import wait_until
from tests.evaluations.test_evaluation_properties import comparable, raw_rows
from tests.evaluations.test_evaluation_properties import recount as evaluation_recount
from tests.factories_cohorts import csv_bytes
from tests.support import QUEUED_EVENTS, fits_width, phone_options, sign_in_on, the_check_in_screen

pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.xdist_group("celery")]
PHONE = phone_options()
THRESHOLD = 2  # small cells: low enough for a group of four
HEADER = "email,full_name,country,sector,organisation,language"


# --- helpers ----------------------------------------------------------------------------------

class Api:
    """The JSON API of the publishing app (its outbox events go to the real worker), as one person."""

    def __init__(self, live_app, token: str):
        self.client = live_app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, expect_status: int = 200, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.open(f"/api/v1/{path}", method=method, headers=headers, **kwargs)
        assert response.status_code == expect_status, (method, path, response.get_data(as_text=True))
        return response.get_json()


def _read(app, query):
    """Run ``query()`` in a fresh session of ``app`` and return its (plain) result."""
    with app.app_context():
        try:
            return query()
        finally:
            db.session.remove()


def _register(session_id: int) -> dict[int, str]:
    return {row.enrolment_id: registers.mark_of(row) for row in db.session.scalars(
        select(Attendance).where(Attendance.session_id == session_id))}


def _send_pending_events(live_app) -> None:
    """What the beat's sweep does: hand every pending outbox event (the live server's among them,
    which does not publish) to the broker, for the real worker."""
    with live_app.app_context():
        due = {row.id: row.event_type for row in db.session.execute(
            select(OutboxEvent.id, OutboxEvent.event_type).where(OutboxEvent.status == "pending"))}
        db.session.rollback()
        if due:
            outbox.publish(list(due), due)
        db.session.remove()


def _drained(live_app) -> bool:
    return _read(live_app, lambda: db.session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.status == "pending"))) == 0


@pytest.fixture(autouse=True)
def _restore_celery_app():
    """Building the publishing app makes its Celery app the current one; put back the previous one."""
    from celery import _state

    default, current = _state.default_app, _state.get_current_app()
    yield
    _state.set_default_app(default)
    _state._set_current_app(current)


# --- the journey ------------------------------------------------------------------------------

def test_a_cohorts_field_journey_from_check_in_to_certificates_and_exact_reports(
        app, live_app, celery_worker, live_server, browser, tmp_path):
    live_app.config["SMALL_CELL_THRESHOLD"] = THRESHOLD

    # People: an admin, a trainer, four professionals with accounts (they sign in on their phones).
    def people():
        admin = factories.admin(full_name="Admin Person")
        trainer = factories.trainer(full_name="Lucía Ramos")
        members = {
            "ana": factories.user(full_name="Ana Gómez", country="CO", sector="health"),
            "ben": factories.user(full_name="Ben Okafor", country="CO", sector="education"),
            "eva": factories.user(full_name="Eva Haddad", country="KE", sector="health"),
            "dan": factories.user(full_name="Dan Mwangi", country="KE", sector="law_enforcement"),
        }
        return ({"admin": factories.token(admin), "trainer": factories.token(trainer),
                 **{name: factories.token(user) for name, user in members.items()}},
                trainer.email, {name: (user.id, user.email, user.full_name, user.country, user.sector)
                                for name, user in members.items()})
    tokens, trainer_email, members = _read(app, people)
    admin = Api(live_app, tokens["admin"])
    trainer = Api(live_app, tokens["trainer"])
    learner = {name: Api(live_app, tokens[name]) for name in members}

    # The admin's course: lessons, a quiz (pass mark 50), a pre-test and a parallel post-test.
    data = factories.course_data(title="Child protection in the field")
    assert admin.call("POST", "courses", 201, json=data)["slug"] == data["slug"]
    admin.call("POST", f"courses/{data['slug']}/publish")
    admin.call("PUT", f"courses/{data['slug']}/knowledge-tests", json=fa.definition(pre=4, post=4))

    # The trainer's in-person cohort, with its rule: 60 % of three sessions is two.
    today = date.today()
    cohort = trainer.call("POST", "cohorts", 201, json={
        "course": data["slug"], "name": "Policía Nacional — Bogotá", "country": "CO", "delivery": "in_person",
        "starts_on": (today - timedelta(days=3)).isoformat(), "ends_on": (today + timedelta(days=3)).isoformat(),
        "attendance_rule": "min_percent", "attendance_min_percent": 60})
    cohort_id = cohort["id"]
    now = utcnow()
    day = {}
    for n, starts in ((1, now - timedelta(days=2)), (2, now - timedelta(days=1)), (3, now - timedelta(minutes=10))):
        day[n] = trainer.call("POST", f"cohorts/{cohort_id}/sessions", 201, json={
            "starts_at": starts.isoformat(), "title": f"Día {n}", "place": "Bogotá"})["id"]
    roster = trainer.call("POST", f"cohorts/{cohort_id}/roster", headers={"Content-Type": "text/csv"},
                          data=csv_bytes(HEADER, *(f"{m[1]},{m[2]},{m[3]},{m[4]},,en" for m in members.values())))
    assert (roster["created"], roster["enrolled"]) == (0, 4), roster
    enrolment = _read(app, lambda: {name: db.session.scalar(select(Enrolment.id).where(
        Enrolment.cohort_id == cohort_id, Enrolment.user_id == m[0])) for name, m in members.items()})
    assert all(enrolment.values())

    def context(**options):
        made = browser.new_context(base_url=live_server.url, locale="en-GB", **options)
        made.set_default_timeout(15_000)
        return made

    # Day 3, in the room: the code on the screen, two members checking in from their phones.
    screen_context = context()
    screen = screen_context.new_page()
    screen.goto("/account/login")
    sign_in_on(screen, trainer_email)
    screen.goto(f"/cohorts/{cohort_id}/sessions/{day[3]}")
    screen.get_by_role("link", name="Show the check-in code").click()
    code, scanned = the_check_in_screen(screen, tmp_path)
    assert code and code.startswith(str(day[3]))
    assert scanned.startswith(live_server.url + "/check-in?code=")

    phone_context = context(**PHONE)  # Ana types the code as the screen groups it
    phone = phone_context.new_page()
    phone.goto("/check-in")
    sign_in_on(phone, members["ana"][1])
    phone.fill("input[name=code]", screen.locator("#check-in-code").inner_text())
    phone.get_by_role("button", name="Check in").click()
    expect(phone.locator(".flash-success")).to_contain_text("You are checked in to")
    phone.wait_for_load_state()
    assert fits_width(phone)
    phone_context.close()

    phone_context = context(**PHONE)  # Ben scans it: the camera opens the link, the code filled in
    phone = phone_context.new_page()
    phone.goto(scanned)
    sign_in_on(phone, members["ben"][1])
    assert phone.locator("input[name=code]").input_value() == code
    phone.get_by_role("button", name="Check in").click()
    expect(phone.locator(".flash-success")).to_contain_text("You are checked in to")
    phone.wait_for_load_state()
    assert fits_width(phone)
    phone_context.close()
    assert _read(app, lambda: _register(day[3])) == {enrolment["ana"]: "present", enrolment["ben"]: "present"}

    # Day 1's register, marked by the trainer with no connection, sent once when it returns.
    url = f"/cohorts/{cohort_id}/sessions/{day[1]}"
    screen.goto(url)
    screen.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30_000)
    screen.reload()  # now through the worker, which keeps the register
    screen.wait_for_function("caches.open('pages-v1').then(c => c.keys())"
                             f".then(k => k.some(r => r.url.endsWith('{url}')))")
    screen_context.set_offline(True)
    screen.goto(url)
    for name in ("ana", "ben", "eva"):
        screen.check(f"#present-{members[name][0]}")
    screen.get_by_role("button", name="Save attendance").click()
    expect(screen.locator("#queued")).to_contain_text("Marks kept on this device: 4")
    assert _read(app, lambda: _register(day[1])) == {}
    screen_context.set_offline(False)
    expected_day1 = {enrolment["ana"]: "present", enrolment["ben"]: "present", enrolment["eva"]: "present",
                     enrolment["dan"]: "absent"}
    wait_until(lambda: _read(app, lambda: _register(day[1])) == expected_day1, interval=0.2,
               message="day 1's register")
    expect(screen.locator("#queued")).to_have_text("The marks kept on this device have been sent.")
    wait_until(lambda: screen.evaluate(QUEUED_EVENTS) == [], interval=0.2, message="the queue to empty")
    assert _read(app, lambda: db.session.scalar(select(func.count()).select_from(DeviceEvent))) == 4  # once

    # Day 2's paper sign-in sheet, entered afterwards on the trainer's phone.
    paper_context = context(**PHONE)
    paper = paper_context.new_page()
    paper.goto("/account/login")
    sign_in_on(paper, trainer_email)
    paper.goto(f"/cohorts/{cohort_id}/sessions/{day[2]}")
    paper.get_by_role("link", name="Enter the paper sheet").click()
    paper.wait_for_url(f"**/sessions/{day[2]}/paper")
    for name, mark in (("ana", "present"), ("ben", "absent"), ("eva", "excused"), ("dan", "present")):
        paper.locator(f"fieldset[data-enrolment-id='{enrolment[name]}'] label.mark-{mark}").tap()
    assert fits_width(paper)
    paper.locator("#save-paper").tap()
    expect(paper.locator(".flash-success")).to_contain_text("2 present")
    paper_context.close()
    assert _read(app, lambda: _register(day[2])) == {
        enrolment["ana"]: "present", enrolment["ben"]: "absent", enrolment["eva"]: "excused",
        enrolment["dan"]: "present"}

    # The course itself, through the API: pre-test, lessons, post-test, quiz.
    def questions():
        from learning.catalogue.models import Course

        found = db.session.scalar(select(Course).where(Course.slug == data["slug"]))
        lessons = [lesson.id for module in found.modules for lesson in module.lessons]
        quiz = [(q.id, next(c.id for c in q.choices if c.correct), next(c.id for c in q.choices if not c.correct))
                for q in found.quiz.questions]
        return (lessons, quiz, {kind: {right: fa.answers(found.id, kind, right) for right in range(5)}
                                for kind in ("pre", "post")})
    lessons, quiz, answers = _read(app, questions)
    plan = {  # right answers of 4 in the pre-test and the post-test; the quiz passed or not
        "ana": (1, 4, True), "ben": (2, 3, False), "eva": (0, 2, False), "dan": (3, None, None)}
    for name, (pre, post, passes) in plan.items():
        taken = learner[name].call("POST", f"enrolments/{enrolment[name]}/knowledge-tests/pre/attempts", 201,
                                   json={"answers": answers["pre"][pre]})
        assert taken["score"] == 25 * pre
        if post is None:
            continue  # Dan only came to the room
        for lesson_id in lessons:
            learner[name].call("POST", f"enrolments/{enrolment[name]}/lessons/{lesson_id}/complete")
        taken = learner[name].call("POST", f"enrolments/{enrolment[name]}/knowledge-tests/post/attempts", 201,
                                   json={"answers": answers["post"][post]})
        assert taken["score"] == 25 * post and taken["gain"] is not None
        chosen = {str(qid): (right if passes else wrong) for qid, right, wrong in quiz}
        result = learner[name].call("POST", f"enrolments/{enrolment[name]}/quiz-attempts", 201,
                                    json={"answers": chosen})
        assert result["passed"] is passes

    # Who met the rule, recounted from the raw attendance rows: at least ceil(60 % of 3) = 2 sessions present.
    def attended():
        rows = db.session.execute(select(Attendance.enrolment_id, Attendance.present).join(
            TrainingSession, TrainingSession.id == Attendance.session_id).where(
            TrainingSession.cohort_id == cohort_id)).all()
        total = db.session.scalar(select(func.count()).select_from(TrainingSession).where(
            TrainingSession.cohort_id == cohort_id))
        return {e: sum(1 for enr, present in rows if enr == e and present) for e in enrolment.values()}, total
    present_count, sessions_total = _read(app, attended)
    needed = -(-sessions_total * 60 // 100)
    met_rule = {e for e, n in present_count.items() if n >= needed}
    assert sessions_total == 3 and needed == 2
    assert met_rule == {enrolment["ana"], enrolment["ben"]}

    # Before closing, the trainer sees who is below the rule; then closes.
    screen.goto(f"/cohorts/{cohort_id}")
    screen.locator("#close-cohort").click()
    screen.wait_for_url(f"**/cohorts/{cohort_id}/close")
    expect(screen.locator("#below-rule tbody tr")).to_have_count(2)
    below = sorted(screen.locator("#below-rule tbody tr").all_inner_texts())
    assert below == sorted(f"{members[name][2]}\t{present_count[enrolment[name]]} of 3" for name in ("eva", "dan"))
    screen.locator("#confirm-close").click()
    expect(screen.locator(".flash-success")).to_contain_text(
        "The cohort is closed. 2 members were signed off by the attendance rule. "
        "2 members did not meet it and are still active.")
    screen_context.close()

    # The real worker issues the certificates: exactly those who met the rule (and so completed).
    _send_pending_events(live_app)
    wait_until(lambda: _read(app, lambda: db.session.scalar(select(func.count()).select_from(Certificate))) >= 2,
               timeout=90, interval=0.5, message="the certificates")
    wait_until(lambda: _drained(live_app) or _send_pending_events(live_app), timeout=120, interval=3,
               message="the outbox to drain")
    statuses = _read(app, lambda: dict(db.session.execute(
        select(Enrolment.id, Enrolment.status).where(Enrolment.cohort_id == cohort_id)).all()))
    certified = _read(app, lambda: sorted(db.session.scalars(select(Certificate.enrolment_id))))
    assert sorted(met_rule) == certified
    assert {e for e, status in statuses.items() if status == "completed"} == met_rule
    assert statuses[enrolment["eva"]] == statuses[enrolment["dan"]] == "active"

    # The evaluation: the completed members fill it in; the others are not asked yet.
    learner["ana"].call("POST", f"enrolments/{enrolment['ana']}/evaluation", 201, json={"answers": {
        "relevance": 5, "usefulness": 4, "confidence": 4, "recommend": "yes", "change": "Listen first",
        "trainer": 5, "sessions": 4}})
    learner["ben"].call("POST", f"enrolments/{enrolment['ben']}/evaluation", 201, json={"answers": {
        "relevance": 4, "usefulness": 5, "recommend": "not_sure", "comments": "More role play", "trainer": 4}})
    learner["eva"].call("POST", f"enrolments/{enrolment['eva']}/evaluation", 409, json={"answers": {"relevance": 3}})

    # The reports, against a recount from the raw rows.
    def gain_rows():
        attempts = db.session.execute(select(KnowledgeTestAttempt, Enrolment).join(
            Enrolment, Enrolment.id == KnowledgeTestAttempt.enrolment_id)).all()
        pairs: dict[int, dict] = {}
        for attempt, enr in attempts:
            row = pairs.setdefault(enr.id, {"user": enr.user_id, "country": enr.country, "sector": enr.sector,
                                            "course": enr.course_id, "cohort": enr.cohort_id,
                                            "organisation": enr.organisation_id})
            row[attempt.kind] = attempt.score
            if attempt.kind == "post":
                row["day"] = attempt.submitted_at.date()
        return [row for row in pairs.values() if "pre" in row and "post" in row]
    rows = _read(app, gain_rows)
    assert sorted(r["user"] for r in rows) == sorted(members[n][0] for n in ("ana", "ben", "eva"))
    dims = {"cohort": cohort_id}
    report = admin.call("GET", f"reports/learning-gain?cohort={cohort_id}")
    people, pre, post = gain_recount(rows, (None, None), dims, None)[None]
    assert (people, pre, post) == (3, Fraction(25 + 50 + 0, 3), Fraction(100 + 75 + 50, 3))
    assert (report["people"], report["pre_mean"], report["post_mean"], report["gain"],
            report["small_cell_threshold"]) == (people, rounded(pre), rounded(post), rounded(post - pre), THRESHOLD)
    for group in ("country", "sector", "course", "cohort"):
        expected = published_groups(rows, (None, None), dims, group, people, THRESHOLD,
                                    name=lambda key, group=group: data["slug"] if group == "course" else key)
        assert report[f"by_{group}"] == expected, group
    # The sector of one (Ben's education) is suppressed, with no means; with a threshold of 2, "<2" can
    # only be 1, so the other sector's count reveals nothing more and is shown.
    assert {row["sector"]: (row["people"], row["pre_mean"]) for row in report["by_sector"]} == {
        "education": ("<2", None), "health": (2, 12.5)}

    evaluations = admin.call("GET", f"reports/evaluations?cohort={cohort_id}")
    raw = _read(app, raw_rows)
    assert len(raw) == 2
    assert comparable(evaluations) == evaluation_recount(raw, THRESHOLD, None, None, cohort=cohort_id)
    assert evaluations["respondents"] == 2
