"""Pages: the learner's pre-test and post-test, and the admin's page that writes them."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from learning.assessment import services
from learning.assessment.forms import KnowledgeTestsForm, definition_from, form_data_of
from learning.assessment.models import KINDS
from learning.catalogue.forms import show_errors
from learning.catalogue.services import get_course
from learning.catalogue.texts import course_text, reader_language
from learning.enrolment.forms import answers_of, quiz_form
from learning.enrolment.models import Enrolment
from learning.enrolment.services import get_own_enrolment, progress_of
from learning.errors import DomainError
from learning.extensions import db
from learning.web import admin_required

bp = Blueprint("assessment", __name__)


def after_test(enrolment: Enrolment, kind: str) -> str:
    """Where the learner goes after a test, or on skipping it: the lessons after the pre-test; the
    quiz (if still to pass) or the course page after the post-test."""
    progress = progress_of(enrolment)
    if kind == "pre" and enrolment.status == "active" and progress.next_lesson_id is not None:
        return url_for("enrolment.lesson", enrolment_id=enrolment.id, lesson_id=progress.next_lesson_id)
    if enrolment.status == "active" and progress.quiz_required and not progress.quiz_passed:
        return url_for("enrolment.quiz", enrolment_id=enrolment.id)
    return url_for("catalogue.course", slug=enrolment.course.slug)


@bp.route("/learning/<int:enrolment_id>/tests/<kind>", methods=["GET", "POST"])
@login_required
def take(enrolment_id: int, kind: str):
    enrolment = get_own_enrolment(current_user, enrolment_id)
    if kind not in KINDS:
        abort(404)
    tests = services.tests_of(enrolment.course_id)
    if kind not in tests:
        abort(404)
    course = enrolment.course
    questions = SimpleNamespace(questions=services.questions_of(kind, tests))
    form = quiz_form(questions, reader_language(), course.language)
    state = services.states_of(enrolment)[kind]
    status, attempt = 200, state.attempt
    if request.method == "POST":
        if not state.open:
            status = 409  # the page says why (``state.reason``)
        elif form.validate_on_submit():
            try:
                attempt = services.submit_test(enrolment, kind, answers_of(form, questions))
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
                status = error.status
            else:
                state = services.states_of(enrolment)[kind]
        else:
            status = 422
    return render_template(
        "assessment/take.html", enrolment=enrolment, kind=kind, form=form, state=state, attempt=attempt,
        gain=services.learner_gain(enrolment), next_url=after_test(enrolment, kind),
        title=course_text(course, reader_language()).title), status


@bp.route("/admin/courses/<slug>/knowledge-tests", methods=["GET", "POST"])
@admin_required
def manage(slug: str):
    course = get_course(slug)
    form = KnowledgeTestsForm(data=form_data_of(services.definition_of(course.id)) if request.method == "GET"
                              else None)
    unplaced: list[str] = []
    if form.validate_on_submit():
        data, where = definition_from(form)
        try:
            services.set_tests(current_user.id, course, data)
        except DomainError as error:
            db.session.rollback()
            unplaced = show_errors(error.fields or {}, where)
            flash(error.message, "error")
        else:
            flash(_("The knowledge tests are saved."), "success")
            return redirect(url_for("assessment.manage", slug=slug))
    elif request.method == "POST":
        unplaced = [_("The form could not be read; please try again.")]
    form.add_empty_slots()
    status = 422 if request.method == "POST" else 200
    return render_template("assessment/manage.html", form=form, course=course, unplaced=unplaced,
                           title=course_text(course, reader_language()).title), status


# --- the statistics dashboard's section ----------------------------------------------------------

@bp.app_context_processor
def dashboard_helpers():
    """Lets the dashboard's learning-gain section (``assessment/_dashboard.html``) read its figures."""
    return {"learning_gain_section": dashboard_section}


@bp.app_template_filter("mean_score")
def mean_score(value, signed: bool = False) -> str:
    """A mean in the reader's number format with one decimal ("62.5", "+12.5"); a dash when withheld."""
    from flask_babel import format_decimal

    if value is None:
        return "–"
    text = format_decimal(abs(value) if signed else value, format="#,##0.0")
    if signed:
        return ("+" if value > 0 else "−" if value < 0 else "") + text
    return text


def dashboard_section(report) -> dict:
    """The dashboard's figures: the headline, by country (the chart) and by course, as published."""
    from learning.assessment import report as gain
    from learning.i18n import current_language
    from learning.reporting import services as reporting

    language = current_language()
    threshold = reporting.small_cell_threshold()
    figures = gain.learning_gain(report, threshold, groups=("country", "course"))
    titles = reporting.course_titles([row.key for row in gain.gain_rows(report, "course")], language)
    by_slug = dict(titles.values())
    countries = [{"code": row["country"], "label": reporting.label_country(row["country"], language), **row}
                 for row in figures["by_country"]]
    return {
        "figures": figures,
        "countries": countries,
        "courses": [{"label": by_slug.get(row["course"], row["course"]), **row} for row in figures["by_course"]],
        "chart": {
            "countries": [{"label": row["label"], "pre": row["pre_mean"], "post": row["post_mean"]}
                          for row in countries if row["pre_mean"] is not None][:25],
            "labels": {"pre": _("Before the course (pre-test)"), "post": _("After the course (post-test)")},
        },
        "groups": gain.GROUPS,
    }
