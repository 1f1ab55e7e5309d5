"""After finishing a course the learner sees their certificate, or a word that it is being prepared,
and the page updates itself when the worker has issued it (a plain "Refresh" link without JavaScript)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from learning.certificates.services import issue_certificate
from tests.factories import PASSWORD
from tests.support import sign_in_on


def _sign_in(client, user):
    assert client.post("/account/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return client


def test_my_certificates_says_a_certificate_is_being_prepared_until_it_is_issued(make, client):
    learner = make.user()
    done = make.completed_enrolment(learner, make.course(title="Safeguarding basics"))
    _sign_in(client, learner)
    page = client.get("/certificates").get_data(as_text=True)
    assert "Safeguarding basics" in page
    assert "Your certificate is being prepared" in page
    assert 'class="refresh"' in page  # reloads without JavaScript
    assert "You have no certificates yet" not in page
    assert client.get(f"/certificates/enrolments/{done.id}.json").get_json() == {
        "enrolment_id": done.id, "status": "preparing"}

    certificate = issue_certificate(done.id)
    page = client.get("/certificates").get_data(as_text=True)
    assert "being prepared" not in page and certificate.code in page
    body = client.get(f"/certificates/enrolments/{done.id}.json").get_json()
    assert body["status"] == "ready" and body["pdf_url"] == f"/certificates/{certificate.code}.pdf"


def test_the_course_and_my_learning_link_the_certificate(make, client):
    learner = make.user()
    course = make.course()
    done = make.completed_enrolment(learner, course)
    _sign_in(client, learner)
    assert "Your certificate is being prepared" in client.get(f"/courses/{course.slug}").get_data(as_text=True)
    certificate = issue_certificate(done.id)
    for path in (f"/courses/{course.slug}", "/learning/"):
        page = client.get(path).get_data(as_text=True)
        assert "Your certificate is ready." in page and f"/certificates/{certificate.code}.pdf" in page


def test_the_status_of_someone_elses_enrolment_is_not_found(make, client):
    owner = make.user()
    done = make.completed_enrolment(owner)
    _sign_in(client, make.user())
    assert client.get(f"/certificates/enrolments/{done.id}.json").status_code == 404


@pytest.mark.browser
def test_the_pages_update_when_the_certificate_is_ready(page, make):
    learner = make.user()
    course = make.course(title="Online safety for children")
    done = make.completed_enrolment(learner, course)
    page.goto("/account/login")
    sign_in_on(page, learner.email)  # signed in before the next goto (which would cancel the sign-in's POST)
    page.goto(f"/courses/{course.slug}")
    status = page.locator(".certificate-status")
    expect(status).to_have_attribute("data-status", "preparing")
    expect(status).to_contain_text("being prepared")

    issue_certificate(done.id)
    expect(status).to_have_attribute("data-status", "ready", timeout=30_000)  # it asks every 3 s
    expect(status.get_by_role("link", name="Download PDF")).to_have_attribute("href", re.compile(r"\.pdf$"))

    second = make.completed_enrolment(learner, make.course(title="Trauma-informed interviewing"))
    page.goto("/certificates")
    expect(page.locator(".certificate-card.preparing")).to_have_count(1)
    issue_certificate(second.id)
    expect(page.locator(".certificate-card.preparing")).to_have_count(0, timeout=30_000)  # reloaded
    expect(page.locator(".certificate-card")).to_have_count(2)


def test_a_lesson_read_again_after_completion_links_the_certificate(make, client):
    from learning.catalogue.services import all_lessons

    learner = make.user()
    done = make.completed_enrolment(learner)
    lesson = all_lessons(done.course)[0]
    _sign_in(client, learner)
    page = client.get(f"/learning/{done.id}/lessons/{lesson.id}").get_data(as_text=True)
    assert "Your certificate is being prepared" in page
    issue_certificate(done.id)
    page = client.get(f"/learning/{done.id}/lessons/{lesson.id}").get_data(as_text=True)
    assert "Your certificate is ready." in page
