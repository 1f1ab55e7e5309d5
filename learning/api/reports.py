"""Reports API: the summary and exports (admins) and the public impact figures."""

from __future__ import annotations

import os
import tempfile

from apiflask import APIBlueprint, Schema
from apiflask.fields import DateTime, Dict, Integer, List, Nested, Raw, String
from flask import Response, request, send_file, stream_with_context, url_for
from flask_babel import gettext as _

from learning.api.auth import auth, current_api_user
from learning.errors import NotFound
from learning.i18n import current_language
from learning.parsing import DATABASE_YEARS_PATTERN
from learning.reporting import exports, services
from learning.reporting.queries import ReportFilter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

bp = APIBlueprint("api_reports", __name__, url_prefix="/api/v1", tag="Reports")

FILTERS_DOC = (
    "Filters: `from`, `to` (UTC dates, inclusive), `country` (ISO code), `sector` (code), `course` (slug), "
    "`cohort` (id), `organisation` (id, or else the exact name, ignoring case). People are counted once "
    "(distinct), attributed by what their enrolment recorded. Bad values answer 422 naming the field."
)

WITHHELD_DOC = (
    " A two-way grouping none of whose figures can be published (each would be withheld whole to protect "
    "small counts, as with cohort by month) answers 422 naming `group_by`, with `suggestions`: the single "
    "groupings of the same filters that do publish figures."
)


# The filters as the service names and checks them (``services.parse_filters``); documented here only.
# Dates carry the pattern of the years the platform handles, so a date the server refuses is not "valid".
FilterQuerySchema = Schema.from_dict(
    {name: String(metadata={**meta, "pattern": DATABASE_YEARS_PATTERN} if meta.get("format") == "date" else meta)
     for name, meta in services.FILTERS.items()},
    name="FilterQuerySchema")


def requested_filters(args=None) -> ReportFilter:
    """The summary's filters as every report of the API takes them: from the query string (or
    ``args``), documented by ``FilterQuerySchema``, a blank date refused; 422 naming each bad one."""
    return services.parse_filters(request.args if args is None else args, blank_is_unset=False)


def csv_attachment(body, filename: str) -> Response:
    """A CSV download (``body``: the text, or its chunks to stream) named ``filename``."""
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ExportQuerySchema(FilterQuerySchema):
    group_by = String(metadata={
        "description": "country, sector, course, cohort, organisation, year or month; or two of them "
                       "separated by a comma (at most one period), e.g. `country,sector`",
        "example": "country",
    })


class ByCountrySchema(Schema):
    country = String(allow_none=True, required=True)
    reached = Integer(required=True)
    trained = Integer(required=True)
    certificates = Integer()


class BySectorSchema(Schema):
    sector = String(allow_none=True, required=True)
    reached = Integer(required=True)
    trained = Integer(required=True)
    certificates = Integer()


class ByCourseSchema(Schema):
    course = String(required=True, metadata={"description": "The course slug"})
    reached = Integer(required=True)
    trained = Integer(required=True)
    certificates = Integer()


class ByYearSchema(Schema):
    year = Integer(required=True)
    reached = Integer(required=True)
    trained = Integer(required=True)
    certificates = Integer()


class SummarySchema(Schema):
    professionals_reached = Integer(required=True)
    professionals_trained = Integer(required=True)
    countries_reached = Integer(required=True)
    countries_trained = Integer()
    certificates_issued = Integer(required=True)
    by_country = List(Nested(ByCountrySchema), required=True)
    by_sector = List(Nested(BySectorSchema), required=True)
    by_course = List(Nested(ByCourseSchema), required=True)
    by_year = List(Nested(ByYearSchema), required=True)


class ExportRequestSchema(FilterQuerySchema):
    format = String(load_default="csv", metadata={"description": "csv or xlsx"})
    group_by = String(load_default="country")


