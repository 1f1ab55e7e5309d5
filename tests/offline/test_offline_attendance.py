"""A trainer's attendance marks made offline: ``attendance.marked`` events through ``POST /api/v1/sync``
(docs/FIELD_TRAINING.md, "The register offline"). Each event id counts once, ever (DESIGN.md rule 9);
for each member the latest mark by its own time wins, so a correction made online later stays."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from learning.audit.models import AuditEntry
from learning.cohorts import sessions
from learning.cohorts.models import Attendance
from learning.enrolment.models import DeviceEvent
from learning.extensions import db
from learning.models_base import utcnow
from tests import factories_cohorts as cohorts


def mark(member, session, attendance: str, at, event_id: str | None = None) -> dict:
    return {"id": event_id or str(uuid.uuid4()), "type": "attendance.marked", "enrolment_id": member.id,
            "session_id": session.id, "attendance": attendance, "occurred_at": at.isoformat()}


def register(session) -> dict[int, str]:
    """enrolment id → mark, as the database holds it."""
    db.session.expire_all()
    return {row.enrolment_id: sessions.mark_of(row) for row in db.session.scalars(
        select(Attendance).where(Attendance.session_id == session.id))}


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def room(make):
    """A trainer's cohort with three members and a session that began an hour ago."""
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort, starts_at=utcnow() - timedelta(hours=1))
    members = [cohorts.member(cohort) for _ in range(3)]
    return trainer, cohort, session, members


def test_marks_made_offline_are_applied_once_and_answered_as_they_are_now(api, room):
    trainer, _cohort, session, (ana, ben, eva) = room
    at = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    events = [mark(ana, session, "present", at), mark(ben, session, "absent", at), mark(eva, session, "excused", at)]

    response = api.as_user(trainer).post("sync", json={"events": events})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["status"] for r in body["results"]] == ["applied"] * 3
    assert body["enrolments"] == []  # the members' enrolments are not the trainer's own
    assert {m["enrolment_id"]: m["attendance"] for m in body["attendance"]} == {
        ana.id: "present", ben.id: "absent", eva.id: "excused"}
    assert register(session) == {ana.id: "present", ben.id: "absent", eva.id: "excused"}
    row = db.session.get(Attendance, (session.id, ana.id))
    assert row.recorded_at == at and row.recorded_by_id == trainer.id  # the mark's own time
    sheet = sessions.attendance_of(session)
    assert sheet.present == [ana.user_id] and sheet.excused == [eva.user_id]
    assert count(DeviceEvent, DeviceEvent.event_type == "attendance.marked") == 3
    assert count(AuditEntry, AuditEntry.action == "cohort.attendance_marked") == 3

    # Sent again, doubled and reversed (a device that lost the answer): nothing changes.
    again = api.as_user(trainer).post("sync", json={"events": events + events[::-1]}).get_json()
    assert {r["status"] for r in again["results"]} == {"duplicate"}
    assert register(session) == {ana.id: "present", ben.id: "absent", eva.id: "excused"}
    assert count(DeviceEvent) == 3
    assert count(AuditEntry, AuditEntry.action == "cohort.attendance_marked") == 3


def test_the_latest_mark_by_its_own_time_wins_whatever_order_the_marks_arrive_in(api, room):
    trainer, _cohort, session, (ana, _ben, _eva) = room
    start = utcnow() - timedelta(minutes=50)
    early = mark(ana, session, "absent", start)
    late = mark(ana, session, "present", start + timedelta(minutes=20))
    client = api.as_user(trainer)

    client.post("sync", json={"events": [late]})
    answer = client.post("sync", json={"events": [early]}).get_json()

    assert answer["results"][0]["status"] == "applied"  # counted (its id is spent), but older: it does not win
    assert answer["attendance"][0]["attendance"] == "present"
    assert register(session) == {ana.id: "present"}


def test_a_correction_made_online_later_is_not_overwritten_by_an_older_offline_mark(api, client, room):
    trainer, cohort, session, (ana, ben, _eva) = room
    marked_offline = utcnow() - timedelta(minutes=40)
    # Online, after the device's marks were made (but before they arrive): Ana present, Ben absent.
    sessions.record_attendance(trainer.id, cohort, session, [ana.user_id])
    db.session.commit()

    answer = api.as_user(trainer).post("sync", json={"events": [
        mark(ana, session, "absent", marked_offline), mark(ben, session, "present", marked_offline)]}).get_json()

    assert [r["status"] for r in answer["results"]] == ["applied", "applied"]
    assert register(session)[ana.id] == "present" and register(session)[ben.id] == "absent"


