"""The trainer's attendance pages walked on a 360 px phone in Spanish and Arabic.

The register becomes one card per member (the name first, then the two boxes side by side, each
named), nothing in it is cut mid-word, and a mark given to one person reads in the singular
("Presente", "حاضر": the column of the cohort's sessions table keeps its plural count "Presentes").
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories_cohorts as cohorts
from tests.page_walk import Site, browsing_as, visit

pytestmark = pytest.mark.browser

PHONE = 360
PRESENT = {"es": "Presente", "ar": "حاضر", "en": "Present"}


def _room(make):
    trainer = make.trainer(full_name="Lucía Ramos")
    cohort = cohorts.cohort(trainer, name="Policía Nacional — Bogotá")
    session = cohorts.session(cohort, title="Opening session")
    for name in ("Ana María Gómez Restrepo", "ليلى حداد"):
        cohorts.member(cohort, full_name=name)
    return Site(users={"trainer": trainer}), cohort, session


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_the_register_on_a_phone_is_a_card_per_member_with_named_boxes(browser, live_server, make, lang):
    site, cohort, session = _room(make)
    with browsing_as(browser, live_server.url, site, "trainer", lang, width=PHONE) as page:
        visit(page, f"/cohorts/{cohort.id}/sessions/{session.id}", lang)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        row = page.locator("table.register tbody tr").first
        assert row.evaluate("el => getComputedStyle(el).display") == "grid"
        who, present = row.locator("td.who"), row.locator("td.mark").first
        assert who.bounding_box()["y"] < present.bounding_box()["y"]  # the person first
        # The name is on one line: not squeezed into a column and cut ("Góme/z").
        assert who.bounding_box()["height"] < 40 and who.bounding_box()["width"] > 250
        assert PRESENT[lang] in present.evaluate("el => getComputedStyle(el, '::before').content")
        box = present.locator("input").bounding_box()
        assert box["width"] >= 20 and box["height"] >= 20  # a thumb's target
        # Ticking the box by its name still works in the card.
        row.locator("td.who label").click()
        expect(present.locator("input")).to_be_checked()
    with browsing_as(browser, live_server.url, site, "trainer", lang, width=1280) as page:
        visit(page, f"/cohorts/{cohort.id}/sessions/{session.id}", lang)
        assert page.evaluate("getComputedStyle(document.querySelector('table.register tbody tr')).display") == "table-row"
        assert page.locator("table.register thead th").first.inner_text() == PRESENT[lang]


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_the_paper_sheet_marks_one_person_in_the_singular_and_fits_a_phone(browser, live_server, make, lang):
    site, cohort, session = _room(make)
    with browsing_as(browser, live_server.url, site, "trainer", lang, width=PHONE) as page:
        visit(page, f"/cohorts/{cohort.id}/sessions/{session.id}/paper", lang)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        first = page.locator("fieldset.paper-row").first
        assert first.locator("label.mark-present span").inner_text() == PRESENT[lang]
        # Each choice's word on one line ("Justificado", not "Justificad/o").
        lines = page.evaluate("""() => [...document.querySelectorAll('.paper-row .mark span')].map(span => {
            const range = document.createRange(); range.selectNodeContents(span); return range.getClientRects().length; })""")
        assert set(lines) == {1}, lines
        # The keyboard: a Tab reaches the first choice, the arrows move along the row.
        first.locator("label.mark-present input").focus()
        page.keyboard.press("ArrowDown")
        expect(first.locator("label.mark-absent input")).to_be_checked()
    with browsing_as(browser, live_server.url, site, "trainer", lang) as page:
        visit(page, f"/cohorts/{cohort.id}", lang)
        # The cohort's table of sessions still counts the people present, in the plural.
        assert page.locator("table.sessions thead th").nth(3).inner_text() != PRESENT[lang]


def test_without_javascript_the_register_offers_no_button_that_does_nothing(browser, live_server, make):
    site, cohort, session = _room(make)
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False,
                                  viewport={"width": PHONE, "height": 800})
    try:
        page = context.new_page()
        page.goto("/account/login")
        page.fill("input[name=email]", site.users["trainer"].email)
        page.fill("input[name=password]", make.PASSWORD)
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_selector("form[action$='/account/logout']", state="attached")  # signed in
        page.goto(f"/cohorts/{cohort.id}/sessions/{session.id}?lang=es")
        assert page.locator("button[data-check-all]").count() == 1
        assert not page.locator("button[data-check-all]").is_visible()  # it needs JavaScript
        page.check("table.register tbody tr:first-child input[name=present]")
        with page.expect_response(lambda response: response.request.method == "POST"):
            page.get_by_role("button", name="Guardar la asistencia").click()  # the plain form still works
        page.goto(f"/cohorts/{cohort.id}/sessions/{session.id}")
        expect(page.locator("table.register tbody tr:first-child input[name=present]")).to_be_checked()
    finally:
        context.close()


def test_the_check_in_screen_isolates_the_session_and_the_address_in_arabic(client, make):
    from tests.factories_certificates import sign_in

    site, cohort, session = _room(make)
    sign_in(client, site.users["trainer"])
    html = client.get(f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-code?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "<bdi>Opening session</bdi></h1>" in html  # not "Opening session :تسجيل" run together
    assert '<bdi dir="ltr">http://localhost/check-in</bdi>' in html
