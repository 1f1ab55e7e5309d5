"""In Chromium: the trainer's registers offline (docs/FIELD_TRAINING.md, "The register offline").

The attendance page and the paper-sheet page keep working without a connection: the marks wait in
the device's offline queue (the learners' queue) and reach the server once when the connection
returns, from the page or from the service worker's Background Sync; refused marks are shown with
the reason; the paper sheet is entered on a 360 px phone without JavaScript."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from learning.cohorts import sessions
from learning.cohorts.models import Attendance
from learning.enrolment.models import DeviceEvent
from learning.extensions import db
from learning.models_base import utcnow
from tests import factories_cohorts as cohorts
from tests.conftest import wait_until
from tests.support import QUEUED_EVENTS, phone_options, sign_in_on

pytestmark = [pytest.mark.browser]
PHONE = phone_options()


def _sign_in(page, email: str) -> None:
    page.goto("/account/login")
    sign_in_on(page, email)
    expect(page.locator("form[action$='/account/logout']")).to_have_count(1)


def _controlled(page) -> None:
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=30_000)


def _paper_sheet_offline(page, email: str, cohort, session) -> None:
    """Sign in, open the session's paper sheet under the service worker, then lose the connection."""
    _sign_in(page, email)
    page.goto(f"/cohorts/{cohort.id}/sessions/{session.id}/paper")
    _controlled(page)
    page.reload()
    page.context.set_offline(True)


def _register(session) -> dict[int, str]:
    db.session.expire_all()
    return {row.enrolment_id: sessions.mark_of(row) for row in db.session.scalars(
        select(Attendance).where(Attendance.session_id == session.id))}


def _events() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(DeviceEvent))


def _room(make, **fields):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    session = cohorts.session(cohort, title="Día 1", starts_at=utcnow() - timedelta(hours=1))
    ana = cohorts.member(cohort, full_name="Ana Gómez")
    ben = cohorts.member(cohort, full_name="Ben Okafor")
    eva = cohorts.member(cohort, full_name="Eva Haddad")
    return trainer, cohort, session, (ana, ben, eva)


def test_the_register_marked_offline_reaches_the_server_once_when_back_online(page, make):
    trainer, cohort, session, (ana, ben, eva) = _room(make)
    _sign_in(page, trainer.email)
    url = f"/cohorts/{cohort.id}/sessions/{session.id}"
    page.goto(url)
    _controlled(page)
    page.reload()  # now through the worker, which keeps the register
    page.wait_for_function("caches.open('pages-v1').then(c => c.keys())"
                           f".then(k => k.some(r => r.url.endsWith('{url}')))")

    page.context.set_offline(True)
    page.goto(url)  # the kept page, without a connection
    page.check(f"#present-{ana.user_id}")
    page.check(f"#excused-{eva.user_id}")
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator("#queued")).to_contain_text("Marks kept on this device: 3")
    assert _register(session) == {} and _events() == 0  # nothing reached the server
    queued = page.evaluate(QUEUED_EVENTS)
    assert sorted((e["enrolment_id"], e["attendance"]) for e in queued) == sorted(
        [(ana.id, "present"), (ben.id, "absent"), (eva.id, "excused")])
    assert {e["type"] for e in queued} == {"attendance.marked"} and len({e["id"] for e in queued}) == 3
    # Background Sync was asked for (the worker sends the queue even if no page is open).
    assert "learning-sync" in page.evaluate("navigator.serviceWorker.ready.then(r => r.sync.getTags())")

    page.context.set_offline(False)
    wait_until(lambda: _register(session) == {ana.id: "present", ben.id: "absent", eva.id: "excused"}, interval=0.2,
               message="the register")
    expect(page.locator("#queued")).to_have_text("The marks kept on this device have been sent.")
    wait_until(lambda: page.evaluate(QUEUED_EVENTS) == [], interval=0.2, message="the queue to empty")
    assert _events() == 3

    # Replayed, doubled and reversed (a device that lost the answer): all duplicates, nothing changes.
    replay = page.evaluate("""events => fetch('/offline').then(r => r.text()).then(html => fetch('/api/v1/sync', {
        method: 'POST', headers: {'Content-Type': 'application/json',
        'X-CSRFToken': /name="csrf-token" content="([^"]+)"/.exec(html)[1]},
        body: JSON.stringify({events: events.concat(events.slice().reverse())})}).then(r => r.json()))""",
        [{k: v for k, v in e.items() if k not in ("learner", "label")} for e in queued])
    assert {r["status"] for r in replay["results"]} == {"duplicate"}
    assert _register(session) == {ana.id: "present", ben.id: "absent", eva.id: "excused"} and _events() == 3


