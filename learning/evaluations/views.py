"""Pages: the learner's evaluation form, a trainer's summary of a closed cohort, the admins' report.

The dashboard's section (``reporting/dashboard.html`` includes ``evaluations/_dashboard.html``)
reads its figures through ``evaluation_overview``, a template helper this blueprint adds, so the
statistics dashboard needs no import of this feature.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from learning.catalogue.texts import course_text, reader_language
from learning.cohorts.services import get_cohort_for
from learning.enrolment.services import get_own_enrolment
from learning.errors import ValidationFailed
from learning.evaluations import report as evaluation_report
from learning.evaluations import services
from learning.evaluations.forms import answers_of, evaluation_form
from learning.evaluations.questions import SCALE
from learning.i18n import current_language
from learning.reporting import exports
from learning.reporting import services as reporting
from learning.reporting.queries import ReportFilter
from learning.web import admin_required, apply_field_errors

bp = Blueprint("evaluations", __name__)


@bp.app_template_filter("evaluation_mean")
def evaluation_mean(value) -> str:
    """A mean rating in the reader's number format, to two decimals; a dash when there is none."""
    return format_decimal(value, format="0.00") if value is not None else "—"


@bp.app_context_processor
def evaluation_helpers():
    return {"evaluation_state": services.evaluation_state, "evaluation_overview": overview}


def overview(report: ReportFilter) -> dict:
    """The dashboard section's figures (no free texts) and its chart's data."""
    figures = evaluation_report.published(report, reporting.small_cell_threshold(), with_texts=False)
    scales = [item for item in figures["questions"] if item["kind"] == SCALE]
    chart = {
        "questions": [{"key": item["question"], "label": item["text"], "mean": item["mean"],
                       "mean_text": evaluation_mean(item["mean"]), "counts": item["counts"]} for item in scales if item["mean"] is not None],
        "labels": {"mean": _("Mean rating (1-5)"), "points": {str(n): _("Rated %(n)d", n=n) for n in range(1, 6)}},
    }
    return {"figures": figures, "scales": scales, "chart": chart, "filter_args": exports.filters_as_args(report)}


@bp.route("/learning/<int:enrolment_id>/evaluation", methods=["GET", "POST"])
@login_required
def form(enrolment_id: int):
    enrolment = get_own_enrolment(current_user, enrolment_id)
    title = course_text(enrolment.course, reader_language()).title
    if enrolment.status != "completed" and request.method == "GET":
        flash(_("You can evaluate a course once you have completed it."), "info")
        return redirect(url_for("catalogue.course", slug=enrolment.course.slug))
    questions = services.questions_for(enrolment)
    page_form = evaluation_form(questions)
    evaluation = services.evaluation_of(enrolment.id)
    status = 200
    if request.method == "POST" and evaluation is None:
        if not page_form.validate_on_submit():
            status = 400
        else:
            try:
                evaluation = services.submit_evaluation(enrolment, answers_of(page_form, questions), current_language())
            except ValidationFailed as error:
                apply_field_errors(page_form, error)
                status = 422
            else:
                flash(_("Thank you: your evaluation is saved. It is reported without your name."), "success")
                return redirect(url_for("evaluations.form", enrolment_id=enrolment.id))
    elif request.method == "POST":
        flash(_("You have already evaluated this course. Thank you!"), "info")
        status = 409
    return render_template("evaluations/form.html", enrolment=enrolment, title=title, form=page_form,
                           questions=questions, evaluation=evaluation), status


@bp.get("/cohorts/<int:cohort_id>/evaluation")
@login_required
def cohort_summary(cohort_id: int):
    cohort = get_cohort_for(current_user, cohort_id)
    figures = None
    if cohort.status == "closed":
        figures = evaluation_report.published(ReportFilter(cohort=cohort.id), reporting.small_cell_threshold(),
                                              with_texts=False)
    return render_template("evaluations/cohort.html", cohort=cohort, figures=figures,
                           course_title=course_text(cohort.course, current_language()).title)


@bp.get("/reports/evaluations")
@admin_required
def report_page():
    report, errors = reporting.filters_or_errors(request.args)
    figures = evaluation_report.published(report, reporting.small_cell_threshold(), with_texts=True)
    return render_template("evaluations/report.html", figures=figures, report=report, errors=errors,
                           filter_args=exports.filters_as_args(report)), 200
