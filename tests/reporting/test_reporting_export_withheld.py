"""Exports of a table none of whose figures can be published (issue 16), and every other export unchanged.

A two-way table every figure of which complementary suppression withholds
whole (cohort by month: cohorts of a few people spread over months) is not
listed as a file of "x": the API answers 422 naming ``group_by`` with the
groupings that do publish, a background export ends ``withheld`` with the
same, in the admin's language. Every other export is byte for byte what the
dense protection wrote before (its code is kept in ``test_reporting_sparse``),
and the early answer from a few probed rows is the full protection's answer.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from flask_babel import refresh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from learning.audit.models import AuditEntry
from learning.extensions import db
from learning.outbox import services as outbox
from learning.outbox.models import OutboxEvent
from learning.reporting import exports, services
from learning.reporting.models import ReportExport
from learning.reporting.queries import CountRow, ReportFilter, counts
from tests import factories_reporting as rf
from tests.reporting.test_reporting_sparse import dense_publish_rows

FIGURES = ["professionals_reached", "professionals_trained", "certificates_issued"]


def spread_cohort(course, cohort, months: list[int], people: int, year: int = 2024) -> None:
    """``people`` professionals of a cohort per month listed, each enrolled, trained and certified that month."""
    for month in months:
        for i in range(people):
            day = date(year, month, 1 + i)
            rf.enrolment(rf.person(), course, day, day, day, cohort_id=cohort.id)


@pytest.fixture
def unpublishable(app_context):
    """A cohort of six over two months: three a month, each cell small and the margin exact."""
    course = rf.course()
    cohort = rf.cohort(course, name="Bogotá 2024")
    spread_cohort(course, cohort, [1, 2], 3)
    db.session.commit()
    return cohort


def test_a_table_with_nothing_to_publish_answers_422_with_what_does_publish(api, make, unpublishable):
    response = api.as_user(make.admin()).get("reports/export.csv?group_by=cohort,month")
    assert response.status_code == 422
    error = response.json["error"]
    assert error["message"] == (
        "No figure of this table can be published grouped by cohort and month: each would have to be withheld "
        "so that no small count could be worked out from the others. Export it grouped by cohort or year instead.")
    assert error["fields"]["group_by"] == [error["message"]]
    assert error["suggestions"] == ["cohort", "year"]  # by month alone, three and three give each other away
    assert db.session.query(AuditEntry).filter_by(action="report.exported").count() == 0  # nothing exported
    assert api.as_user(make.admin()).get("reports/export.xlsx?group_by=cohort,month").status_code == 422
    # What it suggests does publish.
    rows = list(csv.DictReader(io.StringIO(api.as_user(make.admin()).get(
        "reports/export.csv?group_by=cohort").get_data(as_text=True))))
    assert [row["professionals_reached"] for row in rows] == ["6"]


def test_the_refusal_is_in_the_admins_language(api, make, unpublishable):
    error = api.as_user(make.admin()).get("reports/export.csv?group_by=cohort,month&lang=es").json["error"]
    assert error["message"].startswith("Ninguna cifra de esta tabla puede publicarse agrupada por cohorte y mes")
    assert error["suggestions"] == ["cohort", "year"]


def test_a_background_export_with_nothing_to_publish_ends_withheld(api, make, unpublishable):
    admin = make.admin()
    created = api.as_user(admin).post("reports/exports", json={"format": "csv", "group_by": "cohort,month"})
    assert created.status_code == 202 and created.json["message"] is None and created.json["suggestions"] == []
    job_id = created.json["id"]
    # The worker's unit of work (the outbox event's handler) commits the outcome with the event's done-mark.
    event = db.session.scalar(select(OutboxEvent.id).where(OutboxEvent.event_type == "report.export_requested"))
    assert outbox.process(event) == "done"
    with Session(bind=db.engine) as elsewhere:  # committed: another connection sees it
        assert elsewhere.get(ReportExport, job_id).status == "withheld"
    assert exports.build_export(job_id) == "already-withheld"  # a repeated task changes nothing
    status = api.as_user(admin).get(f"reports/exports/{job_id}").json
    assert status["status"] == "withheld" and status["rows"] == 0 and status["download_url"] is None
    assert status["suggestions"] == ["cohort", "year"]
    assert status["message"].startswith("No figure of this table can be published grouped by cohort and month")
    from flask_babel import force_locale

    with force_locale("fr"):  # the message is written when asked for, in the asker's language
        assert exports.withheld_message(("cohort", "month"), status["suggestions"]) == (
            "Aucun chiffre de ce tableau ne peut être publié regroupé par cohorte et mois : chacun devrait être "
            "masqué pour qu'aucun petit effectif ne puisse être déduit des autres. Exportez-le plutôt regroupé "
            "par cohorte ou année.")
    assert api.as_user(admin).get(f"reports/exports/{job_id}/download").status_code == 404


@pytest.mark.parametrize("lang, said, button", [
    ("en", "No figure of this table can be published", "Prepare it grouped by cohort"),
    ("es", "Ninguna cifra de esta tabla puede publicarse", "Prepararla agrupada por cohorte"),
    ("ar", "لا يمكن نشر أي رقم من هذا الجدول", "إعداده مجمَّعًا حسب الدفعة"),
])
def test_the_export_page_says_so_and_offers_what_publishes(client, make, unpublishable, lang, said, button):
    from tests.factories import PASSWORD

    admin = make.admin(email="boss@example.org")
    client.post("/account/login", data={"email": admin.email, "password": PASSWORD})
    job = ReportExport(requested_by_id=admin.id, format="csv", group_by="cohort,month",
                       filters={"from": "2024-01-01", "language": "en"}, status="pending")
    db.session.add(job)
    db.session.commit()
    assert exports.build_export(job.id) == "withheld"
    db.session.commit()  # what the task's unit of work does
    refresh()  # the test's application context is shared with the requests: forget the sign-in's language
    page = client.get(f"/reports/exports/{job.id}?lang={lang}").get_data(as_text=True)
    assert said in page and button in page
    assert 'name="group_by" value="cohort"' in page and 'name="group_by" value="year"' in page
    assert "Download" not in page
    # The suggestion prepares that export, with the same filters.
    response = client.post("/reports/exports?from=2024-01-01",
                           data={"format": "csv", "group_by": "cohort"})
    assert response.status_code == 302
    again = db.session.query(ReportExport).order_by(ReportExport.id.desc()).first()
    assert again.group_by == "cohort" and again.filters["from"] == "2024-01-01"
    assert exports.build_export(again.id) == "ready"


def test_a_table_partly_published_is_still_listed_whole(app_context):
    """Certificates withheld whole, people published: the rows are written as before (every combination)."""
    course = rf.course()
    cohorts = [rf.cohort(course) for _ in range(2)]
    for cohort in cohorts:
        for month in (1, 2):
            for i in range(6):
                day = date(2024, month, 1 + i)
                rf.enrolment(rf.person(), course, day, day, day if i < 3 else None, cohort_id=cohort.id)
    db.session.commit()
    text = "".join(exports.csv_chunks(ReportFilter(), ("cohort", "month"), "en"))
    assert text == reference_csv(ReportFilter(), ("cohort", "month"), "en")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["certificates_issued"] for row in rows} == {"x"} and {row["professionals_reached"] for row in rows} == {"6"}


# --- every export as it was -----------------------------------------------------------------

def reference_csv(report: ReportFilter, group: tuple[str, ...], language: str) -> str:
    """The export as written before issue 16: the dense protection, every figure listed, then labels and CSV."""
    threshold = services.small_cell_threshold()
    total = next(iter(counts(report)), CountRow(()))
    margins = ({}, {}) if len(group) == 1 else [{row.key[0]: row for row in counts(report, (name,))} for name in group]
    table, figures, _withheld = dense_publish_rows(group, list(counts(report, group)), total, *margins, threshold)
    labels = exports._labels(group, table, language)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(exports.header(group))
    for row, published in zip(table, figures, strict=True):
        cells: list = []
        for position, name in enumerate(group):
            cells += labels[name](row.key[position])
        cells += [published["reached"], published["trained"], published["certified"]]
        writer.writerow([exports.neutralise(cell) for cell in cells])
    return buffer.getvalue()


GROUPINGS = [("country",), ("sector",), ("course",), ("cohort",), ("organisation",), ("year",), ("month",),
             ("country", "sector"), ("cohort", "month"), ("month", "cohort"), ("course", "month"),
             ("organisation", "year"), ("cohort", "course"), ("sector", "month"), ("country", "year")]
START = date(2024, 1, 1)
histories = st.lists(
    st.fixed_dictionaries({
        "person": st.integers(0, 14),
        "course": st.integers(0, 1),
        "cohort": st.sampled_from([None, 0, 1, 2]),
        "organisation": st.sampled_from([None, 0, 1]),
        "country": st.sampled_from(["CO", "KE", None]),
        "sector": st.sampled_from(["health", "education"]),
        "enrolled": st.integers(0, 400),
        "completed_after": st.one_of(st.none(), st.integers(0, 40)),
        "certified": st.booleans(),
    }),
    max_size=24,
)


def write(history, crowd: int) -> None:
    courses = [rf.course(title=f"=Course {i}") for i in range(2)]
    cohorts = [rf.cohort(courses[i % 2], name=f"Cohort {i}") for i in range(3)]
    organisations = [rf.organisation() for _ in range(2)]
    people = [rf.person() for _ in range(15)]
    for spec in history:
        enrolled = START + timedelta(days=spec["enrolled"])
        completed = enrolled + timedelta(days=spec["completed_after"]) if spec["completed_after"] is not None else None
        rf.enrolment(people[spec["person"]], courses[spec["course"]], enrolled, completed,
                     completed if completed and spec["certified"] else None,
                     cohort_id=cohorts[spec["cohort"]].id if spec["cohort"] is not None else None,
                     country=spec["country"], sector=spec["sector"],
                     organisation_id=organisations[spec["organisation"]].id if spec["organisation"] is not None
                     else None)
    for i in range(crowd):  # enough people in one cell for some tables to publish figures
        day = START + timedelta(days=40 + i)
        rf.enrolment(rf.person(), courses[0], day, day, day, cohort_id=cohorts[0].id)
    db.session.commit()


@given(history=histories, crowd=st.sampled_from([0, 0, 12]),
       period=st.sampled_from([(None, None), (date(2024, 1, 1), date(2024, 12, 31)),
                               (date(2024, 2, 10), date(2024, 11, 5))]))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_export_is_as_before_or_refused_only_when_nothing_was_published(app_context, monkeypatch, history,
                                                                             crowd, period):
    rf.wipe()
    write(history, crowd)
    report = ReportFilter(date_from=period[0], date_to=period[1])
    for group in GROUPINGS:
        before = reference_csv(report, group, "en")
        for probe_from in (exports.PROBE_FROM, 0):  # the early answer from a few rows, and the whole table
            monkeypatch.setattr(exports, "PROBE_FROM", probe_from)
            try:
                after = "".join(exports.csv_chunks(report, group, "en"))
            except exports.Unpublishable as refused:
                # Refused only when the file held no figure at all, and what it suggests publishes some.
                rows = list(csv.DictReader(io.StringIO(before)))
                assert len(group) == 2 and rows, group
                assert {row[column] for row in rows for column in FIGURES} == {"x"}, group
                for name in (*group, "year") if "month" in group else group:
                    shown = [row[column] for row in csv.DictReader(io.StringIO(reference_csv(report, (name,), "en")))
                             for column in FIGURES]
                    publishes = not shown or any(value != "x" for value in shown)
                    assert (name in refused.suggestions) == publishes, (group, name, refused.suggestions)
            else:
                assert after == before, (group, probe_from)


@pytest.mark.browser
@pytest.mark.parametrize("lang, said, button", [
    ("en", "No figure of this table can be published", "Prepare it grouped by year"),
    ("es", "Ninguna cifra de esta tabla puede publicarse", "Prepararla agrupada por año"),
    ("ar", "لا يمكن نشر أي رقم من هذا الجدول", "إعداده مجمَّعًا حسب السنة"),
])
def test_the_withheld_export_page_on_a_phone(browser, live_server, app, lang, said, button):
    """360 px wide in three languages: the page says why, fits, and its suggestion prepares that export."""
    from learning.reporting.models import ReportExport
    from tests import factories
    from tests.page_walk import Site, browsing_as, visit

    with app.app_context():
        course = rf.course()
        spread_cohort(course, rf.cohort(course, name="Bogotá 2024"), [1, 2], 3)
        admin = factories.admin()
        job = ReportExport(requested_by_id=admin.id, format="csv", group_by="cohort,month",
                           filters={"language": lang}, status="pending")
        db.session.add(job)
        db.session.commit()
        assert exports.build_export(job.id) == "withheld"
        db.session.commit()  # what the task's unit of work does
        job_id, _email = job.id, admin.email  # read before the session goes
        db.session.remove()
    with browsing_as(browser, live_server.url, Site(users={"admin": admin}), "admin", lang, width=360) as page:
        visit(page, f"/reports/exports/{job_id}", lang)
        assert said in page.locator("#export-withheld").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.get_by_role("button", name=button).click()
        page.wait_for_selector("#export-waiting")
        assert page.url.rstrip("/").split("/")[-1] != str(job_id)
    with app.app_context():
        assert db.session.query(ReportExport).order_by(ReportExport.id.desc()).first().group_by == "year"
        db.session.remove()
