"""Fixtures of the single sign-on tests: the identity providers (started once per module) and the
organisations whose providers point at them."""

from __future__ import annotations

import pytest

from learning.accounts.models import Organisation
from learning.extensions import db
from learning.sso import services
from tests.sso_idps import OidcProvider, SamlIdp


@pytest.fixture(scope="module")
def oidc_idp():
    provider = OidcProvider()
    provider.users["ana"] = {"sub": "ana-1", "email": "ana@banco.example", "email_verified": True,
                             "name": "Ana Gómez", "groups": ["lms-trainers"]}
    provider.users["unverified"] = {"sub": "bo-2", "email": "bo@banco.example", "email_verified": False,
                                    "name": "Bo"}
    provider.users["outsider"] = {"sub": "eve-3", "email": "eve@elsewhere.example", "email_verified": True,
                                  "name": "Eve"}
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def saml_idp(tmp_path_factory):
    idp = SamlIdp(tmp_path_factory.mktemp("saml"))
    idp.users["jean"] = {"email": "jean@justice.example", "name": "Jean Dupont", "groups": ["managers"]}
    idp.users["outsider"] = {"email": "eve@elsewhere.example", "name": "Eve"}
    yield idp
    idp.stop()


@pytest.fixture
def bank(app_context, oidc_idp):
    oidc_idp.reset()
    org = Organisation(name="Banco Andino", country="CO", sector="finance")
    db.session.add(org)
    provider = services.create_provider(
        kind="oidc", slug="banco-andino", name="Banco Andino", organisation=org, domains=["banco.example"],
        settings={"discovery_url": oidc_idp.discovery_url, "client_id": oidc_idp.client_id},
        client_secret=oidc_idp.client_secret, role_groups={"trainer": "lms-trainers"})
    db.session.commit()
    oidc_idp.redirect_uris.append("http://localhost/auth/sso/banco-andino/oidc/callback")
    return provider


@pytest.fixture
def ministry(app_context, client, saml_idp):
    """The ministry's SAML provider; the IdP trusts the metadata our SP publishes (as its admin would load it)."""
    saml_idp.reset()
    org = Organisation(name="Ministère de la Justice", country="SN", sector=None)
    db.session.add(org)
    provider = services.create_provider(
        kind="saml", slug="justice", name="Ministère de la Justice", organisation=org, domains=["justice.example"],
        settings={"idp_metadata": saml_idp.metadata}, trust_email=True, role_groups={"org_manager": "managers"})
    db.session.commit()
    response = client.get("/auth/sso/justice/saml/metadata")
    assert response.status_code == 200 and b"AssertionConsumerService" in response.data
    saml_idp.trust_sp(response.get_data(as_text=True))
    return provider
