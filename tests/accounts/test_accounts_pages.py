"""Account pages: sign-up, sign-in, links by e-mail, profile; CSRF and rate limits hold."""

from __future__ import annotations

import re

import pytest

from learning.accounts.models import User
from learning.extensions import db
from tests.conftest import build_app
from tests.support import body_text

FORM = {
    "full_name": "Grace Mensah",
    "email": "grace@example.org",
    "password": "a-Good-password-42",
    "country": "GH",
    "sector": "education",
    "organisation": "Ghana Education Service",
    "language": "en",
}


def test_sign_up_page_creates_the_account_and_signs_in(client, app_context):
    response = client.post("/account/signup", data=FORM, follow_redirects=True)
    assert response.status_code == 200
    assert "Grace Mensah" in response.get_data(as_text=True)  # shown in the header, signed in
    user = db.session.query(User).one()
    assert user.country == "GH" and user.organisation.name == "Ghana Education Service"


def test_sign_up_page_shows_field_errors_and_creates_nothing(client, app_context):
    response = client.post("/account/signup", data={**FORM, "email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html
    assert db.session.query(User).count() == 0


def test_sign_in_and_out(client, make):
    make.user(email="amina@example.org")
    response = client.post("/account/login", data={"email": "AMINA@example.org", "password": "a-Good-password-42"},
                           follow_redirects=True)
    assert "Sign out" in response.get_data(as_text=True)
    response = client.post("/account/logout", follow_redirects=True)
    assert "Sign in" in response.get_data(as_text=True)


def test_wrong_password_is_refused_with_a_message(client, make):
    make.user(email="amina@example.org")
    response = client.post("/account/login", data={"email": "amina@example.org", "password": "wrong-password-1"},
                           follow_redirects=True)
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)


def test_repeated_failures_make_the_account_wait_even_with_the_right_password(client, make):
    make.user(email="target@example.org")
    for _ in range(10):
        client.post("/account/login", data={"email": "target@example.org", "password": "guess-guess-1"})
    response = client.post("/account/login", data={"email": "target@example.org", "password": "a-Good-password-42"},
                           follow_redirects=True)
    assert "Too many failed attempts. Try again in" in response.get_data(as_text=True)


def test_open_redirect_after_sign_in_is_refused(client, make):
    make.user(email="amina@example.org")
    response = client.post("/account/login?next=//evil.example/x",
                           data={"email": "amina@example.org", "password": "a-Good-password-42"})
    assert response.headers["Location"] == "/"


def _mail_link(message, path: str) -> str:
    match = re.search(r"http://[^\s]+" + re.escape(path) + r"[^\s]+", body_text(message))
    assert match, body_text(message)
    return match.group(0).replace("http://127.0.0.1:5000", "")


def test_verification_link_confirms_the_address(client, app_context, smtp):
    from learning.mail.services import deliver
    from learning.outbox.models import OutboxEvent

    client.post("/account/signup", data={**FORM, "email": "verify.me@example.org"})
    event = db.session.query(OutboxEvent).filter_by(event_type="mail.send").one()
    deliver(event.payload)  # the worker's job, done inline here; the worker test covers the real path
    link = _mail_link(smtp.wait_for("verify.me@example.org")[-1], "/account/verify/")
    assert client.get(link).status_code == 302
    db.session.expire_all()
    assert db.session.query(User).one().email_verified_at is not None
    assert client.get(link[:-3] + "xyz").status_code == 400  # a tampered link


def test_password_reset_by_e_mailed_link(client, make, smtp):
    from learning.mail.services import deliver
    from learning.outbox.models import OutboxEvent

    make.user(email="forgot@example.org")
    client.post("/account/forgot", data={"email": "forgot@example.org"})
    client.post("/account/forgot", data={"email": "nobody@example.org"})  # no hint either way
    events = db.session.query(OutboxEvent).filter_by(event_type="mail.send").all()
    assert len(events) == 1
    deliver(events[0].payload)
    link = _mail_link(smtp.wait_for("forgot@example.org")[-1], "/account/reset/")
    response = client.post(link, data={"password": "brand-New-password-7", "confirm": "brand-New-password-7"})
    assert response.status_code == 302
    login = client.post("/account/login", data={"email": "forgot@example.org", "password": "brand-New-password-7"})
    assert login.status_code == 302
    again = client.post(link, data={"password": "another-Password-8", "confirm": "another-Password-8"},
                        follow_redirects=True)
    assert "no longer valid" in again.get_data(as_text=True)  # a used link is dead


def test_profile_change_keeps_the_form_on_bad_input(client, make, app_context):
    user = make.user(email="p@example.org")
    client.post("/account/login", data={"email": "p@example.org", "password": "a-Good-password-42"})
    response = client.post("/account/profile", data={
        "full_name": "New Name", "country": "FR", "sector": "justice", "language": "fr",
        "organisation": "", "timezone": "Mars/Olympus", "reminders_enabled": "y"})
    assert "Unknown time zone" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.full_name != "New Name"


@pytest.fixture
def strict_app(base_config, app):
    """CSRF and rate limits on, as in production."""
    return build_app(base_config, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")


def test_forms_without_a_csrf_token_are_refused(strict_app):
    client = strict_app.test_client()
    response = client.post("/account/signup", data=FORM)
    assert response.status_code == 400
    with strict_app.app_context():
        assert db.session.query(User).count() == 0
        db.session.remove()


def test_api_calls_with_a_browser_session_need_the_csrf_header(strict_app):
    with strict_app.app_context():
        from tests import factories

        factories.user(email="s@example.org")
        db.session.remove()
    client = strict_app.test_client()
    token = _csrf_token(client, "/account/login")
    client.post("/account/login", data={"email": "s@example.org", "password": "a-Good-password-42", "csrf_token": token})
    assert client.get("/api/v1/me").status_code == 200
    assert client.patch("/api/v1/me", json={"full_name": "X"}).status_code == 403
    assert client.patch("/api/v1/me", json={"full_name": "X"}, headers={"X-CSRFToken": token}).status_code == 200


def _csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_sign_in_is_rate_limited(strict_app):
    client = strict_app.test_client()
    token = _csrf_token(client, "/account/login")
    statuses = [client.post("/account/login", data={"email": "a@example.org", "password": "x", "csrf_token": token}
                            ).status_code for _ in range(4)]
    assert statuses[-1] == 429, statuses


def test_pages_carry_security_headers(client):
    response = client.get("/account/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HttpOnly" in client.get("/account/login").headers.get("Set-Cookie", "HttpOnly")


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
