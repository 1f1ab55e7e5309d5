"""``flask --app learning lti ...``: an admin registers the partners' LMSs that launch our courses, and
removes them or their resource links."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from learning.cli import refusals_as_errors
from learning.extensions import db

lti_cli = AppGroup("lti", help="LTI 1.3: the learning platforms (Moodle, Canvas, Open edX) that launch our courses.")


@lti_cli.command("add-platform")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. https://moodle.example.org")
@click.option("--client-id", required=True, help="The client id the platform gave the tool")
@click.option("--jwks-url", "key_set_url", required=True, help="The platform's public keyset URL")
@click.option("--auth-url", "auth_login_url", required=True, help="The platform's OIDC authentication request URL")
@click.option("--token-url", "auth_token_url", required=True, help="The platform's access token URL")
@click.option("--token-audience", "auth_token_audience", default=None,
              help="The aud of our client assertions, when the platform wants another than the token URL")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True, help="A deployment id; repeat")
@click.option("--organisation", default=None, help="The exact name of the organisation its people belong to")
@click.option("--name", default=None, help="Shown to admins, e.g. 'Police Academy Moodle'")
@click.option("--instructors-are-trainers/--no-instructors-are-trainers", default=True, show_default=True,
              help="Whether the platform's instructors run their context's cohort here")
def add_platform(issuer, client_id, key_set_url, auth_login_url, auth_token_url, auth_token_audience,
                 deployment_ids, organisation, name, instructors_are_trainers):
    """Register a platform (its issuer, client id, keyset, endpoints and deployment ids)."""
    from learning.lti.services import create_platform, describe

    platform = _run(lambda: create_platform(
        issuer=issuer, client_id=client_id, key_set_url=key_set_url, auth_login_url=auth_login_url,
        auth_token_url=auth_token_url, auth_token_audience=auth_token_audience,
        deployment_ids=list(deployment_ids), name=name,
        organisation=_organisation(organisation) if organisation else None,
        instructors_are_trainers=instructors_are_trainers))
    click.echo(json.dumps(describe(platform), indent=2, ensure_ascii=False, default=str))


@lti_cli.command("list")
def list_platforms():
    """Every registered platform."""
    from learning.lti.services import describe
    from learning.lti.services import list_platforms as platforms

    click.echo(json.dumps([describe(p) for p in platforms()], indent=2, ensure_ascii=False, default=str))


@lti_cli.command("remove-platform")
@click.argument("platform_id", type=int)
@click.option("--cascade", is_flag=True,
              help="Also remove the resource links, contexts and account links its launches left (the accounts "
                   "and their enrolments stay); without it a platform that has any is refused")
def remove_platform(platform_id, cascade):
    """Remove a registered platform: its launches are refused from now on."""
    from learning.lti.removal import remove_platform as remove
    from learning.lti.services import get_platform

    removed = _run(lambda: remove(None, get_platform(platform_id), cascade=cascade))
    click.echo(f"Removed platform {platform_id} ({removed.resource_links} resource links, "
               f"{removed.linked_accounts} linked accounts with it).")


@lti_cli.command("links")
@click.argument("platform_id", type=int)
def list_links(platform_id):
    """The resource links launched from a platform."""
    from learning.lti.removal import described_links
    from learning.lti.services import get_platform

    links, _total = _run(lambda: described_links(get_platform(platform_id)), commit=False)
    click.echo(json.dumps(links, indent=2, ensure_ascii=False, default=str))


@lti_cli.command("remove-link")
@click.argument("link_id", type=int)
def remove_link(link_id):
    """Remove a resource link: its scores are no longer sent (a new launch of it registers it again)."""
    from learning.lti.removal import get_resource_link, remove_resource_link

    _run(lambda: remove_resource_link(None, get_resource_link(link_id)))
    click.echo(f"Removed resource link {link_id}.")


def _run(action, commit: bool = True):
    """``action()``, committed; a refusal is the command's error message, with nothing changed."""
    with refusals_as_errors():
        result = action()
    if commit:
        db.session.commit()
    return result


@lti_cli.command("rotate-key")
def rotate_key():
    """Sign with a new RSA key from now on (the old one stays in /lti/jwks for what it signed)."""
    from learning.lti.keys import rotate_key as rotate

    kid = rotate()
    db.session.commit()
    click.echo(f"Now signing with {kid}.")


def _organisation(name: str):
    from sqlalchemy import func, select

    from learning.accounts.models import Organisation

    org = db.session.scalar(select(Organisation).where(func.lower(Organisation.name) == name.strip().lower()))
    if org is None:
        raise click.ClickException(f"No organisation is called {name!r}.")
    return org
