"""The member's check-in page at ``/check-in``: type the code on the screen, or open the QR code's link.

Works without JavaScript: a plain form. Any signed-in person may open it; the service refuses
someone who is not a member of the session's cohort.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from learning.cohorts import checkin
from learning.cohorts.forms import CheckInForm
from learning.errors import DomainError
from learning.extensions import db, limiter
from learning.i18n import isolate

bp = Blueprint("checkin", __name__, url_prefix="/check-in")


def _limit() -> str:
    return current_app.config["CHECK_IN_RATE_LIMIT"]


@bp.route("", methods=["GET", "POST"])
@login_required
@limiter.limit(_limit, key_func=checkin.rate_limit_key, methods=["POST"])
def page():
    form = CheckInForm()
    if request.method == "GET" and request.args.get("code"):
        form.code.data = checkin.normalise(request.args["code"])[:40]
    if form.validate_on_submit():
        try:
            result = checkin.check_in(current_user, form.code.data)
        except DomainError as error:
            db.session.rollback()
            form.code.errors = [*form.code.errors, error.message]
            return render_template("cohorts/check_in.html", form=form), error.status
        flash(_("You are checked in to %(session)s of %(cohort)s.",
                session=isolate(result.session.title or _("the session")), cohort=isolate(result.cohort.name)),
              "success")
        return redirect(url_for("checkin.page"))
    return render_template("cohorts/check_in.html", form=form), 422 if form.errors else 200
