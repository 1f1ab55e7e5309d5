"""The cohorts API behaves as API.md promises: creating, reading, signing off, closing."""

from __future__ import annotations

from sqlalchemy import func, select

from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests import factories_cohorts as cohorts

NEW_COHORT = {"name": "Policía Nacional — Bogotá 2025", "country": "CO", "delivery": "in_person",
              "starts_on": "2025-03-01", "ends_on": "2025-03-31"}


def test_a_trainer_who_creates_a_cohort_runs_it(api, make):
    trainer = make.trainer(full_name="Lucía Ramos")
    course = make.course()
    response = api.as_user(trainer).post("cohorts", json={**NEW_COHORT, "course": course.slug})
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] and body["course"] == course.slug and body["status"] == "open"
    assert body["starts_on"] == "2025-03-01" and body["delivery"] == "in_person"
    assert body["trainers"] == [{"user_id": trainer.id, "full_name": "Lucía Ramos", "email": trainer.email}]
    assert body["member_count"] == 0


def test_an_admin_assigns_trainers_by_user_id(api, make):
    admin, first, second = make.admin(), make.trainer(), make.trainer()
    course = make.course()
    response = api.as_user(admin).post("cohorts", json={**NEW_COHORT, "course": course.slug,
                                                         "trainers": [first.id, second.id]})
    assert response.status_code == 201
    assert {t["user_id"] for t in response.get_json()["trainers"]} == {first.id, second.id}


def test_only_trainers_can_be_assigned(api, make):
    admin, learner = make.admin(), make.user()
    response = api.as_user(admin).post("cohorts", json={**NEW_COHORT, "course": make.course().slug,
                                                         "trainers": [learner.id]})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["trainers"] == [f"User {learner.id} is not a trainer."]
    assert db.session.query(Cohort).count() == 0


def test_a_trainer_cannot_assign_other_trainers(api, make):
    trainer, other = make.trainer(), make.trainer()
    response = api.as_user(trainer).post("cohorts", json={**NEW_COHORT, "course": make.course().slug,
                                                           "trainers": [other.id]})
    assert response.status_code == 403
    assert db.session.query(Cohort).count() == 0


