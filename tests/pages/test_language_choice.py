"""The language a person picks sticks: a cookie for visitors, the profile for people.

The switcher is a plain form in every page's header (it works with JavaScript off), ``?lang=``
is honoured and remembered, the confirmation speaks the language just chosen, and without a
choice the browser's Accept-Language is negotiated by Babel (``pt-BR`` gets Portuguese).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from learning.accounts.models import User
from learning.extensions import db
from tests.factories import PASSWORD


def html_lang(response) -> str:
    return re.search(r'<html lang="(\w+)"', response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize(("header", "expected"), [
    ("pt-BR,pt;q=0.9,en;q=0.5", "pt"),
    ("de-DE,de;q=0.9,fr;q=0.4", "fr"),
    ("ar-JO", "ar"),
    ("zh-CN", "en"),
])
def test_without_a_choice_the_browser_language_is_negotiated(client, header, expected):
    assert html_lang(client.get("/", headers={"Accept-Language": header})) == expected


def test_a_visitor_choice_is_kept_in_a_cookie(client):
    response = client.post("/account/language", data={"lang": "es", "next": "/courses/?q=abuso"})
    assert response.status_code == 302 and response.headers["Location"] == "/courses/?q=abuso"
    assert "lang=es" in response.headers["Set-Cookie"]
    page = client.get("/courses/", headers={"Accept-Language": "en"})
    assert html_lang(page) == "es"
    assert "La plataforma está ahora en español." in page.get_data(as_text=True)


def test_lang_in_the_address_is_honoured_and_remembered(client):
    assert html_lang(client.get("/?lang=fr")) == "fr"
    assert html_lang(client.get("/courses/")) == "fr"


def test_an_unknown_language_changes_nothing(client):
    client.get("/?lang=es")
    response = client.post("/account/language", data={"lang": "xx", "next": "//evil.example"})
    assert response.headers["Location"] == "/"
    assert html_lang(client.get("/")) == "es"


def test_a_signed_in_person_saves_the_choice_in_the_profile(client, make):
    person = make.user(language="en")
    client.post("/account/login", data={"email": person.email, "password": PASSWORD})
    client.post("/account/language", data={"lang": "ar", "next": "/learning/"})
    db.session.expire_all()
    assert db.session.get(User, person.id).language == "ar"
    client.get("/?lang=pt")
    db.session.expire_all()
    assert db.session.get(User, person.id).language == "pt"
    client.set_cookie("lang", "es")  # the profile wins over an older cookie
    assert html_lang(client.get("/learning/")) == "pt"


@pytest.mark.browser
def test_the_switcher_works_without_javascript_for_visitors_and_people(browser, live_server, make):
    person = make.user(full_name="Ana Gómez", language="en")
    context = browser.new_context(base_url=live_server.url, locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/courses/")
        page.select_option("#lang-switch-select", "es")
        page.locator(".lang-switch button").click()
        expect(page).to_have_url(re.compile(r"/courses/$"))
        expect(page.locator("html")).to_have_attribute("lang", "es")
        expect(page.locator(".flash-success")).to_have_text("La plataforma está ahora en español.")
        page.goto("/")  # the next page, with no parameter: still Spanish
        expect(page.locator("html")).to_have_attribute("lang", "es")

        page.goto("/account/login")
        page.fill("input[name=email]", person.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("form.stack button[type=submit]").click()
        expect(page.locator("form[action$='/account/logout']")).to_have_count(1)
        expect(page.locator("html")).to_have_attribute("lang", "en")  # the profile says English
        page.select_option("#lang-switch-select", "ar")
        page.locator(".lang-switch button").click()
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator(".flash-success")).to_have_text("أصبحت المنصة الآن باللغة العربية.")
        db.session.expire_all()
        assert db.session.get(User, person.id).language == "ar"
    finally:
        context.close()


def test_choosing_the_language_one_already_has_keeps_the_region(client, make):
    person = make.user(language="pt-BR")
    client.post("/account/login", data={"email": person.email, "password": PASSWORD})
    client.post("/account/language", data={"lang": "pt", "next": "/"})
    db.session.expire_all()
    assert db.session.get(User, person.id).language == "pt-BR"
    assert html_lang(client.get("/")) == "pt"
