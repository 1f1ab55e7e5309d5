"""``flask --app learning sso ...``: an admin configures the identity providers of partner organisations."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from learning.errors import DomainError
from learning.extensions import db

sso_cli = AppGroup("sso", help="Single sign-on providers of partner organisations.")


def _organisation(name: str):
    from sqlalchemy import func, select

    from learning.accounts.models import Organisation

    org = db.session.scalar(select(Organisation).where(func.lower(Organisation.name) == name.strip().lower()))
    if org is None:
        raise click.ClickException(f"No organisation is called {name!r}.")
    return org


def _roles(pairs) -> dict:
    roles = {}
    for pair in pairs:
        role, sep, group = pair.partition("=")
        if not sep:
            raise click.ClickException(f"--role-group takes ROLE=GROUP, not {pair!r}.")
        roles[role.strip()] = group.strip()
    return roles


def _create(**kwargs):
    from learning.sso.services import create_provider, describe

    try:
        provider = create_provider(**kwargs)
    except DomainError as error:
        db.session.rollback()
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in (error.fields or {}).items())
        raise click.ClickException(f"{error.message} {details}".strip()) from error
    db.session.commit()
    click.echo(json.dumps(describe(provider), indent=2, ensure_ascii=False))


common = [
    click.option("--slug", required=True, help="Short name in the URLs: /auth/sso/<slug>/login"),
    click.option("--name", required=True, help="Shown to people, e.g. 'Banco Andino (Entra ID)'"),
    click.option("--organisation", required=True, help="The organisation's exact name"),
    click.option("--domain", "domains", multiple=True, required=True, help="E-mail domain routed here; repeat"),
    click.option("--role-group", "role_groups", multiple=True,
                 help="ROLE=GROUP: members of GROUP get ROLE (trainer or org_manager); repeat"),
]


def with_common(function):
    for option in reversed(common):
        function = option(function)
    return function


@sso_cli.command("add-oidc")
@with_common
@click.option("--discovery-url", default=None, help=".../.well-known/openid-configuration")
@click.option("--issuer", default=None)
@click.option("--authorization-endpoint", default=None)
@click.option("--token-endpoint", default=None)
@click.option("--jwks-uri", default=None)
@click.option("--client-id", required=True)
@click.option("--client-secret", default=None, envvar="SSO_CLIENT_SECRET",
              help="Or set SSO_CLIENT_SECRET, which keeps it out of the shell history")
@click.option("--groups-claim", default="groups", show_default=True)
def add_oidc(slug, name, organisation, domains, role_groups, discovery_url, issuer, authorization_endpoint,
             token_endpoint, jwks_uri, client_id, client_secret, groups_claim):
    """Add an OpenID Connect provider (Entra ID, Okta, Google Workspace, Keycloak...)."""
    settings = {"discovery_url": discovery_url, "issuer": issuer, "authorization_endpoint": authorization_endpoint,
                "token_endpoint": token_endpoint, "jwks_uri": jwks_uri, "client_id": client_id,
                "groups_claim": groups_claim}
    _create(kind="oidc", slug=slug, name=name, organisation=_organisation(organisation), domains=list(domains),
            settings=settings, client_secret=client_secret, role_groups=_roles(role_groups))


@sso_cli.command("add-saml")
@with_common
@click.option("--idp-metadata", "metadata_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The IdP's metadata XML file (signing certificate, SSO URL, entity id)")
@click.option("--trust-email/--no-trust-email", default=False,
              help="The IdP's e-mail addresses are verified: they may link existing accounts")
@click.option("--email-attribute", default=None, help="Attribute carrying the address (default: mail, or NameID)")
@click.option("--name-attribute", default=None)
@click.option("--groups-attribute", default=None)
def add_saml(slug, name, organisation, domains, role_groups, metadata_path, trust_email, email_attribute,
             name_attribute, groups_attribute):
    """Add a SAML 2.0 identity provider (ADFS, Entra ID, Okta, Shibboleth...)."""
    settings = {"idp_metadata": Path(metadata_path).read_text(encoding="utf-8"), "email_attribute": email_attribute,
                "name_attribute": name_attribute, "groups_attribute": groups_attribute}
    _create(kind="saml", slug=slug, name=name, organisation=_organisation(organisation), domains=list(domains),
            settings=settings, trust_email=trust_email, role_groups=_roles(role_groups))


@sso_cli.command("list")
def list_providers():
    """Every provider, without secrets."""
    from learning.sso.services import describe
    from learning.sso.services import list_providers as providers

    click.echo(json.dumps([describe(p) for p in providers()], indent=2, ensure_ascii=False))


@sso_cli.command("disable")
@click.argument("slug")
def disable(slug):
    """Stop sign-ins through a provider (its links to accounts are kept)."""
    _set_enabled(slug, False)


@sso_cli.command("enable")
@click.argument("slug")
def enable(slug):
    """Allow sign-ins through a disabled provider again."""
    _set_enabled(slug, True)


def _set_enabled(slug: str, enabled: bool) -> None:
    from sqlalchemy import select

    from learning.audit.services import record
    from learning.sso.models import SsoProvider

    provider = db.session.scalar(select(SsoProvider).where(SsoProvider.slug == slug))
    if provider is None:
        raise click.ClickException(f"No provider is called {slug!r}.")
    provider.enabled = enabled
    record(None, "sso.provider_enabled" if enabled else "sso.provider_disabled", "sso_provider", provider.id,
           slug=slug)
    db.session.commit()
    click.echo(f"{slug}: {'enabled' if enabled else 'disabled'}")
