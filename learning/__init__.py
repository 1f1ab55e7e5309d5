"""The learning platform: an application factory made of small ``register_*`` steps."""

from __future__ import annotations

from apiflask import APIFlask
from flask import Flask

from learning.config import load_config

FEATURE_MODULES = (
    "learning.accounts",
    "learning.catalogue",
    "learning.enrolment",
    "learning.cohorts",
    "learning.certificates",
    "learning.reminders",
    "learning.reporting",
)


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with ``config`` overriding (tests use it)."""
    app = APIFlask(
        __name__,
        title="Learning platform API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
        json_errors=False,
        instance_relative_config=False,
        static_folder="../static",
        template_folder="../templates",
    )
    app.config.update(load_config())
    if config:
        app.config.update(config)
    register_extensions(app)
    register_models(app)
    register_blueprints(app)
    register_errors(app)
    register_security(app)
    register_cli(app)
    register_celery(app)
    register_operations(app)
    return app


def register_operations(app: Flask) -> None:
    from learning.observability import register_observability

    register_observability(app)


def register_extensions(app: Flask) -> None:
    from learning.accounts.services import load_session_user
    from learning.extensions import babel, csrf, db, limiter, login_manager, migrate
    from learning.i18n import (
        register_language_choice,
        register_template_helpers,
        select_locale,
        select_timezone,
    )

    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.user_loader(load_session_user)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "learning")
    limiter.init_app(app)  # before CSRF, so that floods are limited before any other check
    csrf.init_app(app)
    register_template_helpers(app)
    register_language_choice(app)


def register_models(app: Flask) -> None:
    """Import every model so that metadata (and Alembic) sees the whole schema."""
    import importlib

    for module in FEATURE_MODULES + ("learning.outbox", "learning.audit"):
        importlib.import_module(f"{module}.models")


def register_blueprints(app: Flask) -> None:
    from learning.api import register_api
    from learning.security import DatabaseIdConverter
    from learning.views import register_views

    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    register_views(app)
    register_api(app)


def register_errors(app: Flask) -> None:
    from learning.errors import register_error_handlers

    register_error_handlers(app)


def register_security(app: Flask) -> None:
    from learning.security import register_security_headers

    register_security_headers(app)


def register_cli(app: Flask) -> None:
    from learning.cli import register_commands

    register_commands(app)


def register_celery(app: Flask) -> None:
    import importlib

    from learning.celery_app import celery_init_app

    celery_init_app(app)
    # Importing the task modules registers tasks and outbox handlers.
    for module in ("learning.outbox.tasks", "learning.mail.services", *[f"{m}.tasks" for m in FEATURE_MODULES]):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
