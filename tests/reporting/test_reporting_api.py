"""The reports API: the summary as API.md defines it, its filters, errors and who may call it."""

from __future__ import annotations

from datetime import date

import pytest

from learning.audit.models import AuditEntry
from learning.extensions import db
from tests import factories_reporting as rf


@pytest.fixture
def history(app_context):
    """Three professionals in Colombia and Kenya, two courses, a cohort, over 2023-2024."""
    police = rf.course("policing", "Policing")
    school = rf.course("school", "School safety")
    bogota = rf.cohort(police, "CO", "Bogotá 2024")
    academy = rf.organisation("Police Academy")
    ana = rf.person("CO", "law_enforcement", academy)
    luis = rf.person("CO", "education")
    grace = rf.person("KE", "health")
    rf.enrolment(ana, police, date(2024, 2, 1), date(2024, 3, 1), date(2024, 3, 2), cohort_id=bogota.id)
    rf.enrolment(ana, school, date(2024, 5, 1), date(2024, 6, 1), date(2024, 6, 1))
    rf.enrolment(luis, school, date(2023, 12, 20), date(2024, 1, 10))
    rf.enrolment(grace, police, date(2024, 7, 1))
    db.session.commit()
    return {"police": police, "school": school, "bogota": bogota, "academy": academy,
            "ana": ana, "luis": luis, "grace": grace}


def test_summary_counts_people_once_and_breaks_them_down(api, make, history):
    response = api.as_user(make.admin()).get("reports/summary")
    assert response.status_code == 200
    body = response.json
    assert body["professionals_reached"] == 3
    assert body["professionals_trained"] == 2  # Ana trained twice is one professional
    assert body["countries_reached"] == 2
    assert body["certificates_issued"] == 2
    assert {(r["country"], r["reached"], r["trained"]) for r in body["by_country"]} == {("CO", 2, 2), ("KE", 1, 0)}
    assert {(r["sector"], r["reached"], r["trained"]) for r in body["by_sector"]} == {
        ("law_enforcement", 1, 1), ("education", 1, 1), ("health", 1, 0)}
    assert {(r["course"], r["reached"], r["trained"]) for r in body["by_course"]} == {
        ("policing", 2, 1), ("school", 2, 2)}
    assert [(r["year"], r["reached"], r["trained"]) for r in body["by_year"]] == [(2023, 1, 0), (2024, 2, 2)]


@pytest.mark.parametrize("query, reached, trained", [
    ("from=2024-01-01&to=2024-12-31", 2, 2),
    ("from=2024-01-05&to=2024-03-01", 1, 2),
    ("country=KE", 1, 0),
    ("country=co&from=2024-01-01&to=2024-12-31", 1, 2),
    ("sector=education", 1, 1),
    ("course=policing", 2, 1),
    ("course=policing&from=2024-03-01&to=2024-03-31", 0, 1),
    ("organisation=Police%20Academy", 1, 1),
    ("to=2023-12-31", 1, 0),
])
def test_every_filter_narrows_the_figures(api, make, history, query, reached, trained):
    body = api.as_user(make.admin()).get(f"reports/summary?{query}").json
    assert (body["professionals_reached"], body["professionals_trained"]) == (reached, trained)


def test_cohort_and_organisation_filters_take_ids(api, make, history):
    admin = api.as_user(make.admin())
    by_cohort = admin.get(f"reports/summary?cohort={history['bogota'].id}").json
    by_org = admin.get(f"reports/summary?organisation={history['academy'].id}").json
    assert by_cohort["professionals_reached"] == 1 and by_cohort["by_course"][0]["course"] == "policing"
    assert by_org["professionals_reached"] == 1 and by_org["professionals_trained"] == 1


@pytest.mark.parametrize("query, field", [
    ("country=XX", "country"),
    ("sector=astronauts", "sector"),
    ("from=2024-13-01", "from"),
    ("to=yesterday", "to"),
    ("from=2024-05-01&to=2024-04-30", "to"),
    ("course=no-such-course", "course"),
    ("cohort=abc", "cohort"),
    ("organisation=Nobody%20Inc", "organisation"),
])
def test_bad_filters_answer_422_naming_the_field(api, make, history, query, field):
    response = api.as_user(make.admin()).get(f"reports/summary?{query}")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert list(response.json["error"]["fields"]) == [field]


