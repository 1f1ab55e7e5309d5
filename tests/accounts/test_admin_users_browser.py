"""In a real browser (CSRF on): an admin finds a person from the administration menu, makes them an
organisation manager, disables the account (after confirming), enables it and erases it on request."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from learning.accounts.models import User
from learning.audit.models import AuditEntry
from learning.extensions import db
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser]


def test_an_admin_manages_a_person_from_the_menu(page, make):
    admin = make.admin(full_name="Ada Admin")
    ana = make.user(full_name="Ana Gómez", email="ana@banco.example.org", organisation="Banco del Sur")
    make.user(full_name="Jean Dupont", organisation="Ministère de la Justice")

    page.goto("/account/login")
    page.fill("input[name=email]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="People").click()

    page.get_by_label("Name or e-mail").fill("banco")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="Ana Gómez").click()

    page.get_by_label("Organisation manager").check()
    page.get_by_label("Organisations they manage").select_option(label="Banco del Sur")
    page.get_by_role("button", name="Save the roles").click()
    expect(page.locator(".flash")).to_contain_text("The roles of Ana Gómez are saved.")
    expect(page.locator("dl.facts")).to_contain_text("Banco del Sur")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disable the account").click()
    expect(page.locator(".flash")).to_contain_text("Ana Gómez can no longer sign in")
    page.get_by_role("button", name="Enable the account").click()
    expect(page.locator(".flash")).to_contain_text("Ana Gómez can sign in again.")

    page.get_by_role("link", name="Erase on request…").click()
    page.get_by_label("Type the person's e-mail address to confirm").fill("ana@banco.example.org")
    page.get_by_role("button", name="Erase the account").click()
    expect(page.locator(".flash-success")).to_contain_text("personal data is being erased")

    db.session.expire_all()
    user = db.session.get(User, ana.id)
    assert user.active is False and user.roles == ["learner", "org_manager"]
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.target_type == "user", AuditEntry.target_id == str(ana.id)).order_by(AuditEntry.id)).all()
    assert actions == ["user.roles_changed", "user.managed_organisations_changed", "user.disabled",
                       "user.enabled", "user.erasure_requested"]
