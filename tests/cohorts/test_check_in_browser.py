"""In a real browser: the trainer puts the check-in code on the room's screen, members check in from
phone-sized pages (one scans the QR code, one types the code), and a stranger is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from learning.cohorts.models import Attendance
from learning.extensions import db
from learning.models_base import utcnow
from tests import factories_cohorts as cohorts
from tests.support import fits_width, phone_options, sign_in_on, the_check_in_screen

pytestmark = [pytest.mark.browser]
PHONE = phone_options(375)


def test_members_check_in_from_their_phones_with_the_code_on_the_screen(browser, live_server, make, tmp_path):
    trainer = make.trainer(full_name="Lucía Ramos")
    cohort = cohorts.cohort(trainer, name="Policía Nacional — Bogotá")
    session = cohorts.session(cohort, title="Día 1", starts_at=utcnow() - timedelta(minutes=10))
    scanner = cohorts.member(cohort, full_name="Ana Gómez")
    typist = cohorts.member(cohort, full_name="Jorge Díaz")
    stranger = make.user(full_name="Pedro Nadie")
    emails = {e.user_id: e.user.email for e in (scanner, typist)}

    screen_context = browser.new_context(base_url=live_server.url, locale="en-GB")
    screen = screen_context.new_page()
    screen.goto("/account/login")
    sign_in_on(screen, trainer.email)
    screen.goto(f"/cohorts/{cohort.id}/sessions/{session.id}")
    screen.get_by_role("link", name="Show the check-in code").click()
    code, scanned = the_check_in_screen(screen, tmp_path)
    assert code and code.startswith(str(session.id))
    assert scanned.startswith(live_server.url + "/check-in?code=")

    def phone():
        context = browser.new_context(base_url=live_server.url, locale="en-GB", **PHONE)
        return context, context.new_page()

    # Ana scans: the camera opens the link, she signs in, and the code is already filled in.
    context, page = phone()
    page.goto(scanned)
    sign_in_on(page, emails[scanner.user_id])
    assert page.locator("input[name=code]").input_value() == code
    assert fits_width(page)
    page.get_by_role("button", name="Check in").click()
    expect(page.locator(".flash-success")).to_contain_text("You are checked in to")
    context.close()

    # Jorge types the code as the screen groups it.
    context, page = phone()
    page.goto("/check-in")
    sign_in_on(page, emails[typist.user_id])
    page.fill("input[name=code]", screen.locator("#check-in-code").inner_text())
    page.get_by_role("button", name="Check in").click()
    expect(page.locator(".flash-success")).to_contain_text("You are checked in to")
    # A wrong code is explained next to the field.
    page.fill("input[name=code]", f"{session.id}000000")
    page.get_by_role("button", name="Check in").click()
    expect(page.locator(".field-error")).to_contain_text("This code is wrong or has expired.")
    expect(page.locator("input[name=code]")).to_have_attribute("aria-invalid", "true")
    page.wait_for_load_state()
    assert fits_width(page)
    context.close()

    # Someone not in the cohort is refused, with a reason.
    context, page = phone()
    page.goto(scanned)
    sign_in_on(page, stranger.email)
    page.get_by_role("button", name="Check in").click()
    expect(page.locator(".field-error")).to_contain_text("You are not a member of this session's cohort.")
    context.close()

    db.session.expire_all()
    present = set(db.session.scalars(select(Attendance.enrolment_id).where(
        Attendance.session_id == session.id, Attendance.present.is_(True))))
    assert present == {scanner.id, typist.id}
    # The trainer's register shows both, ready to be corrected by hand.
    screen.goto(f"/cohorts/{cohort.id}/sessions/{session.id}")
    expect(screen.locator(f"#present-{scanner.user_id}")).to_be_checked()
    expect(screen.locator(f"#present-{typist.user_id}")).to_be_checked()
    screen_context.close()
