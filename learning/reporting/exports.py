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
import heapq
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
from learning.reporting.rollup import DIMENSIONS

FORMATS = ("csv", "xlsx")
WITHHELD_STATUS = "withheld"  # a background export with nothing to publish at its grain (no file)
# From how many combinations (rows × columns) a two-way export first probes a few of its rows: the
# answer "withheld whole" is then known without counting the table (``_withheld_early``).
PROBE_FROM = 20_000
PROBE_ROWS = 8  # rows probed per figure
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


@dataclass
class Published:
    """A table as it will be published: its rows (keys and counts) and each row's published figures."""

    rows: list[CountRow]
    figures: list[dict]


class Unpublishable(ValidationFailed):
    """No figure of a two-way table can be published at this grain: each would be withheld whole.

    The export answers this instead of a file of "x" (docs/REPORTING.md, *A table that cannot be
    published at its grain*): a 422 naming ``group_by``, with the single groupings of the same filters
    that do publish figures (``suggestions``, the API's codes)."""

    def __init__(self, group: tuple[str, ...], suggestions: list[str]):
        self.group, self.suggestions = group, suggestions
        message = withheld_message(group, suggestions)
        super().__init__(message, {"group_by": [message]}, suggestions=suggestions)


def withheld_message(group: tuple[str, ...], suggestions: list[str]) -> str:
    """Why a table was not published, and what to ask for instead, in the reader's language."""
    message = _("No figure of this table can be published grouped by %(grouping)s: each would have to be "
                "withheld so that no small count could be worked out from the others.",
                grouping=grouping_name(group))
    if suggestions:
        names = [grouping_name((name,)) for name in suggestions]
        choices = names[0] if len(names) == 1 else _("%(some)s or %(last)s", some=", ".join(names[:-1]),
                                                         last=names[-1])
        return message + " " + _("Export it grouped by %(groupings)s instead.", groupings=choices)
    return message + " " + _("Try a longer period or fewer filters.")


def grouping_name(group: tuple[str, ...]) -> str:
    """A grouping (one or two names) in the reader's language."""
    from learning.reporting.views import grouping_label

    if len(group) == 2:
        return _("%(first)s and %(second)s", first=grouping_label(group[0]), second=grouping_label(group[1]))
    return grouping_label(group[0])


def publish(report: ReportFilter, group: tuple[str, ...]) -> Published:
    """The table of an export as published, counted and protected (``disclosure``); raises
    ``Unpublishable`` when it is a two-way table every figure of which would be withheld whole."""
    threshold = services.small_cell_threshold()
    if len(group) == 1:
        table, figures, _withheld = disclosure.publish_rows(report, group, list(counts(report, group)), threshold)
        return Published(table, figures)
    total = next(iter(counts(report)), CountRow(()))
    margins = [{row.key[0]: row for row in counts(report, (name,))} for name in group]
    protected: dict = {}  # (name, figure) -> the margins as published, shared by the probe and the suggestions
    if _withheld_early(report, group, total, margins, threshold, protected):
        raise Unpublishable(group, suggestions(report, group, total, margins, threshold, protected))
    table, figures, withheld = disclosure.publish_two_way(list(counts(report, group)), total, *margins, threshold)
    if withheld == set(disclosure.FIGURES):
        raise Unpublishable(group, suggestions(report, group, total, margins, threshold, protected))
    return Published(table, figures)


def _protected(protected: dict, name: str, figure: str, margins: dict, total: CountRow,
               threshold: int) -> tuple[dict, bool]:
    if (name, figure) not in protected:
        protected[name, figure] = disclosure.protect_margins(
            {key: getattr(row, figure) for key, row in margins.items()}, getattr(total, figure), threshold)
    return protected[name, figure]


def _withheld_early(report: ReportFilter, group: tuple[str, ...], total: CountRow, margins: list[dict],
                    threshold: int, protected: dict) -> bool:
    """Whether every figure of a large two-way table is withheld whole, known from a few of its lines.

    The lines probed are rows when the first name is a dimension, else columns when the second is
    (``month,cohort``). For each figure, the lines already counted and then, one at a time, those with
    the smallest margins from the threshold up (most likely to hold only small cells that their exact
    margin gives away), at most PROBE_ROWS, are counted on their own (their dimension as a filter: a
    few hundred facts through its index) and judged: a row as the table's first pass protects it
    (``disclosure.withheld_by_a_row``), a column at its most withheld (``withheld_by_a_column``); both
    exact when they answer yes. One such line settles the figure; a figure not settled and the table
    is counted and protected whole."""
    position = next((i for i, name in enumerate(group) if name in DIMENSIONS and name not in report.dimensions()),
                    None)
    if position is None or len(margins[0]) * len(margins[1]) < PROBE_FROM:
        return False
    name, other = group[position], group[1 - position]
    judge = disclosure.withheld_by_a_row if position == 0 else disclosure.withheld_by_a_column
    counted: dict = {}
    for figure in disclosure.FIGURES:
        line_totals = {key: getattr(row, figure) for key, row in margins[position].items()}
        protection = _protected(protected, name, figure, margins[position], total, threshold)
        probed = heapq.nsmallest(PROBE_ROWS, (key for key, value in line_totals.items()
                                              if key is not None and value >= threshold),
                                 key=lambda key: (line_totals[key], disclosure._order(key)))
        settled = False
        for key in [*counted, *(key for key in probed if key not in counted)]:
            if key not in counted:
                counted[key] = list(counts(replace(report, **{name: key}), (other,)))
            line = {key: {count.key[0]: getattr(count, figure) for count in counted[key]}}
            if judge(line, line_totals, getattr(total, figure), threshold, protection):
                settled = True
                break
        if not settled:
            return False
    return True


