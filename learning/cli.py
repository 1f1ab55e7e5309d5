"""Command-line tools: ``flask --app learning users create``, ``seed-demo``, ``outbox``."""

from __future__ import annotations

from contextlib import contextmanager

import click
from flask import Flask
from flask.cli import AppGroup

from learning.errors import DomainError
from learning.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@contextmanager
def refusals_as_errors():
    """A refusal (``DomainError``) inside becomes the command's error message, with nothing changed."""
    try:
        yield
    except DomainError as error:
        db.session.rollback()
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in (error.fields or {}).items())
        raise click.ClickException(f"{error.message} {details}".strip()) from error


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--name", "full_name", required=True)
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 code, e.g. CO")
@click.option("--sector", required=True, help="A sector code, e.g. law_enforcement")
@click.option("--language", default="en", show_default=True)
@click.option("--organisation", default=None)
@click.option("--role", "roles", multiple=True, type=click.Choice(["learner", "trainer", "admin"]),
              help="Repeat for several roles.")
def create_user_command(email, password, full_name, country, sector, language, organisation, roles):
    """Create an account (for example the first admin); the address counts as verified."""
    from learning.accounts.services import register_user
    from learning.models_base import utcnow

    with refusals_as_errors():
        user = register_user(
            {"email": email, "password": password, "full_name": full_name, "country": country,
             "sector": sector, "language": language, "organisation": organisation},
            roles=list(roles), send_verification=False,
        )
    user.email_verified_at = utcnow()
    db.session.commit()
    click.echo(f"Created user {user.id} <{user.email}> with roles {', '.join(user.roles)}.")


@click.command("seed-demo")
@click.option("--learners", default=400, show_default=True, help="How many professionals to create.")
@click.option("--seed", default=2026, show_default=True, help="Random seed, for repeatable data.")
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already has courses.")
@click.option("--leave-events", is_flag=True,
              help="Leave the completions' events to the worker instead of issuing the certificates here.")
def seed_demo_command(learners: int, seed: int, if_empty: bool, leave_events: bool):
    """Fill the database with realistic demo data."""
    from learning.demo import database_is_empty, seed_demo

    if if_empty and not database_is_empty():
        click.echo("The database already has data; nothing seeded.")
        return
    summary = seed_demo(learners=learners, seed=seed, progress=True, certificates=not leave_events)
    click.echo(
        "Seeded {courses} courses, {users} people in {countries} countries, {cohorts} cohorts, "
        "{enrolments} enrolments, {completions} completions.".format(**summary)
    )
    click.echo("Sign in as admin@demo.learning / demo-admin-password (and trainer@demo.learning / demo-trainer-password).")


outbox_cli = AppGroup("outbox", help="Inspect and replay outbox events.")


@outbox_cli.command("status")
def outbox_status():
    """Count events by status."""
    from sqlalchemy import func, select

    from learning.outbox.models import OutboxEvent

    rows = db.session.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all()
    for status, count in rows:
        click.echo(f"{status}: {count}")


@outbox_cli.command("drain")
def outbox_drain():
    """Handle every pending event in this process (for maintenance; the worker normally does it)."""
    from sqlalchemy import select

    from learning.outbox import services
    from learning.outbox.models import OutboxEvent

    ids = db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.status == "pending").order_by(OutboxEvent.id)).all()
    db.session.rollback()
    with click.progressbar(ids, label="Handling events") as bar:
        for event_id in bar:
            services.process(event_id)
    click.echo(f"Handled {len(ids)} events.")


def register_commands(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(outbox_cli)
    from learning.sso.cli import sso_cli

    app.cli.add_command(sso_cli)
    from learning.lti.cli import lti_cli

    app.cli.add_command(lti_cli)