def test_bad_cohort_fields_are_named_and_nothing_is_created(api, make):
    response = api.as_user(make.trainer()).post("cohorts", json={
        **NEW_COHORT, "course": "no-such-course", "country": "XX", "starts_on": "2025-04-01", "ends_on": "2025-03-01"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"course", "country", "ends_on"}
    assert db.session.query(Cohort).count() == 0


def test_cohort_shows_members_with_status_and_progress(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    ana = cohorts.member(cohort, full_name="Ana Gómez").user
    body = api.as_user(trainer).get(f"cohorts/{cohort.id}").get_json()
    assert body["members"] == [{
        "user_id": ana.id, "full_name": "Ana Gómez", "email": ana.email, "status": "active", "completed_at": None,
        "enrolled_at": body["members"][0]["enrolled_at"], "signed_off": False, "completed_lessons": 0,
        "total_lessons": 2, "quiz_passed": False, "sessions_attended": 0, "sessions_total": 0,
    }]
    assert body["member_count"] == 1 and body["sessions"] == []


def test_the_list_shows_a_trainer_only_their_cohorts_and_an_admin_all(api, make):
    trainer = make.trainer()
    mine = cohorts.cohort(trainer, name="Mine")
    cohorts.cohort(make.trainer(), name="Theirs")
    body = api.as_user(trainer).get("cohorts").get_json()
    assert [c["name"] for c in body["items"]] == ["Mine"] and body["total"] == 1
    assert body["items"][0]["id"] == mine.id
    everything = api.as_user(make.admin()).get("cohorts?per_page=1").get_json()
    assert everything["total"] == 2 and len(everything["items"]) == 1 and everything["per_page"] == 1


def test_sign_off_completes_the_member_and_emits_the_completion_event(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    enrolment = cohorts.member(cohort)
    response = api.as_user(trainer).post(f"cohorts/{cohort.id}/members/{enrolment.user_id}/complete")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "completed" and body["completed_at"] and body["signed_off"] is True
    db.session.expire_all()
    stored = db.session.get(Enrolment, enrolment.id)
    assert stored.signed_off_by_id == trainer.id
    events = db.session.query(OutboxEvent).filter_by(event_type="enrolment.completed").all()
    assert [e.payload for e in events] == [{"enrolment_id": enrolment.id}]


def test_signing_off_twice_changes_nothing_more(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    enrolment = cohorts.member(cohort)
    client = api.as_user(trainer)
    first = client.post(f"cohorts/{cohort.id}/members/{enrolment.user_id}/complete").get_json()
    second = client.post(f"cohorts/{cohort.id}/members/{enrolment.user_id}/complete").get_json()
    assert first["completed_at"] == second["completed_at"]
    assert db.session.query(OutboxEvent).filter_by(event_type="enrolment.completed").count() == 1


def test_signing_off_someone_outside_the_cohort_is_404(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    stranger = make.enrolment(make.user(), cohort.course)
    response = api.as_user(trainer).post(f"cohorts/{cohort.id}/members/{stranger.user_id}/complete")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Enrolment, stranger.id).status == "active"


def test_sessions_and_attendance(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    ana, ben = cohorts.member(cohort), cohorts.member(cohort)
    client = api.as_user(trainer)
    created = client.post(f"cohorts/{cohort.id}/sessions", json={
        "starts_at": "2025-03-03T09:00:00-05:00", "title": "Day one", "place": "Academia, Bogotá"})
    assert created.status_code == 201
    session = created.get_json()
    assert session["starts_at"] == "2025-03-03T14:00:00+00:00" and session["present_count"] == 0
    recorded = client.request("PUT", f"cohorts/{cohort.id}/sessions/{session['id']}/attendance",
                              json={"present": [ana.user_id]})
    assert recorded.status_code == 200
    assert recorded.get_json() == {"session_id": session["id"], "present": [ana.user_id], "absent": [ben.user_id],
                                   "excused": [], "recorded": True}
    listed = client.get(f"cohorts/{cohort.id}/sessions").get_json()
    # Outside check: a list, so paginated as API.md's conventions say (it was a bare array).
    assert (listed["page"], listed["per_page"], listed["total"]) == (1, 50, 1)
    assert listed["items"][0]["present_count"] == 1
    second = client.get(f"cohorts/{cohort.id}/sessions?page=2&per_page=1").get_json()
    assert second["items"] == [] and second["total"] == 1
    assert client.get(f"cohorts/{cohort.id}/sessions?per_page=501").status_code == 422
    member = next(m for m in client.get(f"cohorts/{cohort.id}").get_json()["members"] if m["user_id"] == ana.user_id)
    assert (member["sessions_attended"], member["sessions_total"]) == (1, 1)


def test_attendance_naming_a_non_member_is_422_and_changes_nothing(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    ana = cohorts.member(cohort)
    session = cohorts.session(cohort)
    stranger = make.user()
    response = api.as_user(trainer).request("PUT", f"cohorts/{cohort.id}/sessions/{session.id}/attendance",
                                            json={"present": [ana.user_id, stranger.id]})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["present"] == [f"User {stranger.id} is not a member of this cohort."]
    sheet = api.as_user(trainer).get(f"cohorts/{cohort.id}/sessions/{session.id}/attendance").get_json()
    assert sheet["recorded"] is False and sheet["present"] == []


def test_a_session_time_without_an_offset_is_refused(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = api.as_user(trainer).post(f"cohorts/{cohort.id}/sessions", json={"starts_at": "2025-03-03T09:00:00"})
    assert response.status_code == 422
    assert "starts_at" in response.get_json()["error"]["fields"]


def test_closing_signs_off_everyone_present_at_every_session(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
    always, once = cohorts.member(cohort), cohorts.member(cohort)
    client = api.as_user(trainer)
    for day, present in ((0, [always.user_id, once.user_id]), (1, [always.user_id])):
        session = cohorts.session(cohort, days=day)
        client.request("PUT", f"cohorts/{cohort.id}/sessions/{session.id}/attendance", json={"present": present})
    response = client.post(f"cohorts/{cohort.id}/close")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "closed" and body["closed_at"]
    assert (body["signed_off"], body["still_active"], body["completed_count"]) == (1, 1, 1)
    members = {m["user_id"]: m["status"] for m in client.get(f"cohorts/{cohort.id}").get_json()["members"]}
    assert members == {always.user_id: "completed", once.user_id: "active"}
    assert db.session.query(OutboxEvent).filter_by(event_type="enrolment.completed").count() == 1


def test_closing_with_a_minimum_share_of_sessions(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, attendance_rule="min_percent", attendance_min_percent=60)
    two_of_three, one_of_three = cohorts.member(cohort), cohorts.member(cohort)
    client = api.as_user(trainer)
    for day in range(3):
        session = cohorts.session(cohort, days=day)
        present = [two_of_three.user_id] if day < 2 else [one_of_three.user_id]
        client.request("PUT", f"cohorts/{cohort.id}/sessions/{session.id}/attendance", json={"present": present})
    assert client.post(f"cohorts/{cohort.id}/close").get_json()["signed_off"] == 1
    members = {m["user_id"]: m["status"] for m in client.get(f"cohorts/{cohort.id}").get_json()["members"]}
    assert members == {two_of_three.user_id: "completed", one_of_three.user_id: "active"}


def test_a_closed_cohort_refuses_changes(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    enrolment = cohorts.member(cohort)
    client = api.as_user(trainer)
    assert client.post(f"cohorts/{cohort.id}/close").status_code == 200
    assert client.post(f"cohorts/{cohort.id}/close").status_code == 409
    refused = client.post(f"cohorts/{cohort.id}/members/{enrolment.user_id}/complete")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "cohort_closed"
    assert client.post(f"cohorts/{cohort.id}/sessions", json={"starts_at": "2025-03-03T09:00:00Z"}).status_code == 409
    roster = client.post(f"cohorts/{cohort.id}/roster", data=b"email,full_name,country,sector\n",
                         headers={"Content-Type": "text/csv"})
    assert roster.status_code == 409


def test_admin_changes_the_rule_and_the_trainers(api, make):
    admin, trainer, other = make.admin(), make.trainer(), make.trainer()
    cohort = cohorts.cohort(trainer)
    response = api.as_user(admin).patch(f"cohorts/{cohort.id}", json={
        "attendance_rule": "min_percent", "attendance_min_percent": 75, "trainers": [other.id]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["attendance_rule"] == "min_percent" and body["attendance_min_percent"] == 75
    assert [t["user_id"] for t in body["trainers"]] == [other.id]
    assert api.as_user(trainer).get(f"cohorts/{cohort.id}").status_code == 404


def test_a_trainer_changes_the_rule_but_not_the_trainers(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    client = api.as_user(trainer)
    assert client.patch(f"cohorts/{cohort.id}", json={"attendance_rule": "all_sessions"}).status_code == 200
    other = make.trainer()
    assert client.patch(f"cohorts/{cohort.id}", json={"trainers": [trainer.id, other.id]}).status_code == 403
    assert client.patch(f"cohorts/{cohort.id}", json={"trainers": [other.id]}).status_code == 403
    assert client.patch(f"cohorts/{cohort.id}", json={"trainers": []}).status_code == 403
    assert client.patch(f"cohorts/{cohort.id}", json={"trainers": [trainer.id]}).status_code == 200  # unchanged
    assert [t.user_id for t in db.session.get(type(cohort), cohort.id).trainers] == [trainer.id]
    bad = client.patch(f"cohorts/{cohort.id}", json={"attendance_rule": "min_percent"})
    assert bad.status_code == 422 and "attendance_min_percent" in bad.get_json()["error"]["fields"]


def test_roster_export_is_csv_that_can_be_imported_again(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    cohorts.member(cohort, full_name="=HYPERLINK(\"x\")", email="ana@example.org")
    response = api.as_user(trainer).get(f"cohorts/{cohort.id}/roster.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("email,full_name,country,sector,organisation,language,status")
    assert lines[1].startswith("ana@example.org,\"'=HYPERLINK(\"\"x\"\")\",CO,law_enforcement,,en,active")
    again = api.as_user(trainer).post(f"cohorts/{cohort.id}/roster", data=response.get_data(),
                                      headers={"Content-Type": "text/csv"})
    assert again.status_code == 200 and again.get_json()["already_enrolled"] == 1


def test_the_openapi_document_describes_the_cohort_paths(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for path in ("/api/v1/cohorts", "/api/v1/cohorts/{cohort_id}", "/api/v1/cohorts/{cohort_id}/roster",
                 "/api/v1/cohorts/{cohort_id}/members/{user_id}/complete", "/api/v1/cohorts/{cohort_id}/close",
                 "/api/v1/cohorts/{cohort_id}/sessions",
                 "/api/v1/cohorts/{cohort_id}/sessions/{session_id}/attendance",
                 "/api/v1/cohorts/{cohort_id}/roster.csv"):
        assert path in paths, path
    roster = paths["/api/v1/cohorts/{cohort_id}/roster"]["post"]
    assert set(roster["requestBody"]["content"]) == {"text/csv", "multipart/form-data"}
    assert {"200", "413", "422"} <= set(roster["responses"])
    assert "members" in spec["components"]["schemas"]["CohortDetailSchema"]["properties"]


def test_the_list_reads_every_cohorts_trainers_in_one_query(api, make, app):
    """A page of cohorts costs one query for all their trainers, however many cohorts it holds."""
    from sqlalchemy import event

    admin, course = make.admin(), make.course()
    trainers = [make.trainer(full_name=name) for name in ("Zoe Ortiz", "Ana Diaz")]
    for number in range(4):
        response = api.as_user(admin).post("cohorts", json={**NEW_COHORT, "name": f"Cohort {number}",
                                                             "course": course.slug,
                                                             "trainers": [t.id for t in trainers]})
        assert response.status_code == 201
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        body = api.as_user(admin).get("cohorts").get_json()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert len(body["items"]) == 4
    assert all([t["full_name"] for t in item["trainers"]] == ["Ana Diaz", "Zoe Ortiz"] for item in body["items"])
    trainer_queries = [s for s in statements if "ORDER BY users.full_name" in s]
    assert len(trainer_queries) == 1, trainer_queries  # not one per cohort


def test_a_trainer_may_name_only_themselves_as_the_new_cohorts_trainer(api, make):
    """API.md lets a trainer send ``trainers``: naming themselves (or no one) is what happens anyway;
    naming anyone else is for admins, and is refused with nothing created."""
    trainer, other = make.trainer(), make.trainer()
    course = make.course()
    client = api.as_user(trainer)
    body = {**NEW_COHORT, "course": course.slug}
    for trainers in ([trainer.id], []):
        created = client.post("cohorts", json={**body, "trainers": trainers})
        assert created.status_code == 201, created.get_json()
        cohort = db.session.get(Cohort, created.get_json()["id"])
        assert [t.user_id for t in cohort.trainers] == [trainer.id]
    before = db.session.scalar(select(func.count()).select_from(Cohort))
    for trainers in ([other.id], [trainer.id, other.id]):
        refused = client.post("cohorts", json={**body, "trainers": trainers})
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert client.post("cohorts", json={**body, "trainers": ["x"]}).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Cohort)) == before
