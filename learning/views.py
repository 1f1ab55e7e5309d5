"""Registers the HTML blueprint of every feature, and the home page."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template

from learning.models_base import utcnow

home_bp = Blueprint("home", __name__)


@home_bp.get("/")
def index():
    return render_template("home.html")


def register_views(app: Flask) -> None:
    home_bp.enable_openapi = False
    app.register_blueprint(home_bp)

    @app.context_processor
    def navigation_helpers():
        # Lets the layout link only to the pages the current app has.
        return {"url_rules": app.view_functions, "now_year": lambda: utcnow().year}

    from learning.accounts.views import bp as accounts
    from learning.audit.views import bp as audit
    from learning.catalogue.views import bp as catalogue
    from learning.certificates.views import bp as certificates
    from learning.cohorts.views import bp as cohorts
    from learning.enrolment.views import bp as enrolment
    from learning.reminders.views import bp as reminders
    from learning.reporting.views import bp as reporting

    for blueprint in (accounts, catalogue, enrolment, cohorts, certificates, reminders, reporting, audit):
        blueprint.enable_openapi = False  # HTML pages are not part of the API document
        app.register_blueprint(blueprint)
