"""Registers the HTML blueprint of every feature, and the home page."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, send_from_directory
from flask_babel import gettext as _

from learning.models_base import utcnow

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
            ("audit.index", _("Audit log")),
            ("sso_admin.index", _("Single sign-on")), ("lti_admin.admin_index", _("Learning platforms (LTI)"))]


def register_views(app: Flask) -> None:
    home_bp.enable_openapi = False
    app.register_blueprint(home_bp)

    @app.context_processor
    def navigation_helpers():
        # Lets the layout link only to features that are in the app.
        return {"url_rules": app.view_functions, "now_year": lambda: utcnow().year, "admin_nav": admin_nav}

    from learning.accounts.admin_views import bp as admin_users
    from learning.accounts.views import bp as accounts
    from learning.assessment.views import bp as assessment
    from learning.audit.views import bp as audit
    from learning.catalogue.views import bp as catalogue
    from learning.certificates.views import bp as certificates
    from learning.cohorts.checkin_views import bp as checkin
    from learning.cohorts.views import bp as cohorts
    from learning.enrolment.views import bp as enrolment
    from learning.evaluations.views import bp as evaluations
    from learning.lti.views import admin_bp as lti_admin
    from learning.lti.views import bp as lti
    from learning.offline_views import bp as offline
    from learning.organisations.views import bp as organisations
    from learning.reminders.views import bp as reminders
    from learning.reporting.views import bp as reporting
    from learning.sso.views import admin_bp as sso_admin
    from learning.sso.views import bp as sso

    for blueprint in (accounts, admin_users, catalogue, enrolment, cohorts, checkin, certificates, reminders, reporting,
                      audit, organisations, offline, assessment):
        blueprint.enable_openapi = False  # HTML pages are not part of the API document
        app.register_blueprint(blueprint)
    for blueprint in (sso, sso_admin, lti, lti_admin, evaluations):
        blueprint.enable_openapi = False
        app.register_blueprint(blueprint)
