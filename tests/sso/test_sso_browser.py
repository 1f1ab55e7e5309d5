"""Single sign-on in a real browser: Chromium goes from our sign-in page to a real OpenID Connect
provider (Authlib's server) and a real SAML IdP (pysaml2's), signs in there, and comes back signed in."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from learning.accounts.models import User
from learning.audit.models import AuditEntry
from learning.extensions import db
from tests import sso_fixtures

# The shared fixtures, by name (pytest finds them in the module).
bank, ministry, oidc_idp, saml_idp = (sso_fixtures.bank, sso_fixtures.ministry, sso_fixtures.oidc_idp,
                                      sso_fixtures.saml_idp)

pytestmark = [pytest.mark.browser]


def test_a_bank_employee_signs_in_with_the_bank_s_openid_provider(page, live_server, bank, oidc_idp):
    oidc_idp.redirect_uris.append(f"{live_server.url}/auth/sso/banco-andino/oidc/callback")
    page.goto("/account/login")
    page.get_by_role("link", name="Sign in with your organisation").click()
    page.get_by_label("Your work e-mail address").fill("ana@banco.example")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(oidc_idp.url + "/authorize?**")
    page.get_by_label("User name").fill("ana")
    page.get_by_role("button", name="Sign in at the identity provider").click()
    page.wait_for_url(f"{live_server.url}/")
    assert "Ana Gómez" in page.locator("header").inner_text()
    assert "Your account was created through your organisation" in page.locator(".flash").inner_text()

    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "ana@banco.example"))
    assert user.organisation.name == "Banco Andino" and user.is_trainer
    methods = [e.details.get("method") for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.signed_in"))]
    assert methods == ["sso"]


def test_a_bad_id_token_is_refused_in_the_browser_with_a_clear_page(page, live_server, bank, oidc_idp):
    oidc_idp.redirect_uris.append(f"{live_server.url}/auth/sso/banco-andino/oidc/callback")
    oidc_idp.break_signature = True
    page.goto("/auth/sso/banco-andino/login")
    page.wait_for_url(oidc_idp.url + "/authorize?**")
    page.get_by_label("User name").fill("ana")
    page.get_by_role("button", name="Sign in at the identity provider").click()
    page.get_by_role("heading", name="Sign-in refused").wait_for()
    assert "Nothing was changed" in page.locator("main").inner_text()
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.email == "ana@banco.example")) is None


def test_a_ministry_official_signs_in_with_the_ministry_s_saml_idp(page, live_server, ministry, saml_idp):
    metadata = requests.get(f"{live_server.url}/auth/sso/justice/saml/metadata", timeout=10)
    assert metadata.status_code == 200
    saml_idp.trust_sp(metadata.text)  # what the ministry's admin loads into their IdP
    page.goto("/auth/sso/")
    page.get_by_label("Your work e-mail address").fill("jean@justice.example")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(saml_idp.url + "/sso?**")
    page.get_by_label("User name").fill("jean")
    page.get_by_role("button", name="Sign in at the identity provider").click()
    # The IdP's page posts the signed response back; the ministry's organisation has no sector: we ask.
    page.wait_for_url(f"{live_server.url}/account/profile")
    assert "Please tell us your country and sector" in page.locator(".flash").inner_text()
    assert "Jean Dupont" in page.locator("header").inner_text()
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "jean@justice.example"))
    assert user.is_org_manager and user.organisation.name == "Ministère de la Justice"
