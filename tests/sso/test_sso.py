"""Single sign-on against real identity providers running in the tests (tests/sso_idps.py):
the flows through the test client, and each refusal leaving nothing behind."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import delete, func, select

from learning.accounts.models import Organisation, User
from learning.audit.models import AuditEntry
from learning.extensions import db
from learning.sso import services
from learning.sso.models import SsoIdentity, SsoReplay
from tests import factories, sso_fixtures

# The shared fixtures, by name (pytest finds them in the module).
bank, ministry, oidc_idp, saml_idp = (sso_fixtures.bank, sso_fixtures.ministry, sso_fixtures.oidc_idp,
                                      sso_fixtures.saml_idp)


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


def failures() -> list[dict]:
    db.session.expire_all()
    return [e.details for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.sign_in_failed").order_by(AuditEntry.id))]


def oidc_round_trip(client, idp, username="ana"):
    """Start at our login URL, sign in at the IdP, and come back: the callback's response."""
    start = client.get("/auth/sso/banco-andino/login?login_hint=x@banco.example")
    assert start.status_code == 302 and start.location.startswith(idp.url)
    at_idp = requests.post(start.location, data={"username": username}, allow_redirects=False, timeout=10)
    assert at_idp.status_code == 302, at_idp.text
    back = urlsplit(at_idp.headers["Location"])
    return client.get(f"{back.path}?{back.query}"), f"{back.path}?{back.query}"


def saml_round_trip(client, idp, username="jean", before_post=None):
    start = client.get("/auth/sso/justice/login")
    assert start.status_code == 302 and start.location.startswith(idp.url)
    query = dict(p.split("=", 1) for p in urlsplit(start.location).query.split("&"))
    from urllib.parse import unquote

    encoded, destination = idp.respond(unquote(query["SAMLRequest"]), username)
    assert urlsplit(destination).path == "/auth/sso/justice/saml/acs"
    if before_post:
        before_post()
    posted = client.post(urlsplit(destination).path, data={"SAMLResponse": encoded})
    if posted.status_code != 303:
        return posted, encoded
    assert posted.location.startswith("/auth/sso/justice/saml/complete?ticket=")
    return client.get(posted.location), encoded


# --- OpenID Connect --------------------------------------------------------------------------

def test_oidc_first_sign_in_creates_the_account_with_the_organisation_and_mapped_role(client, bank, oidc_idp):
    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302, response.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.email == "ana@banco.example"))
    assert user.full_name == "Ana Gómez" and user.organisation.name == "Banco Andino"
    assert (user.country, user.sector) == ("CO", "finance") and user.email_verified_at is not None
    assert user.is_trainer and not user.is_org_manager and user.password_hash is None
    assert client.get("/account/profile").status_code == 200  # signed in through a server-side session
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(user.id))).all()
    assert "user.signed_in" in actions

    again, _ = oidc_round_trip(client, oidc_idp)
    assert again.status_code == 302 and users() == 1
    assert db.session.scalar(select(func.count()).select_from(SsoIdentity)) == 1


def test_oidc_links_an_existing_account_only_through_a_verified_email(client, bank, oidc_idp):
    existing = factories.user(email="bo@banco.example")
    db.session.commit()
    response, _ = oidc_round_trip(client, oidc_idp, "unverified")
    assert response.status_code == 403
    assert "did not confirm the address" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SsoIdentity)) == 0
    assert failures()[-1]["reason"] == "email_not_verified"

    oidc_idp.claim_overrides = {"email_verified": True}
    response, _ = oidc_round_trip(client, oidc_idp, "unverified")
    assert response.status_code == 302
    identity = db.session.scalar(select(SsoIdentity))
    assert identity.user_id == existing.id and users() == 1