def test_marks_refused_by_the_server_are_shown_to_the_trainer_with_the_reason(page, make):
    trainer, cohort, session, (ana, _ben, _eva) = _room(make)
    _paper_sheet_offline(page, trainer.email, cohort, session)
    page.locator(f"fieldset[data-enrolment-id='{ana.id}'] label.mark-present").click()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator("#queued")).to_contain_text("Marks kept on this device: 1")

    cohort.status = "closed"  # meanwhile, someone closed the cohort
    db.session.commit()
    page.context.set_offline(False)
    expect(page.locator("#sync-rejected")).to_contain_text("Ana Gómez (Día 1): This cohort is closed.")
    assert _register(session) == {} and _events() == 0
    wait_until(lambda: page.evaluate(QUEUED_EVENTS) == [], interval=0.2, message="the queue to empty")


def test_the_paper_sheet_is_entered_on_a_phone_without_javascript(browser, live_server, make):
    trainer, cohort, session, (ana, ben, eva) = _room(make)
    context = browser.new_context(base_url=live_server.url, locale="en-GB", java_script_enabled=False, **PHONE)
    page = context.new_page()
    _sign_in(page, trainer.email)
    page.goto(f"/cohorts/{cohort.id}/sessions/{session.id}")
    page.get_by_role("link", name="Enter the paper sheet").click()
    page.get_by_role("link", name="Everyone present").click()  # without JavaScript: the page, all present
    expect(page.locator("input[value=present]:checked")).to_have_count(3)
    page.wait_for_load_state()  # the page with every box ticked, whole, before it is measured
    page.locator(f"fieldset[data-enrolment-id='{ben.id}'] label.mark-absent").tap()
    # Large tap targets that fit the 360 px screen.
    for target in page.locator("label.mark").all() + [page.locator("#save-paper")]:
        box = target.bounding_box()
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
    width = page.locator("html").bounding_box()["width"]
    assert width <= 360
    page.locator("#save-paper").tap()
    expect(page.locator(".flash-success")).to_contain_text("2 present, 1 absent")
    assert _register(session) == {ana.id: "present", ben.id: "absent", eva.id: "present"}
    # The page shows the register as saved; a member without a mark keeps none.
    expect(page.locator(f"fieldset[data-enrolment-id='{ben.id}'] input[value=absent]")).to_be_checked()
    context.close()


def test_the_paper_sheet_on_a_phone_offline_with_javascript(browser, live_server, make):
    trainer, cohort, session, (ana, ben, eva) = _room(make)
    context = browser.new_context(base_url=live_server.url, locale="en-GB", **PHONE)
    page = context.new_page()
    _sign_in(page, trainer.email)
    url = f"/cohorts/{cohort.id}/sessions/{session.id}/paper"
    page.goto(url)
    _controlled(page)
    page.reload()
    context.set_offline(True)
    page.goto(url)
    page.locator("#all-present").tap()  # in place, offline
    expect(page.locator("input[value=present]:checked")).to_have_count(3)
    page.locator(f"fieldset[data-enrolment-id='{eva.id}'] label.mark-excused").tap()
    page.locator("#save-paper").tap()
    expect(page.locator("#queued")).to_contain_text("Marks kept on this device: 3")
    assert _register(session) == {}
    context.set_offline(False)
    wait_until(lambda: _register(session) == {ana.id: "present", ben.id: "present", eva.id: "excused"}, interval=0.2,
               message="the register")
    assert _events() == 3
    context.close()


def test_the_service_worker_sends_the_queue_by_background_sync_with_no_register_open(page, make, live_server):
    trainer, cohort, session, (ana, ben, eva) = _room(make)
    _paper_sheet_offline(page, trainer.email, cohort, session)
    page.locator("#all-present").click()
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator("#queued")).to_contain_text("Marks kept on this device: 3")
    page.goto("/offline")  # a page that does not send the queue itself (the worker's offline page)
    page.context.set_offline(False)  # in effect for the page and the worker once this returns
    # The browser fires the sync event when its network returns; here we fire it as DevTools would.
    cdp = page.context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):  # Playwright hands over DevTools events while it waits
        if registrations:
            break
        page.wait_for_timeout(200)
    cdp.send("ServiceWorker.dispatchSyncEvent", {"origin": live_server.url, "registrationId": registrations[0],
                                                 "tag": "learning-sync", "lastChance": False})
    wait_until(lambda: _register(session) == {ana.id: "present", ben.id: "present", eva.id: "present"}, interval=0.2,
               message="the register")
    assert _events() == 3
    wait_until(lambda: page.evaluate(QUEUED_EVENTS) == [], interval=0.2, message="the queue to empty")
