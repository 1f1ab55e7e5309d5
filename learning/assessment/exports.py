"""The learning-gain report as CSV, grouped by country, sector, course, cohort or organisation.

Published like every export (``learning.reporting.exports``): small groups and their complements
withheld (``report.publish``), text a spreadsheet would run as a formula neutralised, and the
export recorded in the audit log.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from flask_babel import gettext as _

from learning.assessment import report as gain
from learning.audit.services import record
from learning.errors import ValidationFailed
from learning.reporting import services
from learning.reporting.exports import filters_as_args, neutralise
from learning.reporting.queries import ReportFilter

FIGURES = ["people", "pre_mean", "post_mean", "gain"]


def parse_group_by(value: str | None) -> str:
    group = (value or "country").strip()
    if group not in gain.GROUPS:
        raise ValidationFailed(_("The grouping is invalid."), {"group_by": [
            _("Unknown grouping '%(name)s': use %(choices)s.", name=group, choices=", ".join(gain.GROUPS))]})
    return group


def header(group: str) -> list[str]:
    return {"country": ["country", "country_name"], "sector": ["sector", "sector_name"],
            "course": ["course", "course_title"], "cohort": ["cohort_id", "cohort_name"],
            "organisation": ["organisation_id", "organisation_name"]}[group] + FIGURES


def labelled_rows(report: ReportFilter, group: str, language: str) -> list[dict]:
    """The published rows of a grouping, each with its code and label in ``language``."""
    _headline, rows = gain.published_groups(report, group, services.small_cell_threshold())
    keys = [row["key"] for row in rows]
    if group == "course":
        titles = services.course_titles(keys, language)
        label = lambda key: list(titles.get(key, ("", "")))  # noqa: E731
    elif group == "cohort":
        names = services.cohort_names(keys)
        label = lambda key: [key or "", names.get(key, "") if key else _("No cohort")]  # noqa: E731
    elif group == "organisation":
        names = services.organisation_names(keys)
        label = lambda key: [key or "", names.get(key, "") if key else _("No organisation")]  # noqa: E731
    elif group == "country":
        label = lambda code: [code or "", services.label_country(code, language)]  # noqa: E731
    else:
        label = lambda code: [code or "", services.label_sector(code)]  # noqa: E731
    return [{**row, "labels": label(row["key"])} for row in rows]


def csv_text(report: ReportFilter, group: str, language: str) -> str:
    """The CSV (one line a group: a few hundred at most, so it is built whole)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(group))
    for row in labelled_rows(report, group, language):
        cells = [*row["labels"], *("" if row[name] is None else row[name] for name in FIGURES)]
        writer.writerow([neutralise(cell) for cell in cells])
    return buffer.getvalue()


def audit_export(actor_id: int, group: str, report: ReportFilter) -> None:
    record(actor_id, "report.exported", "report", None, format="csv", report="learning_gain", group_by=group,
           filters=filters_as_args(report))


def file_name(group: str) -> str:
    return f"learning-gain-by-{group}-{date.today().isoformat()}.csv"
