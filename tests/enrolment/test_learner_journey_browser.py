"""Done when: a learner, in real Chromium, signs up, enrols, takes every lesson, fails then
passes the quiz and sees the course completed; and the same journey in Arabic is laid
out right-to-left.

Selectors are ids and data attributes, not wording, so the test holds in every language.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories_catalogue as fc

pytestmark = pytest.mark.browser

PASSWORD = "Quiet-harbour-lantern-2031"


def assert_layout(page: Page, lang: str, direction: str) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("lang", lang)
    expect(html).to_have_attribute("dir", direction)


def sign_up(page: Page, email: str, language: str) -> None:
    page.goto("/account/signup")
    page.fill("#full_name", "Ana Gómez" if language != "ar" else "ليلى حداد")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.select_option("#country", "CO" if language != "ar" else "JO")
    page.select_option("#sector", "law_enforcement")
    page.select_option("#language", language)
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("form[action$='/account/logout']")).to_have_count(1)  # signed in


def take_the_course(page: Page, course, lang: str, direction: str) -> None:
    wrong, right = fc.wrong_answers(course), fc.right_answers(course)
    lessons = fc.lesson_ids(course)

    page.goto("/courses/")
    assert_layout(page, lang, direction)
    page.locator(f'.course-card[data-slug="{course.slug}"] h2 a').click()
    expect(page.locator(f'article.course[data-slug="{course.slug}"]')).to_be_visible()
    assert_layout(page, lang, direction)

    page.locator("#enrol").click()
    for lesson_id in lessons:
        expect(page.locator(f'article.lesson[data-lesson-id="{lesson_id}"]')).to_be_visible()
        assert_layout(page, lang, direction)
        page.locator("#mark-done").click()

    expect(page).to_have_url(re.compile(r"/learning/\d+/quiz$"))
    assert_layout(page, lang, direction)
    for question, choice in wrong.items():
        page.check(f'input[name="q{question}"][value="{choice}"]')
    page.locator("#submit-quiz").click()
    expect(page.locator("#quiz-result")).to_have_attribute("data-passed", "false")
    expect(page.locator("#quiz-result")).to_have_attribute("data-score", "0")

    for question, choice in right.items():  # the retry
        page.check(f'input[name="q{question}"][value="{choice}"]')
    page.locator("#submit-quiz").click()
    expect(page.locator("#quiz-result")).to_have_attribute("data-passed", "true")
    expect(page.locator("#course-completed")).to_be_visible()
    assert_layout(page, lang, direction)

    page.goto("/learning/")
    assert_layout(page, lang, direction)
    expect(page.locator('#completed [data-status="completed"]')).to_have_count(1)
    expect(page.locator('#in-progress [data-status="active"]')).to_have_count(0)

    page.goto(f"/courses/{course.slug}")
    expect(page.locator("#course-completed")).to_be_visible()


def test_a_learner_signs_up_and_completes_a_course(page: Page, make):
    course = make.course(title="Recognising exploitation")
    sign_up(page, "ana.journey@example.org", "en")
    take_the_course(page, course, "en", "ltr")
    expect(page.locator("h1")).to_have_text("Recognising exploitation")


def test_the_same_journey_in_arabic_is_right_to_left(page: Page, make):
    course = make.course(translations=fc.arabic_translations())
    page.goto("/courses/?lang=ar")
    assert_layout(page, "ar", "rtl")  # a visitor choosing Arabic
    sign_up(page, "layla.journey@example.org", "ar")
    take_the_course(page, course, "ar", "rtl")
    expect(page.locator("h1")).to_have_text(fc.arabic_translations()["ar"]["title"])
