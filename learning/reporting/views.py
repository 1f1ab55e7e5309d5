"""Pages: the admins' statistics dashboard, background exports, and the public impact page."""

from __future__ import annotations

import click
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_number
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField

from learning.accounts.models import Organisation
from learning.catalogue.models import Course
from learning.extensions import db
from learning.i18n import country_choices, current_language
from learning.models_base import utcnow
from learning.reporting import exports, services
from learning.web import admin_required

bp = Blueprint("reporting", __name__, cli_group="reports")

EXPORT_GROUPS = ("country", "sector", "course", "cohort", "organisation", "year", "month", "country,sector")
# What a grouping is called in the reader's language ("CSV by country", "Grouped by: country"): the
# codes themselves ("country,sector") are the API's words, not the interface's.
GROUPING_LABELS = {"country": _l("country"), "sector": _l("sector"), "course": _l("course"), "cohort": _l("cohort"),
                   "organisation": _l("organisation"), "year": _l("year"), "month": _l("month"),
                   "country,sector": _l("country and sector")}


class ExportForm(FlaskForm):
    format = SelectField(choices=[SelectChoice("csv", "CSV"), SelectChoice("xlsx", "XLSX")])
    group_by = SelectField(choices=[SelectChoice(g, GROUPING_LABELS[g]) for g in EXPORT_GROUPS])


@bp.app_template_global("grouping_label")
def grouping_label(code: str) -> str:
    """A grouping's name in the reader's language (the code itself if it has none)."""
    return str(GROUPING_LABELS.get(code, code))


@bp.app_template_filter("report_number")
def report_number(value) -> str:
    """A count in the reader's number format; a suppressed count ("<5") as it is."""
    return format_number(value) if isinstance(value, int) else str(value)


def _course_choices(language: str) -> list[tuple[str, str]]:
    """(slug, title in the reader's language) of every course, by title: people pick courses by name."""
    from learning.catalogue.texts import course_text

    courses = db.session.scalars(db.select(Course)).all()
    return sorted(((c.slug, course_text(c, language).title) for c in courses), key=lambda item: item[1].lower())


def _cohort_choices(language: str) -> list[tuple[int, str]]:
    """(id, "name · course") of every cohort, newest first, for the cohort filter."""
    from learning.catalogue.texts import course_text
    from learning.cohorts.models import Cohort

    cohorts = db.session.scalars(db.select(Cohort).order_by(Cohort.starts_on.desc(), Cohort.id.desc())).all()
    return [(c.id, f"{c.name} · {course_text(c.course, language).title}") for c in cohorts]


@bp.get("/reports/")
@admin_required
def dashboard():
    report, errors = services.filters_or_errors(request.args)
    language = current_language()
    figures = services.summary(report)
    granularity, timeline = services.over_time(report)
    chart_data = {
        "countries": [
            {"code": row["country"], "label": services.label_country(row["country"], language),
             "reached": row["reached"], "trained": row["trained"]}
            for row in sorted(figures["by_country"], key=lambda r: -r["reached"])[:25]
        ],
        "sectors": [
            {"code": row["sector"], "label": services.label_sector(row["sector"]),
             "reached": row["reached"], "trained": row["trained"]}
            for row in sorted(figures["by_sector"], key=lambda r: -r["reached"])
        ],
        "time": {
            "granularity": granularity,
            "points": [{"label": str(row.key[0]) if granularity == "year"
                        else f"{row.key[0] // 100:04d}-{row.key[0] % 100:02d}",
                        "reached": row.reached, "trained": row.trained} for row in timeline],
        },
        "labels": {"reached": services.reached_label(), "trained": services.trained_label()},
    }
    return render_template(
        "reporting/dashboard.html", figures=figures, chart_data=chart_data, behind=services.behind(report, language),
        report=report, errors=errors, args=request.args, countries=country_choices(language),
        courses=_course_choices(language), cohorts=_cohort_choices(language),
        organisations=db.session.execute(db.select(Organisation.name).order_by(Organisation.name)).scalars().all(),
        export_form=ExportForm(), filter_args=exports.filters_as_args(report), groups=EXPORT_GROUPS,
    )


@bp.post("/reports/exports")
@admin_required
def request_export():
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    report = services.parse_filters(request.args)
    group = exports.parse_group_by(form.group_by.data)
    job = exports.request_export(current_user.id, report, group, form.format.data, current_language())
    return redirect(url_for("reporting.export_status", export_id=job.id))


@bp.get("/reports/exports/<int:export_id>")
@admin_required
def export_status(export_id: int):
    job = exports.get_export(export_id)
    suggestions = exports.withheld_suggestions(job)
    return render_template(
        "reporting/export.html", job=job, suggestions=suggestions,
        grouping=exports.grouping_name(tuple(job.group_by.split(","))),
        withheld_message=exports.withheld_message(tuple(job.group_by.split(",")), suggestions),
        filters={key: value for key, value in job.filters.items() if key != "language"})


@bp.get("/impact/<int:year>")
def impact_page(year: int):
    if not 1900 <= year <= 9999:
        abort(404)
    figures = services.impact(year)
    language = current_language()
    chart_data = {
        "countries": [{"label": services.label_country(row["country"], language), "trained": row["trained"]}
                      for row in figures["by_country"] if isinstance(row["trained"], int) and row["trained"]][:20],
        "labels": {"trained": services.trained_label()},
    }
    return render_template("reporting/impact.html", figures=figures, year=year, chart_data=chart_data,
                           this_year=utcnow().year)


@bp.cli.command("rebuild")
@click.option("--workers", default=2, show_default=True, help="connections building at once (PostgreSQL)")
def rebuild_command(workers):
    """Recompute the statistics rollup from enrolments and certificates (after a bulk load).

    On PostgreSQL the new rollup is built aside and swapped in at the end: the statistics keep
    answering, and every change keeps being counted, for the whole rebuild."""
    from learning.reporting.rebuild import rebuild_aside

    counts = rebuild_aside(db.engine, workers=workers, log=lambda line: click.echo(line, err=True))
    click.echo(f"Rebuilt {counts['facts']} facts and {counts['cells']} cells.")
