"""The trainer's workspace: my cohorts, a cohort's roster and progress, CSV upload, sessions,
attendance, sign-off, closing and export. Admins create cohorts and assign trainers here too.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from learning.catalogue.services import course_text
from learning.cohorts import checkin, completion, imports, services, sessions, sign_in_sheet_pdf
from learning.cohorts.forms import (
    ActionForm,
    CohortForm,
    RosterUploadForm,
    SessionForm,
    SettingsForm,
)
from learning.cohorts.roster import RosterFileInvalid, RosterTooLarge, RowError
from learning.errors import DomainError
from learning.extensions import db
from learning.i18n import current_language, isolate
from learning.models_base import utcnow
from learning.parsing import is_id, page_number, parse_id
from learning.web import apply_field_errors

bp = Blueprint("cohorts", __name__, url_prefix="/cohorts")
ROSTER_PAGE_SIZE = 100


# The two documents the API points an integrator to (API.md: the check-in code's ``qr_url``, and the
# session's sign-in sheet) also take the API's bearer token, for this request only (no session is made).
BEARER_ENDPOINTS = frozenset({"cohorts.check_in_qr", "cohorts.sign_in_sheet"})


@bp.before_request
def _bearer_for_integrators():
    header = request.headers.get("Authorization", "")
    if request.endpoint not in BEARER_ENDPOINTS or not header.lower().startswith("bearer "):
        return
    from flask import g

    from learning.accounts.tokens import user_for_token
    from learning.api.auth import refuse_without_two_factor
    from learning.errors import Unauthorized

    user = refuse_without_two_factor(user_for_token(header[7:].strip()))
    if user is None:
        raise Unauthorized(_("Sign in: send 'Authorization: Bearer <token>' from POST /api/v1/auth/tokens."))
    g._login_user = user  # Flask-Login's current user for this request
    g.cohorts_bearer_user = True


@bp.teardown_request
def _forget_bearer_user(_exc=None):
    from flask import g

    if g.pop("cohorts_bearer_user", False):
        g.pop("_login_user", None)  # never outlives the request (an app context may hold several)


@bp.before_request
@login_required
def _only_trainers_and_admins():
    services.require_cohort_role(current_user)


def _title(course) -> str:
    return course_text(course, current_language()).title


@bp.get("/")
def index():
    page = page_number(request.args)
    cohorts, total = services.cohorts_for(current_user, page, 50)
    return render_template("cohorts/index.html", cohorts=cohorts, total=total, page=page, per_page=50,
                           counts=services.member_counts([c.id for c in cohorts]), title=_title)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = CohortForm().fill_choices(services.course_choices(), _title, services.trainer_choices())
    if form.validate_on_submit():
        data = {"course": form.course.data, "name": form.name.data, "country": form.country.data,
                "delivery": form.delivery.data, "starts_on": form.starts_on.data, "ends_on": form.ends_on.data,
                **form.rule_data()}
        if current_user.is_admin:
            data["trainers"] = form.trainers.data or []
        try:
            cohort = services.create_cohort(current_user, data)
        except DomainError as error:
            db.session.rollback()
            apply_field_errors(form, error)
        else:
            flash(_("The cohort %(name)s is created. Now upload its roster.", name=isolate(cohort.name)), "success")
            return redirect(url_for("cohorts.show", cohort_id=cohort.id))
    return render_template("cohorts/new.html", form=form), 422 if form.errors else 200


def _settings_form(cohort, submitted: bool = False) -> SettingsForm:
    """The settings form: the posted values when it is the form being saved, else the cohort's own.

    Any other form posted on the page (a roster, a session) must not fill it, or it would show (and the
    next save would store) an empty capacity and the default rule."""
    form = SettingsForm() if submitted else SettingsForm(formdata=None, obj=cohort)
    form.fill_rule_and_trainers(services.trainer_choices())
    if not submitted:
        form.trainers.data = [t.user_id for t in cohort.trainers]
    return form


def _render_cohort(cohort, status: int = 200, report=None, upload_form=None, session_form=None,
                   settings_form=None):
    page = page_number(request.args)
    members, total = services.members_of(cohort, page=page, per_page=ROSTER_PAGE_SIZE)
    return render_template(
        "cohorts/show.html", cohort=cohort, members=members, total=total, page=page, per_page=ROSTER_PAGE_SIZE,
        sessions=sessions.sessions_of(cohort), report=report, course_title=_title(cohort.course),
        upload_form=upload_form or RosterUploadForm(formdata=None),
        session_form=session_form or SessionForm(formdata=None),
        settings_form=settings_form or _settings_form(cohort), action_form=ActionForm(),
        trainer_names=[t.full_name for t in services.trainers_of([cohort.id]).get(cohort.id, [])], eligible=len(completion.eligible_enrolment_ids(cohort)),
    ), status


@bp.get("/<int:cohort_id>")
def show(cohort_id: int):
    return _render_cohort(services.get_cohort_for(current_user, cohort_id))


@bp.post("/<int:cohort_id>/roster")
def upload_roster(cohort_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _render_cohort(cohort, 422, upload_form=form)
    data = form.file.data.read()
    try:
        if imports.should_run_in_background(data):
            job = imports.start_import(cohort, data, form.mode.data, current_user.id, form.file.data.filename)
            return redirect(url_for("cohorts.roster_import", cohort_id=cohort.id, import_id=job.id))
        report = imports.import_roster(cohort, data, form.mode.data, current_user.id)
    except imports.RosterInvalid as invalid:
        db.session.rollback()
        return _render_cohort(cohort, 422, report=invalid.report, upload_form=form)
    except (RosterFileInvalid, RosterTooLarge) as invalid:
        db.session.rollback()
        errors = getattr(invalid, "errors", None) or [RowError(0, "file", invalid.message)]
        report = imports.RosterReport(errors=errors, mode=form.mode.data)
        return _render_cohort(cohort, invalid.status, report=report, upload_form=form)
    return _render_cohort(cohort, report=report)


@bp.get("/<int:cohort_id>/imports/<int:import_id>")
def roster_import(cohort_id: int, import_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    job = imports.get_import(cohort, import_id)
    report = imports.RosterReport.from_dict(job.report) if job.report else None
    return render_template("cohorts/import.html", cohort=cohort, job=job, report=report)


@bp.post("/<int:cohort_id>/members/<int:user_id>/complete")
def sign_off(cohort_id: int, user_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    if ActionForm().validate_on_submit():
        member = completion.sign_off(current_user, cohort, user_id)
        flash(_("%(name)s is signed off: the course is completed.", name=isolate(member.full_name)), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id, page=page_number(request.args)))


@bp.route("/<int:cohort_id>/close", methods=["GET", "POST"])
def close(cohort_id: int):
    """Close a cohort after a confirmation page that says who will be signed off (works without JavaScript)."""
    cohort = services.get_cohort_for(current_user, cohort_id)
    if request.method == "GET":
        if cohort.status != "open":
            return redirect(url_for("cohorts.show", cohort_id=cohort.id))
        _first, total = services.members_of(cohort, page=1, per_page=1)
        eligible = len(completion.eligible_enrolment_ids(cohort))
        return render_template("cohorts/close.html", cohort=cohort, course_title=_title(cohort.course),
                               eligible=eligible, total=total, action_form=ActionForm(),
                               below=completion.below_rule(cohort))
    if ActionForm().validate_on_submit():
        result = completion.close_cohort(current_user, cohort)
        closed = ngettext("The cohort is closed. %(num)d member was signed off by the attendance rule.",
                          "The cohort is closed. %(num)d members were signed off by the attendance rule.",
                          result.signed_off)
        still = ngettext("%(num)d member did not meet it and is still active.",
                         "%(num)d members did not meet it and are still active.", result.still_active)
        flash(f"{closed} {still}", "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/settings")
def settings(cohort_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    form = _settings_form(cohort, submitted=True)
    if not form.validate_on_submit():
        return _render_cohort(cohort, 422, settings_form=form)
    data = form.rule_data()
    if current_user.is_admin:
        data["trainers"] = form.trainers.data or []
    try:
        services.update_cohort(current_user, cohort, data)
    except DomainError as error:
        db.session.rollback()
        apply_field_errors(form, error)
        return _render_cohort(cohort, error.status, settings_form=form)
    flash(_("The cohort's settings are saved."), "success")
    if not current_user.is_admin and current_user.id not in [t.user_id for t in cohort.trainers]:
        return redirect(url_for("cohorts.index"))
    return redirect(url_for("cohorts.show", cohort_id=cohort.id))


@bp.post("/<int:cohort_id>/sessions")
def add_session(cohort_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    form = SessionForm()
    if not form.validate_on_submit():
        return _render_cohort(cohort, 422, session_form=form)
    zone = ZoneInfo(current_user.timezone or "UTC")
    starts_at = datetime.combine(form.date.data, form.time.data, tzinfo=zone)
    session = sessions.add_session(current_user.id, cohort, {
        "starts_at": starts_at, "title": form.title.data, "place": form.place.data})
    flash(_("The session is scheduled. Record who attended once it has taken place."), "success")
    return redirect(url_for("cohorts.attendance", cohort_id=cohort.id, session_id=session.id))


@bp.route("/<int:cohort_id>/sessions/<int:session_id>", methods=["GET", "POST"])
def attendance(cohort_id: int, session_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    session = sessions.get_session(cohort, session_id)
    form = ActionForm()
    if form.validate_on_submit():
        present = [parse_id(value) for value in request.form.getlist("present") if is_id(value)]
        excused = [parse_id(value) for value in request.form.getlist("excused") if is_id(value)]
        sheet = sessions.record_attendance(current_user.id, cohort, session, present, excused)
        flash(_("Attendance is saved: %(present)d present, %(absent)d absent.",
                present=len(sheet.present), absent=len(sheet.absent)), "success")
        return redirect(url_for("cohorts.show", cohort_id=cohort.id))
    members, _total = services.members_of(cohort)
    sheet = sessions.attendance_of(session)
    return render_template("cohorts/session.html", cohort=cohort, session=session, members=members,
                           present=set(sheet.present), excused=set(sheet.excused), recorded=sheet.recorded,
                           form=form, started=sessions.has_started(session))


@bp.route("/<int:cohort_id>/sessions/<int:session_id>/paper", methods=["GET", "POST"])
def paper_sheet(cohort_id: int, session_id: int):
    """Entering a signed paper sheet on a phone: one row per member, large present/absent/excused
    choices, "everyone present"; a plain form (no JavaScript needed) that only changes the members
    given a mark, each as made now (``sessions.apply_mark``: a later mark stays). Offline, with
    JavaScript, the marks wait on the device and are sent later (static/js/attendance_offline.js)."""
    cohort = services.get_cohort_for(current_user, cohort_id)
    session = sessions.get_session(cohort, session_id)
    members, _total = services.members_of(cohort)
    form = ActionForm()
    if form.validate_on_submit():
        marks = {m.enrolment_id: request.form.get(f"mark-{m.user_id}") for m in members}
        marks = {k: v for k, v in marks.items() if v in sessions.MARKS}
        if not marks:
            flash(_("Choose present, absent or excused for at least one person."), "error")
        else:
            services.require_open(cohort)
            sessions.require_started(session)
            sessions.lock_session(session)
            now = utcnow()
            for enrolment_id, mark in marks.items():
                sessions.apply_mark(current_user.id, cohort, session, enrolment_id, mark, now, how="paper")
            sheet = sessions.attendance_of(session)
            flash(_("Attendance is saved: %(present)d present, %(absent)d absent.",
                    present=len(sheet.present), absent=len(sheet.absent)), "success")
            return redirect(url_for("cohorts.paper_sheet", cohort_id=cohort.id, session_id=session.id))
    sheet = sessions.attendance_of(session)
    if request.args.get("all") == "present":  # the "everyone present" shortcut without JavaScript
        chosen = {m.user_id: "present" for m in members}
    else:
        chosen = {user_id: "present" for user_id in sheet.present}
        chosen.update({user_id: "excused" for user_id in sheet.excused})
        marked = set(sessions.marked_user_ids(session))
        chosen.update({user_id: "absent" for user_id in sheet.absent if user_id in marked and user_id not in chosen})
    return render_template("cohorts/paper_sheet.html", cohort=cohort, session=session, members=members,
                           chosen=chosen, form=form, started=sessions.has_started(session),
                           editable=cohort.status == "open" and sessions.has_started(session)), \
        422 if request.method == "POST" else 200


@bp.get("/<int:cohort_id>/roster.csv")
def export(cohort_id: int):
    cohort = services.get_cohort_for(current_user, cohort_id)
    return Response("\ufeff" + services.export_roster(current_user.id, cohort), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cohort-{cohort.id}-roster.csv"'})


@bp.get("/<int:cohort_id>/sessions/<int:session_id>/check-in-code")
def check_in_screen(cohort_id: int, session_id: int):
    """The code and its QR code full screen, for the room's projector; the page reloads when the code changes."""
    cohort = services.get_cohort_for(current_user, cohort_id)
    session = sessions.get_session(cohort, session_id)
    services.require_open(cohort)
    code = checkin.current_code(session)  # a GET, reloaded every minute: not audited (the API's POST is)
    check_in_url = url_for("checkin.page", code=code.code, _external=True)
    return render_template("cohorts/check_in_screen.html", cohort=cohort, session=session, code=code,
                           qr=checkin.qr_data_uri(check_in_url), check_in_url=check_in_url,
                           base_url=url_for("checkin.page", _external=True), refresh=checkin.seconds_until_next_code())


@bp.get("/<int:cohort_id>/sessions/<int:session_id>/check-in-qr.svg")
def check_in_qr(cohort_id: int, session_id: int):
    """The QR code of a current code of this session (the API's ``qr_url``); an expired or foreign code 404."""
    cohort = services.get_cohort_for(current_user, cohort_id)
    session = sessions.get_session(cohort, session_id)
    code = request.args.get("code", "")
    if not checkin.is_current(session, code):
        abort(404)
    svg = checkin.qr_svg(url_for("checkin.page", code=checkin.normalise(code), _external=True))
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@bp.get("/<int:cohort_id>/sessions/<int:session_id>/sign-in-sheet.pdf")
def sign_in_sheet(cohort_id: int, session_id: int):
    """A printable sign-in sheet for a room without a connection, in the cohort's language."""
    cohort = services.get_cohort_for(current_user, cohort_id)
    session = sessions.get_session(cohort, session_id)
    pdf = sign_in_sheet_pdf.render(cohort, session, current_user)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="cohort-{cohort.id}-session-{session.id}-sign-in.pdf"',
        "Cache-Control": "no-store"})
