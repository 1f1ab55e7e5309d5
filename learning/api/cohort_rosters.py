"""Cohorts API, rosters: CSV import (at once or in the background, with progress) and CSV export.

Every path is for the cohort's trainers and admins; other trainers get 404 and
learners 403 (``learning.cohorts.services.get_cohort_for``).
"""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import OneOf
from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _

from learning.api.auth import auth, current_api_user
from learning.api.cohorts import RUNNERS
from learning.api.schemas import ErrorDetailSchema
from learning.cohorts import imports, services
from learning.cohorts.roster import RosterFileInvalid
from learning.errors import ValidationFailed, error_body
from learning.extensions import db

bp = APIBlueprint("api_cohort_rosters", __name__, url_prefix="/api/v1", tag="Cohorts")


class RowErrorSchema(Schema):
    row = Integer(required=True, metadata={"description": "Spreadsheet row: 1 is the header, 0 the whole file"})
    field = String(required=True)
    message = String(required=True)


class RosterReportSchema(Schema):
    created = Integer(required=True, metadata={"description": "New accounts (each gets an invitation e-mail)"})
    enrolled = Integer(required=True)
    already_enrolled = Integer(required=True)
    errors = List(Nested(RowErrorSchema), required=True)
    rows = Integer(metadata={"description": "Rows of people in the file"})
    ignored_columns = List(String())
    mode = String()
    applied = Boolean(metadata={"description": "Whether anything was written"})
    error = Nested(ErrorDetailSchema, metadata={"description": "Present when the file was rejected"})


class ImportReportSchema(RosterReportSchema):
    pass


class RosterQuerySchema(Schema):
    mode = String(load_default=imports.ALL_OR_NOTHING, validate=OneOf(imports.MODES))
    background = Boolean(load_default=False, metadata={"description": "Queue the import and answer 202 at once"})


class RosterImportSchema(Schema):
    id = Integer(required=True)
    status = String(required=True, metadata={"description": "queued, running, done, rejected or failed"})
    mode = String(required=True)
    filename = String(required=True)
    total_rows = Integer(required=True)
    processed_rows = Integer(required=True)
    report = Nested(ImportReportSchema, allow_none=True)
    created_at = DateTime(required=True)
    finished_at = DateTime(allow_none=True)
    status_url = String(required=True)


def serialise_import(cohort_id: int, job) -> dict:
    return {
        "id": job.id, "status": job.status, "mode": job.mode, "filename": job.filename,
        "total_rows": job.total_rows, "processed_rows": job.processed_rows, "report": job.report,
        "created_at": job.created_at, "finished_at": job.finished_at,
        "status_url": url_for("api_cohort_rosters.get_roster_import", cohort_id=cohort_id, import_id=job.id),
    }


def _cohort(cohort_id: int):
    return services.get_cohort_for(current_api_user(), cohort_id)


def _uploaded_file() -> tuple[bytes, str]:
    """The CSV from a multipart field ``file`` or from a ``text/csv`` body."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(_("Send the CSV in the multipart field 'file'."), {"file": [_("Missing file.")]})
        return upload.read(), upload.filename or ""
    return request.get_data(cache=False), ""


def _rejected(report: imports.RosterReport, message: str, code: str = "roster_invalid") -> Response:
    body = report.as_dict()
    body.update(error_body(code, message))
    response = jsonify(body)
    response.status_code = 422
    return response


@bp.post("/cohorts/<int:cohort_id>/roster")
@bp.auth_required(auth, roles=RUNNERS)
@bp.input(RosterQuerySchema, location="query", arg_name="query")
@bp.output(RosterReportSchema)
@bp.doc(summary="Import a roster from CSV",
        description="Header `email,full_name,country,sector,organisation,language` in any order and case; "
        "UTF-8 with or without BOM; comma, semicolon or tab. Countries as codes or names (English, Spanish, French, "
        "Portuguese), sectors as codes or labels. New people get an account and an invitation e-mail. "
        "In all_or_nothing mode any bad row rejects the file (422, nothing changed); in partial mode good rows "
        "are imported and bad ones reported.",
        responses={202: {"description": "Queued (with background=true)",
                         "content": {"application/json": {"schema": RosterImportSchema}}},
                   403: "Not a trainer or admin", 404: "No such cohort", 409: "The cohort is closed",
                   413: "The file is too large",
                   422: {"description": "Bad rows or unreadable file: the report, with `error`, and nothing changed; "
                                        "or a bad `mode`: the error body",
                         "content": {"application/json": {"schema": {"anyOf": [
                             {"$ref": "#/components/schemas/RosterReportSchema"},
                             {"$ref": "#/components/schemas/ErrorSchema"}]}}}}})
def import_roster(cohort_id: int, query):
    actor = current_api_user()
    cohort = _cohort(cohort_id)
    data, filename = _uploaded_file()
    if query["background"]:
        job = imports.start_import(cohort, data, query["mode"], actor.id, filename)
        response = jsonify(RosterImportSchema().dump(serialise_import(cohort.id, job)))
        response.status_code = 202
        return response
    try:
        report = imports.import_roster(cohort, data, query["mode"], actor.id)
    except imports.RosterInvalid as invalid:
        db.session.rollback()
        return _rejected(invalid.report, invalid.message)
    except RosterFileInvalid as invalid:
        db.session.rollback()
        return _rejected(imports.RosterReport(errors=invalid.errors, mode=query["mode"]), invalid.message)
    return report.as_dict()


@bp.get("/cohorts/<int:cohort_id>/roster-imports/<int:import_id>")
@bp.auth_required(auth, roles=RUNNERS)
@bp.output(RosterImportSchema)
@bp.doc(summary="Progress and report of a background roster import", responses={404: "No such import"})
def get_roster_import(cohort_id: int, import_id: int):
    cohort = _cohort(cohort_id)
    return serialise_import(cohort.id, imports.get_import(cohort, import_id))


@bp.get("/cohorts/<int:cohort_id>/roster.csv")
@bp.auth_required(auth, roles=RUNNERS)
@bp.doc(summary="The roster as CSV, with progress and attendance",
        responses={200: {"description": "CSV, UTF-8", "content": {"text/csv": {"schema": {"type": "string"}}}},
                   403: "Not a trainer or admin", 404: "No such cohort"})
def export_roster(cohort_id: int):
    cohort = _cohort(cohort_id)
    return Response(services.export_roster(current_api_user().id, cohort), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cohort-{cohort.id}-roster.csv"'})
