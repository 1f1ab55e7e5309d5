"""The admins' page of learning platforms (/admin/lti/) walked with a platform registered, in Spanish
and Arabic, on a phone and at desktop width.

On a phone each platform is a card whose values are named (issuer, client id...), the addresses and
ids read left to right inside an Arabic page, and each "Turn off" and "Remove" button says which
platform it acts on to a screen reader.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from learning.accounts.models import Organisation
from learning.extensions import db
from learning.lti import services
from learning.lti.models import LtiResourceLink
from tests import factories
from tests.page_walk import Site, browsing_as, visit
from tests.pages.test_accessibility import blocking_violations

pytestmark = pytest.mark.browser

ISSUER = "https://moodle.academia.example.org"


def _platform():
    """The platform, registered, with two resource links launched from it (one per course)."""
    org = Organisation(name="Academia de Policía", country="CO", sector="law_enforcement")
    db.session.add(org)
    platform = services.create_platform(issuer=ISSUER, client_id="tool-5f2c9a", auth_login_url=f"{ISSUER}/auth",
                                        auth_token_url=f"{ISSUER}/token", key_set_url=f"{ISSUER}/jwks",
                                        deployment_ids=["1", "deployment-long-identifier-2"], name="Academia Moodle",
                                        organisation=org)
    for n, title in ((1, "Módulo 1: señales"), (2, "الوحدة ٢: الاستجابة")):
        db.session.add(LtiResourceLink(platform_id=platform.id, deployment_id=platform.deployments[0].id,
                                       resource_link_id=f"resource-link-{n}", title=title,
                                       course_id=factories.course(title=f"Course {n}").id, ags_scopes=[]))
    db.session.commit()
    return platform


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_the_platforms_are_named_cards_on_a_phone(browser, live_server, make, lang):
    _platform()
    site = Site(users={"admin": make.admin()})
    with browsing_as(browser, live_server.url, site, "admin", lang, width=360) as page:
        visit(page, "/admin/lti/", lang)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        cells = page.locator("table.lti-platforms tbody tr td")
        labels = cells.evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
        assert len(labels) == 8 and all(label not in ("none", '""') for label in labels), labels
        issuer = page.locator("table.lti-platforms code", has_text=ISSUER)
        assert issuer.evaluate("el => getComputedStyle(el).direction") == "ltr"
        # Their accessible names say which platform ("Turn off", "Remove"); the name is not shown twice on screen.
        buttons = page.get_by_role("button", name=re.compile("Academia Moodle"))
        assert buttons.count() == 2
        assert all(buttons.nth(i).locator(".visually-hidden").bounding_box()["width"] <= 1 for i in range(2))
    with browsing_as(browser, live_server.url, site, "admin", lang) as page:
        visit(page, "/admin/lti/", lang)
        assert blocking_violations(page) == []


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_a_platforms_links_are_named_cards_on_a_phone(browser, live_server, make, lang):
    platform = _platform()
    site = Site(users={"admin": make.admin()})
    with browsing_as(browser, live_server.url, site, "admin", lang, width=360) as page:
        visit(page, "/admin/lti/", lang)
        page.locator(f"a[href='/admin/lti/{platform.id}/links']").click()
        page.wait_for_url(f"**/admin/lti/{platform.id}/links")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        cells = page.locator("table.lti-links tbody tr td")
        labels = cells.evaluate_all("cells => cells.map(c => getComputedStyle(c, '::before').content)")
        assert len(labels) == 14 and all(label not in ("none", '""') for label in labels), labels
        assert page.get_by_role("button", name=re.compile("Módulo 1: señales")).count() == 1
        assert blocking_violations(page) == []


def test_removing_a_link_asks_first_and_a_no_keeps_it(browser, live_server, make):
    platform = _platform()
    site = Site(users={"admin": make.admin()})
    with browsing_as(browser, live_server.url, site, "admin", "en") as page:
        visit(page, f"/admin/lti/{platform.id}/links", "en")
        asked = []

        def answer(dialog, accept: bool):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda dialog: answer(dialog, False))
        page.get_by_role("button", name=re.compile("Módulo 1: señales")).click()
        page.wait_for_timeout(300)  # a refused dialog sends nothing: the page stays as it is
        assert asked == ["Remove this resource link? Its scores are no longer sent to the platform."]
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(LtiResourceLink)) == 2

        page.once("dialog", lambda dialog: answer(dialog, True))
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("Módulo 1: señales")).click()
        page.wait_for_load_state("load")
        assert "The resource link “Módulo 1: señales” is removed" in page.locator("body").inner_text()
        assert page.locator("table.lti-links tbody tr").count() == 1 and len(asked) == 2
        db.session.expire_all()
        assert list(db.session.scalars(select(LtiResourceLink.resource_link_id))) == ["resource-link-2"]
