"""Opting out: the one-click link of every reminder, RFC 8058 one-click POST, and the profile setting."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from learning.accounts.models import User
from learning.audit.models import AuditEntry
from learning.extensions import db
from learning.reminders import delivery, services
from tests import factories_reminders as remind
from tests.conftest import build_app
from tests.factories import PASSWORD
from tests.factories_reminders import NOW


def run(now) -> None:
    services.plan(now)
    delivery.send_digests(services.take_due_digests(now), now)


def unsubscribe_path(message) -> str:
    url = message["List-Unsubscribe"].strip("<>")
    return url.split("127.0.0.1:5000", 1)[1]


@pytest.fixture
def csrf_client(base_config, app):
    """A browser-like client of the app with CSRF protection on, as in production."""
    return build_app(base_config, WTF_CSRF_ENABLED=True).test_client()


def reminded(make, smtp):
    person = remind.learner(language="en", timezone="Europe/Madrid")
    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=8), of_course=make.course())
    run(NOW)
    return person, smtp.wait_for(person.email)[0]


def reminder_box_ticked(page: str) -> bool:
    """Whether the profile page's "Send me reminders by e-mail" box is ticked."""
    box = re.search(r'<input[^>]*name="reminders_enabled"[^>]*>', page)
    assert box is not None, "the profile page has no reminders setting"
    return " checked" in box.group(0)


def reminders_enabled(user_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(User, user_id).reminders_enabled


def test_the_link_in_a_reminder_asks_before_it_unsubscribes(make, smtp, csrf_client):
    person, message = reminded(make, smtp)
    path = unsubscribe_path(message)
    assert path in message.get_body(preferencelist=("html",)).get_content()

    page = csrf_client.get(path)
    assert page.status_code == 200
    assert person.email in page.text and "Stop reminders" in page.text
    assert reminders_enabled(person.id)  # a link scanner opening it changes nothing

    done = csrf_client.post(path)
    assert done.status_code == 200
    assert "We will not send reminder e-mails" in done.text
    assert not reminders_enabled(person.id)
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.target_id == str(person.id))) == \
        "reminders.unsubscribed"


def test_one_click_unsubscribe_from_the_mail_client_needs_no_login_or_csrf_token(make, smtp, csrf_client):
    person, message = reminded(make, smtp)
    response = csrf_client.post(unsubscribe_path(message), data={"List-Unsubscribe": "One-Click"},
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert not reminders_enabled(person.id)

    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=8))
    remind.certificate(person, issued_at=NOW + timedelta(days=1))
    run(NOW + timedelta(days=2))
    assert len(smtp.to(person.email)) == 1  # nothing after opting out


def test_unsubscribing_twice_is_harmless(make, smtp, client):
    person, message = reminded(make, smtp)
    assert client.post(unsubscribe_path(message)).status_code == 200
    again = client.get(unsubscribe_path(message))
    assert "already turned off" in again.text
    assert client.post(unsubscribe_path(message)).status_code == 200
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "reminders.unsubscribed")) is not None
    assert len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "reminders.unsubscribed")).all()) == 1


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-3] + "abc",  # a damaged signature
    lambda token: "eyJ1IjoxfQ.forged",  # a made-up one
    lambda token: "",
])
def test_a_forged_or_damaged_link_is_refused_and_changes_nothing(make, smtp, client, mangle):
    person, message = reminded(make, smtp)
    token = unsubscribe_path(message).rsplit("/", 1)[1]
    path = f"/reminders/unsubscribe/{mangle(token)}"
    for response in (client.get(path), client.post(path)):
        assert response.status_code in (400, 404)
        if response.status_code == 400:
            assert "This unsubscribe link is not valid" in response.text
    assert reminders_enabled(person.id)


def test_the_link_of_one_learner_does_not_unsubscribe_another(make, smtp, client):
    first, message = reminded(make, smtp)
    other = remind.learner()
    client.post(unsubscribe_path(message))
    assert not reminders_enabled(first.id) and reminders_enabled(other.id)


def test_the_profile_page_turns_reminders_off_and_on(make, smtp, client):
    person = make.user(timezone="Europe/Madrid", language="en")
    remind.idle_enrolment(person, idle_since=NOW - timedelta(days=8), of_course=make.course())
    assert client.post("/account/login", data={"email": person.email, "password": PASSWORD}).status_code == 302
    assert reminder_box_ticked(client.get("/account/profile").text)

    fields = {"full_name": person.full_name, "country": "CO", "sector": "law_enforcement", "language": "en",
              "timezone": "Europe/Madrid", "organisation": ""}
    assert client.post("/account/profile", data=fields).status_code == 302  # the box left unticked
    assert not reminders_enabled(person.id)
    run(NOW)
    assert smtp.to(person.email) == []

    assert not reminder_box_ticked(client.get("/account/profile").text)

    client.post("/account/profile", data={**fields, "reminders_enabled": "y"})
    assert reminders_enabled(person.id) and reminder_box_ticked(client.get("/account/profile").text)
    run(NOW + timedelta(days=1))
    assert len(smtp.wait_for(person.email)) == 1


def test_the_unsubscribe_page_shows_it_is_already_off_after_the_profile_change(make, smtp, client):
    person, message = reminded(make, smtp)
    remind.set_user(person, reminders_enabled=False)
    page = client.get(unsubscribe_path(message))
    assert "already turned off" in page.text
    assert "<form" not in page.text.split("<main", 1)[1]
