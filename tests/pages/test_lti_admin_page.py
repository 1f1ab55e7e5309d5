"""The admins' page of learning platforms (/admin/lti/) walked with a platform registered, in Spanish
and Arabic, on a phone and at desktop width.

On a phone each platform is a card whose values are named (issuer, client id...), the addresses and
ids read left to right inside an Arabic page, and each "Turn off" and "Remove" button says which
platform it acts on to a screen reader.
"""

from __future__ import annotations

import re

import pytest

from learning.accounts.models import Organisation
from learning.extensions import db
from learning.lti import services
from tests.page_walk import Site, browsing_as, visit
from tests.pages.test_accessibility import blocking_violations

pytestmark = pytest.mark.browser

ISSUER = "https://moodle.academia.example.org"


def _platform():
    org = Organisation(name="Academia de Policía", country="CO", sector="law_enforcement")
    db.session.add(org)
    services.create_platform(issuer=ISSUER, client_id="tool-5f2c9a", auth_login_url=f"{ISSUER}/auth",
                             auth_token_url=f"{ISSUER}/token", key_set_url=f"{ISSUER}/jwks",
                             deployment_ids=["1", "deployment-long-identifier-2"], name="Academia Moodle",
                             organisation=org)
    db.session.commit()


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_the_platforms_are_named_cards_on_a_phone(browser, live_server, make, lang):
    _platform()
    site = Site(users={"admin": make.admin()})
    with browsing_as(browser, live_server.url, site, "admin", lang, width=360) as page:
        visit(page, "/admin/lti/", lang)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        cells = page.locator("table.lti-platforms tbody tr td")
        labels = cells.evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
        assert len(labels) == 7 and all(label not in ("none", '""') for label in labels), labels
        issuer = page.locator("table.lti-platforms code", has_text=ISSUER)
        assert issuer.evaluate("el => getComputedStyle(el).direction") == "ltr"
        # Their accessible names say which platform ("Turn off", "Remove"); the name is not shown twice on screen.
        buttons = page.get_by_role("button", name=re.compile("Academia Moodle"))
        assert buttons.count() == 2
        assert all(buttons.nth(i).locator(".visually-hidden").bounding_box()["width"] <= 1 for i in range(2))
    with browsing_as(browser, live_server.url, site, "admin", lang) as page:
        visit(page, "/admin/lti/", lang)
        assert blocking_violations(page) == []
