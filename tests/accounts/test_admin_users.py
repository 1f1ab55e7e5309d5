"""Admins manage people: find them, change their roles (incl. organisation managers), disable and
re-enable them, send a password reset, erase on request; in the pages and through the API, each
action audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from learning.accounts.models import OrganisationManager, User
from learning.audit.models import AuditEntry
from learning.extensions import db
from learning.outbox.models import OutboxEvent
from tests.factories import PASSWORD


def _actions(user_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target_type == "user", AuditEntry.target_id == str(user_id)).order_by(AuditEntry.id)))


@pytest.fixture
def people(make):
    admin = make.admin(full_name="Ada Admin")
    ana = make.user(full_name="Ana Gómez", email="ana@policia.example.org", country="CO",
                    organisation="Policía Nacional")
    jean = make.trainer(full_name="Jean Dupont", email="jean@justice.example.org", country="SN",
                        organisation="Ministère de la Justice")
    marta = make.user(full_name="Marta Ruiz", email="marta@policia.example.org", country="PE",
                      organisation="Policía Nacional")
    return admin, ana, jean, marta


def test_the_people_page_searches_and_filters(people, sign_in):
    admin, ana, jean, marta = people
    client = sign_in(admin)
    page = client.get("/admin/users/").get_data(as_text=True)
    for name in ("Ana Gómez", "Jean Dupont", "Marta Ruiz", "Ada Admin"):
        assert name in page
    page = client.get("/admin/users/?q=POLICIA").get_data(as_text=True)
    assert "Ana Gómez" in page and "Marta Ruiz" in page and "Jean Dupont" not in page
    page = client.get("/admin/users/?q=marta").get_data(as_text=True)
    assert "Marta Ruiz" in page and "Ana Gómez" not in page
    page = client.get("/admin/users/?role=trainer").get_data(as_text=True)
    assert "Jean Dupont" in page and "Ana Gómez" not in page
    page = client.get("/admin/users/?country=PE").get_data(as_text=True)
    assert "Marta Ruiz" in page and "Ana Gómez" not in page
    page = client.get(f"/admin/users/?organisation={jean.organisation_id}").get_data(as_text=True)
    assert "Jean Dupont" in page and "Ana Gómez" not in page
    page = client.get("/admin/users/?status=disabled").get_data(as_text=True)
    assert "Nobody matches these filters." in page


def test_the_people_page_is_paginated_and_keeps_its_filters(make, sign_in):
    admin = make.admin()
    for n in range(52):
        make.user(full_name=f"Learner {n:02d}", country="KE")
    client = sign_in(admin)
    first = client.get("/admin/users/?country=KE").get_data(as_text=True)
    assert "52 people" in first and "Page 1 of 2" in first
    assert "/admin/users/?page=2&amp;country=KE" in first or "/admin/users/?country=KE&amp;page=2" in first
    second = client.get("/admin/users/?country=KE&page=2").get_data(as_text=True)
    assert "Learner 51" in second and "Learner 00" not in second


def test_only_admins_reach_the_people_pages(people, sign_in, client):
    _admin, ana, jean, _marta = people
    assert client.get("/admin/users/").status_code == 302  # to sign in
    sign_in(jean)
    assert client.get("/admin/users/").status_code == 403
    assert client.get(f"/admin/users/{ana.id}").status_code == 403
    assert client.post(f"/admin/users/{ana.id}/disable").status_code == 403


def test_an_admin_appoints_an_organisation_manager(people, sign_in):
    admin, ana, jean, _marta = people
    client = sign_in(admin)
    page = client.get(f"/admin/users/{ana.id}").get_data(as_text=True)
    assert "Organisation manager" in page and "Policía Nacional" in page
    response = client.post(f"/admin/users/{ana.id}/roles",
                           data={"roles": ["org_manager"], "managed_organisations": [str(ana.organisation_id)]})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, ana.id)
    assert user.roles == ["learner", "org_manager"]
    assert [org.name for org in user.managed_organisations] == ["Policía Nacional"]
    assert _actions(ana.id)[-2:] == ["user.roles_changed", "user.managed_organisations_changed"]
    page = client.get(f"/admin/users/{ana.id}").get_data(as_text=True)
    assert "Manages" in page

    # A manager without an organisation is refused, and nothing changes.
    response = client.post(f"/admin/users/{jean.id}/roles", data={"roles": ["trainer", "org_manager"]})
    assert response.status_code == 422
    assert "An organisation manager needs at least one organisation." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, jean.id).roles == ["learner", "trainer"]

    # Taking the role away empties the list.
    client.post(f"/admin/users/{ana.id}/roles", data={"roles": []})
    db.session.expire_all()
    assert db.session.get(User, ana.id).roles == ["learner"]
    assert db.session.scalars(select(OrganisationManager)).all() == []


def test_an_admin_disables_and_enables_an_account(people, sign_in, app):
    admin, ana, _jean, _marta = people
    client = sign_in(admin)
    assert client.post(f"/admin/users/{ana.id}/disable").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, ana.id).active is False
    other = app.test_client()
    response = other.post("/account/login", data={"email": ana.email, "password": PASSWORD})
    assert response.status_code == 200 and "Wrong e-mail address or password." in response.get_data(as_text=True)
    page = client.get("/admin/users/?status=disabled").get_data(as_text=True)
    assert "Ana Gómez" in page
    assert client.post(f"/admin/users/{ana.id}/enable").status_code == 302
    assert other.post("/account/login", data={"email": ana.email, "password": PASSWORD}).status_code == 302
    assert _actions(ana.id)[:3] == ["user.disabled", "user.sign_in_failed", "user.enabled"]


def test_an_admin_cannot_disable_or_erase_themself(people, sign_in):
    admin, *_ = people
    client = sign_in(admin)
    client.post(f"/admin/users/{admin.id}/disable")
    db.session.expire_all()
    assert db.session.get(User, admin.id).active is True
    response = client.post(f"/admin/users/{admin.id}/erase", data={"email": admin.email}, follow_redirects=True)
    assert "Erase your own account from your profile." in response.get_data(as_text=True)
    assert db.session.get(User, admin.id).is_active


def test_an_admin_sends_a_password_reset(people, sign_in, app):
    admin, ana, _jean, _marta = people
    client = sign_in(admin)
    response = client.post(f"/admin/users/{ana.id}/password-reset", follow_redirects=True)
    assert "A link to choose a new password was sent to Ana Gómez." in response.get_data(as_text=True)
    events = db.session.scalars(select(OutboxEvent).where(OutboxEvent.event_type == "mail.send")).all()
    assert any(e.payload.get("to") == ana.email and "/account/reset/" in str(e.payload) for e in events)
    assert _actions(ana.id)[-1] == "user.password_reset_sent"


def test_erasing_asks_for_the_address_first(people, sign_in):
    admin, ana, _jean, _marta = people
    client = sign_in(admin)
    page = client.get(f"/admin/users/{ana.id}/erase").get_data(as_text=True)
    assert "Type the person&#39;s e-mail address to confirm" in page or "Type the person's e-mail" in page
    response = client.post(f"/admin/users/{ana.id}/erase", data={"email": "someone@else.org"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, ana.id).is_active
    response = client.post(f"/admin/users/{ana.id}/erase", data={"email": ana.email.upper()})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, ana.id).active is False
    assert _actions(ana.id)[-1] == "user.erasure_requested"
    page = client.get(f"/admin/users/{ana.id}").get_data(as_text=True)
    assert "erasure was requested" in page and "Enable the account" not in page


def test_the_buttons_need_a_csrf_token(people, app, base_config):
    from tests.conftest import build_app

    admin, ana, *_ = people
    strict = build_app(base_config, WTF_CSRF_ENABLED=True)
    client = strict.test_client()
    login = client.get("/account/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/account/login", data={"email": admin.email, "password": PASSWORD,
                                               "csrf_token": token}).status_code == 302
    for action in ("disable", "password-reset", "roles"):
        assert client.post(f"/admin/users/{ana.id}/{action}", data={"roles": ["admin"]}).status_code == 400
    assert client.post(f"/admin/users/{ana.id}/erase", data={"email": ana.email}).status_code == 400
    db.session.expire_all()
    user = db.session.get(User, ana.id)
    assert user.active and user.roles == ["learner"]


# --- the API ------------------------------------------------------------------------------------

def test_api_lists_users_with_the_same_filters(people, api):
    admin, ana, jean, marta = people
    as_admin = api.as_user(admin)
    body = as_admin.get("/api/v1/users?q=policia").get_json()
    assert [u["full_name"] for u in body["items"]] == ["Ana Gómez", "Marta Ruiz"] and body["total"] == 2
    body = as_admin.get("/api/v1/users?role=trainer").get_json()
    assert [u["email"] for u in body["items"]] == [jean.email]
    body = as_admin.get("/api/v1/users?organisation=policía nacional&country=PE").get_json()
    assert [u["id"] for u in body["items"]] == [marta.id]
    body = as_admin.get("/api/v1/users?status=active&per_page=2&page=2").get_json()
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (2, 2, 4, 2)
    assert body["items"][0]["status"] == "active"
    response = as_admin.get("/api/v1/users?role=wizard")
    assert response.status_code == 422 and "role" in response.get_json()["error"]["fields"]
    # An unknown country is refused as the reports refuse it, not answered with an empty page.
    for code in ("ZZ", "XX", "col"):
        response = as_admin.get(f"/api/v1/users?country={code}")
        assert response.status_code == 422 and "country" in response.get_json()["error"]["fields"], code
    assert as_admin.get("/api/v1/users?country=pe").get_json()["total"] == 1
    assert api.as_user(jean).get("/api/v1/users").status_code == 403


def test_api_appoints_a_manager_and_refuses_an_unknown_organisation(people, api):
    admin, ana, _jean, _marta = people
    as_admin = api.as_user(admin)
    response = as_admin.patch(f"/api/v1/users/{ana.id}", json={"roles": ["org_manager"],
                                                               "managed_organisations": [999999]})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["fields"]["managed_organisations"] == ["Unknown organisation id 999999"]
    db.session.expire_all()
    assert db.session.get(User, ana.id).roles == ["learner"]

    response = as_admin.patch(f"/api/v1/users/{ana.id}", json={
        "roles": ["org_manager"], "managed_organisations": [ana.organisation_id]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["roles"] == ["learner", "org_manager"]
    assert body["managed_organisations"] == [ana.organisation_id]
    body = as_admin.get("/api/v1/users?role=org_manager").get_json()
    assert [u["id"] for u in body["items"]] == [ana.id]

    response = as_admin.patch(f"/api/v1/users/{ana.id}", json={"managed_organisations": ["x"]})
    assert response.status_code == 422
    assert all(name.startswith("managed_organisations") for name in response.get_json()["error"]["fields"])


def test_sign_ins_and_failed_sign_ins_are_audited(people, client):
    _admin, ana, *_ = people
    client.post("/account/login", data={"email": ana.email, "password": "wrong-password-1"})
    client.post("/account/login", data={"email": "nobody@example.org", "password": "wrong-password-1"})
    client.post("/account/login", data={"email": ana.email, "password": PASSWORD})
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.startswith("user.sign"))
                                 .order_by(AuditEntry.id)).all()
    assert [(e.action, e.target_id, e.actor_id) for e in entries] == [
        ("user.sign_in_failed", str(ana.id), None), ("user.sign_in_failed", None, None),
        ("user.signed_in", str(ana.id), ana.id)]
    assert entries[1].details == {"email": "nobody@example.org"}
    assert entries[2].details == {"method": "password"}


def test_a_search_matches_percent_and_underscore_as_themselves(make, api):
    admin = make.admin()
    make.user(full_name="Ana 100% Gómez")
    make.user(full_name="Ana 100 Gómez")
    body = api.as_user(admin).get("/api/v1/users?q=100%25").get_json()
    assert [u["full_name"] for u in body["items"]] == ["Ana 100% Gómez"]
    assert api.as_user(admin).get("/api/v1/users?q=_").get_json()["total"] == 0
