"""The learner's offline pages walked in Spanish and Arabic, on a phone.

"Make available offline" reports its progress and the size in the page's language (Intl, with the
Latin digits Babel gives the server's Arabic pages), its progress bar has a name, and what the
server refused from the device is listed under a heading that says so, each line naming the
lesson it was about, in the learner's language.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from learning.extensions import db
from tests import factories_catalogue as fc
from tests.page_walk import Site, browsing_as, visit
from tests.pages.test_accessibility import blocking_violations

pytestmark = pytest.mark.browser

PHONE = 360
ARABIC_INDIC = re.compile("[\u0660-\u0669]")


def _controlled(page) -> None:
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30_000)


def test_a_course_made_available_offline_says_so_in_arabic(browser, live_server, make):
    learner = make.user(full_name="Kwame Mensah")
    enrolment = make.enrolment(learner)
    with browsing_as(browser, live_server.url, Site(users={"learner": learner}), "learner", "ar", width=PHONE) as page:
        visit(page, f"/courses/{enrolment.course.slug}", "ar")
        _controlled(page)
        page.locator("#make-offline").click()
        expect(page.locator("#offline-download")).to_have_attribute("data-state", "done")
        status = page.locator("#offline-status").inner_text()
        assert "KB" not in status and "kB" not in status and re.search(r"\d", status), status
        assert not ARABIC_INDIC.search(status), status  # the digits of the rest of the page
        assert page.locator("#offline-progress").get_attribute("aria-labelledby") == "make-offline"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
        assert blocking_violations(page) == []


def test_progress_the_server_refused_is_listed_in_spanish_with_the_lesson_it_was(browser, live_server, make):
    learner = make.user(full_name="Ana Gómez")
    enrolment = make.enrolment(learner)
    first, second = fc.lesson_ids(enrolment.course)
    with browsing_as(browser, live_server.url, Site(users={"learner": learner}), "learner", "es", width=PHONE) as page:
        url = f"/learning/{enrolment.id}/lessons/{first}"
        visit(page, url, "es")
        _controlled(page)
        page.reload()  # now through the worker, which keeps the lesson
        title = page.locator("article.lesson > h1").inner_text()
        # The page shown offline for a page not kept is kept again in the learner's language.
        page.wait_for_function("""caches.open('files-v1').then(c => c.match('/offline')).then(r => r && r.text())
            .then(html => !!html && html.includes('<html lang="es"'))""")
        page.context.set_offline(True)
        page.locator("#mark-done").click()  # kept on the device; the next lesson was never opened
        # The next lesson's address (the lesson's own matches at once, before the navigation starts).
        page.wait_for_url(re.compile(rf"/lessons/{second}$"))
        expect(page.locator("h1")).to_have_text("No tiene conexión")
        enrolment.course.status = "archived"  # meanwhile
        db.session.commit()
        page.context.set_offline(False)
        page.goto(url)  # back online, the learner opens the course again
        rejected = page.locator("#sync-rejected")
        expect(rejected).to_contain_text("No se guardó desde este dispositivo:")
        expect(rejected).to_contain_text(f"{title}: Este curso se ha archivado; este progreso no se ha registrado.")
        assert rejected.get_attribute("role") == "alert"
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
