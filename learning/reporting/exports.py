"""Exports of any grouping as CSV or XLSX: streamed, suppressed, safe to open in a spreadsheet.

The counts of every group are read first (three integers a group), because
complementary suppression needs the whole table (``disclosure``); rows are
then labelled and written in small batches. Counts below
``SMALL_CELL_THRESHOLD`` are published as ``"<5"`` and the figures withheld
so that they cannot be derived by subtraction as ``"x"`` (DESIGN.md rule 4); text that
a spreadsheet would run as a formula is prefixed with an apostrophe. Large
exports are built by a Celery task (through the outbox) into a file that the
requesting admin downloads when it is ready.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from learning.audit.services import record
from learning.errors import NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.services import emit
from learning.reporting import disclosure, services
from learning.reporting.models import ReportExport
from learning.reporting.queries import GROUPS, TIME_GROUPS, CountRow, ReportFilter, counts

FORMATS = ("csv", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LABEL_BATCH = 2000  # ids per label query


def parse_group_by(value: str | None) -> tuple[str, ...]:
    """``country``, ``sector,year`` ...: one or two groupings, at most one of them a period."""
    names = tuple(part.strip() for part in (value or "country").split(",") if part.strip())
    problems = []
    if not names or len(names) > 2 or len(set(names)) != len(names):
        problems.append(_("Give one grouping, or two separated by a comma."))
    unknown = [name for name in names if name not in GROUPS]
    if unknown:
        problems.append(_("Unknown grouping '%(name)s': use %(choices)s.", name=unknown[0], choices=", ".join(GROUPS)))
    if sum(name in TIME_GROUPS for name in names) > 1:
        problems.append(_("Group by year or by month, not both."))
    if problems:
        raise ValidationFailed(_("The grouping is invalid."), {"group_by": problems})
    return names


def neutralise(value):
    """Text that a spreadsheet would evaluate as a formula becomes plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def header(group: tuple[str, ...]) -> list[str]:
    columns: list[str] = []
    for name in group:
        columns += {
            "country": ["country", "country_name"],
            "sector": ["sector", "sector_name"],
            "course": ["course", "course_title"],
            "cohort": ["cohort_id", "cohort_name"],
            "organisation": ["organisation_id", "organisation_name"],
            "year": ["year"],
            "month": ["month"],
        }[name]
    return columns + ["professionals_reached", "professionals_trained", "certificates_issued"]


def rows(report: ReportFilter, group: tuple[str, ...], language: str) -> Iterator[list]:
    """Labelled rows in key order, as published (small and complementary cells withheld)."""
    threshold = services.small_cell_threshold()
    table, figures, _withheld = disclosure.publish_rows(report, group, list(counts(report, group)), threshold)
    # The labels of every key of the table, read once (a query per LABEL_BATCH distinct keys), not
    # once per batch of rows: a cohort × month table repeats each cohort on a hundred rows.
    labels = _labels(group, table, language)
    for row, published in zip(table, figures, strict=True):
        cells: list = []
        for position, name in enumerate(group):
            cells += labels[name](row.key[position])
        cells += [published["reached"], published["trained"], published["certified"]]
        yield [neutralise(cell) for cell in cells]


def _in_batches(fetch, keys) -> dict:
    """``fetch`` (keys -> dict) over the distinct keys, LABEL_BATCH at a time, merged."""
    distinct = sorted({key for key in keys if key is not None})
    found: dict = {}
    for start in range(0, len(distinct), LABEL_BATCH):
        found.update(fetch(distinct[start:start + LABEL_BATCH]))
    return found


def _labels(group: tuple[str, ...], table: list[CountRow], language: str) -> dict:
    labels = {}
    for position, name in enumerate(group):
        keys = [row.key[position] for row in table]
        if name == "country":
            labels[name] = lambda code: [code or "", services.label_country(code, language)]
        elif name == "sector":
            labels[name] = lambda code: [code or "", services.label_sector(code)]
        elif name == "course":
            titles = _in_batches(lambda ids: services.course_titles(ids, language), keys)
            labels[name] = lambda key, titles=titles: list(titles.get(key, ("", "")))
        elif name == "cohort":
            names = _in_batches(services.cohort_names, keys)
            labels[name] = lambda key, names=names: [key or "", names.get(key, "") if key else _("No cohort")]
        elif name == "organisation":
            names = _in_batches(services.organisation_names, keys)
            labels[name] = lambda key, names=names: [key or "", names.get(key, "") if key else _("No organisation")]
        elif name == "year":
            labels[name] = lambda year: [year]
        else:
            labels[name] = lambda month: [f"{month // 100:04d}-{month % 100:02d}"]
    return labels


