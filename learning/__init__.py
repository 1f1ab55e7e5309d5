"""The learning platform: an application factory made of small ``register_*`` steps."""

from __future__ import annotations

from types import FunctionType

from apiflask import APIFlask
from flask import Flask

from learning.config import load_config


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
    remember_sync_functions(app)
    register_extensions(app)
    register_models(app)
    register_blueprints(app)
    register_errors(app)
    register_security(app)
    register_cli(app)
    register_celery(app)
    register_features(app)
    register_operations(app)
    register_transactions(app)
    return app


def remember_sync_functions(app: Flask, limit: int = 2000) -> None:
    """Flask asks ``ensure_sync`` about every hook and view on every request (thirteen on the learner's
    hot path), and each time ``inspect.iscoroutinefunction`` looks at the function again; the answer for
    a given function never changes, so it is kept (docs/PERFORMANCE.md, helper "hotauth"). Only plain
    functions Flask returns unchanged (a ``def``, not an ``async def``) are kept, and at most ``limit`` of
    them (hooks and views are registered once; a bound method, which would keep its object alive, or
    anything past the limit is simply asked again)."""
    checked: set = set()
    ask = app.ensure_sync

    def ensure_sync(func):
        try:
            if func in checked:
                return func
        except TypeError:  # not hashable: asked every time
            return ask(func)
        answer = ask(func)
        if answer is func and type(func) is FunctionType and len(checked) < limit:
            checked.add(func)
        return answer

    app.ensure_sync = ensure_sync


def register_transactions(app: Flask) -> None:
    """Last: every view, whoever registered it, commits once at the end or rolls back."""
    from learning.transactions import register_unit_of_work

    register_unit_of_work(app)


def register_operations(app: Flask) -> None:
    from learning.observability import register_observability

    register_observability(app)


def register_extensions(app: Flask) -> None:
    from learning import compression
    from learning.accounts.sessions import load_session_user
    from learning.extensions import babel, csrf, db, limiter, login_manager, migrate
    from learning.i18n import (
        register_language_choice,
        register_template_helpers,
        select_locale,
        select_timezone,
    )

    compression.init_app(app)  # first: its after_request hooks run last, on the final answer
    db.init_app(app)
    with app.app_context():
        from learning.db_liveness import check_on_checkout, prepare_marked_statements

        check_on_checkout(db.engine)  # in place of pool_pre_ping's round trip (learning/config.py)
        prepare_marked_statements(db.engine)  # the hot statements prepared at once
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
    """Import every model so that metadata (and Alembic) sees the whole schema, and make their mappers
    ready now: SQLAlchemy otherwise configures them all on the first use of the ORM, which on the learner's
    hot path (Core statements; one ``aliased`` in the enrolment's) was the first enrolment a web worker
    served after each start or restart: ~90 ms, several times over while its threads raced for it
    (docs/PERFORMANCE.md, "Hot path, ninth pass"). Done at boot, the configured mappers are also among
    what ``gunicorn.conf.py`` freezes out of the garbage collector's sight."""
    from sqlalchemy.orm import configure_mappers

    import learning.accounts.models
    import learning.assessment.models
    import learning.audit.models
    import learning.catalogue.models
    import learning.certificates.models
    import learning.cohorts.models
    import learning.enrolment.models
    import learning.evaluations.models
    import learning.lti.models
    import learning.organisations.models
    import learning.outbox.models
    import learning.reminders.models
    import learning.reporting.models
    import learning.sso.models  # noqa: F401

    configure_mappers()


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
    from learning.celery_app import celery_init_app

    celery_init_app(app)


def register_features(app: Flask) -> None:
    """Each feature's ``init_app``: its session hooks, outbox handlers, signal receivers and Celery tasks.

    A new feature with background work or session hooks adds its ``init_app`` here. The outbox comes
    first: the others register their handlers in its registry.
    """
    from learning import (
        accounts,
        audit,
        catalogue,
        certificates,
        cohorts,
        enrolment,
        evaluations,
        lti,
        mail,
        organisations,
        outbox,
        reminders,
        reporting,
        sso,
        xapi,
    )

    outbox.init_app(app)
    mail.init_app(app)
    accounts.init_app(app)
    audit.init_app(app)
    catalogue.init_app(app)
    enrolment.init_app(app)
    cohorts.init_app(app)
    certificates.init_app(app)
    reminders.init_app(app)
    reporting.init_app(app)
    xapi.init_app(app)
    organisations.init_app(app)
    sso.init_app(app)
    lti.init_app(app)
    evaluations.init_app(app)
