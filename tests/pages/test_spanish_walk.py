"""The pages added for field training, tests, evaluations, LTI and offline learning, walked in Spanish
on a 360 px phone by the person who uses each (the shared walk, tests/page_walk.py, covers English
and Arabic on every page): none scrolls sideways, and none shows the interface's English.
"""

from __future__ import annotations

import re

import pytest

from tests.page_walk import browsing_as, build_site, visit

pytestmark = pytest.mark.browser

PHONE = 360
NEW_PAGES = re.compile(r"check-in|/tests/|evaluation|/sessions/|/reports/|/admin/lti/")
# Interface English that a Spanish page must not show (each was seen, or could be, on these pages).
ENGLISH = re.compile(r"\b(?:Present|Absent|Excused|Save attendance|Check in|Submit|Skip this test|"
                     r"by country|by course|country,sector|Learning gain|Mean rating|Make available offline)\b")


@pytest.mark.parametrize("role", ["learner", "trainer", "admin"])
def test_the_new_pages_in_spanish_on_a_phone(browser, live_server, make, role):
    site = build_site()
    paths = [p for p in site.pages[role] if NEW_PAGES.search(p)]
    if role == "learner":
        paths += [p for p in site.pages[role] if p.startswith("/courses/") and p != "/courses/"] + ["/offline"]
    assert len(paths) >= 3, paths
    problems = {}
    with browsing_as(browser, live_server.url, site, role, "es", width=PHONE) as page:
        for path in paths:
            visit(page, path, "es")
            width = page.evaluate("document.documentElement.scrollWidth")
            english = ENGLISH.findall(page.inner_text("body"))
            if width > PHONE or english:
                problems[path] = (width, english)
    assert not problems, problems