class ExportJobSchema(Schema):
    id = Integer(required=True)
    status = String(required=True, metadata={
        "description": "pending, running, ready or failed; or withheld: no figure of the table can be published "
                       "at this grain (no file; see `message` and `suggestions`)"})
    format = String(required=True)
    group_by = String(required=True)
    filters = Dict(keys=String(), values=String())
    rows = Integer(allow_none=True)
    created_at = DateTime(required=True)
    finished_at = DateTime(allow_none=True)
    status_url = String(required=True)
    download_url = String(allow_none=True, metadata={"description": "Present once the file is ready"})
    message = String(allow_none=True, metadata={
        "description": "When `status` is `withheld`: why nothing was published, in the caller's language"})
    suggestions = List(String(), metadata={
        "description": "When `status` is `withheld`: groupings of the same filters that do publish figures"})


def published_count() -> Raw:
    """A count, "<5" when it is below the small-cell threshold, or "x" when withheld so that no small
    count can be worked out from the others (complementary suppression)."""
    return Raw(required=True, metadata={
        "description": 'A count; "<5" when below the threshold; "x" when withheld so that no small count '
                       "can be derived from the total and the other cells",
        "oneOf": [{"type": "integer"}, {"type": "string"}]})


class ImpactRowSchema(Schema):
    country = String()
    sector = String()
    reached = published_count()
    trained = published_count()


class ImpactSchema(Schema):
    year = Integer(required=True)
    professionals_reached = published_count()
    professionals_trained = published_count()
    certificates_issued = published_count()
    countries_reached = published_count()
    countries_trained = published_count()
    sectors_trained = published_count()
    small_cell_threshold = Integer(required=True)
    by_country = List(Nested(ImpactRowSchema), required=True)
    by_sector = List(Nested(ImpactRowSchema), required=True)


@bp.get("/reports/summary")
@bp.auth_required(auth, roles=["admin"])
@bp.input(FilterQuerySchema, location="query", arg_name="query")
@bp.output(SummarySchema)
@bp.doc(summary="Training statistics (admin)", description=FILTERS_DOC,
        responses={401: "Not signed in", 403: "Not an admin", 422: "A filter is invalid"})
def summary(query):
    return services.summary(requested_filters())


def _export_args():
    return requested_filters(), exports.parse_group_by(request.args.get("group_by"))


@bp.get("/reports/export.csv")
@bp.auth_required(auth, roles=["admin"])
@bp.input(ExportQuerySchema, location="query", arg_name="query")
@bp.output({}, content_type="text/csv",
           description="CSV, streamed; counts below the threshold as \"<5\", complementary cells as \"x\"")
@bp.doc(summary="Export statistics as CSV (admin)", description=FILTERS_DOC + WITHHELD_DOC,
        responses={401: "Not signed in", 403: "Not an admin",
                   422: "A filter is invalid, or no figure can be published at this grain"})
def export_csv(query):
    report, group = _export_args()
    table = exports.publish(report, group)  # counted and protected before anything is sent or audited
    exports.audit_export(current_api_user().id, "csv", group, report)
    chunks = exports.csv_chunks(report, group, current_language(), table)
    return csv_attachment(stream_with_context(chunks), exports.file_name(group, "csv"))


@bp.get("/reports/export.xlsx")
@bp.auth_required(auth, roles=["admin"])
@bp.input(ExportQuerySchema, location="query", arg_name="query")
@bp.output({}, content_type=XLSX,
           description="An XLSX workbook; counts below the threshold as \"<5\", complementary cells as \"x\"")
@bp.doc(summary="Export statistics as XLSX (admin)", description=FILTERS_DOC + WITHHELD_DOC,
        responses={401: "Not signed in", 403: "Not an admin",
                   422: "A filter is invalid, or no figure can be published at this grain"})