def csv_chunks(report: ReportFilter, group: tuple[str, ...], language: str) -> Iterator[str]:
    """The CSV text in chunks of a few hundred rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(group))
    for count, row in enumerate(rows(report, group, language), start=1):
        writer.writerow(row)
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(report: ReportFilter, group: tuple[str, ...], language: str, path: str) -> int:
    """Write the export as a CSV file; returns the number of rows."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header(group))
        for row in rows(report, group, language):
            writer.writerow(row)
            count += 1
    return count


def write_xlsx(report: ReportFilter, group: tuple[str, ...], language: str, path: str) -> int:
    """Write the export as an XLSX file (openpyxl's write-only mode); returns the number of rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Statistics"))
    sheet.append(header(group))
    count = 0
    for row in rows(report, group, language):
        count += 1
        append_as_data(sheet, row)
    workbook.save(path)
    return count


def append_as_data(sheet, row) -> None:
    """Append ``row`` to a write-only sheet, its texts as texts: never a formula, whatever they say."""
    cells = []
    for value in row:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    sheet.append(cells)


def file_name(group: tuple[str, ...], extension: str) -> str:
    return f"training-statistics-by-{'-'.join(group)}-{date.today().isoformat()}.{extension}"


def audit_export(actor_id: int, form: str, group: tuple[str, ...], report: ReportFilter, **extra) -> None:
    """Record who exported which figures (every export is audited)."""
    record(actor_id, "report.exported", "report", None, format=form, group_by=",".join(group),
           filters=filters_as_args(report), **extra)


def filters_as_args(report: ReportFilter) -> dict[str, str]:
    """The filters as query-string values, to store with a job or rebuild a URL."""
    args = {"from": report.date_from, "to": report.date_to, "country": report.country, "sector": report.sector,
            "course": report.labels.get("course"), "cohort": report.cohort, "organisation": report.organisation}
    return {key: str(value) for key, value in args.items() if value is not None}


# --- background exports ---------------------------------------------------------------------

def request_export(actor_id: int, report: ReportFilter, group: tuple[str, ...], form: str,
                   language: str) -> ReportExport:
    """Queue an export to be built by a worker; the outbox event is in the same transaction."""
    if form not in FORMATS:
        raise ValidationFailed(_("Unknown format."), {"format": [_("Use csv or xlsx.")]})
    job = ReportExport(requested_by_id=actor_id, format=form, group_by=",".join(group),
                       filters={**filters_as_args(report), "language": language}, status="pending")
    db.session.add(job)
    db.session.flush()
    audit_export(actor_id, form, group, report, export_id=job.id, background=True)
    emit("report.export_requested", {"export_id": job.id})
    return job


def exports_dir() -> Path:
    path = Path(current_app.config["STORAGE_DIR"]) / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_export(export_id: int) -> str:
    """Build a queued export's file; running it again after success changes nothing."""
    job = db.session.get(ReportExport, export_id)
    if job is None:
        return "missing"
    if job.status == "ready" and job.file_path and Path(job.file_path).exists():
        return "already-ready"
    job.status = "running"
    db.session.commit()
    filters = dict(job.filters)
    language = filters.pop("language", "en")
    report = services.parse_filters(filters)
    group = parse_group_by(job.group_by)
    target = exports_dir() / f"export-{job.id}.{job.format}"
    fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    os.close(fd)
    try:
        if job.format == "xlsx":
            count = write_xlsx(report, group, language, partial)
        else:
            count = write_csv(report, group, language, partial)
        os.replace(partial, target)  # atomic: a half-written file is never offered
    except Exception as exc:
        db.session.rollback()
        job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        db.session.commit()
        raise
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    job.status, job.file_path, job.rows, job.finished_at, job.error = "ready", str(target), count, utcnow(), None
    db.session.commit()
    return "ready"


def get_export(export_id: int) -> ReportExport:
    job = db.session.get(ReportExport, export_id)
    if job is None:
        raise NotFound(_("No such export."))
    return job