def suggestions(report: ReportFilter, group: tuple[str, ...], total: CountRow, margins: list[dict],
                threshold: int, protected: dict) -> list[str]:
    """The single groupings of the same filters that publish at least one figure: each name of the
    grouping (its margins, already counted), and the year when it was by month."""
    tables = dict(zip(group, margins, strict=True))
    if "month" in group:
        tables["year"] = {row.key[0]: row for row in counts(report, ("year",))}
    # A one-way export protects its rows as a two-way table protects its margins (``publish_one_way``).
    return [name for name, table in tables.items()
            if any(not _protected(protected, name, figure, table, total, threshold)[1] for figure in disclosure.FIGURES)]


def rows(report: ReportFilter, group: tuple[str, ...], language: str, table: Published | None = None) -> Iterator[list]:
    """Labelled rows in key order, as published (small and complementary cells withheld).

    ``table``: the export's ``publish``; without it the table is counted and protected here, and a table
    withheld whole is listed whole (every combination "x")."""
    if table is None:
        threshold = services.small_cell_threshold()
        table = Published(*disclosure.publish_rows(report, group, list(counts(report, group)), threshold)[:2])
    # The labels of every key of the table, read once (a query per LABEL_BATCH distinct keys), not
    # once per batch of rows: a cohort × month table repeats each cohort on a hundred rows.
    labels = _labels(group, table.rows, language)
    for row, published in zip(table.rows, table.figures, strict=True):
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


def csv_chunks(report: ReportFilter, group: tuple[str, ...], language: str,
               table: Published | None = None) -> Iterator[str]:
    """The CSV text in chunks of a few hundred rows. The table is counted and protected at once (its
    ``Unpublishable`` raised before the first chunk), then written as the chunks are read."""
    return _csv_chunks(group, rows(report, group, language, table or publish(report, group)))


def _csv_chunks(group: tuple[str, ...], lines: Iterator[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(group))
    for count, row in enumerate(lines, start=1):
        writer.writerow(row)
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(report: ReportFilter, group: tuple[str, ...], language: str, path: str,
              table: Published | None = None) -> int:
    """Write the export as a CSV file; returns the number of rows."""
    table = table or publish(report, group)
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header(group))
        for row in rows(report, group, language, table):
            writer.writerow(row)
            count += 1
    return count


def write_xlsx(report: ReportFilter, group: tuple[str, ...], language: str, path: str,
               table: Published | None = None) -> int:
    """Write the export as an XLSX file (openpyxl's write-only mode); returns the number of rows."""
    table = table or publish(report, group)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Statistics"))
    sheet.append(header(group))
    count = 0
    for row in rows(report, group, language, table):
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
    if job.status == WITHHELD_STATUS:
        return "already-withheld"
    job.status = "running"
    db.session.commit()
    filters = dict(job.filters)
    language = filters.pop("language", "en")
    report = services.parse_filters(filters)
    group = parse_group_by(job.group_by)
    try:
        table = publish(report, group)
    except Unpublishable as refused:
        # Nothing to publish at this grain: the job ends here, with what to ask for instead (no file).
        job.status, job.rows, job.finished_at = WITHHELD_STATUS, 0, utcnow()
        job.error = ";".join(refused.suggestions)
        return "withheld"  # committed by the task's unit of work (``outbox.process``), with the event's done-mark
    target = exports_dir() / f"export-{job.id}.{job.format}"
    fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    os.close(fd)
    try:
        if job.format == "xlsx":
            count = write_xlsx(report, group, language, partial, table)
        else:
            count = write_csv(report, group, language, partial, table)
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


def withheld_suggestions(job: ReportExport) -> list[str]:
    """The groupings suggested instead of a withheld export (kept in its ``error``)."""
    return [name for name in (job.error or "").split(";") if name] if job.status == WITHHELD_STATUS else []


def get_export(export_id: int) -> ReportExport:
    job = db.session.get(ReportExport, export_id)
    if job is None:
        raise NotFound(_("No such export."))
    return job
