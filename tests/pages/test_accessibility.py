"""WCAG 2.2 AA: axe-core finds no serious or critical violation on any page, for any role,
in English or Arabic.

axe-core is the engine shipped by the ``axe-playwright-python`` package (a test dependency
in pyproject.toml), injected into each page of the shared walk (tests/page_walk.py).
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.page_walk import LANGUAGES, ROLES, browsing_as, build_site, visit

pytestmark = pytest.mark.browser

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                                  "best-practice"]},
           "resultTypes": ["violations"]}
BLOCKING = ("serious", "critical")


def blocking_violations(page) -> list[str]:
    results = Axe().run(page, options=WCAG_AA)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_no_serious_accessibility_violation_on_any_page(browser, live_server, make, role, lang):
    site = build_site()
    problems = {}
    with browsing_as(browser, live_server.url, site, role, lang) as page:
        for path in site.pages[role]:
            visit(page, path, lang)
            found = blocking_violations(page)
            if found:
                problems[path] = found
    assert not problems, "\n".join(f"{path}:\n  " + "\n  ".join(found) for path, found in problems.items())


def test_the_engine_runs_on_our_pages_and_reports_what_it_finds(browser, live_server, make):
    """Guard: axe really runs under the platform's Content-Security-Policy and sees a nameless button."""
    site = build_site()
    with browsing_as(browser, live_server.url, site, "anonymous", "en") as page:
        visit(page, "/", "en")
        assert blocking_violations(page) == []
        page.evaluate("document.querySelector('main').append(document.createElement('button'))")
        assert any(found.startswith("button-name (critical)") for found in blocking_violations(page))


def _described_by(html: str, control_id: str) -> str:
    """The text of the element a control's aria-describedby names ("" if none)."""
    import re

    control = re.search(rf'<[^>]*\bid="{control_id}"[^>]*>', html)
    assert control, control_id
    described = re.search(r'aria-describedby="([^"]+)"', control.group(0))
    if not described:
        return ""
    target = re.search(rf'id="{described.group(1)}"[^>]*>(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", " ", target.group(1)) if target else ""


def test_every_invalid_field_names_its_error(client):
    html = client.post("/account/signup", data={"email": "not-an-address", "password": "short"}).get_data(as_text=True)
    assert "Field must be between 10 and 256 characters long." in _described_by(html, "password")
    assert "Invalid email address." in _described_by(html, "email")
    assert html.count('id="password-error"') == 1  # one element, however many errors


def test_a_quiz_question_left_unanswered_names_its_error(client, make):
    learner = make.user()
    item = make.enrolment(learner)
    client.post("/account/login", data={"email": learner.email, "password": make.PASSWORD})
    html = client.post(f"/learning/{item.id}/quiz", data={}).get_data(as_text=True)
    assert 'aria-describedby="q' in html and 'class="field-error" id="q' in html


def test_each_chart_of_the_dashboard_has_its_figures_as_a_table(client, make):
    from tests.page_walk import YEAR, build_site

    site = build_site()
    client.post("/account/login", data={"email": site.users["admin"].email, "password": make.PASSWORD})
    html = client.get(f"/reports/?from={YEAR}-01-01&to={YEAR}-12-31").get_data(as_text=True)
    for table in ("chart-country-table", "chart-sector-table", "chart-time-table"):
        assert f'id="{table}"' in html
    assert "<bdi>Colombia</bdi>" in html and "<bdi>Jordan</bdi>" in html
    assert 'href="#impact-countries"' in client.get(f"/impact/{YEAR}").get_data(as_text=True)


def test_the_keyboard_meets_a_skip_link_first_and_sees_where_it_is(page, live_server):
    page.goto("/courses/")
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const el = document.activeElement;
        return {cls: el.className, href: el.getAttribute('href'), top: el.getBoundingClientRect().top}; }""")
    assert focused["cls"] == "skip-link" and focused["href"] == "#content"
    assert focused["top"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    expect(page.locator("#content")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the brand link in the header
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_forms_showing_their_errors_have_no_serious_violation(browser, live_server, make, lang):
    site = build_site()
    with browsing_as(browser, live_server.url, site, "anonymous", lang) as page:
        visit(page, "/account/signup", lang)
        page.fill("#email", "not-an-address")
        page.fill("#password", "short")
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_selector(".field-error")  # the page the server answered with
        page.wait_for_load_state()  # and all of it
        assert page.locator("[aria-invalid=true][aria-describedby]").count() >= 2
        assert blocking_violations(page) == []
    with browsing_as(browser, live_server.url, site, "learner", lang) as page:
        visit(page, "/learning/", lang)
        page.locator(".enrolment .next-step a").first.click()
        page.wait_for_url(re.compile(r"/lessons/"))
        visit(page, page.url.replace(live_server.url, "").rsplit("/lessons/", 1)[0] + "/quiz", lang)
        page.locator("form.quiz button[type=submit]").click()  # nothing answered: the server objects
        expect(page.locator("form.quiz .field-error").first).to_be_visible()  # on the page it answered with
        page.wait_for_load_state()  # and all of it, before axe reads it
        assert blocking_violations(page) == []
