"""Partner organisations: a manager's whole journey (appointed, assigns, reminders go out through the
real SMTP server, completion, overdue, exports, figures equal to the admin's restricted to the
organisation), what a manager may not see, and how people join and leave."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from learning.accounts.models import Organisation, User
from learning.accounts.services import find_or_create_organisation
from learning.catalogue.services import course_text
from learning.certificates.models import Certificate
from learning.certificates.services import issue_certificate
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.organisations.models import Assignment, JoinRequest
from learning.organisations.services import due_instant
from learning.reminders import delivery
from learning.reminders import services as reminders
from tests import factories
from tests.factories_reminders import daytime_zone
from tests.support import body_text


def _finish(enrolment: Enrolment) -> None:
    """Take an existing enrolment to completion as the learner would."""
    from learning.catalogue.services import all_lessons
    from learning.enrolment import services

    for lesson in all_lessons(enrolment.course):
        services.complete_lesson(enrolment, lesson.id)
    if enrolment.course.quiz is not None:
        answers = {str(q.id): next(c.id for c in q.choices if c.correct) for q in enrolment.course.quiz.questions}
        services.submit_quiz(enrolment, answers)
    db.session.commit()


@pytest.fixture
def partner(make):
    """Banco Andino with two members (Madrid-like daytime now), a manager-to-be, and an outsider."""
    bank = find_or_create_organisation("Banco Andino", "PE", "financial")
    other = find_or_create_organisation("Policía Escuela", "CO", "law_enforcement")
    db.session.commit()
    zone = daytime_zone(utcnow())
    ana = make.user(full_name="Ana Andino", organisation="Banco Andino", language="es", country="PE")
    ben = make.user(full_name="Ben Andino", organisation="Banco Andino", language="en", country="PE")
    outsider = make.user(full_name="Olga Outsider", organisation="Policía Escuela")
    for person in (ana, ben, outsider):
        person.timezone = zone
    db.session.commit()
    return {"bank": bank, "other": other, "ana": ana, "ben": ben, "outsider": outsider,
            "manager": make.user(full_name="Marta Manager", organisation="Banco Andino"),
            "admin": make.admin()}


def _appoint(api, admin, manager, organisation) -> None:
    response = api.as_user(admin).patch(f"users/{manager.id}", json={
        "roles": ["org_manager"], "managed_organisations": [organisation.id]})
    assert response.status_code == 200, response.get_json()


def _send_reminders(at) -> None:
    reminders.plan(at)
    delivery.send_digests(reminders.take_due_digests(at), at)


def test_a_managers_whole_journey(app, make, api, client, partner, smtp):
    bank, ana, ben, manager, admin = (partner[k] for k in ("bank", "ana", "ben", "manager", "admin"))
    course = make.course()
    smtp.clear()

    # Appointed by an admin, the manager sees their organisation and nothing else.
    _appoint(api, admin, manager, bank)
    as_manager = api.as_user(manager)
    listed = as_manager.get("organisations").get_json()
    assert [(o["name"], o["members"]) for o in listed["items"]] == [("Banco Andino", 3)]
    assert as_manager.get(f"organisations/{partner['other'].id}/members").status_code == 404
    names = {m["full_name"] for m in as_manager.get(f"organisations/{bank.id}/members").get_json()["items"]}
    assert names == {"Ana Andino", "Ben Andino", "Marta Manager"}

    # Assign to two chosen members, due in ten days: they are enrolled.
    due_on = utcnow().date() + timedelta(days=10)
    created = as_manager.post(f"organisations/{bank.id}/assignments", json={
        "course": course.slug, "due_on": due_on.isoformat(), "user_ids": [ana.id, ben.id]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["course"], body["due_on"], body["assigned"], body["completed"], body["overdue"]) == (
        course.slug, due_on.isoformat(), 2, 0, 0)
    enrolments = {e.user_id: e for e in db.session.scalars(select(Enrolment).where(Enrolment.course_id == course.id))}
    assert set(enrolments) == {ana.id, ben.id}
    assert {e.organisation_id for e in enrolments.values()} == {bank.id}

    # The "assigned" reminder goes out, in each person's language, once.
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    _send_reminders(now)
    mail = smtp.wait_for(ben.email)
    assert len(mail) == 1 and course_text(course, "en").title in mail[0]["Subject"]
    assert "Banco Andino" in body_text(mail[0]) and "has assigned you the course" in body_text(mail[0])
    spanish = smtp.wait_for(ana.email)[0]
    assert "Banco Andino" in body_text(spanish) and "has assigned you" not in body_text(spanish)
    _send_reminders(now + timedelta(hours=1))
    assert len(smtp.to(ben.email)) == 1  # one mail a day, each reminder once

    # Ben completes; Ana does not.
    _finish(enrolments[ben.id])
    issue_certificate(db.session.get(Enrolment, enrolments[ben.id].id).id)
    db.session.commit()

    # Seven days before the end of the due day: Ana is reminded, Ben (done) is not.
    _send_reminders(now + timedelta(days=4))
    assert len(smtp.wait_for(ana.email, count=2)) == 2
    assert "vence el" in body_text(smtp.to(ana.email)[-1])

    # After the due date: Ana gets the overdue reminder, once.
    _send_reminders(now + timedelta(days=12))
    assert len(smtp.wait_for(ana.email, count=3)) == 3
    assert "vencía el" in body_text(smtp.to(ana.email)[-1])
    _send_reminders(now + timedelta(days=13))
    assert len(smtp.to(ana.email)) == 3
    # Ben, done, heard only of the assignment (and of his certificate), never that it is due or overdue.
    assert not [m for m in smtp.to(ben.email) if "is due on" in body_text(m) or "was due on" in body_text(m)]

    # Time passes for the counts too: the assignment is now past due.
    past = utcnow().date() - timedelta(days=1)
    db.session.execute(update(Assignment).values(due_on=past, due_at=due_instant(past)))
    db.session.commit()
    listed = as_manager.get(f"organisations/{bank.id}/assignments").get_json()["items"]
    assert [(a["assigned"], a["completed"], a["overdue"]) for a in listed] == [(2, 1, 1)]

    # At a glance on /org/, and exported.
    factories_sign_in(client, manager)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/org/"' in page
    glance = client.get("/org/").get_data(as_text=True)
    assert "Banco Andino" in glance
    detail = client.get(f"/org/{bank.id}/").get_data(as_text=True)
    assert 'id="glance-overdue">1<' in detail and 'id="glance-completed">1<' in detail
    rows = list(csv.reader(io.StringIO(client.get(f"/org/{bank.id}/assignments.csv").get_data(as_text=True))))
    assert rows[0] == ["assignment_id", "course", "due_on", "full_name", "email", "status"]
    assert {(r[3], r[5]) for r in rows[1:]} == {("Ana Andino", "overdue"), ("Ben Andino", "completed")}
    workbook = load_workbook(io.BytesIO(client.get(f"/org/{bank.id}/assignments.xlsx").get_data()))
    sheet_rows = list(workbook.active.iter_rows(values_only=True))
    assert sheet_rows[0][0] == "assignment_id" and len(sheet_rows) == 3

    # The organisation's figures equal the admin's summary filtered by the organisation.
    mine = as_manager.get(f"organisations/{bank.id}/summary").get_json()
    admins = api.as_user(admin).get(f"reports/summary?organisation={bank.id}").get_json()
    assert mine == admins and mine["professionals_reached"] == 2 and mine["professionals_trained"] == 1
    year = str(utcnow().year)
    assert as_manager.get(f"organisations/{bank.id}/summary?from={year}-01-01").get_json() == api.as_user(
        admin).get(f"reports/summary?organisation={bank.id}&from={year}-01-01").get_json()
    refused = as_manager.get(f"organisations/{bank.id}/summary?organisation={partner['other'].id}")
    assert refused.status_code == 422 and "organisation" in refused.get_json()["error"]["fields"]
    exported = client.get(f"/org/{bank.id}/figures.csv?group_by=country").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(exported)))[1][-3:] == ["<5", "<5", "<5"]  # small cells suppressed
    assert client.get(f"/org/{bank.id}/figures.xlsx?group_by=course").status_code == 200
    assert client.get(f"/org/{bank.id}/figures").status_code == 200


def factories_sign_in(client, user: User) -> None:
    response = client.post("/account/login", data={"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302


def test_a_certificate_in_force_counts_and_one_expiring_before_the_due_date_does_not(make, api, partner):
    bank, ana, ben, manager, admin = (partner[k] for k in ("bank", "ana", "ben", "manager", "admin"))
    course = make.course()
    _appoint(api, admin, manager, bank)
    due_on = utcnow().date() + timedelta(days=30)
    for person in (ana, ben):
        certificate = issue_certificate(make.completed_enrolment(person, course).id)
        db.session.commit()
    # Ana's certificate lapses before the due date; Ben's lasts.
    db.session.execute(update(Certificate).where(Certificate.user_id == ana.id)
                       .values(expires_at=utcnow() + timedelta(days=10)))
    db.session.execute(update(Certificate).where(Certificate.user_id == ben.id)
                       .values(expires_at=utcnow() + timedelta(days=400)))
    db.session.commit()
    assert certificate is not None
    body = api.as_user(manager).post(f"organisations/{bank.id}/assignments", json={
        "course": course.slug, "due_on": due_on.isoformat(), "all_members": True}).get_json()
    assert (body["assigned"], body["completed"], body["overdue"]) == (3, 1, 0)
    # A revoked certificate does not count either.
    db.session.execute(update(Certificate).where(Certificate.user_id == ben.id).values(revoked_at=utcnow()))
    db.session.commit()
    listed = api.as_user(manager).get(f"organisations/{bank.id}/assignments").get_json()["items"]
    assert listed[0]["completed"] == 0


def test_bad_assignments_are_refused_and_change_nothing(make, api, partner):
    bank, ana, manager, admin = (partner[k] for k in ("bank", "ana", "manager", "admin"))
    _appoint(api, admin, manager, bank)
    course, draft = make.course(), make.course(published=False)
    as_manager = api.as_user(manager)
    path = f"organisations/{bank.id}/assignments"
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    cases = [
        ({"course": draft.slug, "due_on": tomorrow, "user_ids": [ana.id]}, "course"),
        ({"course": "no-such-course", "due_on": tomorrow, "user_ids": [ana.id]}, "course"),
        ({"course": course.slug, "due_on": (utcnow().date() - timedelta(days=1)).isoformat(),
          "user_ids": [ana.id]}, "due_on"),
        ({"course": course.slug, "due_on": tomorrow, "user_ids": [partner["outsider"].id]}, "user_ids"),
        ({"course": course.slug, "due_on": tomorrow}, "user_ids"),
    ]
    for payload, field in cases:
        response = as_manager.post(path, json=payload)
        assert response.status_code == 422, (payload, response.get_json())
        assert field in response.get_json()["error"]["fields"], (payload, response.get_json())
    assert db.session.scalar(select(Assignment.id)) is None
    assert db.session.scalar(select(Enrolment.id).where(Enrolment.user_id == ana.id)) is None
    # A JSON body's flag is true or false: "yes", 1 or "true" are not guessed at (marshmallow's
    # Boolean took "yes" and assigned the whole organisation).
    for flag in ("yes", "true", 1, "on", None):
        response = as_manager.post(path, json={"course": course.slug, "due_on": tomorrow, "all_members": flag})
        assert response.status_code == 422, (flag, response.get_json())
        assert "all_members" in response.get_json()["error"]["fields"], (flag, response.get_json())
    assert db.session.scalar(select(Assignment.id)) is None
    assert db.session.scalar(select(Enrolment.id).where(Enrolment.user_id == ana.id)) is None
    # Another organisation's assignments: 404, whatever the body.
    other = as_manager.post(f"organisations/{partner['other'].id}/assignments",
                            json={"course": course.slug, "due_on": tomorrow, "all_members": True})
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "not_found"
    # A learner is refused outright.
    assert api.as_user(ana).get("organisations").status_code == 403


def test_joining_by_email_domain_is_confirmed_by_a_manager_and_leaving_keeps_the_history(
        make, api, client, partner):
    bank, manager, admin = partner["bank"], partner["manager"], partner["admin"]
    _appoint(api, admin, manager, bank)
    factories_sign_in(client, admin)
    assert client.post(f"/org/{bank.id}/domains", data={"domains": "bancoandino.pe\n@BancoAndino.com"}
                       ).status_code == 302
    client.post("/account/logout")

    # Sign-up with an address at the domain: a request, not yet a member.
    signed_up = api.post("users", json={"email": "carla@bancoandino.pe", "password": factories.PASSWORD,
                                        "full_name": "Carla Andino", "country": "PE", "sector": "financial",
                                        "language": "es"})
    assert signed_up.status_code == 201, signed_up.get_json()
    carla = db.session.scalar(select(User).where(User.email == "carla@bancoandino.pe"))
    assert carla.organisation_id is None
    request = db.session.scalar(select(JoinRequest).where(JoinRequest.user_id == carla.id))
    assert (request.organisation_id, request.source, request.status) == (bank.id, "email_domain", "pending")
    # Typing a partner organisation's name on one's profile is a request too.
    dan = make.user(full_name="Dan Claimant")
    assert api.as_user(dan).patch("me", json={"organisation": "banco andino"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, dan.id).organisation_id is None

    # The manager confirms Carla; she is a member; enrolments now record the bank.
    factories_sign_in(client, manager)
    page = client.get(f"/org/{bank.id}/").get_data(as_text=True)
    assert "Carla Andino" in page and "Dan Claimant" in page
    assert client.post(f"/org/{bank.id}/requests/{request.id}/confirm").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, carla.id).organisation_id == bank.id
    course = make.course()
    kept = make.enrolment(db.session.get(User, carla.id), course)
    assert kept.organisation_id == bank.id
    client.post("/account/logout")

    # Carla leaves: her later enrolments are hers alone, the earlier one stays in the bank's records.
    factories_sign_in(client, carla)
    assert client.get("/org/membership").status_code == 200
    assert client.post("/org/membership/leave").status_code == 302
    db.session.expire_all()
    carla = db.session.get(User, carla.id)
    assert carla.organisation_id is None and db.session.get(Enrolment, kept.id).organisation_id == bank.id
    later = make.enrolment(carla, make.course())
    assert later.organisation_id is None
    members = api.as_user(manager).get(f"organisations/{bank.id}/members?per_page=500").get_json()["items"]
    former = next(m for m in members if m["user_id"] == carla.id)
    assert former["current"] is False and [e["course"] for e in former["enrolments"]] == [course.slug]
    assert db.session.scalar(select(Organisation.id).where(Organisation.id == bank.id)) == bank.id


def test_the_figures_page_keeps_only_the_checked_period_in_its_export_links(make, api, client, partner):
    """An address carrying names the export links use themselves (``group_by``) once answered 500."""
    bank, manager, admin = partner["bank"], partner["manager"], partner["admin"]
    _appoint(api, admin, manager, bank)
    factories_sign_in(client, manager)
    response = client.get(f"/org/{bank.id}/figures?group_by=x&extension=pdf&from=2024-01-01&organisation_id=9")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    links = re.findall(r'href="(/org/[^"]*/figures\.(?:csv|xlsx)[^"]*)"', page)
    assert f"/org/{bank.id}/figures.csv?group_by=course&amp;from=2024-01-01" in links
    assert links and not [link for link in links if "pdf" in link or "organisation_id" in link]
    assert client.get(f"/org/{partner['other'].id}/figures").status_code == 404


def test_an_erased_persons_pending_join_request_leaves_the_managers_queue(make, api, client, partner):
    """Erasure withdraws the person's pending request: no row waits for a decision about nobody."""
    from learning.accounts.privacy import erase_user
    from learning.organisations import services as organisations

    bank, manager, admin = partner["bank"], partner["manager"], partner["admin"]
    _appoint(api, admin, manager, bank)
    eva, fay = make.user(full_name="Eva Erased"), make.user(full_name="Fay Waiting")
    eva_request = organisations.request_to_join(eva, bank.id)
    fay_request = organisations.request_to_join(fay, bank.id)
    db.session.commit()
    assert erase_user(eva.id)
    db.session.commit()
    db.session.expire_all()
    erased = db.session.get(JoinRequest, eva_request.id)
    assert erased.status == "withdrawn" and erased.decided_at is not None
    assert db.session.get(JoinRequest, fay_request.id).status == "pending"
    assert [r.id for r in organisations.pending_requests(db.session.get(Organisation, bank.id))] == [fay_request.id]
    # Nor can a manager still decide it.
    factories_sign_in(client, manager)
    assert client.post(f"/org/{bank.id}/requests/{eva_request.id}/confirm").status_code == 404
