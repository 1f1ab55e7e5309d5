"""The installable web app: manifest, service worker and offline page (docs/OFFLINE.md)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories_catalogue as fc


def test_the_service_worker_is_served_from_the_root_and_checked_on_every_visit(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert b"addEventListener(\"fetch\"" in response.data


def test_the_manifest_describes_an_installable_app_in_the_readers_language(client):
    response = client.get("/manifest.webmanifest", headers={"Accept-Language": "es"})
    assert response.status_code == 200 and response.mimetype == "application/manifest+json"
    body = response.get_json(force=True)
    assert body["display"] == "standalone" and body["scope"] == "/" and body["start_url"] == "/learning/"
    assert body["lang"] == "es" and body["name"] != "Child Protection Learning"  # translated
    assert {icon["type"] for icon in body["icons"]} == {"image/svg+xml", "image/png"}
    assert client.get("/manifest.webmanifest", headers={"Accept-Language": "ar"}).get_json(force=True)["dir"] == "rtl"


def test_the_offline_page_says_so_and_every_page_links_the_manifest_and_the_worker(client):
    offline = client.get("/offline")
    assert offline.status_code == 200
    assert b'id="offline"' in offline.data
    home = client.get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in home
    assert "/static/js/install.js" in home


def _controlled(page: Page) -> None:
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30_000)


@pytest.mark.browser
def test_visited_lesson_pages_open_offline_and_others_show_the_offline_page(page: Page, make):
    learner = make.user()
    enrolment = make.enrolment(learner)
    first, second = fc.lesson_ids(enrolment.course)
    page.goto("/account/login")
    page.fill("#email", learner.email)
    page.fill("#password", make.PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("form[action$='/account/logout']")).to_have_count(1)
    page.goto(f"/learning/{enrolment.id}/lessons/{first}")
    _controlled(page)
    page.reload()  # now through the worker, which keeps it
    expect(page.locator(f'article.lesson[data-lesson-id="{first}"]')).to_be_visible()
    page.wait_for_function(
        "caches.open('pages-v1').then(c => c.keys()).then(k => k.some(r => r.url.endsWith('/lessons/" + str(first) + "')))")

    page.context.set_offline(True)
    page.goto(f"/learning/{enrolment.id}/lessons/{first}")
    expect(page.locator(f'article.lesson[data-lesson-id="{first}"]')).to_be_visible()
    page.goto(f"/learning/{enrolment.id}/lessons/{second}")
    expect(page.locator("#offline")).to_be_visible()
    page.context.set_offline(False)

    # Signing out forgets every kept page (a shared phone).
    page.goto(f"/learning/{enrolment.id}/lessons/{first}")
    page.locator("form[action$='/account/logout'] button").click()
    expect(page).to_have_url(re.compile(r"/$|/account/login"))
    assert page.evaluate("caches.open('pages-v1').then(c => c.keys()).then(k => k.length)") == 0



def _wait_for(predicate, timeout: float = 60.0):
    import time  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.browser
def test_a_course_downloaded_and_learnt_offline_counts_each_lesson_once_back_online(page: Page, make):
    from sqlalchemy import func, select  # noqa: PLC0415

    from learning.certificates.models import Certificate  # noqa: PLC0415
    from learning.enrolment.models import DeviceEvent, Enrolment, LessonProgress, QuizAttempt  # noqa: PLC0415
    from learning.extensions import db  # noqa: PLC0415
    from learning.outbox import services as outbox  # noqa: PLC0415

    def done_lessons() -> int:
        db.session.expire_all()
        return db.session.scalar(select(func.count()).select_from(LessonProgress)
                                 .where(LessonProgress.enrolment_id == enrolment.id))

    learner = make.user()
    enrolment = make.enrolment(learner)
    first, second = fc.lesson_ids(enrolment.course)
    page.goto("/account/login")
    page.fill("#email", learner.email)
    page.fill("#password", make.PASSWORD)
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("form[action$='/account/logout']")).to_have_count(1)

    page.goto(f"/courses/{enrolment.course.slug}")
    _controlled(page)
    page.locator("#make-offline").click()
    expect(page.locator("#offline-download")).to_have_attribute("data-state", "done")
    expect(page.locator("#offline-status")).to_contain_text(re.compile(r"\d kB"))  # Intl, in the page's language

    page.context.set_offline(True)
    page.goto(f"/learning/{enrolment.id}/lessons/{first}")
    page.locator("#mark-done").click()
    expect(page.locator(f'article.lesson[data-lesson-id="{second}"]')).to_be_visible()  # kept, offline
    page.locator("#mark-done").click()
    expect(page).to_have_url(re.compile(rf"/learning/{enrolment.id}/quiz$"))
    assert done_lessons() == 0  # nothing reached the server
    queued = page.evaluate("""new Promise(r => { const q = indexedDB.open('learning-offline');
        q.onsuccess = () => { const g = q.result.transaction('events').objectStore('events').getAll();
        g.onsuccess = () => r(g.result); }; })""")
    for question, choice in fc.right_answers(enrolment.course).items():
        page.check(f'input[name="q{question}"][value="{choice}"]')
    page.locator("#submit-quiz").click()
    expect(page.locator("#queued")).to_be_visible()
    queued = page.evaluate("""new Promise(r => { const q = indexedDB.open('learning-offline');
        q.onsuccess = () => { const g = q.result.transaction('events').objectStore('events').getAll();
        g.onsuccess = () => r(g.result); }; })""")
    assert sorted(e["type"] for e in queued) == ["lesson.completed", "lesson.completed", "quiz.attempted"]
    assert {e["learner"] for e in queued} == {str(learner.id)}  # sent only in this person's session

    page.context.set_offline(False)
    _wait_for(lambda: done_lessons() == 2 and db.session.get(Enrolment, enrolment.id).status == "completed")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(DeviceEvent)) == 3
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 1
    for event in fc.events():  # the certificate follows through the outbox, as online
        outbox.process(event.id)
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1

    # The same events sent again (a device that lost the answer) change nothing.
    replay = page.evaluate("""events => fetch('/offline').then(r => r.text()).then(html => fetch('/api/v1/sync', {
        method: 'POST', headers: {'Content-Type': 'application/json',
        'X-CSRFToken': /name="csrf-token" content="([^"]+)"/.exec(html)[1]},
        body: JSON.stringify({events: events.concat(events.slice().reverse())})}).then(r => r.json()))""",
        [{k: v for k, v in e.items() if k not in ("learner", "label")} for e in queued])
    assert {r["status"] for r in replay["results"]} == {"duplicate"}
    assert done_lessons() == 2
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(QuizAttempt)) == 1
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
