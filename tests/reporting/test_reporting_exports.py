"""Exports: CSV and XLSX of any grouping, suppressed, formula-safe, streamed, audited."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from learning.audit.models import AuditEntry
from learning.extensions import db
from learning.reporting import exports
from learning.reporting.models import ReportExport
from learning.reporting.queries import ReportFilter
from tests import factories_reporting as rf


def crowd(country: str, sector: str, course, size: int, day: date = date(2024, 3, 1), completed: bool = True):
    for _ in range(size):
        rf.enrolment(rf.person(country, sector), course, day, day if completed else None)


@pytest.fixture
def data(app_context):
    course = rf.course("=HYPERLINK(\"http://evil\")", "=1+2 Dangerous title")
    crowd("CO", "law_enforcement", course, 7)
    crowd("KE", "health", course, 3)
    db.session.commit()
    return course


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_by_country_suppresses_small_cells(api, make, data):
    response = api.as_user(make.admin()).get("reports/export.csv?group_by=country")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = {row["country"]: row for row in read_csv(response)}
    assert rows["CO"]["country_name"] == "Colombia"
    assert rows["KE"]["professionals_trained"] == "<5"
    # With 10 people trained in all, publishing Colombia's 7 would give Kenya's 3 away: it is withheld.
    assert rows["CO"]["professionals_trained"] == "x"


def test_export_with_enough_room_publishes_the_large_cells(api, make, data):
    crowd("PE", "justice", data, 40)
    db.session.commit()
    rows = {row["country"]: row for row in read_csv(api.as_user(make.admin()).get("reports/export.csv?group_by=country"))}
    assert [rows[c]["professionals_trained"] for c in ("KE", "CO", "PE")] == ["<5", "x", "40"]


def test_threshold_is_configurable(api, make, data, app):
    app.config["SMALL_CELL_THRESHOLD"] = 3
    try:
        rows = {r["country"]: r for r in read_csv(api.as_user(make.admin()).get("reports/export.csv?group_by=country"))}
    finally:
        app.config["SMALL_CELL_THRESHOLD"] = 5
    assert rows["KE"]["professionals_trained"] == "3"


def test_text_a_spreadsheet_would_run_is_neutralised(api, make, data):
    rows = read_csv(api.as_user(make.admin()).get("reports/export.csv?group_by=course"))
    assert rows[0]["course"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["course_title"] == "'=1+2 Dangerous title"
    assert [exports.neutralise(v) for v in ("+1", "-1", "@x", "\tx", "\rx", "ok", 5)] == [
        "'+1", "'-1", "'@x", "'\tx", "'\rx", "ok", 5]


def test_two_way_export_by_country_and_sector(api, make, data):
    rows = read_csv(api.as_user(make.admin()).get("reports/export.csv?group_by=country,sector&country=CO"))
    assert [(r["country"], r["sector"], r["professionals_reached"]) for r in rows] == [("CO", "law_enforcement", "7")]


def test_export_by_month_labels_months(api, make, data):
    rows = read_csv(api.as_user(make.admin()).get("reports/export.csv?group_by=month&from=2024-01-01&to=2024-12-31"))
    assert [(r["month"], r["professionals_reached"]) for r in rows] == [("2024-03", "10")]


def test_xlsx_export_is_a_workbook_with_text_never_formulas(api, make, data, tmp_path):
    response = api.as_user(make.admin()).get("reports/export.xlsx?group_by=course")
    assert response.status_code == 200
    path = tmp_path / "export.xlsx"
    path.write_bytes(response.get_data())
    sheet = load_workbook(path).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:2] == ["course", "course_title"]
    assert values[1][1] == "'=1+2 Dangerous title"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("query, field", [("group_by=planet", "group_by"), ("group_by=year,month", "group_by"),
                                          ("group_by=country&country=ZZ", "country")])
def test_bad_export_requests_answer_422_and_are_not_audited(api, make, data, query, field):
    response = api.as_user(make.admin()).get(f"reports/export.csv?{query}")
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert db.session.query(AuditEntry).filter_by(action="report.exported").count() == 0


def test_csv_is_streamed_in_chunks_for_many_groups(app_context):
    course = rf.course()
    cohorts = [rf.cohort(course) for _ in range(450)]
    person = rf.person()
    for cohort in cohorts:
        rf.enrolment(person, course, date(2024, 1, 2), cohort_id=cohort.id)
    db.session.commit()
    chunks = list(exports.csv_chunks(ReportFilter(), ("cohort",), "en"))
    assert len(chunks) >= 3  # written a few hundred rows at a time, not built whole
    assert sum(chunk.count("\n") for chunk in chunks) == 451


def test_background_export_builds_a_file_once(api, make, data, app):
    from learning.outbox.models import OutboxEvent

    admin = make.admin()
    response = api.as_user(admin).post("reports/exports", json={"format": "xlsx", "group_by": "country,sector"})
    assert response.status_code == 202
    job_id = response.json["id"]
    assert response.json["status"] == "pending" and response.json["download_url"] is None
    event = db.session.query(OutboxEvent).filter_by(event_type="report.export_requested").one()
    assert event.payload == {"export_id": job_id}
    assert exports.build_export(job_id) == "ready"
    assert exports.build_export(job_id) == "already-ready"
    status = api.as_user(admin).get(f"reports/exports/{job_id}").json
    assert status["status"] == "ready" and status["rows"] == 2
    download = api.as_user(admin).get(status["download_url"])
    assert download.status_code == 200 and download.get_data()[:2] == b"PK"
    download.close()
    actions = [e.action for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions == ["report.exported", "report.export_downloaded"]


def test_background_export_rejects_bad_input_and_creates_nothing(api, make, data):
    response = api.as_user(make.admin()).post("reports/exports", json={"format": "pdf", "group_by": "country"})
    assert response.status_code == 422
    response = api.as_user(make.admin()).post("reports/exports", json={"group_by": "country", "from": "soon"})
    assert response.status_code == 422 and "from" in response.json["error"]["fields"]
    assert db.session.query(ReportExport).count() == 0


def test_exports_are_for_admins_only(api, make, data):
    admin = make.admin()
    job_id = api.as_user(admin).post("reports/exports", json={"group_by": "country"}).json["id"]
    learner = api.as_user(make.user())
    assert learner.get(f"reports/exports/{job_id}").status_code == 403
    assert learner.get(f"reports/exports/{job_id}/download").status_code == 403
    assert api.as_user(admin).get(f"reports/exports/{job_id}/download").status_code == 404  # not built yet


def test_labels_read_once_per_export_give_the_rows_labelled_row_by_row(app_context, monkeypatch):
    """The export reads its labels for every key of the table at once (LABEL_BATCH ids a query): the
    file is the same whatever the batch, here for cohorts × months with names a spreadsheet would run."""
    course, other = rf.course(), rf.course(title="=cmd|' /C calc'!A0")
    cohorts = [rf.cohort(course if i % 2 else other, name=f"=Cohort {i}" if i % 3 == 0 else None) for i in range(7)]
    for i, cohort in enumerate(cohorts):
        for day in (date(2024, 1, 2 + i), date(2024, 2 + i % 3, 3)):
            rf.enrolment(rf.person(), course, day, day, cohort_id=cohort.id)
    rf.enrolment(rf.person(), course, date(2024, 3, 3))  # no cohort
    db.session.commit()

    def written(group: tuple[str, ...]) -> str:
        return "".join(exports.csv_chunks(ReportFilter(), group, "en"))

    for group in (("cohort", "month"), ("course", "cohort"), ("organisation",)):
        monkeypatch.setattr(exports, "LABEL_BATCH", 2000)
        whole = written(group)
        monkeypatch.setattr(exports, "LABEL_BATCH", 1)
        assert written(group) == whole, group
    assert "'=Cohort 0" in written(("cohort", "month"))
