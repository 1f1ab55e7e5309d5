"""The accounts API behaves as API.md promises, including its errors."""

from __future__ import annotations

from learning.accounts.models import User
from learning.extensions import db

SIGNUP = {
    "email": "Ana.Gomez@Example.org",
    "password": "a-Good-password-42",
    "full_name": "Ana Gómez",
    "country": "CO",
    "sector": "law_enforcement",
    "language": "es",
    "organisation": "Policía Nacional",
}


def test_sign_up_returns_the_user_with_the_learner_role(api, app_context):
    response = api.post("users", json=SIGNUP)
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "ana.gomez@example.org"
    assert body["full_name"] == "Ana Gómez"
    assert body["country"] == "CO" and body["sector"] == "law_enforcement" and body["language"] == "es"
    assert body["roles"] == ["learner"]
    assert body["organisation"] == "Policía Nacional"


def test_sign_up_stores_an_argon2_hash_not_the_password(api, app_context):
    api.post("users", json=SIGNUP)
    user = db.session.query(User).one()
    assert user.password_hash.startswith("$argon2")
    assert SIGNUP["password"] not in user.password_hash


def test_sign_up_with_bad_fields_names_each_field_and_creates_nothing(api, app_context):
    bad = {**SIGNUP, "country": "XX", "sector": "astronaut", "language": "not a tag!", "password": "short"}
    response = api.post("users", json=bad)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"country", "sector", "language", "password"}
    assert error["fields"]["country"] == ["Unknown country code 'XX'"]
    assert db.session.query(User).count() == 0


def test_sign_up_missing_fields_is_422_naming_them(api):
    response = api.post("users", json={"email": "x@example.org"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"password", "full_name", "country", "sector", "language"} <= set(fields)


def test_malformed_json_is_400_with_the_error_body(api):
    response = api.request("POST", "users", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_second_sign_up_with_the_same_email_in_other_case_is_409(api, app_context):
    assert api.post("users", json=SIGNUP).status_code == 201
    response = api.post("users", json={**SIGNUP, "email": "ANA.GOMEZ@example.org"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert db.session.query(User).count() == 1


def test_token_then_me(api):
    api.post("users", json=SIGNUP)
    response = api.post("auth/tokens", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"] and body["expires_at"].endswith("+00:00")
    me = api.get("me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["email"] == "ana.gomez@example.org"


def test_token_with_wrong_password_is_401(api):
    api.post("users", json=SIGNUP)
    response = api.post("auth/tokens", json={"email": SIGNUP["email"], "password": "wrong-password-123"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_credentials"


def test_me_without_or_with_a_bad_token_is_401(api):
    assert api.get("me").status_code == 401
    response = api.get("me", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_expired_token_is_refused(api, make):
    from datetime import timedelta

    from learning.accounts.models import ApiToken
    from learning.models_base import utcnow

    user = make.user()
    token = make.token(user)
    row = db.session.query(ApiToken).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert api.get("me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_are_stored_hashed(api, make):
    from learning.accounts.models import ApiToken

    token = make.token(make.user())
    assert db.session.query(ApiToken).filter_by(token_hash=token).count() == 0


def test_patch_me_changes_the_profile_and_rejects_bad_values(api, make):
    user = make.user()
    client = api.as_user(user)
    response = client.patch("me", json={"country": "ro", "sector": "justice", "reminders_enabled": False})
    assert response.status_code == 200
    assert response.get_json()["country"] == "RO"
    assert response.get_json()["reminders_enabled"] is False
    bad = client.patch("me", json={"country": "ZZ"})
    assert bad.status_code == 422
    assert "country" in bad.get_json()["error"]["fields"]
    assert client.get("me").get_json()["country"] == "RO"
    # A flag is JSON's true or false: "yes", 1 or "false" are refused, not guessed at.
    for flag in ("yes", "false", 1, 0, None):
        bad = client.patch("me", json={"reminders_enabled": flag, "country": "PE"})
        assert bad.status_code == 422, (flag, bad.get_json())
        assert "reminders_enabled" in bad.get_json()["error"]["fields"]
    assert client.get("me").get_json()["reminders_enabled"] is False
    assert client.get("me").get_json()["country"] == "RO"


def test_only_admins_change_other_users_roles(api, make):
    admin, learner = make.admin(), make.user()
    assert api.as_user(learner).patch(f"users/{learner.id}", json={"roles": ["admin"]}).status_code == 403
    response = api.as_user(admin).patch(f"users/{learner.id}", json={"roles": ["trainer"]})
    assert response.status_code == 200
    assert response.get_json()["roles"] == ["learner", "trainer"]
    assert api.as_user(admin).patch("users/999999", json={"roles": []}).status_code == 404
    bad = api.as_user(admin).patch(f"users/{learner.id}", json={"roles": ["wizard"]})
    assert bad.status_code == 422 and "roles" in bad.get_json()["error"]["fields"]


def test_unknown_api_path_is_json_404(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_openapi_document_describes_the_accounts_api(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/users", "/api/v1/auth/tokens", "/api/v1/me", "/api/v1/users/{user_id}"):
        assert path in spec["paths"], path
    post_users = spec["paths"]["/api/v1/users"]["post"]
    assert "201" in post_users["responses"] and "422" in post_users["responses"]
    assert "error" in spec["components"]["schemas"]["ErrorSchema"]["properties"]
    assert "400" in post_users["responses"], "malformed bodies are documented"
