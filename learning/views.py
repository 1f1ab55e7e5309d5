"""Registers the HTML blueprint of every feature, and the home page."""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask, render_template

from learning.models_base import utcnow

FEATURE_VIEWS = (
    "learning.accounts.views",
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


def register_views(app: Flask) -> None:
    home_bp.enable_openapi = False
    app.register_blueprint(home_bp)

    @app.context_processor
    def navigation_helpers():
        # Lets the layout link only to features that are installed.
        return {"url_rules": app.view_functions, "now_year": lambda: utcnow().year}

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