@pytest.mark.parametrize(("knob", "reason"), [
    ("break_signature", "bad_signature"),
    ("foreign_key", "bad_signature"),
    ("aud", "wrong_audience"),
    ("iss", "wrong_issuer"),
    ("exp", "expired"),
    ("nonce", "bad_nonce"),
])
def test_oidc_refuses_a_bad_id_token_and_creates_nothing(client, bank, oidc_idp, knob, reason):
    from joserfc.jwk import RSAKey

    if knob == "break_signature":
        oidc_idp.break_signature = True
    elif knob == "foreign_key":
        oidc_idp.sign_with = RSAKey.generate_key(2048, private=True)
    elif knob == "aud":
        oidc_idp.claim_overrides = {"aud": ["someone-else"]}
    elif knob == "iss":
        oidc_idp.claim_overrides = {"iss": "https://evil.example"}
    elif knob == "exp":
        oidc_idp.claim_overrides = {"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}
    elif knob == "nonce":
        oidc_idp.claim_overrides = {"nonce": "not-the-one-we-sent"}
    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 403
    assert "Sign-in refused" in response.get_data(as_text=True)
    assert users() == 0 and client.get("/account/profile").status_code == 302
    assert failures()[-1] == {"reason": reason, "method": "sso", "provider": "banco-andino"}


def test_oidc_refuses_an_address_of_a_domain_not_routed_to_the_provider(client, bank, oidc_idp):
    response, _ = oidc_round_trip(client, oidc_idp, "outsider")
    assert response.status_code == 403
    assert "does not sign in through this organisation" in response.get_data(as_text=True)
    assert users() == 0
    assert failures()[-1]["reason"] == "unrouted_domain" and failures()[-1]["email"] == "eve@elsewhere.example"


def test_oidc_refuses_a_replayed_callback_and_a_forged_state(client, bank, oidc_idp):
    response, callback = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302 and users() == 1
    with client.session_transaction() as s:
        s.clear()
    replay = client.get(callback)
    assert replay.status_code == 403 and failures()[-1]["reason"] == "bad_state"

    other = client.application.test_client()
    other.get("/auth/sso/banco-andino/login")
    forged = other.get(callback.replace("state=", "state=x"))
    assert forged.status_code == 403 and failures()[-1]["reason"] == "bad_state"
    assert users() == 1


def test_the_oidc_nonce_is_used_once(client, bank, oidc_idp):
    from learning.sso import oidc

    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302
    token = oidc_idp.last_id_token
    meta = oidc.metadata(bank)
    claims = oidc.verify_id_token(bank, meta, token, nonce=__import__("joserfc").jwt.decode(
        token, oidc._keys(meta["jwks_uri"])).claims["nonce"])
    with pytest.raises(services.SsoRefused) as refused:
        services.consume_once(f"oidc:{bank.id}:{claims['nonce']}", __import__("datetime").datetime.now(
            __import__("datetime").timezone.utc))
    assert refused.value.reason == "replayed"


def test_the_organisation_page_routes_an_address_to_its_provider(client, bank):
    page = client.get("/auth/sso/?email=Ana@Banco.Example")
    assert page.status_code == 302 and page.location.startswith("/auth/sso/banco-andino/login")
    unknown = client.get("/auth/sso/?email=x@nowhere.example")
    assert unknown.status_code == 422 and "No organisation signs in with this address" in unknown.get_data(as_text=True)
    assert client.get("/auth/sso/nope/login").status_code == 404


# --- SAML 2.0 --------------------------------------------------------------------------------

def test_saml_first_sign_in_creates_the_account_and_asks_for_the_missing_sector(client, ministry, saml_idp):
    response, _ = saml_round_trip(client, saml_idp)
    assert response.status_code == 302 and response.location.endswith("/account/profile")
    user = db.session.scalar(select(User).where(User.email == "jean@justice.example"))
    assert user.organisation.name == "Ministère de la Justice" and user.country == "SN" and user.sector is None
    assert user.is_org_manager and [o.name for o in user.managed_organisations] == ["Ministère de la Justice"]


@pytest.mark.parametrize(("knob", "reason"), [
    ("tamper", "bad_signature"),
    ("audience", "wrong_audience"),
    ("expired", "expired"),
])
def test_saml_refuses_a_bad_response_and_creates_nothing(client, ministry, saml_idp, knob, reason, monkeypatch):
    import saml2.time_util

    later = None
    if knob == "tamper":
        saml_idp.tamper = ("Jean Dupont", "Mallory")
    elif knob == "audience":
        saml_idp.audience = "https://someone-else.example/sp"
    elif knob == "expired":
        # Delivered ten minutes after it was issued, with its five minutes of life (and our minute of slack) gone.
        real = saml2.time_util.utc_now
        later = lambda: monkeypatch.setattr(saml2.time_util, "utc_now", lambda: real() + 600)  # noqa: E731
    response, _ = saml_round_trip(client, saml_idp, before_post=later)
    assert response.status_code == 403, response.get_data(as_text=True)
    assert users() == 0
    assert failures()[-1]["reason"] == reason


def test_saml_refuses_a_replayed_assertion_whoever_posts_it(client, ministry, saml_idp):
    response, encoded = saml_round_trip(client, saml_idp)
    assert response.status_code == 302 and users() == 1
    for poster in (client, client.application.test_client()):
        replay = poster.post("/auth/sso/justice/saml/acs", data={"SAMLResponse": encoded})
        assert replay.status_code == 403 and failures()[-1]["reason"] == "replayed"
    assert users() == 1


def test_saml_refuses_an_unrouted_domain_and_an_unsolicited_response(client, ministry, saml_idp):
    response, encoded = saml_round_trip(client, saml_idp, "outsider")
    assert response.status_code == 403 and failures()[-1]["reason"] == "unrouted_domain"
    assert "does not sign in through this organisation" in response.get_data(as_text=True)

    def request_forgotten():  # as if it were older than ten minutes, or never ours
        db.session.execute(delete(SsoReplay).where(SsoReplay.key.like("saml-request:%")))
        db.session.commit()

    response, _ = saml_round_trip(client, saml_idp, before_post=request_forgotten)
    assert response.status_code == 403 and failures()[-1]["reason"] == "unsolicited"
    assert users() == 0


def test_saml_refuses_a_response_finished_in_another_browser(client, ministry, saml_idp):
    start = client.get("/auth/sso/justice/login")
    from urllib.parse import parse_qs

    saml_request = parse_qs(urlsplit(start.location).query)["SAMLRequest"][0]
    encoded, destination = saml_idp.respond(saml_request, "jean")
    victim = client.application.test_client()  # the attacker makes someone else's browser post it
    posted = victim.post(urlsplit(destination).path, data={"SAMLResponse": encoded})
    assert posted.status_code == 303
    finished = victim.get(posted.location)
    assert finished.status_code == 403 and failures()[-1]["reason"] == "browser_mismatch"
    assert users() == 0
    ticket = posted.location.split("ticket=")[1]
    assert "jean" not in ticket.lower() and "justice" not in ticket.lower()  # encrypted: nothing to read in logs
    tampered = client.get("/auth/sso/justice/saml/complete?ticket=" + ticket[:-3] + "abc")
    assert tampered.status_code == 403 and failures()[-1]["reason"] == "bad_ticket"
    assert users() == 0


def test_admin_sees_the_providers_without_their_secrets(client, bank, oidc_idp):
    admin = factories.admin()
    db.session.commit()
    from tests.factories_certificates import sign_in

    sign_in(client, admin)
    page = client.get("/admin/sso/").get_data(as_text=True)
    assert "Banco Andino" in page and "banco.example" in page and oidc_idp.client_secret not in page


def test_the_cli_adds_an_oidc_provider_and_never_prints_the_secret(runner, app_context, oidc_idp):
    db.session.add(Organisation(name="Policía Nacional", country="CO", sector="law_enforcement"))
    db.session.commit()
    result = runner.invoke(args=["sso", "add-oidc", "--slug", "policia", "--name", "Policía (Entra ID)",
                                 "--organisation", "policía nacional", "--domain", "policia.example",
                                 "--discovery-url", oidc_idp.discovery_url, "--client-id", "abc",
                                 "--role-group", "trainer=Formadores"],
                           env={"SSO_CLIENT_SECRET": "s3cret-value"})
    assert result.exit_code == 0, result.output
    assert '"has_client_secret": true' in result.output and "s3cret-value" not in result.output
    clash = runner.invoke(args=["sso", "add-oidc", "--slug", "policia-2", "--name", "Again", "--organisation",
                                "Policía Nacional", "--domain", "policia.example", "--discovery-url",
                                oidc_idp.discovery_url, "--client-id", "abc"], env={"SSO_CLIENT_SECRET": "x"})
    assert clash.exit_code != 0 and "already sign in elsewhere" in clash.output
    bad = runner.invoke(args=["sso", "add-oidc", "--slug", "x", "--name", "X", "--organisation", "Policía Nacional",
                              "--domain", "not a domain", "--client-id", "abc", "--role-group", "admin=all"],
                        env={"SSO_CLIENT_SECRET": "x"})
    assert bad.exit_code != 0 and "slug" in bad.output and "domains" in bad.output and "role_groups" in bad.output


def test_a_disabled_provider_signs_nobody_in(runner, client, bank):
    assert runner.invoke(args=["sso", "disable", "banco-andino"]).exit_code == 0
    assert client.get("/auth/sso/banco-andino/login").status_code == 404
    assert client.get("/auth/sso/?email=ana@banco.example").status_code == 422
    assert runner.invoke(args=["sso", "enable", "banco-andino"]).exit_code == 0
    assert client.get("/auth/sso/banco-andino/login").status_code == 302


def test_erasure_removes_the_link_to_the_idp(client, bank, oidc_idp):
    from learning.accounts.privacy import erase_user

    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "ana@banco.example"))
    assert erase_user(user.id) is True
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SsoIdentity)) == 0
    # Signing in again at the bank makes a new account: the erased one is never reached again.
    fresh = client.application.test_client()
    again, _ = oidc_round_trip(fresh, oidc_idp)
    assert again.status_code == 302
    accounts = db.session.scalars(select(User).where(User.email == "ana@banco.example")).all()
    assert len(accounts) == 1 and accounts[0].id != user.id