def test_only_admins_see_the_statistics(api, make, history):
    assert api.get("reports/summary").status_code == 401
    assert api.as_user(make.user()).get("reports/summary").status_code == 403
    assert api.as_user(make.trainer()).get("reports/export.csv").status_code == 403


def test_later_profile_edits_and_erasure_leave_the_figures_unchanged(api, make, history):
    admin = api.as_user(make.admin())
    before = admin.get("reports/summary?from=2024-01-01&to=2024-12-31").json
    ana = history["ana"]
    ana.country, ana.sector, ana.organisation_id = "FR", "justice", None
    rf.erase(history["grace"])
    db.session.commit()
    assert admin.get("reports/summary?from=2024-01-01&to=2024-12-31").json == before


def test_new_enrolments_count_at_once(api, make, history):
    admin = api.as_user(make.admin())
    learner = make.user(country="PE", sector="justice")
    make.completed_enrolment(learner, make.course())
    body = admin.get("reports/summary?country=PE").json
    assert (body["professionals_reached"], body["professionals_trained"]) == (1, 1)


def test_impact_is_public_and_suppresses_small_cells(api, history):
    response = api.get("impact/2024")
    assert response.status_code == 200
    body = response.json
    assert body["professionals_trained"] == "<5"
    assert body["countries_trained"] == 1
    assert {row["country"]: row["trained"] for row in body["by_country"]} == {"CO": "<5", "KE": 0}
    assert api.get("impact/2024").json == body


def test_impact_shows_exact_figures_from_the_threshold_up(api, app_context):
    course = rf.course()
    for _ in range(6):
        rf.enrolment(rf.person("GH", "health"), course, date(2022, 3, 1), date(2022, 4, 1))
    db.session.commit()
    body = api.get("impact/2022").json
    assert body["professionals_trained"] == 6
    assert body["by_country"] == [{"country": "GH", "reached": 6, "trained": 6}]
    assert api.get("impact/12").status_code == 404


def test_openapi_documents_the_reports_paths(api):
    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/reports/summary" in paths and "/api/v1/impact/{year}" in paths
    parameters = {p["name"] for p in paths["/api/v1/reports/summary"]["get"]["parameters"]}
    assert {"from", "to", "country", "sector", "course", "cohort", "organisation"} <= parameters
    assert "422" in paths["/api/v1/reports/summary"]["get"]["responses"]


def test_summary_is_not_audited_but_exports_are(api, make, history):
    admin = make.admin()
    api.as_user(admin).get("reports/summary")
    assert db.session.query(AuditEntry).filter_by(action="report.exported").count() == 0
    api.as_user(admin).get("reports/export.csv?group_by=country").get_data()
    entry = db.session.query(AuditEntry).filter_by(action="report.exported").one()
    assert entry.actor_id == admin.id and entry.details["group_by"] == "country"


def test_the_api_documents_exactly_the_filters_the_service_checks(app):
    """The filters are named once (``reporting.services.FILTERS``): each documented one is checked,
    and a bad value of each is refused by name."""
    from learning.errors import ValidationFailed
    from learning.reporting.services import FILTERS, parse_filters

    with app.test_request_context():
        spec = app.spec
        for path in ("/api/v1/reports/summary", "/api/v1/reports/export.csv"):
            documented = {p["name"] for p in spec["paths"][path]["get"]["parameters"]} - {"group_by"}
            assert documented == set(FILTERS)
        bad = {"from": "soon", "to": "later", "country": "XX", "sector": "nope", "course": "none",
               "cohort": "0", "organisation": "No such organisation"}
        assert set(bad) == set(FILTERS)
        try:
            parse_filters(bad)
        except ValidationFailed as error:
            assert set(error.fields) == set(FILTERS)
        else:
            raise AssertionError("bad filters were accepted")
