"""Pages under ``/org/``: a manager's organisations, their members, assignments and figures; and
every signed-in person's own membership page (join, leave)."""

from __future__ import annotations

import csv
import io
import os
import tempfile

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from openpyxl import Workbook
from sqlalchemy import select

from learning.accounts.models import Organisation
from learning.audit.services import record as audit
from learning.catalogue.models import Course
from learning.catalogue.services import course_text
from learning.errors import DomainError, ValidationFailed
from learning.extensions import db
from learning.i18n import current_language
from learning.organisations import services
from learning.organisations.forms import ActionForm, AssignmentForm, DomainsForm, JoinForm
from learning.parsing import page_number
from learning.reporting import exports
from learning.reporting import services as reporting
from learning.reporting.queries import ReportFilter
from learning.web import apply_field_errors

bp = Blueprint("organisations", __name__, url_prefix="/org")
PAGE_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _organisation(organisation_id: int) -> Organisation:
    return services.get_organisation_for(current_user, organisation_id)


@bp.get("/")
@login_required
def index():
    page = page_number(request.args)
    organisations, total = services.organisations_for(current_user, page, PAGE_SIZE)
    glance = {o.id: services.totals(o) for o in organisations}
    members = services.current_member_counts(o.id for o in organisations)
    return render_template("organisations/index.html", organisations=organisations, glance=glance,
                           members=members, page=page, per_page=PAGE_SIZE, total=total)


def _assignment_form(organisation: Organisation) -> AssignmentForm:
    form = AssignmentForm()
    language = current_language()
    courses = db.session.scalars(select(Course).where(Course.status == "published")).all()
    form.course.choices = sorted(((c.slug, course_text(c, language).title) for c in courses),
                                 key=lambda item: item[1].lower())
    people = db.session.execute(select(services.User.id, services.User.full_name).where(
        services.User.organisation_id == organisation.id, services.User.erased_at.is_(None))
        .order_by(services.User.full_name)).all()
    form.user_ids.choices = [(row.id, row.full_name) for row in people]
    return form


@bp.get("/<int:organisation_id>/")
@login_required
def show(organisation_id: int):
    organisation = _organisation(organisation_id)
    page = page_number(request.args)
    views, total = services.members(organisation, page, PAGE_SIZE)
    assignments, _count = services.assignments_of(organisation, 1, 100)
    counts = services.assignment_counts(a.id for a in assignments)
    return render_template(
        "organisations/show.html", organisation=organisation, members=views, total=total, page=page,
        per_page=PAGE_SIZE, assignments=assignments, counts=counts, glance=services.totals(organisation),
        requests=services.pending_requests(organisation), domains=services.domains_of(organisation),
        form=_assignment_form(organisation), domains_form=DomainsForm(), action=ActionForm(),
        title=lambda course: course_text(course, current_language()).title)


