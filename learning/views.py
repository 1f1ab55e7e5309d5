"""Registers the HTML blueprint of every feature, and the home page."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask, current_app, render_template, send_from_directory
from flask_babel import gettext as _

from learning.models_base import utcnow

FEATURE_VIEWS = (
    "learning.accounts.views",
    "learning.accounts.admin_views",
    "learning.catalogue.views",
    "learning.enrolment.views",
    "learning.cohorts.views",
    "learning.certificates.views",
    "learning.reminders.views",
    "learning.reporting.views",
    "learning.audit.views",
)

home_bp = Blueprint("home", __name__)


@home_bp.get("/")
def index():
    return render_template("home.html")


@home_bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it at the root whatever the page says."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=7 * 24 * 3600)


def admin_nav() -> list[tuple[str, str]]:
    """The admins' pages, in the order of the administration menu (each shown if its feature is installed)."""
    return [("catalogue.manage", _("Manage courses")), ("certificates.admin", _("Certificates")),
            ("admin_users.index", _("People")), ("reporting.dashboard", _("Statistics")),
            ("audit.index", _("Audit log"))]


def register_views(app: Flask) -> None:
    home_bp.enable_openapi = False
    app.register_blueprint(home_bp)

    @app.context_processor
    def navigation_helpers():
        # Lets the layout link only to features that are installed.
        return {"url_rules": app.view_functions, "now_year": lambda: utcnow().year, "admin_nav": admin_nav}

    for name in FEATURE_VIEWS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        # HTML pages are not part of the API document.
        module.bp.enable_openapi = False
        app.register_blueprint(module.bp)
