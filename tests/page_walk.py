"""Every page each kind of person can open, for the checks that must hold on all of them.

One world (a course with a quiz, a learner part-way through it, a certificate, a cohort with
a session and a roster, a year of statistics), and for each role the pages of its navigation
and what they lead to. The phone-width test and the accessibility test both walk it, so a new
page added here is checked by both.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from learning.accounts import services as accounts
from learning.cohorts.imports import RosterReport
from learning.cohorts.models import RosterImport
from learning.cohorts.roster import RowError
from learning.extensions import db
from learning.lti.models import LtiResourceLink
from learning.lti.services import create_platform
from learning.organisations.models import Assignment
from learning.organisations.services import due_instant
from learning.reminders.services import unsubscribe_token
from tests import (
    factories,
    factories_assessment,
    factories_certificates,
    factories_cohorts,
    factories_evaluations,
)
from tests import factories_reporting as rf
from tests.factories import PASSWORD
from tests.support import outwait_a_coming_reload

ROLES = ("anonymous", "learner", "trainer", "admin")
LANGUAGES = ("en", "ar")
YEAR = 2024


@dataclass
class Site:
    """The people of the world, and the pages each of them is walked through."""

    users: dict[str, object] = field(default_factory=dict)
    pages: dict[str, list[str]] = field(default_factory=dict)


def build_site() -> Site:
    """Create the world through the factories (needs an app context) and list its pages."""
    admin = factories.admin(full_name="Amira Haddad")
    trainer = factories.trainer(full_name="Lucía Ramos")
    learner = factories.user(full_name="Kwame Mensah")
    course = factories.course(
        title="Recognising child sexual exploitation",
        translations={"ar": {"title": "التعرّف على الاستغلال الجنسي للأطفال",
                             "summary": "مؤشرات الاستغلال وما يجب فعله عند ملاحظتها."}},
    )
    other = factories.course(title="Protecting children online")
    in_progress = factories.enrolment(learner, course)
    lesson = in_progress.course.modules[0].lessons[0]
    certificate = factories_certificates.certificate(learner, other)
    tested = factories.course(title="Online grooming: signs and responses")
    factories_assessment.give_tests(tested)
    pre_test = factories.enrolment(learner, tested)

    cohort = factories_cohorts.cohort(trainer, course, name="Policía Nacional — Bogotá", capacity=40,
                                      attendance_rule="all_sessions")
    factories_cohorts.member(cohort, full_name="Ana Gómez")
    factories_cohorts.member(cohort, full_name="ليلى حداد")
    session = factories_cohorts.session(cohort, title="Opening session")
    upcoming = factories_cohorts.session(cohort, title="Field visit", starts_at=datetime(2099, 3, 3, 9, tzinfo=UTC))
    report = RosterReport(created=1, enrolled=1, rows=3, ignored_columns=["Teléfono"], errors=[
        RowError(2, "email", "“marta.ruiz(at)policia.example.org” is not a valid e-mail address."),
        RowError(3, "country", "Not a country we know: “Atlantis”.")])
    roster_import = RosterImport(cohort_id=cohort.id, created_by_id=trainer.id, mode="partial",
                                 filename="participantes-bogotá.csv", status="done", total_rows=3, processed_rows=3,
                                 report=report.as_dict())
    db.session.add(roster_import)
    db.session.flush()

    statistics = rf.course("statistics-course", "Investigating online abuse")
    for i in range(6):  # above the small-cell threshold, so the impact page shows them
        rf.enrolment(rf.person("CO", "law_enforcement"), statistics, date(YEAR, 2, 1 + i), date(YEAR, 3, 1 + i))
        rf.enrolment(rf.person("JO", "health"), statistics, date(YEAR, 4, 1 + i))
    partner = accounts.find_or_create_organisation("Banco Andino", "PE", "financial")
    learner.organisation_id = partner.id
    db.session.flush()
    db.session.add(Assignment(organisation_id=partner.id, course_id=course.id, due_on=date(2031, 1, 31),
                              due_at=due_instant(date(2031, 1, 31)), created_by_id=admin.id))
    # A partner's LMS registered for LTI, with one placement of the course launched from it.
    lms = create_platform(issuer="https://moodle.andino.example.org", client_id="tool-7", deployment_ids=["1"],
                          auth_login_url="https://moodle.andino.example.org/auth",
                          auth_token_url="https://moodle.andino.example.org/token",
                          key_set_url="https://moodle.andino.example.org/jwks", name="Moodle Banco Andino",
                          organisation=partner)
    db.session.add(LtiResourceLink(platform_id=lms.id, deployment_id=lms.deployments[0].id, resource_link_id="rl-42",
                                   title="Módulo 1: señales de explotación", course_id=course.id, ags_scopes=[]))
    db.session.commit()
    # A closed cohort whose members evaluated it (above the small-cell threshold, so figures show).
    evaluated_cohort = factories_cohorts.cohort(trainer, course, name="Fiscalía — Lima")
    evaluated_cohort.status, evaluated_cohort.closed_at = "closed", datetime(YEAR, 5, 30, tzinfo=UTC)
    for n in range(6):
        factories_evaluations.stored(course.id, {"relevance": 3 + n % 3, "trainer": 5 - n % 2, "recommend": "yes",
                                                 "change": ["Escuchar primero", "أستمع أكثر", "Ask open questions"][n % 3]},
                                     day=date(YEAR, 5, 20 + n), cohort_id=evaluated_cohort.id)
    db.session.commit()

    public = ["/", "/courses/", f"/courses/{course.slug}", "/verify", f"/verify/{certificate.code}",
              f"/impact/{YEAR}", "/no-such-page"]
    own = ["/learning/", f"/learning/{in_progress.id}/lessons/{lesson.id}", f"/learning/{in_progress.id}/quiz",
           f"/learning/{pre_test.id}/tests/pre", f"/learning/{pre_test.id}/tests/post",
           f"/learning/{certificate.enrolment_id}/evaluation",
           "/certificates", "/account/profile", "/account/two-factor", "/account/erase",
           "/account/tokens", "/account/password", "/org/membership", "/check-in", "/check-in?code=123456789"]
    cohorts = ["/cohorts/", "/cohorts/new", f"/cohorts/{cohort.id}", f"/cohorts/{cohort.id}/sessions/{session.id}",
               f"/cohorts/{cohort.id}/imports/{roster_import.id}",
               f"/cohorts/{cohort.id}/sessions/{upcoming.id}", f"/cohorts/{cohort.id}/sessions/{session.id}/check-in-code",
               f"/cohorts/{cohort.id}/sessions/{session.id}/paper", f"/cohorts/{cohort.id}/sessions/{upcoming.id}/paper",
               f"/cohorts/{cohort.id}/close", f"/cohorts/{evaluated_cohort.id}",
               f"/cohorts/{evaluated_cohort.id}/evaluation"]
    administration = ["/reports/", "/reports/evaluations", "/admin/courses/", "/admin/courses/new", f"/admin/courses/{course.slug}/edit",
                      f"/admin/courses/{tested.slug}/knowledge-tests",
                      "/admin/courses/import", "/admin/audit/", "/admin/lti/", f"/admin/lti/{lms.id}/links",
                      "/certificates/admin",
                      f"/certificates/admin/{certificate.code}", "/admin/users/",
                      f"/admin/users/?q={learner.full_name.split()[0]}", f"/admin/users/{learner.id}",
                      "/org/", f"/org/{partner.id}/", f"/org/{partner.id}/figures"]
    return Site(
        users={"learner": learner, "trainer": trainer, "admin": admin},
        pages={
            "anonymous": public + ["/account/login", "/account/signup", "/account/forgot",
                                   f"/reminders/unsubscribe/{unsubscribe_token(learner)}"],
            "learner": public + own,
            "trainer": ["/", "/courses/", "/account/profile"] + cohorts,
            "admin": ["/", "/account/profile"] + administration,
        },
    )


@contextlib.contextmanager
def browsing_as(browser, base_url: str, site: Site, role: str, lang: str, width: int = 1280):
    """A Playwright page signed in as ``role`` (or a visitor), in ``lang``, ``width`` pixels wide."""
    context = browser.new_context(base_url=base_url, locale="en-GB", viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        if role != "anonymous":
            page.goto("/account/login")
            page.fill("input[name=email]", site.users[role].email)
            page.fill("input[name=password]", PASSWORD)
            page.locator("form.stack button[type=submit]").click()
            page.wait_for_selector("form[action$='/account/logout']", state="attached")  # signed in
        page.goto(f"/?lang={lang}")  # honoured and remembered (cookie, and the profile)
        yield page
    finally:
        context.close()


def visit(page, path: str, lang: str) -> None:
    """Open ``path`` and make sure it is the page in the expected language (not a sign-in redirect)."""
    response = page.goto(path)
    assert response is not None and response.status in (200, 404), (path, response and response.status)
    assert response.status == 200 or path == "/no-such-page", path
    assert page.locator("html").get_attribute("lang") == lang, path
    page.wait_for_load_state("load")
    outwait_a_coming_reload(page)  # the check-in screen reloads each minute: not while it is being read