def test_two_marks_of_the_same_moment_end_the_same_in_either_order(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    at = utcnow() - timedelta(minutes=10)
    outcomes = []
    for order in (0, 1):
        session = cohorts.session(cohort, starts_at=utcnow() - timedelta(hours=1))
        member = cohorts.member(cohort)
        pair = [mark(member, session, "absent", at), mark(member, session, "present", at)]
        api.as_user(trainer).post("sync", json={"events": pair if order else pair[::-1]})
        outcomes.append(register(session)[member.id])
    assert outcomes == ["present", "present"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), splits=st.lists(st.integers(1, 8), min_size=1, max_size=4))
def test_any_split_repeat_and_order_of_the_marks_gives_the_register_of_the_latest_marks(api, room, seed, splits):
    trainer, cohort, session, members = room
    db.session.execute(Attendance.__table__.delete())
    db.session.execute(DeviceEvent.__table__.delete())
    db.session.commit()
    rng = random.Random(seed)
    start = utcnow() - timedelta(minutes=55)
    events = [mark(rng.choice(members), session, rng.choice(sessions.MARKS), start + timedelta(seconds=rng.randint(0, 3000)))
              for _ in range(8)]
    expected = {}
    for event in sorted(events, key=lambda e: (e["occurred_at"], sessions._RANK[e["attendance"]])):
        expected[event["enrolment_id"]] = event["attendance"]
    sent = events + rng.sample(events, k=len(events) // 2)
    rng.shuffle(sent)
    client = api.as_user(trainer)
    position = 0
    for size in splits + [len(sent)]:
        batch, position = sent[position:position + size], position + size
        if batch:
            assert client.post("sync", json={"events": batch}).status_code == 200
    assert register(session) == expected
    assert count(DeviceEvent) == len(events)


def test_refused_marks_say_why_and_change_nothing_while_the_others_apply(api, make, room):
    trainer, cohort, session, (ana, ben, _eva) = room
    other_trainer = make.trainer()
    other_cohort = cohorts.cohort(other_trainer)
    other_session = cohorts.session(other_cohort, starts_at=utcnow() - timedelta(hours=1))
    other_member = cohorts.member(other_cohort)
    future = cohorts.session(cohort, starts_at=utcnow() + timedelta(days=2))
    withdrawn = cohorts.member(cohort)
    withdrawn.status = "withdrawn"
    db.session.commit()
    now = utcnow() - timedelta(minutes=5)
    good = mark(ana, session, "present", now)
    events = [
        mark(other_member, other_session, "present", now),       # another trainer's cohort
        mark(ana, future, "present", now),                        # a future session
        mark(other_member, session, "present", now),              # not a member of this cohort
        mark(withdrawn, session, "present", now),                 # withdrawn
        mark(ben, session, "late", now),                          # not a mark
        mark(ben, session, "present", now - timedelta(hours=3)),  # made before the session began
        {**mark(ben, session, "present", now), "session_id": 2**31 - 1},  # no such session
        good,
    ]
    results = api.as_user(trainer).post("sync", json={"events": events}).get_json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 7 + ["applied"]
    errors = [r["error"] for r in results[:7]]
    assert errors[0] == "No such session in your cohorts."
    assert "not started yet" in errors[1]
    assert errors[2] == errors[3] == "This person is not a member of the session's cohort."
    assert errors[4] == "The attendance mark must be present, absent or excused."
    assert "before the session began" in errors[5]
    assert errors[6] == "No such session in your cohorts."
    assert register(session) == {ana.id: "present"}
    assert register(other_session) == {} and register(future) == {}
    assert count(DeviceEvent) == 1


def test_a_learner_or_a_closed_cohort_cannot_mark_and_an_admin_can(api, make, room):
    trainer, cohort, session, (ana, _ben, _eva) = room
    learner = make.user()
    at = utcnow() - timedelta(minutes=5)
    refused = api.as_user(learner).post("sync", json={"events": [mark(ana, session, "present", at)]}).get_json()
    assert refused["results"][0] == {"id": refused["results"][0]["id"], "status": "rejected",
                                     "error": "No such session in your cohorts."}
    admin = make.admin()
    assert api.as_user(admin).post("sync", json={"events": [mark(ana, session, "absent", at)]}).get_json()[
        "results"][0]["status"] == "applied"
    cohort.status = "closed"
    db.session.commit()
    closed = api.as_user(trainer).post("sync", json={"events": [mark(ana, session, "present", at)]}).get_json()
    assert closed["results"][0]["status"] == "rejected" and closed["results"][0]["error"] == "This cohort is closed."
    assert register(session) == {ana.id: "absent"}


def test_an_event_id_used_by_another_person_is_refused(api, make, room):
    trainer, _cohort, session, (ana, _ben, _eva) = room
    admin = make.admin()
    event = mark(ana, session, "present", utcnow() - timedelta(minutes=5))
    api.as_user(trainer).post("sync", json={"events": [event]})
    result = api.as_user(admin).post("sync", json={"events": [event]}).get_json()["results"][0]
    assert result["status"] == "rejected" and "another device" in result["error"]


@pytest.mark.parametrize("body", [
    {"events": [{"id": str(uuid.uuid4()), "type": "attendance.marked", "enrolment_id": 1,
                 "session_id": "1", "attendance": "present", "occurred_at": "2026-01-01T00:00:00+00:00"}]},
    {"events": [{"id": str(uuid.uuid4()), "type": "attendance.marked", "enrolment_id": 1,
                 "session_id": 1, "attendance": 1, "occurred_at": "2026-01-01T00:00:00+00:00"}]},
])
def test_fields_of_the_wrong_type_are_422_and_change_nothing(api, room, body):
    trainer = room[0]
    response = api.as_user(trainer).post("sync", json=body)
    assert response.status_code == 422
    assert count(DeviceEvent) == 0 and count(Attendance) == 0


def test_excused_members_are_kept_by_the_online_register_and_do_not_count_as_attended(api, room):
    trainer, cohort, session, (ana, ben, eva) = room
    sheet = sessions.record_attendance(trainer.id, cohort, session, [ana.user_id], [ben.user_id, ana.user_id])
    db.session.commit()
    assert sheet.present == [ana.user_id] and sheet.excused == [ben.user_id]
    assert sorted(sheet.absent) == sorted([ben.user_id, eva.user_id])
    assert register(session) == {ana.id: "present", ben.id: "excused", eva.id: "absent"}


def test_the_api_register_takes_and_gives_the_excused(api, room):
    trainer, cohort, session, (ana, ben, eva) = room
    path = f"cohorts/{cohort.id}/sessions/{session.id}/attendance"
    put = api.as_user(trainer).request("PUT", path, json={"present": [ana.user_id], "excused": [ben.user_id]})
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["excused"] == [ben.user_id]
    got = api.as_user(trainer).get(path).get_json()
    assert got["present"] == [ana.user_id] and got["excused"] == [ben.user_id]
    assert sorted(got["absent"]) == sorted([ben.user_id, eva.user_id])
    refused = api.as_user(trainer).request("PUT", path, json={"present": [], "excused": [2**31 - 1]})
    assert refused.status_code == 422 and "excused" in str(refused.get_json())
    assert register(session) == {ana.id: "present", ben.id: "excused", eva.id: "absent"}


def test_the_data_export_holds_the_members_marks_and_the_devices_events(api, room):
    """GET /api/v1/me/export holds all personal data held on the caller: a member's marks on the
    register (a check-in or the trainer's mark), and the events their own devices sent."""
    trainer, _cohort, session, (ana, ben, _eva) = room
    at = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    events = [mark(ana, session, "present", at), mark(ben, session, "excused", at)]
    assert api.as_user(trainer).post("sync", json={"events": events}).status_code == 200

    exported = api.as_user(ana.user).get("me/export").get_json()
    assert [(m["session_id"], m["present"], m["excused"], m["checked_in_yourself"]) for m in exported["attendance"]] \
        == [(session.id, True, False, False)]
    assert exported["attendance"][0]["recorded_at"] == at.isoformat()
    assert exported["offline_events"] == []  # the trainer's device sent them
    excused = api.as_user(ben.user).get("me/export").get_json()["attendance"]
    assert [(m["present"], m["excused"]) for m in excused] == [(False, True)]
    mine = api.as_user(trainer).get("me/export").get_json()["offline_events"]
    assert sorted(e["id"] for e in mine) == sorted(e["id"] for e in events)
    assert {e["type"] for e in mine} == {"attendance.marked"}