@bp.post("/<int:organisation_id>/assignments")
@login_required
def create_assignment(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = _assignment_form(organisation)
    if form.validate_on_submit():
        try:
            services.create_assignment(current_user, organisation, form.course.data, form.due_on.data,
                                       form.user_ids.data, form.all_members.data)
        except DomainError as error:
            db.session.rollback()
            apply_field_errors(form, error)
        else:
            flash(_("The course is assigned; the people are enrolled and will be reminded."), "success")
            return redirect(url_for("organisations.show", organisation_id=organisation.id))
    for name, messages in form.errors.items():
        flash(f"{getattr(form, name).label.text}: {'; '.join(messages)}", "error")
    return redirect(url_for("organisations.show", organisation_id=organisation.id)), 303


@bp.post("/<int:organisation_id>/requests/<int:request_id>/<any(confirm, decline):decision>")
@login_required
def decide(organisation_id: int, request_id: int, decision: str):
    organisation = _organisation(organisation_id)
    if ActionForm().validate_on_submit():
        joined = services.decide(current_user, organisation, request_id, decision == "confirm")
        flash(_("%(name)s is now a member.", name=joined.user.full_name) if decision == "confirm"
              else _("The request is declined."), "success")
    return redirect(url_for("organisations.show", organisation_id=organisation.id))


@bp.post("/<int:organisation_id>/domains")
@login_required
def set_domains(organisation_id: int):
    organisation = _organisation(organisation_id)
    form = DomainsForm()
    if form.validate_on_submit():
        try:
            services.set_domains(current_user, organisation, form.domains.data or "")
        except ValidationFailed as error:
            db.session.rollback()
            flash("; ".join(m for ms in (error.fields or {}).values() for m in ms) or error.message, "error")
        else:
            flash(_("The e-mail domains are saved."), "success")
    return redirect(url_for("organisations.show", organisation_id=organisation.id))


# --- exports ----------------------------------------------------------------------------------------

STATUS_LABELS = {"completed": "completed", "overdue": "overdue", "pending": "pending"}


def _assignment_rows(organisation: Organisation):
    yield ["assignment_id", "course", "due_on", "full_name", "email", "status"]
    for row in services.person_statuses(organisation):
        yield [exports.neutralise(value) if isinstance(value, str) else value
               for value in (row[0], row[1], row[2].isoformat(), row[3], row[4], row[5])]


def _csv(rows, name: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _xlsx(rows, name: str, sheet_name: str) -> Response:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    for row in rows:
        exports.append_as_data(sheet, row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = Response(buffer.getvalue(), mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/<int:organisation_id>/assignments.<any(csv, xlsx):extension>")
@login_required
def export_assignments(organisation_id: int, extension: str):
    """Who was assigned what and where they stand: the organisation's own staff, by name."""
    organisation = _organisation(organisation_id)
    audit(current_user.id, "organisation.assignments_exported", "organisation", organisation.id,
                   format=extension)
    name = f"assignments-{organisation.id}.{extension}"
    if extension == "csv":
        return _csv(_assignment_rows(organisation), name)
    return _xlsx(_assignment_rows(organisation), name, _("Assignments"))


@bp.get("/<int:organisation_id>/figures")
@login_required
def figures(organisation_id: int):
    organisation = _organisation(organisation_id)
    errors: dict[str, list[str]] = {}
    try:
        report = services.scoped_filter(organisation, {k: v for k, v in request.args.items() if v})
    except ValidationFailed as error:
        errors, report = error.fields or {}, ReportFilter(organisation=organisation.id)
    language = current_language()
    figures = reporting.summary(report)
    # The exports' links carry the checked period only: never what else the address held.
    period = {key: value for key, value in exports.filters_as_args(report).items() if key in ("from", "to")}
    return render_template("organisations/figures.html", organisation=organisation, figures=figures,
                           errors=errors, args=request.args, period=period, language=language,
                           label_country=reporting.label_country, label_sector=reporting.label_sector,
                           groups=("country", "sector", "course", "year", "month"))


@bp.get("/<int:organisation_id>/figures.<any(csv, xlsx):extension>")
@login_required
def export_figures(organisation_id: int, extension: str):
    """The organisation's figures as the reports export them: small cells suppressed."""
    organisation = _organisation(organisation_id)
    report = services.scoped_filter(organisation, {k: v for k, v in request.args.items()
                                                   if v and k != "group_by"})
    group = exports.parse_group_by(request.args.get("group_by"))
    table = exports.publish(report, group)  # a table with nothing to publish is refused before it is audited
    exports.audit_export(current_user.id, extension, group, report)
    name = exports.file_name(group, extension)
    if extension == "csv":
        response = Response(b"".join(chunk.encode() for chunk in exports.csv_chunks(report, group, current_language(),
                                                                                    table)),
                            mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    try:
        exports.write_xlsx(report, group, current_language(), handle.name, table)
        with open(handle.name, "rb") as saved:
            body = saved.read()
    finally:
        os.unlink(handle.name)
    response = Response(body, mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- one's own membership ------------------------------------------------------------------------------

def _join_form() -> JoinForm:
    form = JoinForm()
    form.organisation.choices = [(o.id, o.name) for o in db.session.scalars(
        select(Organisation).order_by(Organisation.name)) if o.id != current_user.organisation_id]
    return form


@bp.get("/membership")
@login_required
def membership():
    return render_template("organisations/membership.html", form=_join_form(), action=ActionForm(),
                           pending=services.pending_request_of(current_user))


@bp.post("/membership/join")
@login_required
def join():
    form = _join_form()
    if form.validate_on_submit():
        try:
            joining = services.request_to_join(current_user, form.organisation.data)
        except ValidationFailed as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("Your request to join %(name)s awaits its manager's confirmation.",
                    name=joining.organisation.name), "success")
    return redirect(url_for("organisations.membership"))


@bp.post("/membership/leave")
@login_required
def leave():
    if ActionForm().validate_on_submit():
        try:
            left = services.leave(current_user)
        except ValidationFailed as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            flash(_("You left %(name)s. What you did while a member stays in its records.", name=left.name),
                  "success")
    return redirect(url_for("organisations.membership"))
