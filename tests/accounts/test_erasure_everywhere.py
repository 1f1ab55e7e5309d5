"""Erasure reaches every copy (DESIGN.md rule 8), proved by searching everything the platform keeps.

A person who is known everywhere (an account, a cohort, a completed course with its certificate PDF,
mails queued and written, roster files and reports, audit entries, failed sign-ins, a reminder
digest and failed events quoting their address) is erased. Then every column of every table is read
as text, and every file of the certificate storage and the mail folder is read (PDFs by their text,
mails by their decoded headers and parts): the person's address and name are nowhere, while the
anonymous statistics are exactly what they were.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import jwt
import pytest
from pypdf import PdfReader
from sqlalchemy import inspect, select, text

from learning.accounts import services as accounts
from learning.accounts.models import User
from learning.accounts.services import InvalidCredentials
from learning.certificates import services as certificates
from learning.cohorts import imports
from learning.cohorts.models import RosterImport
from learning.evaluations import services as evaluations
from learning.extensions import db
from learning.mail.services import queue_email
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from learning.reminders import services as reminders
from learning.reminders.models import ReminderDigest
from learning.reporting import exports
from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.queries import ReportFilter
from tests import factories
from tests import factories_cohorts as cohorts
from tests.conftest import build_app
from tests.factories import ApiClient
from tests.factories_cohorts import csv_bytes

NAME = "Zaïnab Qurayshi-Núñez"
EMAIL = "zainab.qurayshi@example.org"
OTHER = "kofi.mensah@example.org"
HEADER = "email,full_name,country,sector,organisation,language"


@pytest.fixture
def erasing_app(base_config, app, tmp_path):
    """The app with its own storage and with mails written to a folder (no SMTP server), as `make run` has."""
    application = build_app(base_config, MAIL_SERVER="", MAIL_OUTBOX_DIR=str(tmp_path / "mail"),
                            STORAGE_DIR=str(tmp_path / "storage"))
    with application.app_context():
        yield application
        db.session.remove()


def needles() -> list[str]:
    """The person as text may appear: address, name, and the name as JSON writes it (``\\u00ef``)."""
    found = {EMAIL, NAME, json.dumps(NAME)[1:-1], "Qurayshi"}
    return sorted(v.lower() for v in found)


def mentions(text_: str) -> list[str]:
    lowered = text_.lower()
    return [needle for needle in needles() if needle in lowered]


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def database_dump() -> dict[str, str]:
    """Every row of every table in the database (not only the models'), as text, by table."""
    db.session.commit()
    engine = db.engine
    dump = {}
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            dump[table] = "\n".join("\t".join(_as_text(v) for v in row) for row in rows)
    return dump


def _file_text(path: Path) -> str:
    data = path.read_bytes()
    parts = [data.decode("utf-8", "replace")]
    if path.suffix == ".pdf":
        parts += [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    if path.suffix == ".eml":
        message = message_from_bytes(data, policy=policy.default)
        parts += [str(v) for v in message.values()]
        parts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(parts)


def storage_dump(app) -> dict[str, str]:
    """Every file the platform wrote outside the database: certificate storage, exports, mails."""
    folders = [Path(app.config["STORAGE_DIR"]), Path(app.config["MAIL_OUTBOX_DIR"])]
    return {str(path): _file_text(path) for folder in folders if folder.exists()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def where_mentioned(dump: dict[str, str]) -> dict[str, list[str]]:
    return {place: found for place, content in dump.items() if (found := mentions(content))}


def statistics() -> tuple[list, list]:
    db.session.expire_all()
    facts = sorted(tuple(_as_text(getattr(f, c.key)) for c in ReportFact.__table__.columns if c.key != "id")
                   for f in db.session.scalars(select(ReportFact)))
    cells = sorted(tuple(_as_text(getattr(c, col.key)) for col in ReportCell.__table__.columns)
                   for c in db.session.scalars(select(ReportCell)))
    return facts, cells


def change_times(user_id: int) -> list[datetime]:
    """When the statistics' change log (``report_changes``) says this person's facts changed."""
    return list(db.session.scalars(text("SELECT at FROM report_changes WHERE user_id = :u"), {"u": user_id}))


def run_pending_events() -> None:
    """What a worker would do: handle every pending event, oldest first."""
    for event_id in db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.status == "pending")
                                       .order_by(OutboxEvent.id)).all():
        outbox.process(event_id)


def a_person_known_everywhere(client) -> dict:
    admin = factories.admin()
    trainer = factories.trainer(full_name="Tomás Ferreira")
    person = factories.user(email=EMAIL, full_name=NAME, country="KE", sector="justice",
                            organisation="Kenya Judiciary")
    # A completed course and its certificate PDF in the storage.
    enrolment = factories.completed_enrolment(person)
    certificate = certificates.issue_certificate(enrolment.id)
    # Their evaluation of it, whose comment says who they are, and a colleague's naming them.
    evaluations.submit_evaluation(enrolment, {"relevance": 5, "comments": f"{NAME} here: write to {EMAIL}."})
    evaluations.submit_evaluation(factories.completed_enrolment(factories.user(), enrolment.course),
                                  {"change": f"Ask {NAME} about referrals."})
    db.session.commit()
    # A cohort, with a session whose notes name them.
    cohort = cohorts.cohort(trainer)
    cohorts.member(cohort, person)
    cohorts.session(cohort, notes=f"{NAME} asked for the slides in Swahili.")
    # A roster import whose report names them (they appear twice), and one still queued with their row.
    second = cohorts.cohort(trainer)
    done = imports.start_import(second, csv_bytes(HEADER, f"{EMAIL},{NAME},KE,justice,,en",
                                                  f"{EMAIL},{NAME},KE,justice,,en"), imports.PARTIAL, trainer.id,
                                filename="kenya-judiciary.csv")
    db.session.commit()
    imports.run_import(done.id)
    queued = imports.start_import(cohorts.cohort(trainer), csv_bytes(
        HEADER, f"{EMAIL},{NAME},KE,justice,,en", f"{OTHER},Kofi Mensah,GH,education,,en"),
        imports.PARTIAL, trainer.id)
    db.session.commit()
    # An export of the statistics kept in the storage (by organisation: theirs is in it).
    exports.request_export(admin.id, ReportFilter(), ("organisation", "country"), "csv", "en")
    # Mails: one already written to the mail folder, two still queued (with signed links).
    accounts.send_verification_email(person)
    db.session.commit()
    run_pending_events()
    accounts.send_verification_email(person)
    accounts.request_password_reset(EMAIL)
    # A mail to someone else that names them (an invitation naming its trainers).
    queue_email(OTHER, "invitation", "en", user_name="Kofi Mensah", link="https://example.org/invite",
                cohort_name=cohort.name, course_title="Child protection", trainers=f"{NAME}, Tomás Ferreira")
    db.session.commit()
    # Failed sign-ins with their address, and an admin action on them in the audit log.
    for _attempt in range(2):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(EMAIL, "not-the-password", ip="203.0.113.7")
    ApiClient(client, client.application).as_user(admin).patch(f"users/{person.id}", json={"roles": ["trainer"]})
    certificates.revoke(admin, certificate.code, f"Issued in error to {NAME} ({EMAIL}).",
                        note=f"Case 2026-17: {NAME} wrote in from {EMAIL}.")
    db.session.commit()
    # A reminder digest waiting to go, whose last attempt failed quoting their address.
    reminders.plan(datetime.now(UTC) + timedelta(days=30))
    digest = ReminderDigest(user_id=person.id, local_date=datetime.now(UTC).date(), status="pending",
                            last_error=f"SMTPRecipientsRefused: {{'{EMAIL}': (452, b'mailbox full')}}")
    db.session.add(digest)
    # A failed event quoting them in its error.
    db.session.add(OutboxEvent(event_type="cohort.roster_import", payload={"import_id": queued.id},
                               status="failed", last_error=f"RuntimeError: could not invite {NAME} <{EMAIL}>"))
    db.session.commit()
    return {"person": person, "certificate": certificate, "queued_import": queued.id}


def test_after_erasure_the_person_is_nowhere_in_the_database_or_the_storage(erasing_app):
    client = erasing_app.test_client()
    world = a_person_known_everywhere(client)
    person, code = world["person"], world["certificate"].code
    # The search finds them before: in the tables the test means to cover and in the files.
    before = where_mentioned(database_dump())
    for table in ("users", "certificates", "outbox_events", "roster_imports", "audit_log", "login_failures",
                  "training_sessions", "reminder_digests", "evaluation_answers"):
        assert table in before, f"the set-up should have put the person in {table}"
    files = where_mentioned(storage_dump(erasing_app))
    assert any(p.endswith(f"{code}.pdf") for p in files) and any(p.endswith(".eml") for p in files)
    assert any(p.endswith(".csv") and "Kenya Judiciary" in t for p, t in storage_dump(erasing_app).items())
    stats = statistics()
    assert stats[0] and stats[1], "the set-up should have made statistics"
    # The statistics' change log (PostgreSQL) names them by id, with the times of their learning.
    postgresql = db.engine.dialect.name == "postgresql"
    assert not postgresql or change_times(person.id), "the set-up should have logged their changes"
    erasure_asked = db.session.scalar(text("SELECT CURRENT_TIMESTAMP"))
    db.session.commit()

    response = ApiClient(client, erasing_app).as_user(person).delete("me")
    assert response.status_code == 202
    # The erasure first, while the import and the mails are still waiting (SMTP was slow), then those.
    erasure = db.session.scalar(select(OutboxEvent.id).where(OutboxEvent.event_type == "account.erasure_requested"))
    assert outbox.process(erasure) == "done"
    run_pending_events()

    assert where_mentioned(database_dump()) == {}
    assert where_mentioned(storage_dump(erasing_app)) == {}
    assert statistics() == stats
    # The change log keeps their id (the key their anonymous facts keep) only on a row of the erasure's
    # own time, which an index behind it needs (``learning/reporting/erasure.py``): no time of their learning.
    assert all(at >= erasure_asked for at in change_times(person.id))
    # The mails queued for them never went; the one written before is gone.
    written = [message_from_bytes(p.read_bytes(), policy=policy.default)
               for p in Path(erasing_app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")]
    # (Others' own mails may have gone too: the evaluator's "certificate ready" is sent at once in
    # their daytime and held in their quiet hours, so it depends on the hour the test runs.)
    recipients = {m["To"] for m in written}
    assert OTHER in recipients and EMAIL not in recipients
    # The mail to someone else that named them went, without their name.
    bodies = [m.get_body(preferencelist=("plain",)).get_content() for m in written]
    assert [body for body in bodies if "Tomás Ferreira" in body and "[erased], Tomás Ferreira" in body]
    # The queued roster file lost their row only: it imported the other person, and did not bring them back.
    queued = db.session.get(RosterImport, world["queued_import"])
    assert queued.status == "done" and queued.report["created"] == 1
    assert db.session.scalar(select(User).where(User.email == OTHER)) is not None


def test_an_erased_holders_certificate_says_the_name_is_withheld_everywhere_it_is_shown(erasing_app):
    client = erasing_app.test_client()
    person = factories.user(email=EMAIL, full_name=NAME)
    certificate = certificates.issue_certificate(factories.completed_enrolment(person).id)
    code = certificate.code
    first = PdfReader(io.BytesIO(client.get(f"/certificates/{code}.pdf").data)).pages[0].extract_text()
    assert mentions(first)

    ApiClient(client, erasing_app).as_user(person).delete("me")
    run_pending_events()

    response = client.get(f"/certificates/{code}.pdf")
    assert response.headers["Cache-Control"] == "no-store"  # no cache keeps the named copy either
    pdf = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert not mentions(pdf)
    assert "Name withheld at the holder's request" in pdf and code[:4] in pdf.replace("-", "")
    stored = Path(erasing_app.config["STORAGE_DIR"], "certificates", f"{code}.pdf").read_bytes()
    assert not mentions(PdfReader(io.BytesIO(stored)).pages[0].extract_text())
    response = client.get(f"/verify/{code}")
    page = response.get_data(as_text=True)
    assert not mentions(page) and "Name withheld" in page and response.headers["Cache-Control"] == "no-store"
    response = client.get(f"/api/v1/certificates/{code}")
    assert response.get_json()["holder_name"] is None and response.get_json()["status"] == "valid"
    assert response.headers["Cache-Control"] == "no-store"
    response = client.get(f"/api/v1/certificates/{code}/credential")
    assert not mentions(response.get_data(as_text=True)) and response.headers["Cache-Control"] == "no-store"
    token = client.get(f"/api/v1/certificates/{code}/credential?format=jwt").get_data(as_text=True)
    assert not mentions(json.dumps(jwt.decode(token, options={"verify_signature": False}), ensure_ascii=False))


@pytest.mark.parametrize(("language", "note"), [("es", "Nombre reservado a petición del titular"),
                                              ("ar", "الاسم محجوب بناءً على طلب حامل الشهادة")])
def test_the_re_rendered_certificate_says_so_in_its_own_language(erasing_app, language, note):
    person = factories.user(email=EMAIL, full_name=NAME, language=language)
    course = factories.course(language=language, slug=f"course-{language}")
    certificate = certificates.issue_certificate(factories.completed_enrolment(person, course).id)
    assert certificate.course_language == language
    from learning.accounts.privacy import erase_user

    erase_user(person.id)
    stored = Path(erasing_app.config["STORAGE_DIR"], "certificates", f"{certificate.code}.pdf").read_bytes()
    printed = PdfReader(io.BytesIO(stored)).pages[0].extract_text()
    assert not mentions(printed)
    assert set(note.split()) <= set(printed.split())  # right-to-left text comes out in visual order


def test_a_mail_queued_for_a_person_erased_meanwhile_is_never_sent(erasing_app):
    person = factories.user(email=EMAIL, full_name=NAME)
    accounts.request_password_reset(EMAIL)
    db.session.commit()
    event = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "mail.send")).one()
    from learning.accounts.privacy import erase_user

    assert erase_user(person.id) is True
    db.session.refresh(event)
    assert event.payload == {"erased": True} and event.status == "done"
    assert outbox.process(event.id) == "already-done"
    assert not list(Path(erasing_app.config["MAIL_OUTBOX_DIR"]).glob("*.eml"))


@pytest.mark.parametrize("path", ["retention", "admin"])
def test_every_erasure_path_reaches_the_certificate_and_the_mails(erasing_app, path):
    client = erasing_app.test_client()
    person = factories.user(email=EMAIL, full_name=NAME)
    certificate = certificates.issue_certificate(factories.completed_enrolment(person).id)
    accounts.request_password_reset(EMAIL)
    db.session.commit()
    if path == "admin":
        response = ApiClient(client, erasing_app).as_user(factories.admin()).post(f"users/{person.id}/erase")
        assert response.status_code == 202
    else:
        from learning.accounts.privacy import apply_retention

        erasing_app.config["ACCOUNT_RETENTION_DAYS"] = 30
        user = db.session.get(User, person.id)
        user.created_at = user.last_login_at = datetime.now(UTC) - timedelta(days=400)
        db.session.execute(text("UPDATE enrolments SET enrolled_at = :at, completed_at = :at, "
                                "last_activity_at = :at WHERE user_id = :id"),
                           {"at": datetime.now(UTC) - timedelta(days=400), "id": person.id})
        db.session.commit()
        assert apply_retention() == 1
    run_pending_events()
    pdf = PdfReader(io.BytesIO(client.get(f"/certificates/{certificate.code}.pdf").data)).pages[0].extract_text()
    assert not mentions(pdf)
    assert where_mentioned(database_dump()) == {}


def test_a_sent_mail_keeps_only_its_message_id(erasing_app):
    """A copy not kept is a copy erasure need not find: once sent, no address, text or signed link stays."""
    factories.user(email=EMAIL, full_name=NAME)
    accounts.request_password_reset(EMAIL)
    db.session.commit()
    event = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "mail.send")).one()
    message_id = event.payload["message_id"]
    assert "/account/reset/" in event.payload["text"]

    assert outbox.process(event.id) == "done"

    db.session.refresh(event)
    assert event.payload == {"message_id": message_id}
    [written] = Path(erasing_app.config["MAIL_OUTBOX_DIR"]).glob("*.eml")
    assert message_id in written.read_text()


