"""What the SMTP server receives, byte for byte: one-click unsubscribe headers as mail providers read
them (RFC 2369, RFC 8058), and no header that a title or a name could break or inject."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from learning.accounts import services as accounts
from learning.accounts.models import User
from learning.catalogue.models import CourseTranslation
from learning.catalogue.services import get_course
from learning.cohorts import services as cohort_services
from learning.cohorts import sessions
from learning.cohorts.models import Cohort
from learning.extensions import db
from learning.mail.services import build_message, deliver
from learning.reminders import delivery, services
from learning.reminders.models import ReminderDigest
from tests import factories
from tests import factories_cohorts as cohorts
from tests import factories_reminders as remind
from tests.conftest import build_app
from tests.factories_reminders import NOW

BASE = "https://learning.example.org"
INJECTION = "Safeguarding basics\r\nBcc: intruder@evil.example\r\n\r\nInjected body"


def run(now) -> None:
    services.plan(now)
    delivery.send_digests(services.take_due_digests(now), now)


def header_block(raw: bytes) -> list[str]:
    """The header lines as sent, unfolded by nobody: continuation lines start with a space."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    return head.decode("ascii").splitlines()


@pytest.fixture
def https_app(base_config, app):
    """The app as deployed: public at an https address, CSRF protection on."""
    application = build_app(base_config, PUBLIC_BASE_URL=BASE, WTF_CSRF_ENABLED=True)
    with application.app_context():
        yield application
        db.session.remove()


def test_list_unsubscribe_goes_as_a_plain_https_address_with_one_click_post(https_app, smtp):
    person = remind.learner(language="en", timezone="Europe/Madrid")
    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=8), of_course=factories.course())
    run(NOW)
    smtp.wait_for(person.email)
    [(recipients, raw)] = smtp.raw_to(person.email)
    lines = header_block(raw)

    unsubscribe = [line for line in lines if line.lower().startswith("list-unsubscribe:")]
    assert len(unsubscribe) == 1
    # One line, not RFC 2047 words (=?utf-8?q?...?=), not folded onto a continuation line.
    assert re.fullmatch(rf"List-Unsubscribe: <{re.escape(BASE)}/reminders/unsubscribe/[A-Za-z0-9._\-]+>",
                        unsubscribe[0]), unsubscribe[0]
    following = lines[lines.index(unsubscribe[0]) + 1]
    assert not following.startswith((" ", "\t"))
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines

    # RFC 8058: the mail provider POSTs that body to that address, with no cookie and no CSRF token.
    url = unsubscribe[0].split("<", 1)[1].rstrip(">")
    provider = https_app.test_client(use_cookies=False)
    response = provider.post(url.removeprefix(BASE), data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded", base_url=BASE)
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, person.id).reminders_enabled is False
    assert recipients == [person.email]


def test_a_course_title_with_line_breaks_cannot_break_or_inject_into_a_reminder(app_context, make, smtp):
    # A title stored before titles were cleaned at input (or by any other way in).
    course = make.course()
    db.session.execute(update(CourseTranslation).where(CourseTranslation.course_id == course.id)
                       .values(title=INJECTION))
    db.session.commit()
    person = remind.learner(language="en", timezone="Europe/Madrid")
    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=8), of_course=course)

    run(NOW)  # before the fix, building the message raised on every attempt

    [(recipients, raw)] = smtp.raw_to(person.email)
    lines = header_block(raw)
    assert recipients == [person.email]
    assert not any(line.lower().startswith("bcc") for line in lines)
    subject = message_from_bytes(raw, policy=policy.default)["Subject"]
    assert subject == "Continue your course: Safeguarding basics Bcc: intruder@evil.example Injected body"
    digest = db.session.scalar(select(ReminderDigest).where(ReminderDigest.user_id == person.id))
    assert digest.status == "sent"


def test_the_mail_layer_makes_every_header_one_line_whatever_the_payload(app_context, smtp):
    payload = {"to": "ana@example.org\r\nBcc: intruder@evil.example", "subject": INJECTION, "text": "Hello",
               "html": "", "headers": {"Content-Language": "en\nX-Injected: yes", "X-Note": "a\x00b\x1bc\u2028d"}}
    message = build_message(payload)
    assert message["Subject"] == "Safeguarding basics Bcc: intruder@evil.example Injected body"
    assert message["Content-Language"] == "en X-Injected: yes" and message["X-Note"] == "a b c d"
    assert "X-Injected" not in message.keys() and "Bcc" not in message.keys()
    deliver({**payload, "to": "ana@example.org"})
    [(recipients, raw)] = smtp.raw_to("ana@example.org")
    assert recipients == ["ana@example.org"]
    assert not any(line.startswith(("Bcc", "X-Injected")) for line in header_block(raw))
    with pytest.raises(ValueError):
        build_message({**payload, "headers": {"X-Bad\r\nBcc": "x"}})


def test_titles_and_names_are_stored_on_one_line(app_context, make):
    admin = factories.admin()
    course = make.course(title="Online\r\nchild\tprotection\x07", slug="online-child-protection",
                         translations={"es": {"title": "Protección\ninfantil", "summary": "Línea uno\nLínea dos"}})
    titles = {t.language: (t.title, t.summary) for t in get_course(course.slug).translations}
    assert titles["en"][0] == "Online child protection"
    assert titles["es"] == ("Protección infantil", "Línea uno\nLínea dos")  # a summary keeps its lines
    person = accounts.register_user({"email": "ana@example.org", "password": factories.PASSWORD,
                                     "full_name": "Ana\r\nBcc: x@evil.example", "country": "CO",
                                     "sector": "health", "language": "en",
                                     "organisation": "Policía\nNacional\u2028de Colombia"}, send_verification=False)
    db.session.commit()
    assert person.full_name == "Ana Bcc: x@evil.example"
    assert person.organisation.name == "Policía Nacional de Colombia"
    trainer = factories.trainer()
    cohort = cohorts.cohort(trainer, name="Bogotá\r\nMarch")
    assert db.session.get(Cohort, cohort.id).name == "Bogotá March"
    session = sessions.add_session(trainer.id, cohort, {
        "starts_at": datetime(2025, 3, 3, 14, 0, tzinfo=UTC), "title": "Day\none", "place": "Room\r\n4",
        "notes": "Bring\nthe slides"})
    assert (session.title, session.place, session.notes) == ("Day one", "Room 4", "Bring\nthe slides")
    cohort_services.update_cohort(admin, cohort, {"name": "Bogotá\nApril", "ends_on": date(2025, 4, 30)})
    assert cohort.name == "Bogotá April"
