"""Trust in sign-in, second pass (issue 13): each test here failed on the code before it.

- turning on two-factor sign-in keeps the User itself as the request's user (not the proxy, which
  crashed the web process);
- where admins must use two-factor sign-in, the API holds it too, for tokens and session cookies;
- API tokens are listed and revoked by their owner, and end when the credentials that made them
  change (password, two-factor, disabling, erasure);
- signing out ends the session on the server: a cookie kept from before is worth nothing;
- failed sign-ins slow guessing down without locking anyone out, and the owner is told;
- a TOTP code is accepted once, and wrong codes slow down.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from learning.accounts.models import ApiToken, LoginFailure, User, UserSession
from learning.accounts.tokens import issue_api_token
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests import factories
from tests.conftest import build_app

PASSWORD = factories.PASSWORD


@contextmanager
def database(app):
    """The database, for setting up and checking, outside any request.

    The tests hold no app context while they make requests: Flask would share one with every
    request, and Flask-Login would then remember the signed-in person between requests (in ``g``),
    hiding whether each request's cookie still signs anyone in."""
    with app.app_context():
        yield db.session
        db.session.remove()


def sign_in(client, email, password=PASSWORD, remember=False):
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/account/login", data=data)


def turn_on_two_factor(client) -> str:
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    response = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.get_data(as_text=True)[-500:]
    return secret


