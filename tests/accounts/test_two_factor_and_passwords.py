"""Two-factor sign-in, the password policy, and the self-service privacy pages."""

from __future__ import annotations

import re
import time

import pyotp

from learning.accounts.models import User
from learning.accounts.passwords import password_problems
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests.conftest import build_app


def _sign_in(client, email, password="a-Good-password-42"):
    return client.post("/account/login", data={"email": email, "password": password})


def _turn_on_two_factor(client) -> str:
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    response = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    return secret


def test_common_and_personal_passwords_are_refused():
    assert password_problems("password123")
    assert password_problems("short")
    assert password_problems("mariagarcia2024", email="maria@example.org", name="Maria Garcia")
    assert password_problems("brand-New-password-7") == []


def test_two_factor_sign_in_asks_for_the_code(client, make, app_context):
    make.user(email="tf@example.org")
    _sign_in(client, "tf@example.org")
    secret = _turn_on_two_factor(client)
    client.post("/account/logout")
    response = _sign_in(client, "tf@example.org")
    assert response.headers["Location"].startswith("/account/login/code")
    assert client.get("/account/profile").status_code == 302  # not signed in yet
    wrong = client.post("/account/login/code", data={"code": "000000"})
    assert "That code is not right." in wrong.get_data(as_text=True)
    # The code that turned it on is used up: the next one (accepted for clock drift) signs in.
    client.post("/account/login/code", data={"code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert client.get("/account/profile").status_code == 200


def test_api_tokens_need_the_code_once_two_factor_is_on(api, client, make, app_context):
    make.user(email="tfa@example.org")
    _sign_in(client, "tfa@example.org")
    secret = _turn_on_two_factor(client)
    credentials = {"email": "tfa@example.org", "password": "a-Good-password-42"}
    refused = api.post("auth/tokens", json=credentials)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "otp_required"
    assert api.post("auth/tokens", json={**credentials, "otp": pyotp.TOTP(secret).at(time.time() + 30)}).status_code == 201


def test_admins_must_set_up_two_factor_where_required(base_config, app):
    strict = build_app(base_config, ADMIN_2FA_REQUIRED=True)
    with strict.app_context():
        from tests import factories

        factories.admin(email="boss@example.org")
        db.session.remove()
    client = strict.test_client()
    _sign_in(client, "boss@example.org")
    response = client.get("/account/no-such-admin-page-but-not-accounts")  # any non-account page
    assert response.status_code in (302, 404)
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200


def test_erasing_my_account_from_the_page(client, make, app_context):
    make.user(email="bye@example.org")
    _sign_in(client, "bye@example.org")
    refused = client.post("/account/erase", data={"password": "wrong-password-1", "confirm": "y"})
    assert "Wrong password." in refused.get_data(as_text=True)
    assert client.post("/account/erase", data={"password": "a-Good-password-42", "confirm": "y"}).status_code == 302
    assert db.session.query(OutboxEvent).filter_by(event_type="account.erasure_requested").count() == 1
    db.session.expire_all()
    assert db.session.query(User).one().active is False
    assert _sign_in(client, "bye@example.org").status_code == 200  # sign-in refused: the form again


def test_downloading_my_data_from_the_page(client, make):
    make.user(email="mine@example.org", full_name="Thomas Moreau")
    _sign_in(client, "mine@example.org")
    response = client.get("/account/data.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.get_json()["account"]["full_name"] == "Thomas Moreau"


def test_the_argon2_cost_comes_from_each_apps_configuration(app, base_config):
    """``ARGON2_PROFILE`` is read when the app is built, not when the module is imported: an app
    configured without the test suite's cheap profile hashes at the library's recommended cost."""
    from argon2 import PasswordHasher, extract_parameters

    from learning.accounts.passwords import hash_password, verify_password

    with app.app_context():
        cheap = extract_parameters(hash_password("a-Good-password-42"))
    with build_app(base_config, ARGON2_PROFILE="").app_context():
        password_hash = hash_password("a-Good-password-42")
        assert verify_password(password_hash, "a-Good-password-42")
    recommended = PasswordHasher()
    assert (cheap.time_cost, cheap.memory_cost) == (1, 1024)
    assert extract_parameters(password_hash).memory_cost == recommended.memory_cost
