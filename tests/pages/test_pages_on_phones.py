"""No page scrolls sideways on a 360 px phone, for any role, in English or Arabic.

Wide tables scroll inside their own box or become stacked cards; the page itself never
grows wider than the screen.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.page_walk import LANGUAGES, ROLES, browsing_as, build_site, visit

pytestmark = pytest.mark.browser

PHONE = 360


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("role", ROLES)
def test_no_page_is_wider_than_a_phone(browser, live_server, make, role, lang):
    site = build_site()
    too_wide = {}
    with browsing_as(browser, live_server.url, site, role, lang, width=PHONE) as page:
        for path in site.pages[role]:
            visit(page, path, lang)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE:
                too_wide[path] = page.evaluate("""(limit) => [...document.querySelectorAll('body *')]
                    .filter(el => el.getBoundingClientRect().right > limit + 1 || el.getBoundingClientRect().left < -1)
                    .filter(el => !el.closest('.table-scroll'))
                    .slice(0, 4).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().width))""",
                                                PHONE)
                too_wide[path].insert(0, width)
    assert not too_wide, too_wide


def test_the_trainers_roster_is_one_card_per_person_on_a_phone(browser, live_server, make):
    site = build_site()
    with browsing_as(browser, live_server.url, site, "trainer", "en", width=PHONE) as page:
        visit(page, "/cohorts/", "en")
        page.locator(".cohort-list a", has_text="Policía Nacional").first.click()  # the open cohort with members
        page.wait_for_url(re.compile(r"/cohorts/\d+$"))
        rows = page.locator("table.roster tbody tr")
        expect(rows).to_have_count(2)
        assert page.evaluate("getComputedStyle(document.querySelector('table.roster tbody tr')).display") == "block"
        first = rows.first.bounding_box()
        assert first["width"] <= PHONE and first["height"] > 100  # the cells are stacked, not side by side
        assert "E-mail" in page.evaluate(
            "getComputedStyle(document.querySelector('table.roster td[data-label]:nth-child(2)'), '::before').content")
    with browsing_as(browser, live_server.url, site, "trainer", "en", width=1280) as page:
        visit(page, "/cohorts/", "en")
        page.locator(".cohort-list a", has_text="Policía Nacional").first.click()  # the open cohort with members
        page.wait_for_url(re.compile(r"/cohorts/\d+$"))
        expect(page.locator("table.roster tbody tr")).to_have_count(2)
        assert page.evaluate("getComputedStyle(document.querySelector('table.roster tbody tr')).display") == "table-row"
