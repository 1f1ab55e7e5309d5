"""The small things a real admin or trainer meets: filters by name, a readable audit log, times without
seconds, the close-cohort action where a trainer looks for it (with a confirmation), no stray bullets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from learning.cohorts.models import Cohort
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests.factories import PASSWORD


def test_statistics_filters_name_courses_cohorts_and_organisations(make, sign_in):
    course = make.course(slug="online-safety-101", title="Online safety for children")
    cohort = cohorts.cohort(make.trainer(), course, name="Policía Nacional — Bogotá")
    make.user(organisation="Banco del Sur")
    page = sign_in(make.admin()).get("/reports/").get_data(as_text=True)
    assert '<option value="online-safety-101" >Online safety for children</option>' in page
    assert ">online-safety-101<" not in page
    assert f'<option value="{cohort.id}" >Policía Nacional — Bogotá · Online safety for children</option>' in page
    assert "Cohort (id)" not in page
    assert '<datalist id="organisation-names"><option value="Banco del Sur">' in page
    selected = sign_in(make.admin()).get(f"/reports/?cohort={cohort.id}").get_data(as_text=True)
    assert f'<option value="{cohort.id}" selected>' in selected


def test_the_audit_log_reads_as_text_and_shows_sign_ins(make, sign_in, client):
    admin = make.admin()
    learner = make.user()
    client.post("/account/login", data={"email": learner.email, "password": "not-the-password"})
    sign_in(admin)
    from learning.accounts import management

    management.set_roles(admin, learner, ["trainer"])
    db.session.commit()
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "user.signed_in" in page and "user.sign_in_failed" in page
    assert "<dt>Roles</dt><dd><bdi>learner, trainer</bdi></dd>" in page
    assert "<dt>Method</dt><dd><bdi>password</bdi></dd>" in page
    assert "{&#34;" not in page and '{"' not in page  # no raw JSON
    assert f'href="/admin/users/{learner.id}"' in page


def test_session_times_have_no_seconds(make, sign_in):
    trainer = make.trainer()
    trainer.timezone = "UTC"
    db.session.commit()
    cohort = cohorts.cohort(trainer)
    cohorts.session(cohort, starts_at=datetime(2025, 3, 3, 9, 30, tzinfo=UTC))
    page = sign_in(trainer).get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    assert "9:30:00" not in page and "Mar 3, 2025, 9:30\u202fAM" in page


def test_closing_a_cohort_asks_first_and_says_who_will_be_signed_off(make, sign_in):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer, attendance_rule="all_sessions")
    session = cohorts.session(cohort)
    present = cohorts.member(cohort)
    cohorts.member(cohort)
    from learning.cohorts import sessions

    sessions.record_attendance(trainer.id, cohort, session, [present.user_id])
    db.session.commit()
    client = sign_in(trainer)
    page = client.get(f"/cohorts/{cohort.id}").get_data(as_text=True)
    actions = page[page.index('<nav class="cohort-actions"'):page.index("</nav>", page.index('class="cohort-actions"'))]
    assert f'href="/cohorts/{cohort.id}/close"' in actions
    assert page.index('class="cohort-actions"') < page.index('class="facts"')  # right under the title
    confirm = client.get(f"/cohorts/{cohort.id}/close").get_data(as_text=True)
    assert "1 member meets the completion rule now and will be signed off" in confirm
    assert "The cohort has 2 members in all." in confirm
    db.session.expire_all()
    assert db.session.get(Cohort, cohort.id).status == "open"  # asking changes nothing
    response = client.post(f"/cohorts/{cohort.id}/close", follow_redirects=True)
    assert "The cohort is closed. 1 member was signed off" in response.get_data(as_text=True)
    assert client.get(f"/cohorts/{cohort.id}/close").status_code == 302  # already closed


@pytest.mark.browser
def test_cards_and_choices_have_no_bullets(page, make):
    trainer = make.trainer()
    cohort = cohorts.cohort(trainer)
    learner = make.user()
    make.completed_enrolment(learner)
    for person, path, selector in ((trainer, f"/cohorts/{cohort.id}", "#mode li"),
                                   (learner, "/certificates", ".certificate-list li")):
        page.context.clear_cookies()
        page.goto("/account/login")
        page.fill("input[name=email]", person.email)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("form[action$='/account/logout']", state="attached")  # signed in
        page.goto(path)
        item = page.locator(selector).first
        expect(item).to_be_visible()
        assert item.evaluate("e => getComputedStyle(e).listStyleType") == "none"
        assert item.evaluate("e => getComputedStyle(e.parentElement).paddingInlineStart") == "0px"
