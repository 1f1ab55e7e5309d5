"""Registering a platform: the admins' API (201, 409 for the same issuer and client id, 422 for bad
fields, nothing written) and the ``flask lti add-platform`` command."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from learning.accounts.models import Organisation
from learning.extensions import db
from learning.lti.models import LtiDeployment, LtiPlatform
from tests import factories

MOODLE = {"issuer": "https://moodle.academia.example", "client_id": "Xy12AbC",
          "key_set_url": "https://moodle.academia.example/mod/lti/certs.php",
          "auth_login_url": "https://moodle.academia.example/mod/lti/auth.php",
          "auth_token_url": "https://moodle.academia.example/mod/lti/token.php", "deployment_ids": ["3"]}


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {factories.token(user)}"}


def platforms() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(LtiPlatform))


def test_an_admin_registers_a_platform_and_lists_it(client, app_context):
    admin = factories.admin()
    org = Organisation(name="Academia", country="CO")
    db.session.add(org)
    db.session.commit()
    response = client.post("/api/v1/lti/platforms", json={**MOODLE, "organisation_id": org.id,
                                                          "deployment_ids": ["3", "4", "3"]}, headers=bearer(admin))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["deployment_ids"] == ["3", "4"] and body["organisation"] == {"id": org.id, "name": "Academia"}
    assert body["name"] == "moodle.academia.example" and body["instructors_are_trainers"] is True
    listed = client.get("/api/v1/lti/platforms", headers=bearer(admin)).get_json()
    # Outside check: a list, so paginated as API.md's conventions say (it was a bare array).
    assert [p["client_id"] for p in listed["items"]] == ["Xy12AbC"]
    assert (listed["page"], listed["per_page"], listed["total"]) == (1, 50, 1)
    assert client.get("/api/v1/lti/platforms?page=2", headers=bearer(admin)).get_json()["items"] == []
    assert client.get("/api/v1/lti/platforms?page=0", headers=bearer(admin)).status_code == 422


def test_the_same_issuer_and_client_id_twice_is_a_conflict(client, app_context):
    admin = factories.admin()
    assert client.post("/api/v1/lti/platforms", json=MOODLE, headers=bearer(admin)).status_code == 201
    again = client.post("/api/v1/lti/platforms", json={**MOODLE, "deployment_ids": ["9"]}, headers=bearer(admin))
    assert again.status_code == 409 and platforms() == 1
    other_client = client.post("/api/v1/lti/platforms", json={**MOODLE, "client_id": "other"}, headers=bearer(admin))
    assert other_client.status_code == 201  # Canvas: one issuer, a client id per customer


def test_bad_fields_are_named_and_nothing_is_written(client, app_context):
    admin = factories.admin()
    for change, field in (({"issuer": "http://moodle.example"}, "issuer"), ({"key_set_url": "not a url"}, "key_set_url"),
                          ({"auth_login_url": "javascript:alert(1)"}, "auth_login_url"),
                          ({"deployment_ids": []}, "deployment_ids"), ({"deployment_ids": ["a\nb"]}, "deployment_ids"),
                          ({"client_id": ""}, "client_id"), ({"organisation_id": 999999}, "organisation_id")):
        response = client.post("/api/v1/lti/platforms", json={**MOODLE, **change}, headers=bearer(admin))
        assert response.status_code == 422, (change, response.get_json())
        assert field in json.dumps(response.get_json()["error"].get("fields", {})), (change, response.get_json())
    assert platforms() == 0 and db.session.scalar(select(func.count()).select_from(LtiDeployment)) == 0


def test_only_admins_register_platforms(client, app_context):
    trainer = factories.trainer()
    assert client.post("/api/v1/lti/platforms", json=MOODLE).status_code == 401
    assert client.post("/api/v1/lti/platforms", json=MOODLE, headers=bearer(trainer)).status_code == 403
    assert client.get("/api/v1/lti/platforms", headers=bearer(trainer)).status_code == 403
    assert platforms() == 0


def test_the_command_registers_a_platform(runner, app_context):
    db.session.add(Organisation(name="Academia", country="CO"))
    db.session.commit()
    result = runner.invoke(args=["lti", "add-platform", "--issuer", MOODLE["issuer"], "--client-id", "cli-1",
                                 "--jwks-url", MOODLE["key_set_url"], "--auth-url", MOODLE["auth_login_url"],
                                 "--token-url", MOODLE["auth_token_url"], "--deployment-id", "1",
                                 "--deployment-id", "2", "--organisation", "academia"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["deployment_ids"] == ["1", "2"]
    again = runner.invoke(args=["lti", "add-platform", "--issuer", MOODLE["issuer"], "--client-id", "cli-1",
                                "--jwks-url", MOODLE["key_set_url"], "--auth-url", MOODLE["auth_login_url"],
                                "--token-url", MOODLE["auth_token_url"], "--deployment-id", "1"])
    assert again.exit_code != 0 and "already registered" in again.output
    listed = runner.invoke(args=["lti", "list"])
    assert "cli-1" in listed.output
    rotated = runner.invoke(args=["lti", "rotate-key"])
    assert rotated.exit_code == 0 and "Now signing with" in rotated.output
