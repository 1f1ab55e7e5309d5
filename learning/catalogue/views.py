"""Catalogue pages: browse and read courses (anyone), and manage them (admins)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from learning.catalogue import services
from learning.catalogue.forms import (
    ConfirmForm,
    CourseForm,
    CourseImportForm,
    course_data_from,
    form_data_of,
    show_errors,
)
from learning.catalogue.models import COURSE_STATUSES
from learning.catalogue.texts import (
    course_languages,
    course_text,
    lesson_html,
    localised,
    reader_language,
)
from learning.errors import DomainError
from learning.extensions import db
from learning.i18n import UI_LANGUAGES
from learning.parsing import loads_json, page_number
from learning.security import safe_redirect_target
from learning.web import admin_required

bp = Blueprint("catalogue", __name__)

PER_PAGE = 24


@bp.app_context_processor
def reading_helpers():
    """Let every template show a course in the reader's language."""
    return {"course_text": course_text, "localised": localised, "lesson_html": lesson_html,
            "course_languages": course_languages, "reader_language": reader_language,
            "duration_text": duration_text}


def duration_text(minutes: int | None) -> str:
    """"About 90 minutes" / "About 4 hours", or empty when not known."""
    if not minutes:
        return ""
    if minutes < 120:
        return ngettext("About %(num)d minute", "About %(num)d minutes", minutes)
    hours = round(minutes / 60)
    return ngettext("About %(num)d hour", "About %(num)d hours", hours)


def _page_number() -> int:
    return page_number(request.args)


@bp.get("/courses/")
def index():
    available_in = request.args.get("language") or None
    sector = request.args.get("sector") or None
    search = (request.args.get("q") or "").strip()[:200] or None
    page = _page_number()
    errors = services.catalogue_filters_errors(available_in, sector, field="language")
    if errors:
        flash(_("That filter is not one we know; showing every course."), "error")
        available_in = sector = None
    courses, total = services.list_published(available_in, sector, search, page, PER_PAGE)
    return render_template("catalogue/index.html", courses=courses, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), languages=UI_LANGUAGES,
                           filters={"language": available_in or "", "sector": sector or "", "q": search or ""})


@bp.get("/courses/<slug>")
def course(slug: str):
    from learning.enrolment.queries import current_enrolment, progress_of_many
    from learning.enrolment.services import can_enrol_again

    found = services.visible_course(slug, current_user if current_user.is_authenticated else None)
    enrolment = progress = None
    may_enrol = True
    if current_user.is_authenticated:
        enrolment = current_enrolment(current_user, found)
        if enrolment is not None:
            progress = progress_of_many([enrolment])[enrolment.id]
        may_enrol, _reason = can_enrol_again(current_user.id, found.id)
    return render_template("catalogue/course.html", course=found, enrolment=enrolment, progress=progress,
                           may_enrol=may_enrol, form=ConfirmForm())


# --- admin ---------------------------------------------------------------------------------

@bp.get("/admin/courses/")
@admin_required
def manage():
    page = _page_number()
    courses, total = services.list_courses(COURSE_STATUSES, page=page, per_page=100)
    return render_template("catalogue/manage.html", courses=courses, total=total, page=page,
                           pages=max(1, -(-total // 100)), form=ConfirmForm())


def _save(form: CourseForm, save):
    """Turn the form into the API's shape, let ``save`` apply it, or show every error in place."""
    data, where = course_data_from(form)
    try:
        saved = save(data)
    except DomainError as error:
        db.session.rollback()
        unplaced = show_errors(error.fields or {}, where)
        flash(error.message, "error")
        return None, unplaced
    return saved, []


@bp.route("/admin/courses/new", methods=["GET", "POST"])
@admin_required
def new():
    form = CourseForm().fill_choices()
    unplaced: list[str] = []
    if form.validate_on_submit():
        saved, unplaced = _save(form, lambda data: services.create_course(current_user.id, data))
        if saved is not None:
            flash(_("The course is saved as a draft."), "success")
            return redirect(url_for("catalogue.edit", slug=saved.slug))
    elif request.method == "GET":
        form.add_empty_slots()
    status = 422 if request.method == "POST" else 200
    return render_template("catalogue/edit.html", form=form, course=None, unplaced=unplaced), status


@bp.route("/admin/courses/<slug>/edit", methods=["GET", "POST"])
@admin_required
def edit(slug: str):
    found = services.get_course(slug)
    form = CourseForm(data=form_data_of(found) if request.method == "GET" else None).fill_choices()
    unplaced: list[str] = []
    if form.validate_on_submit():
        saved, unplaced = _save(form, lambda data: services.update_course(
            current_user.id, found, {key: value for key, value in data.items() if key != "slug"}))
        if saved is not None:
            flash(_("The course is saved."), "success")
            return redirect(url_for("catalogue.edit", slug=slug))
    elif request.method == "GET":
        form.add_empty_slots()
    status = 422 if request.method == "POST" else 200
    return render_template("catalogue/edit.html", form=form, course=found, unplaced=unplaced,
                           confirm=ConfirmForm()), status


@bp.route("/admin/courses/import", methods=["GET", "POST"])
@admin_required
def import_json():
    form = CourseImportForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            definition = loads_json(form.definition.data)
        except ValueError as exc:
            problems = {"_json": [_("This is not valid JSON: %(error)s", error=str(exc))]}
        else:
            try:
                saved = services.create_course(current_user.id, definition)
            except DomainError as error:
                db.session.rollback()
                problems = error.fields or {"_schema": [error.message]}
            else:
                flash(_("The course is imported as a draft."), "success")
                return redirect(url_for("catalogue.edit", slug=saved.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("catalogue/import.html", form=form, problems=problems), status


def _change_state(slug: str, change, message: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    change(current_user.id, services.get_course(slug))
    flash(message, "success")
    return redirect(safe_redirect_target(request.referrer, url_for("catalogue.manage")))


@bp.post("/admin/courses/<slug>/publish")
@admin_required
def publish(slug: str):
    return _change_state(slug, services.publish_course, _("The course is published."))


@bp.post("/admin/courses/<slug>/archive")
@admin_required
def archive(slug: str):
    return _change_state(slug, services.archive_course, _("The course is archived."))