def next_code(secret: str) -> str:
    """The code of the next 30-second step (accepted for clock drift, and not yet used)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def flashed(response) -> list[str]:
    return re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', response.get_data(as_text=True))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def is_signed_in(client) -> bool:
    return client.get("/account/profile").status_code == 200


def let_time_pass(app, seconds: int) -> None:
    """Move every recorded failure back in time, as if ``seconds`` had passed."""
    with database(app) as session:
        for failure in session.scalars(select(LoginFailure)):
            failure.at -= timedelta(seconds=seconds)
        for user in session.scalars(select(User).where(User.totp_failed_at.is_not(None))):
            user.totp_failed_at -= timedelta(seconds=seconds)
        session.commit()


def person(app, roles=(), **fields) -> dict:
    """A new account (and an API token of it): plain values, usable outside the app context."""
    with database(app):
        user = factories.user(roles=roles, **fields)
        return {"id": user.id, "email": user.email, "token": factories.token(user)}


def count(app, model, *where) -> int:
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# --- 1. turning on two-factor sign-in ---------------------------------------------------------------

def test_turning_on_two_factor_under_gunicorn_keeps_the_worker_alive(app, base_config, tmp_path):
    """``login_user(current_user)`` stored the proxy as the request's user, which then resolved to itself
    for ever: the worker died (SIGSEGV) and the browser got no answer. Tested as it was found, under
    gunicorn with real cookies and CSRF tokens, because in the test process the crash would take
    pytest down with it."""
    import requests

    from tests.security_fixtures import start_gunicorn, stop_server

    me = person(app)
    log = tmp_path / "gunicorn.log"
    proc, base = start_gunicorn(base_config, log, workers=1, threads=2)
    try:
        browser = requests.Session()  # generous timeouts: the worker may still be starting on a busy machine

        def form_token(path: str) -> str:
            page = browser.get(base + path, timeout=60).text
            return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

        signed = browser.post(base + "/account/login", timeout=60, allow_redirects=False, data={
            "email": me["email"], "password": PASSWORD, "csrf_token": form_token("/account/login")})
        assert signed.status_code == 302
        page = browser.get(base + "/account/two-factor", timeout=60).text
        secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
        turned_on = browser.post(base + "/account/two-factor", timeout=60, allow_redirects=False, data={
            "code": pyotp.TOTP(secret).now(), "csrf_token": form_token("/account/two-factor")})
        assert turned_on.status_code == 302
        assert browser.get(base + "/account/profile", timeout=60, allow_redirects=False).status_code == 200
        assert proc.poll() is None
    finally:
        stop_server(proc)
    output = log.read_text()
    assert "SIGSEGV" not in output and "was sent" not in output and "Traceback" not in output, output[-3000:]


def test_sign_in_refuses_anything_but_a_user(app):
    from flask_login import current_user

    from learning.accounts.sessions import sign_in as open_session

    with app.test_request_context("/"), pytest.raises(TypeError):
        open_session(current_user)  # anonymous: a proxy to no User at all


# --- 2. admins and required two-factor sign-in, on the API ------------------------------------------

@pytest.fixture
def strict_app(base_config, app):
    return build_app(base_config, ADMIN_2FA_REQUIRED=True)


def test_an_admin_without_two_factor_gets_no_token_where_it_is_required(strict_app):
    client = strict_app.test_client()
    boss = person(strict_app, roles=("admin",))
    tokens_before = count(strict_app, ApiToken)
    response = client.post("/api/v1/auth/tokens", json={"email": boss["email"], "password": PASSWORD})
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "two_factor_required" and "two-factor" in error["message"]
    assert count(strict_app, ApiToken) == tokens_before
    wrong = client.post("/api/v1/auth/tokens", json={"email": boss["email"], "password": "wrong-password-1"})
    assert wrong.status_code == 401  # the rule is only told to someone who knows the password


def test_an_admins_older_token_and_session_cookie_do_nothing_on_the_api_until_two_factor_is_on(strict_app):
    client = strict_app.test_client()
    boss = person(strict_app, roles=("admin",))
    learner = person(strict_app)
    for path in ("/api/v1/audit", "/api/v1/me", "/api/v1/reports/summary"):
        refused = client.get(path, headers=bearer(boss["token"]))
        assert refused.status_code == 403, path
        assert refused.get_json()["error"]["code"] == "two_factor_required"
    assert client.get("/api/v1/me", headers=bearer(learner["token"])).status_code == 200  # learners: no such rule
    sign_in(client, boss["email"])
    by_cookie = client.get("/api/v1/audit", headers={"Accept": "application/json"})
    assert by_cookie.status_code == 403 and by_cookie.get_json()["error"]["code"] == "two_factor_required"
    secret = turn_on_two_factor(client)
    assert client.get("/api/v1/audit", headers={"Accept": "application/json"}).status_code == 200
    made = client.post("/api/v1/auth/tokens", json={"email": boss["email"], "password": PASSWORD,
                                                    "otp": next_code(secret)})
    assert made.status_code == 201
    assert client.get("/api/v1/audit", headers=bearer(made.get_json()["token"])).status_code == 200


def test_the_openapi_document_lists_the_new_answers(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "403" in spec["paths"]["/api/v1/audit"]["get"]["responses"]
    tokens = spec["paths"]["/api/v1/auth/tokens"]["post"]
    assert {"401", "403", "422", "429"} <= set(tokens["responses"])
    assert "otp" in spec["components"]["schemas"]["TokenRequestSchema"]["properties"]
    assert spec["components"]["schemas"]["TokenRequestSchema"]["properties"]["name"]["maxLength"] == 100
    assert {"get"} <= set(spec["paths"]["/api/v1/me/tokens"])
    assert {"204", "404"} <= set(spec["paths"]["/api/v1/me/tokens/{token_id}"]["delete"]["responses"])


# --- 3. API tokens: listed, revoked, and ended with the credentials ---------------------------------

def _token_works(client, token) -> bool:
    return client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_my_tokens_are_listed_without_their_secret_and_only_mine(client, app):
    me, other = person(app), person(app)
    made = client.post("/api/v1/auth/tokens", json={"email": me["email"], "password": PASSWORD, "name": "Laptop"})
    token = made.get_json()["token"]
    listed = client.get("/api/v1/me/tokens", headers=bearer(token)).get_json()
    assert listed["total"] == 2  # the one person() made, and this one
    newest = listed["items"][0]
    assert set(newest) == {"id", "name", "created_at", "last_used_at", "expires_at"}
    assert newest["name"] == "Laptop" and newest["last_used_at"] is not None
    assert token not in str(listed) and me["token"] not in str(listed)
    with database(app) as session:
        others = set(session.scalars(select(ApiToken.id).where(ApiToken.user_id == other["id"])))
    assert not others & {item["id"] for item in listed["items"]}


def test_revoking_a_token_ends_it_and_another_persons_is_not_found(client, app):
    me, other = person(app), person(app)
    with database(app) as session:
        spare = factories.token(session.get(User, me["id"]))
        spare_id = session.scalar(select(func.max(ApiToken.id)).where(ApiToken.user_id == me["id"]))
        other_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == other["id"]))
    assert client.delete(f"/api/v1/me/tokens/{other_id}", headers=bearer(me["token"])).status_code == 404
    assert _token_works(client, other["token"])  # untouched
    revoked = client.delete(f"/api/v1/me/tokens/{spare_id}", headers=bearer(me["token"]))
    assert revoked.status_code == 204 and revoked.get_data() == b""
    assert not _token_works(client, spare)
    assert _token_works(client, me["token"])
    assert client.delete("/api/v1/me/tokens/999999", headers=bearer(me["token"])).status_code == 404


def test_a_token_name_over_100_characters_is_refused_naming_the_field(client, app):
    me = person(app)
    before = count(app, ApiToken)
    response = client.post("/api/v1/auth/tokens", json={"email": me["email"], "password": PASSWORD, "name": "n" * 101})
    assert response.status_code == 422
    assert "name" in response.get_json()["error"]["fields"]
    assert count(app, ApiToken) == before
    with database(app) as session, pytest.raises(ValidationFailed):
        issue_api_token(session.get(User, me["id"]), "n" * 101)  # the service holds the rule too


def test_tokens_end_when_the_password_changes_and_the_changing_browser_stays(client, app):
    me = person(app)
    sign_in(client, me["email"])
    response = client.post("/account/password", data={"current_password": PASSWORD, "password": "brand-New-password-7",
                                                      "confirm": "brand-New-password-7"})
    assert response.status_code == 302
    assert not _token_works(client, me["token"])
    assert is_signed_in(client)


def test_tokens_and_sessions_end_when_the_password_is_reset(client, app):
    from learning.accounts.services import make_link_token

    me = person(app)
    with database(app) as session:
        link = f"/account/reset/{make_link_token(session.get(User, me['id']), 'reset')}"
    sign_in(client, me["email"])
    assert is_signed_in(client)
    app.test_client().post(link, data={"password": "brand-New-password-7", "confirm": "brand-New-password-7"})
    assert not _token_works(client, me["token"])
    assert not is_signed_in(client)


def test_tokens_and_other_sessions_end_when_two_factor_is_turned_on_and_off(client, app):
    me = person(app)
    elsewhere = app.test_client()
    sign_in(elsewhere, me["email"])
    sign_in(client, me["email"])
    secret = turn_on_two_factor(client)
    assert not _token_works(client, me["token"])
    assert not is_signed_in(elsewhere) and is_signed_in(client)
    with database(app) as session:
        before_off = factories.token(session.get(User, me["id"]))
    off = client.post("/account/two-factor", data={"password": PASSWORD, "code": next_code(secret)})
    assert off.status_code == 302
    assert not _token_works(client, before_off)


def test_tokens_and_sessions_end_when_the_account_is_disabled_or_erased(client, app):
    from learning.accounts.management import set_active
    from learning.accounts.privacy import request_erasure

    boss, me, gone = person(app, roles=("admin",)), person(app), person(app)
    sign_in(client, me["email"])
    gone_browser = app.test_client()
    sign_in(gone_browser, gone["email"])
    with database(app) as session:
        set_active(session.get(User, boss["id"]), session.get(User, me["id"]), False)
        session.commit()
        set_active(session.get(User, boss["id"]), session.get(User, me["id"]), True)  # again: ended stays ended
        session.commit()
        request_erasure(session.get(User, gone["id"]))
        session.commit()
    assert not _token_works(client, me["token"]) and not is_signed_in(client)
    assert not _token_works(client, gone["token"]) and not is_signed_in(gone_browser)


def test_the_profile_lists_tokens_and_revokes_one(client, app):
    me, other = person(app), person(app)
    with database(app) as session:
        plain, row = issue_api_token(session.get(User, me["id"]), "Reporting script")
        session.commit()
        row_id = row.id
        other_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == other["id"]))
    sign_in(client, me["email"])
    assert 'href="/account/tokens"' in client.get("/account/profile").get_data(as_text=True)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "Reporting script" in page and plain not in page
    assert f'action="/account/tokens/{row_id}/revoke"' in page
    response = client.post(f"/account/tokens/{row_id}/revoke", follow_redirects=True)
    assert "The token is revoked." in response.get_data(as_text=True)
    assert "Reporting script" not in response.get_data(as_text=True)
    assert not _token_works(client, plain)
    assert client.post(f"/account/tokens/{other_id}/revoke").status_code == 404
    assert _token_works(client, other["token"])


# --- 4. signing out ends the session on the server --------------------------------------------------

def _cookie(client, name):
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def test_a_session_cookie_kept_from_before_sign_out_is_worth_nothing_after(client, app):
    me = person(app)
    sign_in(client, me["email"])
    kept = _cookie(client, "session")
    copy = app.test_client()
    copy.set_cookie("session", kept)
    assert is_signed_in(copy)  # the control: the copied cookie signs in...
    client.post("/account/logout")
    replay = app.test_client()
    replay.set_cookie("session", kept)
    assert not is_signed_in(replay)  # ...until its session is signed out
    assert replay.get("/api/v1/me", headers={"Accept": "application/json"}).status_code == 401


def test_a_remember_me_cookie_kept_from_before_sign_out_is_worth_nothing_after(client, app):
    me = person(app)
    sign_in(client, me["email"], remember=True)
    kept = _cookie(client, "remember_token")
    only_remember = app.test_client()
    only_remember.set_cookie("remember_token", kept)
    assert is_signed_in(only_remember)  # the control: the cookie alone signs in...
    client.post("/account/logout")
    replay = app.test_client()
    replay.set_cookie("remember_token", kept)
    assert not is_signed_in(replay)  # ...until its session is signed out


def test_sign_out_everywhere_ends_every_session_of_the_person(client, app):
    me, stranger = person(app), person(app)
    laptop, phone, other = client, app.test_client(), app.test_client()
    sign_in(laptop, me["email"])
    sign_in(phone, me["email"], remember=True)
    sign_in(other, stranger["email"])
    assert "Sign out everywhere" in laptop.get("/account/profile").get_data(as_text=True)
    response = laptop.post("/account/sessions/end-all")
    assert response.headers["Location"].startswith("/account/login")
    assert not is_signed_in(laptop) and not is_signed_in(phone)
    assert is_signed_in(other)


def test_a_password_change_ends_the_other_sessions(client, app):
    me = person(app)
    other = app.test_client()
    sign_in(client, me["email"])
    sign_in(other, me["email"], remember=True)
    client.post("/account/password", data={"current_password": PASSWORD, "password": "brand-New-password-7",
                                           "confirm": "brand-New-password-7"})
    assert is_signed_in(client) and not is_signed_in(other)
    wrong = client.post("/account/password", data={"current_password": "not-it-at-all-9",
                                                   "password": "another-New-password-8",
                                                   "confirm": "another-New-password-8"})
    assert wrong.status_code == 422 and "Wrong password." in wrong.get_data(as_text=True)


def test_sessions_are_stored_hashed_and_expire(client, app):
    me = person(app)
    sign_in(client, me["email"])
    with database(app) as session:
        row = session.scalars(select(UserSession).where(UserSession.user_id == me["id"])).one()
        assert row.key_hash not in _cookie(client, "session")
        row.expires_at = row.created_at
        session.commit()
    assert not is_signed_in(client)


# --- 5. failed sign-ins slow guessing down, lock nobody out, and tell the owner ----------------------

def test_failures_make_the_next_attempt_wait_but_lock_no_admin_out(client, app):
    boss = person(app, roles=("admin",))
    for _ in range(5):
        sign_in(client, boss["email"], "guess-guess-1")
    waiting = sign_in(client, boss["email"])  # the right password, while the wait runs
    assert waiting.status_code == 200
    assert flashed(waiting) == ["Too many failed attempts. Try again in 5 seconds."]
    let_time_pass(app, 5)
    assert sign_in(app.test_client(), boss["email"]).status_code == 302  # no lock: in after the wait


def _seconds(message: str) -> int:
    number, unit = re.search(r"again in (\d+) (second|minute)", message).groups()
    return int(number) * (60 if unit == "minute" else 1)


def test_each_failure_past_the_free_ones_doubles_the_wait_up_to_a_cap(client, app):
    me = person(app)
    waits = []
    for _ in range(40):
        if waits and waits[-1] == "15 minutes":
            break
        message = flashed(sign_in(client, me["email"], "guess-guess-1"))[0]
        if message.startswith("Too many"):
            waits.append(re.search(r"again in (.+)\.$", message).group(1))
            let_time_pass(app, _seconds(message))  # just the wait: the failures stay within the hour
    assert waits == ["5 seconds", "10 seconds", "20 seconds", "40 seconds", "80 seconds", "3 minutes", "6 minutes",
                     "11 minutes", "15 minutes"]  # doubling (shown rounded up), then the cap
    assert count(app, LoginFailure) == 5 + len(waits) - 1  # a refused attempt is not checked, nor counted


def test_the_owners_own_browser_is_not_slowed_by_a_strangers_failures(app):
    boss = person(app, roles=("admin",))
    own_browser = app.test_client()
    sign_in(own_browser, boss["email"])
    own_browser.post("/account/logout")
    attacker = app.test_client()
    for _ in range(8):
        sign_in(attacker, boss["email"], "guess-guess-1")
    assert flashed(sign_in(attacker, boss["email"]))[0].startswith("Too many")
    assert sign_in(own_browser, boss["email"]).status_code == 302


def test_one_address_guessing_many_accounts_is_slowed(app):
    client = app.test_client()
    for n in range(20):
        sign_in(client, f"nobody{n}@example.org", "guess-guess-1")
    me = person(app)
    assert flashed(sign_in(client, me["email"]))[0].startswith("Too many")


def test_the_owner_is_told_once_per_burst_of_failures(client, app):
    me = person(app)
    for _ in range(5):
        sign_in(client, me["email"], "guess-guess-1")
    for _ in range(3):
        let_time_pass(app, 60)
        sign_in(client, me["email"], "guess-guess-1")
    with database(app) as session:
        mails = [e.payload for e in session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "mail.send"))]
    alerts = [m for m in mails if m["to"] == me["email"]]
    assert len(alerts) == 1
    assert alerts[0]["subject"] == "Failed sign-ins to your account"
    assert "5 times" in alerts[0]["text"]


def test_the_api_answers_a_wait_with_429_and_retry_after(client, app):
    me = person(app)
    for _ in range(5):
        client.post("/api/v1/auth/tokens", json={"email": me["email"], "password": "guess-guess-1"})
    response = client.post("/api/v1/auth/tokens", json={"email": me["email"], "password": PASSWORD})
    assert response.status_code == 429
    # Flask-Limiter merges its own window into Retry-After (the later of the two); never earlier than ours.
    assert int(response.headers["Retry-After"]) >= 5
    error = response.get_json()["error"]
    assert error["code"] == "too_many_attempts" and error["retry_after"] == 5


# --- 6. a TOTP code is good once, and wrong codes slow down ------------------------------------------

def _two_factor_account(app) -> tuple[str, str]:
    me = person(app)
    client = app.test_client()
    sign_in(client, me["email"])
    return me["email"], turn_on_two_factor(client)


def test_a_code_is_accepted_once(client, app):
    email, secret = _two_factor_account(app)
    code = next_code(secret)
    sign_in(client, email)
    assert client.post("/account/login/code", data={"code": code}).status_code == 302
    second = app.test_client()
    sign_in(second, email)
    again = second.post("/account/login/code", data={"code": code})
    assert again.status_code == 200 and "already used" in again.get_data(as_text=True)
    by_api = second.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD, "otp": code})
    assert by_api.status_code == 401 and by_api.get_json()["error"]["code"] == "otp_invalid"


def test_the_code_that_turned_two_factor_on_cannot_sign_in(client, app):
    me = person(app)
    sign_in(client, me["email"])
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    code = pyotp.TOTP(secret).now()
    client.post("/account/two-factor", data={"code": code})
    response = app.test_client().post("/api/v1/auth/tokens", json={"email": me["email"], "password": PASSWORD,
                                                                   "otp": code})
    assert response.status_code == 401


def test_wrong_codes_make_the_next_attempt_wait(client, app):
    email, secret = _two_factor_account(app)
    sign_in(client, email)
    for _ in range(5):
        wrong = client.post("/account/login/code", data={"code": "000000"})
        assert "That code is not right." in wrong.get_data(as_text=True)
    waiting = client.post("/account/login/code", data={"code": next_code(secret)})
    assert "Too many failed attempts. Try again in 5 seconds." in waiting.get_data(as_text=True)
    by_api = app.test_client().post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD,
                                                                 "otp": next_code(secret)})
    assert by_api.status_code == 429  # the same count, whichever way the code is tried
    let_time_pass(app, 5)
    assert client.post("/account/login/code", data={"code": next_code(secret)}).status_code == 302
    with database(app) as session:
        assert session.scalar(select(User.totp_failures).where(User.email == email)) == 0


# --- what the server keeps about sign-ins -------------------------------------------------------------

def test_my_sessions_are_in_my_data_export_without_their_key(client, app):
    me = person(app)
    client.environ_base["HTTP_USER_AGENT"] = "Firefox on the office laptop"
    sign_in(client, me["email"])
    exported = client.get("/account/data.json").get_json()
    (only,) = exported["sessions"]
    assert only["browser"] == "Firefox on the office laptop" and only["ended_at"] is None
    with database(app) as session:
        key_hash = session.scalar(select(UserSession.key_hash))
    assert key_hash not in str(exported)
    assert "Firefox on the office laptop" in client.get("/account/tokens").get_data(as_text=True)


def test_old_failures_and_finished_sessions_are_pruned(client, app):
    from learning.accounts.sessions import prune_sign_in_records

    me, other = person(app), person(app)
    sign_in(client, "ghost@example.org", "guess-guess-1")
    sign_in(client, me["email"])
    client.post("/account/logout")
    still = app.test_client()
    sign_in(still, other["email"])
    sign_in(still, other["email"], "guess-guess-1")  # a fresh failure: kept
    with database(app) as session:
        for row in session.scalars(select(UserSession)):
            row.created_at -= timedelta(days=2)
            row.ended_at = row.ended_at and row.ended_at - timedelta(days=2)
        session.commit()
        for failure in session.scalars(select(LoginFailure).where(LoginFailure.email == "ghost@example.org")):
            failure.at -= timedelta(hours=2)
        session.commit()
        assert prune_sign_in_records() == 2  # the old failure and the ended session
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 1
    assert is_signed_in(still)


def test_an_admin_disables_an_account_through_the_api_and_its_credentials_end(client, app):
    boss, me = person(app, roles=("admin",)), person(app)
    browser = app.test_client()
    sign_in(browser, me["email"])
    refused = client.patch(f"/api/v1/users/{boss['id']}", json={"active": False}, headers=bearer(boss["token"]))
    assert refused.status_code == 422 and "active" in refused.get_json()["error"]["fields"]
    response = client.patch(f"/api/v1/users/{me['id']}", json={"active": False}, headers=bearer(boss["token"]))
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert not _token_works(client, me["token"]) and not is_signed_in(browser)
    assert sign_in(browser, me["email"]).status_code == 200  # a disabled account cannot sign in
    again = client.patch(f"/api/v1/users/{me['id']}", json={"active": True}, headers=bearer(boss["token"]))
    assert again.get_json()["active"] is True
    assert not _token_works(client, me["token"])  # what was ended stays ended
    assert sign_in(browser, me["email"]).status_code == 302
