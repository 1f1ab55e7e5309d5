"""The dashboard and the impact page, in a real browser (Chromium) and through the test client."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from learning.extensions import db
from tests import factories_reporting as rf
from tests.factories import PASSWORD


def seed_year(year: int = 2024) -> dict:
    """Twelve professionals in three countries, in two courses, one cohort."""
    policing = rf.course("policing", "Investigating online abuse")
    schools = rf.course("schools", "Safe schools")
    cohort = rf.cohort(policing, "CO", "Bogotá police academy")
    for i in range(7):
        rf.enrolment(rf.person("CO", "law_enforcement"), policing, date(year, 2, 1 + i), date(year, 3, 1 + i),
                     cohort_id=cohort.id)
    for i in range(3):
        rf.enrolment(rf.person("KE", "education"), schools, date(year, 4, 1 + i), date(year, 5, 1))
    for _ in range(2):
        rf.enrolment(rf.person("FR", "health"), schools, date(year, 6, 1))
    db.session.commit()
    return {"policing": policing, "schools": schools, "cohort": cohort}


def sign_in(page, user) -> None:
    page.goto("/account/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


@pytest.mark.browser
def test_admin_reads_the_dashboard_and_drills_down_to_a_country(page, live_server, make):
    seed_year()
    admin = make.admin(country="GB")
    sign_in(page, admin)
    page.get_by_role("link", name="Statistics").click()
    expect(page.locator("#figure-reached")).to_have_text("12")
    expect(page.locator("#figure-trained")).to_have_text("10")
    expect(page.locator("#figure-countries")).to_have_text("3")
    for chart in ("chart-country", "chart-sector", "chart-time"):
        page.wait_for_selector(f"#{chart}[data-ready=true]")
        assert page.locator(f"#{chart}").bounding_box()["height"] > 100
    assert "Investigating online abuse" in page.locator("#behind-courses").inner_text()

    page.select_option("#filter-country", "KE")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**country=KE**")  # the figures of the page before are still there until then
    expect(page.locator("#figure-reached")).to_have_text("3")
    expect(page.locator("#behind-courses")).to_contain_text("Safe schools")
    expect(page.locator("#behind-courses")).not_to_contain_text("Investigating online abuse")

    page.goto("/reports/?country=CO")
    page.get_by_role("link", name="Bogotá police academy").click()
    page.wait_for_url("**cohort=**")
    expect(page.locator("#figure-trained")).to_have_text("7")


@pytest.mark.browser
def test_a_bar_of_the_country_chart_drills_down(page, live_server, make):
    seed_year()
    sign_in(page, make.admin())
    page.goto("/reports/")
    canvas = page.locator("#chart-country")
    page.wait_for_selector("#chart-country[data-ready=true]")
    canvas.scroll_into_view_if_needed()  # a click outside the viewport goes nowhere, however the header wraps
    box = canvas.bounding_box()
    # Colombia has the most people, so its bar is the first: click into it.
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + 30)
    page.wait_for_url("**country=CO**")
    assert page.locator("#figure-reached").inner_text() == "7"


@pytest.mark.browser
def test_impact_page_states_the_year_in_the_visitors_language(page, live_server, app):
    with app.app_context():
        seed_year(2024)
        course = rf.course("investigations")
        for _ in range(20):
            rf.enrolment(rf.person("PE", "justice"), course, date(2024, 7, 1), date(2024, 7, 2))
        db.session.commit()
        db.session.remove()
    page.goto("/impact/2024")
    assert page.locator("#impact-statement").inner_text() == "30 professionals trained across 3 countries."
    page.wait_for_selector("#chart-impact[data-ready=true]")
    countries = page.locator("#impact-countries").inner_text()
    assert "Colombia" in countries and "<5" in countries
    page.goto("/impact/2024?lang=es")
    assert "Colombia" in page.locator("#impact-countries").inner_text()
    assert page.locator("html").get_attribute("lang") == "es"


def test_dashboard_is_for_admins_only(client, make):
    assert client.get("/reports/").status_code == 302  # to sign in
    make.user(email="learner@example.org")
    client.post("/account/login", data={"email": "learner@example.org", "password": PASSWORD})
    assert client.get("/reports/").status_code == 403


def test_dashboard_shows_bad_filters_next_to_their_field(client, make):
    make.admin(email="boss@example.org")
    client.post("/account/login", data={"email": "boss@example.org", "password": PASSWORD})
    html = client.get("/reports/?country=XX&from=2024-02-30").get_data(as_text=True)
    assert "Unknown country code &#39;XX&#39;." in html or "Unknown country code 'XX'." in html
    assert "Not a date: use YYYY-MM-DD." in html


def test_background_export_from_the_dashboard(client, make, app_context):
    seed_year()
    make.admin(email="boss@example.org")
    client.post("/account/login", data={"email": "boss@example.org", "password": PASSWORD})
    response = client.post("/reports/exports?country=CO", data={"format": "csv", "group_by": "sector"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your export is being prepared" in page
    from learning.reporting.exports import build_export
    from learning.reporting.models import ReportExport

    job = db.session.query(ReportExport).one()
    assert job.filters["country"] == "CO"
    build_export(job.id)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your export is ready: 1 rows." in page


def test_impact_page_without_figures_says_so(client):
    html = client.get("/impact/1999").get_data(as_text=True)
    assert "0 professionals trained across 0 countries." in html
    assert client.get("/impact/123").status_code == 404