def export_xlsx(query):
    report, group = _export_args()
    table = exports.publish(report, group)
    exports.audit_export(current_api_user().id, "xlsx", group, report)
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    try:
        exports.write_xlsx(report, group, current_language(), handle.name, table)
    except Exception:
        os.unlink(handle.name)
        raise
    response = Response(_file_chunks(handle.name), mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{exports.file_name(group, "xlsx")}"'
    response.headers["Content-Length"] = str(os.path.getsize(handle.name))
    return response


def _file_chunks(path: str, size: int = 64 * 1024):
    """A file's bytes, a chunk at a time; the temporary file is removed once sent (or abandoned)."""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk
    finally:
        os.unlink(path)


def serialise_job(job) -> dict:
    suggestions = exports.withheld_suggestions(job)
    withheld = job.status == exports.WITHHELD_STATUS
    return {
        "id": job.id, "status": job.status, "format": job.format, "group_by": job.group_by,
        "filters": {k: v for k, v in job.filters.items() if k != "language"}, "rows": job.rows,
        "created_at": job.created_at, "finished_at": job.finished_at,
        "status_url": url_for("api_reports.export_job", export_id=job.id),
        "download_url": url_for("api_reports.export_download", export_id=job.id) if job.status == "ready" else None,
        "message": exports.withheld_message(tuple(job.group_by.split(",")), suggestions) if withheld else None,
        "suggestions": suggestions,
    }


@bp.post("/reports/exports")
@bp.auth_required(auth, roles=["admin"])
@bp.input(ExportRequestSchema, arg_name="data")
@bp.output(ExportJobSchema, status_code=202)
@bp.doc(summary="Build a large export in the background (admin)",
        description="Answers at once; a worker builds the file and `download_url` appears when it is ready "
                    "(or the job ends `withheld`, with `message` and `suggestions`, when no figure of the "
                    "table can be published at this grain). " + FILTERS_DOC,
        responses={401: "Not signed in", 403: "Not an admin", 422: "A field is invalid"})
def create_export(data):
    raw = {key: value for key, value in (request.get_json(silent=True) or {}).items() if isinstance(value, str)}
    report = requested_filters(raw)
    group = exports.parse_group_by(data.get("group_by"))
    job = exports.request_export(current_api_user().id, report, group, data.get("format", "csv"),
                                 current_language())
    return serialise_job(job), 202, {"Location": url_for("api_reports.export_job", export_id=job.id)}


@bp.get("/reports/exports/<int:export_id>")
@bp.auth_required(auth, roles=["admin"])
@bp.output(ExportJobSchema)
@bp.doc(summary="An export's progress (admin)", responses={404: "No such export"})
def export_job(export_id: int):
    return serialise_job(exports.get_export(export_id))


@bp.get("/reports/exports/<int:export_id>/download")
@bp.auth_required(auth, roles=["admin"])
@bp.doc(summary="Download a finished export (admin)", responses={
    200: {"description": "The export's file, CSV or XLSX as it was requested",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      XLSX: {"schema": {"type": "string", "format": "binary"}}}},
    404: "No such export, or not ready"})
def export_download(export_id: int):
    job = exports.get_export(export_id)
    if job.status != "ready" or not job.file_path or not os.path.exists(job.file_path):
        raise NotFound(_("This export is not ready."))
    from learning.audit.services import record

    record(current_api_user().id, "report.export_downloaded", "report_export", job.id)
    group = tuple(job.group_by.split(","))
    mimetype = "text/csv" if job.format == "csv" else XLSX
    return send_file(job.file_path, as_attachment=True, download_name=exports.file_name(group, job.format),
                     mimetype=mimetype)


@bp.get("/impact/<int:year>")
@bp.output(ImpactSchema)
@bp.doc(summary="A year's published figures (anyone)",
        description="Distinct professionals reached and trained in the calendar year (UTC), by country and "
                    "sector; counts below the small-cell threshold are published as \"<5\", and the cells "
                    "withheld so that no small count can be derived by subtraction as \"x\".",
        responses={404: "No such year"})
def impact(year: int):
    if not 1900 <= year <= 9999:
        raise NotFound(_("No figures for that year."))
    return services.impact(year)
