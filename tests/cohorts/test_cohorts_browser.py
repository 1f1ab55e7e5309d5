"""End to end in a real browser: a trainer imports a messy roster, fixes it, records attendance, closes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from learning.enrolment.models import Enrolment
from learning.extensions import db
from tests import factories_cohorts as cohorts
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser]

# As a partner agency sends it: BOM, semicolons, headers in another order and case, country names in
# Spanish and French, sector labels, a broken address and a person listed twice.
MESSY = "\ufeff" + "\r\n".join([
    "Nombre;E-mail;País;Sector;Organisation",
    "Ana Gómez;ana.gomez@policia.example.org;Colombia;Fuerzas del orden;Policía Nacional",
    "Jean Dupont;jean.dupont@justice.example.org;Sénégal;Justicia;Ministère de la Justice",
    "Marta Ruiz;marta.ruiz(at)policia.example.org;Perú;law_enforcement;Policía Nacional",
    "Ana G.;ANA.GOMEZ@policia.example.org;CO;law_enforcement;",
    "",
])
FIXED = MESSY.replace("marta.ruiz(at)policia.example.org;", "marta.ruiz@policia.example.org;").replace(
    "Ana G.;ANA.GOMEZ@policia.example.org;CO;law_enforcement;\r\n", "")


def upload(page, text: str) -> None:
    page.set_input_files("input[name=file]", files=[{
        "name": "participantes.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8")}])
    page.get_by_role("button", name="Import the roster").click()


def test_a_trainer_runs_a_cohort_from_messy_roster_to_completion(page, live_server, make):
    trainer = make.trainer(full_name="Lucía Ramos")
    cohort = cohorts.cohort(trainer, name="Policía Nacional — Bogotá", attendance_rule="all_sessions")

    page.goto("/account/login")
    page.fill("input[name=email]", trainer.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="My cohorts").click()
    page.get_by_role("link", name="Policía Nacional — Bogotá").click()
    page.wait_for_url(f"**/cohorts/{cohort.id}")

    upload(page, MESSY)
    report = page.locator(".roster-report")
    expect(report).to_contain_text("Nothing was imported")
    errors = report.locator("table.roster-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("“marta.ruiz(at)policia.example.org” is not a valid e-mail address.")
    expect(errors.nth(1)).to_contain_text("is also on row 2")
    expect(page.locator("table.roster")).to_have_count(0)

    upload(page, FIXED)  # from the page of the first report: its text is there until the next page is
    expect(page.locator(".roster-report")).to_contain_text("3 new accounts invited. 3 people enrolled.")
    roster = page.locator("table.roster")
    for name in ("Ana Gómez", "Jean Dupont", "Marta Ruiz"):
        expect(roster).to_contain_text(name)

    page.fill("input[name=title]", "Day one")
    page.fill("input[name=date]", "2025-03-03")
    page.fill("input[name=time]", "09:00")
    page.fill("input[name=place]", "Academia, Bogotá")
    page.get_by_role("button", name="Add the session").click()
    page.get_by_role("button", name="Mark everyone present").click()
    expect(page.locator("input[type=checkbox][name=present]:checked")).to_have_count(3)
    page.get_by_role("button", name="Save attendance").click()
    expect(page.locator(".flash")).to_contain_text("3 present, 0 absent")

    actions = page.get_by_role("navigation", name="Cohort actions")
    actions.get_by_role("link", name="Close the cohort…").click()
    expect(page.locator("main")).to_contain_text("3 members meet the completion rule now and will be signed off")
    page.get_by_role("button", name="Close the cohort").click()
    expect(page.locator(".flash")).to_contain_text("The cohort is closed. 3 members were signed off")
    expect(page.locator("table.roster .badge.ok")).to_have_count(3)

    db.session.expire_all()
    statuses = db.session.scalars(select(Enrolment.status).where(Enrolment.cohort_id == cohort.id)).all()
    assert statuses == ["completed"] * 3
