"""Importing a roster into a cohort: all or nothing, or partial; accounts, invitations, enrolments."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import func, select

from learning.accounts.models import Organisation, User
from learning.cohorts.models import CohortInvitation, RosterImport
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests import factories_cohorts as cohorts
from tests.factories_cohorts import csv_bytes

HEADER = "email,full_name,country,sector,organisation,language"
GOOD = ("ana@example.org,Ana Gómez,Colombia,Fuerzas del orden,Policía Nacional,es",
        "jean@example.org,Jean Dupont,Sénégal,Éducation,Ministère de l'Éducation,fr")


def upload(api, who, cohort, data: bytes, query: str = ""):
    return api.as_user(who).post(f"cohorts/{cohort.id}/roster{query}", data=data, headers={"Content-Type": "text/csv"})


def counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count(User.id))), db.session.scalar(select(func.count(Enrolment.id))),
            db.session.scalar(select(func.count(OutboxEvent.id))))


def test_new_people_get_an_account_without_password_and_are_enrolled(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD))
    assert response.status_code == 200
    assert response.get_json() | {"errors": []} == {
        "created": 2, "enrolled": 2, "already_enrolled": 0, "errors": [], "rows": 2, "ignored_columns": [],
        "mode": "all_or_nothing", "applied": True}
    ana = db.session.scalar(select(User).where(User.email == "ana@example.org"))
    assert ana.password_hash is None and ana.full_name == "Ana Gómez"
    assert (ana.country, ana.sector, ana.language, ana.organisation.name) == ("CO", "law_enforcement", "es",
                                                                              "Policía Nacional")
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == ana.id))
    assert (enrolment.cohort_id, enrolment.course_id, enrolment.status) == (cohort.id, cohort.course_id, "active")
    assert (enrolment.country, enrolment.sector, enrolment.organisation_id, enrolment.language) == (
        "CO", "law_enforcement", ana.organisation_id, "es")
    invited = db.session.scalars(select(CohortInvitation.user_id).where(CohortInvitation.cohort_id == cohort.id))
    assert len(list(invited)) == 2
    events = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "cohort.invitations")).all()
    assert [sorted(e.payload["user_ids"]) for e in events] == [sorted([ana.id, ana.id + 1])]


def test_existing_accounts_are_enrolled_with_their_own_profile_and_not_invited(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    known = make.user(email="ana@example.org", country="PE", sector="justice", language="es")
    response = upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD))
    assert (response.get_json()["created"], response.get_json()["enrolled"]) == (1, 2)
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == known.id))
    assert (enrolment.cohort_id, enrolment.country, enrolment.sector) == (cohort.id, "PE", "justice")
    db.session.refresh(known)
    assert known.full_name != "Ana Gómez"  # the roster does not rewrite a person's profile
    assert db.session.get(CohortInvitation, (cohort.id, known.id)) is None


def test_one_bad_row_rejects_the_file_with_every_problem_and_changes_nothing(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    before = counts()
    data = csv_bytes(HEADER, *GOOD, "broken-address,,Narnia,astronaut,,", "ana@example.org,Ana twice,CO,health,,")
    response = upload(api, trainer, cohort, data)
    assert response.status_code == 422
    body = response.get_json()
    assert (body["created"], body["enrolled"], body["already_enrolled"], body["applied"]) == (0, 0, 0, False)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (4, "country"), (4, "email"), (4, "full_name"), (4, "sector"), (5, "email")]
    assert body["error"]["code"] == "roster_invalid"
    assert body["error"]["message"] == "The roster has 5 problems; nothing was imported."
    assert counts() == before
    assert db.session.scalar(select(func.count(Organisation.id))) == 0


def test_partial_mode_imports_the_good_rows_and_reports_the_bad(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = upload(api, trainer, cohort, csv_bytes(HEADER, GOOD[0], "x@example.org,X,CO,astronaut,,", GOOD[1]),
                      "?mode=partial")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["created"], body["enrolled"], body["mode"]) == (2, 2, "partial")
    assert body["errors"] == [{"row": 3, "field": "sector", "message": body["errors"][0]["message"]}]
    assert db.session.scalar(select(User).where(User.email == "x@example.org")) is None


def test_importing_the_same_file_again_enrols_nobody_twice(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD))
    again = upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD)).get_json()
    assert (again["created"], again["enrolled"], again["already_enrolled"]) == (0, 0, 2)
    assert db.session.scalar(select(func.count(Enrolment.id))) == 2


def test_a_learner_already_taking_the_course_alone_joins_the_cohort(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    learner = make.user(email="ana@example.org")
    own = make.enrolment(learner, cohort.course)
    body = upload(api, trainer, cohort, csv_bytes(HEADER, GOOD[0])).get_json()
    assert (body["enrolled"], body["already_enrolled"]) == (0, 1)
    db.session.expire_all()
    assert db.session.get(Enrolment, own.id).cohort_id == cohort.id


def test_a_member_of_another_cohort_of_the_course_is_a_row_error(api, make):
    trainer = make.trainer()
    first = cohorts.cohort(trainer)
    second = cohorts.cohort(trainer, course=first.course)
    cohorts.member(first, email="ana@example.org")
    body = upload(api, trainer, second, csv_bytes(HEADER, *GOOD)).get_json()
    assert body["errors"] == [{"row": 2, "field": "email",
                               "message": "Already a member of another cohort of this course."}]


def test_rows_beyond_the_capacity_are_errors(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, capacity=1)
    response = upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD), "?mode=partial")
    body = response.get_json()
    assert body["enrolled"] == 1
    assert body["errors"] == [{"row": 3, "field": "email", "message": "The cohort is full: it has places for 1 people."}]


def test_a_multipart_upload_in_the_field_file(api, make):
    import io

    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = api.as_user(trainer).post(f"cohorts/{cohort.id}/roster", data={
        "file": (io.BytesIO(csv_bytes(HEADER, *GOOD, bom=True)), "roster.csv")}, content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["created"] == 2


def test_a_non_utf8_file_is_422_with_a_clear_message(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = upload(api, trainer, cohort, "email,full_name,country,sector\nz@example.org,Zoé,FR,health\n"
                      .encode("cp1252"))
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"] == [{"row": 0, "field": "file", "message": body["error"]["message"]}]
    assert "not UTF-8" in body["error"]["message"] and "line 2" in body["error"]["message"]


def test_an_empty_body_and_a_bad_mode_are_refused(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    empty = upload(api, trainer, cohort, b"")
    assert empty.status_code == 422 and empty.get_json()["error"]["message"] == "The file is empty."
    bad_mode = upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD), "?mode=sometimes")
    assert bad_mode.status_code == 422 and "mode" in bad_mode.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_a_file_over_the_limit_is_413(api, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    response = upload(api, trainer, cohort, csv_bytes(HEADER, *GOOD) + b"#" * (8 * 1024 * 1024))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_the_invitation_links_to_a_page_where_the_new_person_sets_a_password(api, make, client, app):
    from learning.cohorts.tasks import send_invitations

    trainer = make.trainer(full_name="Lucía Ramos")
    cohort = cohorts.cohort(trainer, name="Bogotá 2025")
    upload(api, trainer, cohort, csv_bytes(HEADER, GOOD[0]))
    event = db.session.scalar(select(OutboxEvent).where(OutboxEvent.event_type == "cohort.invitations"))
    send_invitations(event.payload)
    send_invitations(event.payload)  # a retried event invites nobody twice
    mails = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "mail.send")).all()
    assert len(mails) == 1
    mail = mails[0].payload
    assert mail["to"] == "ana@example.org"
    assert "Bogotá 2025" in mail["text"] and "Lucía Ramos" in mail["text"]
    link = next(word for word in mail["text"].split() if "/account/reset/" in word)
    path = link.removeprefix(app.config["PUBLIC_BASE_URL"])
    response = client.post(path, data={"password": "a-Brand-new-pass-1", "confirm": "a-Brand-new-pass-1"})
    assert response.status_code == 302
    signed_in = api.post("auth/tokens", json={"email": "ana@example.org", "password": "a-Brand-new-pass-1"})
    assert signed_in.status_code == 201


def test_a_large_file_can_be_imported_in_the_background_with_progress(api, make):
    from learning.cohorts.tasks import import_in_background

    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    rows = [f"p{i}@example.org,Person {i},Kenya,health,Kenya Police,en" for i in range(2500)]
    queued = upload(api, trainer, cohort, csv_bytes(HEADER, *rows), "?background=true")
    assert queued.status_code == 202
    job = queued.get_json()
    assert job["status"] == "queued" and job["report"] is None
    event = db.session.scalar(select(OutboxEvent).where(OutboxEvent.event_type == "cohort.roster_import"))
    with force_locale("en"):
        import_in_background(event.payload)
    done = api.as_user(trainer).get(job["status_url"]).get_json()
    assert (done["status"], done["processed_rows"], done["total_rows"]) == ("done", 2500, 2500)
    assert done["report"]["created"] == 2500 and done["report"]["errors"] == []
    assert db.session.scalar(select(func.count(Enrolment.id)).where(Enrolment.cohort_id == cohort.id)) == 2500
    assert db.session.scalar(select(RosterImport.content)) is None  # the file is not kept once imported