def test_an_erasure_that_cannot_finish_changes_nothing_and_is_retried(erasing_app, monkeypatch):
    """If one feature cannot remove its copy (the certificate storage is down), nothing is erased yet:
    the outbox retries the whole erasure later, rather than leave it half done and recorded as done."""
    person = factories.user(email=EMAIL, full_name=NAME)
    certificate = certificates.issue_certificate(factories.completed_enrolment(person).id)
    ApiClient(erasing_app.test_client(), erasing_app).as_user(person).delete("me")
    erasure = db.session.scalar(select(OutboxEvent).where(OutboxEvent.event_type == "account.erasure_requested"))

    class StorageDown:
        def put(self, key, data, content_type):
            raise ConnectionError("storage unreachable")

    monkeypatch.setattr(certificates, "get_storage", lambda: StorageDown())
    assert outbox.process(erasure.id) == "failed"
    db.session.expire_all()
    assert db.session.get(User, person.id).email == EMAIL  # nothing half done
    assert db.session.get(User, person.id).is_active is False  # still locked, as requested

    monkeypatch.undo()
    assert outbox.process(erasure.id) == "done"
    db.session.expire_all()
    assert where_mentioned(database_dump()) == {}
    stored = Path(erasing_app.config["STORAGE_DIR"], "certificates", f"{certificate.code}.pdf").read_bytes()
    assert not mentions(PdfReader(io.BytesIO(stored)).pages[0].extract_text())