def test_an_admin_adds_a_provider_on_the_admin_page_and_the_secret_is_never_shown(client, app_context, oidc_idp):
    from tests.factories_certificates import sign_in

    admin = factories.admin()
    org = Organisation(name="Policía Nacional", country="CO", sector="law_enforcement")
    db.session.add(org)
    db.session.commit()
    sign_in(client, admin)
    form = {"kind": "oidc", "name": "Policía (Entra ID)", "slug": "policia", "organisation": str(org.id),
            "domains": "policia.example\nPOLICIA.example\nmindefensa.example", "discovery_url": oidc_idp.discovery_url,
            "client_id": "abc", "client_secret": "s3cret-value", "groups_claim": "groups",
            "trainer_group": "Formadores", "org_manager_group": ""}
    bad = client.post("/admin/sso/new", data={**form, "slug": "X", "domains": "not a domain"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "lower-case letters" in page and "is not a domain name" in page and "s3cret-value" not in page
    assert services.list_providers() == []

    added = client.post("/admin/sso/new", data=form)
    assert added.status_code == 302
    provider = services.get_provider("policia")
    assert [d.domain for d in provider.domains] == ["mindefensa.example", "policia.example"]
    assert provider.role_groups == {"trainer": "Formadores"} and provider.client_secret == "s3cret-value"
    listing = client.get("/admin/sso/").get_data(as_text=True)
    assert "Policía (Entra ID)" in listing and "s3cret-value" not in listing

    assert client.post(f"/admin/sso/{provider.id}/enabled", data={"enabled": "0"}).status_code == 302
    assert client.get("/auth/sso/policia/login").status_code == 404
    assert client.post(f"/admin/sso/{provider.id}/enabled", data={"enabled": "1"}).status_code == 302
    assert client.get("/auth/sso/policia/login").status_code == 302


def test_a_person_with_two_factor_sign_in_still_gives_the_code(client, bank, oidc_idp):
    import pyotp

    existing = factories.user(email="ana@banco.example")
    existing.totp_secret = pyotp.random_base32()
    db.session.commit()
    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302 and response.location.startswith("/account/login/code")
    assert client.get("/account/profile").status_code == 302  # not signed in yet
    code = client.post(response.location, data={"code": pyotp.TOTP(existing.totp_secret).now()})
    assert code.status_code == 302
    assert client.get("/account/profile").status_code == 200


def test_the_personal_data_download_names_the_linked_organisation_sign_in(client, bank, oidc_idp):
    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302
    data = client.get("/account/data.json").get_json()
    assert [(s["provider"], s["subject"]) for s in data["single_sign_on"]] == [("Banco Andino", "ana-1")]


def test_a_new_account_keeps_the_language_the_person_is_using(client, bank, oidc_idp):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR,fr;q=0.9"
    response, _ = oidc_round_trip(client, oidc_idp)
    assert response.status_code == 302
    assert db.session.scalar(select(User.language).where(User.email == "ana@banco.example")) == "fr"


def test_outside_the_tests_a_provider_must_be_reached_over_https(app_context, monkeypatch):
    from learning.errors import ValidationFailed

    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    org = Organisation(name="Banco Andino")
    db.session.add(org)
    with pytest.raises(ValidationFailed) as refused:
        services.create_provider(kind="oidc", slug="banco", name="Banco", organisation=org, domains=["banco.example"],
                                 settings={"discovery_url": "http://idp.banco.example/.well-known/openid-configuration",
                                           "client_id": "abc"}, client_secret="s")
    assert "discovery_url" in refused.value.fields
