"""Least privilege, route by route: every page and API endpoint, called as six people, answers
what it should, and a refused call changes nothing.

The people: ``anonymous``; ``learner`` (a member of cohort A, with a certificate);
``other_learner``; ``trainer`` (runs cohort A); ``other_trainer`` (runs cohort B); ``admin``.
MATRIX below has an entry for every route and method of the application: a new route
without one fails ``test_every_route_is_in_the_matrix``, so nobody adds an endpoint
without saying who may call it.

Pages send anonymous callers to sign in (``LOGIN``); the API answers 401. Someone
else's enrolment, cohort or import answers 404, so ids reveal nothing.
Calls that would change the shared world for good (erasing, closing, revoking,
withdrawing...) act on something made for that one call (``fresh=...``).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from learning.extensions import db
from tests import factories, factories_assessment
from tests import factories_cohorts as cohorts
from tests.security_fixtures import (
    ROLE_KINDS,
    ROLES,
    fingerprint,
    module_world,
    sign_in,
)

LOGIN = "login"  # a page that sends the anonymous caller to the sign-in page (302 to /account/login)
_seq = itertools.count(1)


def by_role(anonymous, learner, other_learner, trainer, other_trainer, admin, manager=None,
            other_manager=None) -> dict:
    """What each person gets; the organisation managers, unless named, get what ``other_learner`` does
    (outside their organisations they are people with nothing of their own there)."""
    manager = other_learner if manager is None else manager
    other_manager = other_learner if other_manager is None else other_manager
    return dict(zip(ROLES, (anonymous, learner, other_learner, trainer, other_trainer, admin, manager, other_manager),
                    strict=True))


def everyone(status) -> dict:
    return by_role(*[status] * 8)


def signed_in(status, anonymous=401) -> dict:
    return by_role(anonymous, *[status] * 5)


def admins(status, anonymous=401, others=403) -> dict:
    return by_role(anonymous, others, others, others, others, status)


def runners(status, anonymous=401, learners=403, stranger=404) -> dict:
    """Cohort A's trainer and admins; learners are refused, the other trainer finds nothing."""
    return by_role(anonymous, learners, learners, status, stranger, status)


def stewards(status, anonymous=401, others=403, stranger=404) -> dict:
    """Organisation A's manager and admins; other people are refused, B's manager finds nothing."""
    return by_role(anonymous, others, others, others, others, status, manager=status, other_manager=stranger)


def owner(status, anonymous=401) -> dict:
    """Only the learner whose enrolment it is."""
    return by_role(anonymous, status, 404, 404, 404, 404)


@dataclass(frozen=True)
class Call:
    """One request: ``path`` is filled from the world's ids (and ``fresh`` ones made for this call)."""

    path: str
    expect: dict
    json: Any = None
    data: Any = None
    content_type: str | None = None
    fresh: tuple[str, ...] = ()
    actor: str = "world"  # "fresh": a new person of the role's kind; "fresh_session": a new sign-in
    note: str = ""


API, PAGE = "api", "page"

# --- fresh things for calls that change what they act on -----------------------------------------


def _fresh_course(world) -> dict:
    return {"new_course": factories.course().slug}


def _fresh_draft(world) -> dict:
    return {"new_draft": factories.course(published=False).slug}


def _fresh_enrolment(world) -> dict:
    from learning.accounts.models import User

    learner = db.session.get(User, world.ids["learner"])
    return {"new_enrolment": factories.enrolment(learner).id}


def _fresh_cohort(world) -> dict:
    from learning.accounts.models import User

    trainer = db.session.get(User, world.ids["trainer"])
    cohort = cohorts.cohort(trainer, factories.course())
    member = cohorts.member(cohort)
    session = cohorts.session(cohort)
    return {"new_cohort": cohort.id, "new_member": member.user_id, "new_session": session.id}


def _fresh_certificate(world) -> dict:
    from learning.accounts.models import User
    from learning.certificates.codes import new_code
    from tests.factories_catalogue import certificate

    learner = db.session.get(User, world.ids["learner"])
    row = certificate(factories.completed_enrolment(learner))
    row.code = new_code()
    db.session.commit()
    return {"new_certificate": row.code}


def _fresh_join_request(world) -> dict:
    from learning.organisations.models import JoinRequest

    person = factories.user()
    request = JoinRequest(user_id=person.id, organisation_id=world.ids["org_a"], source="profile", status="pending")
    db.session.add(request)
    db.session.commit()
    return {"new_join_request": request.id}


def _fresh_user(world) -> dict:
    person = factories.user()
    return {"new_user": person.id, "new_user_email": person.email}


def _fresh_check_in(world) -> dict:
    from learning.cohorts import checkin
    from learning.cohorts.models import TrainingSession

    return {"check_in_code": checkin.current_code(db.session.get(TrainingSession, world.ids["session_a"])).code}


def _fresh_tested_enrolment(world) -> dict:
    """The learner enrolled in a new course that has a pre-test and a post-test."""
    from learning.accounts.models import User

    learner = db.session.get(User, world.ids["learner"])
    course = factories.course()
    factories_assessment.give_tests(course)
    return {"new_tested_enrolment": factories.enrolment(learner, course).id}


def _fresh_lti_platform(world) -> dict:
    """A registered LTI platform with a resource link launched from it (the world has none): made for refused
    calls too, which must leave a real one alone."""
    from learning.lti.models import LtiResourceLink
    from learning.lti.services import create_platform

    base = f"https://moodle{next(_seq)}.matrix.example"
    platform = create_platform(issuer=base, client_id="matrix", auth_login_url=f"{base}/auth",
                               auth_token_url=f"{base}/token", key_set_url=f"{base}/certs", deployment_ids=["1"])
    link = LtiResourceLink(platform_id=platform.id, deployment_id=platform.deployments[0].id,
                           resource_link_id="link", ags_scopes=[])
    db.session.add(link)
    db.session.commit()
    return {"new_lti_platform": platform.id, "new_lti_link": link.id}


# Fresh values made for refused calls too, which need the real value: some change nothing (a current
# code), others are what a refused call must leave alone where the world has none (an LTI platform).
READ_ONLY = {"check_in", "lti_platform"}

# A refused call aims at the shared world's own thing instead: it must not change it.
STAND_INS = {"new_course": "course", "new_draft": "draft", "new_enrolment": "enrolment", "new_cohort": "cohort_a",
             "new_member": "learner", "new_session": "session_a", "new_certificate": "certificate",
             "new_user": "learner", "new_join_request": "join_request", "new_tested_enrolment": "enrolment"}

FRESH = {"course": _fresh_course, "draft": _fresh_draft, "enrolment": _fresh_enrolment, "cohort": _fresh_cohort,
         "certificate": _fresh_certificate, "user": _fresh_user, "join_request": _fresh_join_request,
         "check_in": _fresh_check_in, "tested_enrolment": _fresh_tested_enrolment,
         "lti_platform": _fresh_lti_platform}


def _signup_body() -> dict:
    return {"email": f"newcomer{next(_seq)}@example.org", "password": factories.PASSWORD, "full_name": "New Comer",
            "country": "KE", "sector": "health", "language": "en"}


def _cohort_body() -> dict:
    return {"course": "{course}", "name": "New cohort", "country": "PE", "delivery": "online",
            "starts_on": "2025-05-01", "ends_on": "2025-05-31"}


ROSTER = b"email,full_name,country,sector\r\n{learner_email},Lena Learner,CO,health\r\n"

# --- the matrix: (rule, method) -> calls ------------------------------------------------------------

MATRIX: dict[tuple[str, str], list[Call]] = {
    # Partner organisations: A's manager and admins; B's manager finds nothing of A (404)
    ("/org/", "GET"): [Call("/org/", by_role(LOGIN, 403, 403, 403, 403, 200, manager=200, other_manager=200))],
    ("/org/<int:organisation_id>/", "GET"): [Call("/org/{org_a}/", stewards(200, LOGIN))],
    ("/org/<int:organisation_id>/assignments", "POST"): [
        Call("/org/{org_a}/assignments", stewards(302, LOGIN),
             data={"course": "{course}", "due_on": "2030-01-31", "user_ids": "{learner}"})],
    ("/org/<int:organisation_id>/requests/<int:request_id>/<any(confirm, decline):decision>", "POST"): [
        Call("/org/{org_a}/requests/{new_join_request}/decline", stewards(302, LOGIN), data={},
             fresh=("join_request",))],
    ("/org/<int:organisation_id>/domains", "POST"): [
        Call("/org/{org_a}/domains", stewards(302, LOGIN, others=403, stranger=404) | {"manager": 403},
             data={"domains": ""}, note="e-mail domains are the admins' to set")],
    ("/org/<int:organisation_id>/assignments.<any(csv, xlsx):extension>", "GET"): [
        Call("/org/{org_a}/assignments.csv", stewards(200, LOGIN)),
        Call("/org/{org_a}/assignments.xlsx", stewards(200, LOGIN))],
    ("/org/<int:organisation_id>/figures", "GET"): [Call("/org/{org_a}/figures", stewards(200, LOGIN))],
    ("/org/<int:organisation_id>/figures.<any(csv, xlsx):extension>", "GET"): [
        Call("/org/{org_a}/figures.csv?group_by=course", stewards(200, LOGIN)),
        Call("/org/{org_a}/figures.xlsx?group_by=year", stewards(200, LOGIN))],
    ("/org/membership", "GET"): [Call("/org/membership", signed_in(200, LOGIN))],
    ("/org/membership/join", "POST"): [Call("/org/membership/join", signed_in(302, LOGIN),
                                            data={"organisation": "{org_b}"}, actor="fresh")],
    ("/org/membership/leave", "POST"): [Call("/org/membership/leave", signed_in(302, LOGIN), data={},
                                             actor="fresh")],
    ("/api/v1/organisations", "GET"): [
        Call("/api/v1/organisations", by_role(401, 403, 403, 403, 403, 200, manager=200, other_manager=200))],
    ("/api/v1/organisations/<int:organisation_id>/members", "GET"): [
        Call("/api/v1/organisations/{org_a}/members", stewards(200))],
    ("/api/v1/organisations/<int:organisation_id>/assignments", "GET"): [
        Call("/api/v1/organisations/{org_a}/assignments", stewards(200))],
    ("/api/v1/organisations/<int:organisation_id>/assignments", "POST"): [
        Call("/api/v1/organisations/{org_a}/assignments", stewards(201),
             json={"course": "{course}", "due_on": "2030-01-31", "user_ids": ["{learner}"]})],
    ("/api/v1/organisations/<int:organisation_id>/summary", "GET"): [
        Call("/api/v1/organisations/{org_a}/summary", stewards(200))],

    # Public pages and documents
    ("/", "GET"): [Call("/", everyone(200))],
    ("/static/<path:filename>", "GET"): [Call("/static/css/app.css", everyone(200))],
    ("/healthz", "GET"): [Call("/healthz", everyone(200))],
    ("/readyz", "GET"): [Call("/readyz", everyone(200))],
    ("/metrics", "GET"): [Call("/metrics", everyone(200), note="open unless METRICS_TOKEN is set")],
    ("/api/v1/openapi.json", "GET"): [Call("/api/v1/openapi.json", everyone(200))],
    ("/api/v1/docs", "GET"): [Call("/api/v1/docs", everyone(200))],
    ("/docs/oauth2-redirect", "GET"): [Call("/docs/oauth2-redirect", everyone(200))],
    ("/.well-known/jwks.json", "GET"): [Call("/.well-known/jwks.json", everyone(200))],
    ("/impact/<int:year>", "GET"): [Call("/impact/{year}", everyone(200))],
    ("/api/v1/impact/<int:year>", "GET"): [Call("/api/v1/impact/{year}", everyone(200))],

    # Accounts: pages
    ("/account/signup", "GET"): [Call("/account/signup", everyone(200))],
    ("/account/signup", "POST"): [Call("/account/signup", everyone(422), data={"email": "not-an-address"})],
    ("/account/login", "GET"): [Call("/account/login", everyone(200))],
    ("/account/login", "POST"): [Call("/account/login", everyone(200), data={"email": "nobody@example.org",
                                                                              "password": "wrong"})],
    ("/account/login/code", "GET"): [Call("/account/login/code", everyone(302), note="no sign-in pending")],
    ("/account/login/code", "POST"): [Call("/account/login/code", everyone(302), data={"code": "123456"})],
    ("/account/logout", "POST"): [Call("/account/logout", everyone(302), actor="fresh_session")],
    ("/account/language", "POST"): [Call("/account/language", everyone(302), data={"lang": "en", "next": "/"})],
    ("/account/forgot", "GET"): [Call("/account/forgot", everyone(200))],
    ("/account/forgot", "POST"): [Call("/account/forgot", everyone(200), data={"email": ""})],
    ("/account/reset/<token>", "GET"): [Call("/account/reset/forged-token", everyone(200))],
    ("/account/reset/<token>", "POST"): [Call("/account/reset/forged-token", everyone(200),
                                              data={"password": factories.PASSWORD, "confirm": factories.PASSWORD},
                                              note="a forged link changes no password")],
    ("/account/verify/<token>", "GET"): [Call("/account/verify/forged-token", everyone(400))],
    ("/account/profile", "GET"): [Call("/account/profile", signed_in(200, LOGIN))],
    ("/account/profile", "POST"): [Call("/account/profile", signed_in(200, LOGIN), data={"country": "XX"})],
    ("/account/two-factor", "GET"): [Call("/account/two-factor", signed_in(200, LOGIN))],
    ("/account/two-factor", "POST"): [Call("/account/two-factor", signed_in(200, LOGIN), data={"code": "000000"})],
    ("/account/data.json", "GET"): [Call("/account/data.json", signed_in(200, LOGIN))],
    ("/account/password", "GET"): [Call("/account/password", signed_in(200, LOGIN))],
    ("/account/password", "POST"): [Call("/account/password", signed_in(422, LOGIN),
                                         data={"current_password": "wrong", "password": "", "confirm": ""})],
    ("/account/sessions/end-all", "POST"): [Call("/account/sessions/end-all", signed_in(302, LOGIN), actor="fresh",
                                                 note="ends every session of a person made for the call")],
    ("/account/tokens", "GET"): [Call("/account/tokens", signed_in(200, LOGIN))],
    ("/account/tokens/<int:token_id>/revoke", "POST"): [
        Call("/account/tokens/999999999/revoke", signed_in(404, LOGIN), note="no token of the caller's")],
    ("/account/erase", "GET"): [Call("/account/erase", signed_in(200, LOGIN))],
    ("/account/erase", "POST"): [
        Call("/account/erase", signed_in(200, LOGIN), data={"password": "wrong", "confirm": "y"},
             note="the wrong password erases nothing"),
        Call("/account/erase", signed_in(302, LOGIN), data={"password": factories.PASSWORD, "confirm": "y"},
             actor="fresh"),
    ],

    # Accounts: API
    ("/api/v1/users", "POST"): [Call("/api/v1/users", everyone(201), json=_signup_body)],
    ("/api/v1/auth/tokens", "POST"): [Call("/api/v1/auth/tokens", everyone(201),
                                           json={"email": "{learner_email}", "password": factories.PASSWORD})],
    ("/api/v1/me", "GET"): [Call("/api/v1/me", signed_in(200))],
    ("/api/v1/me", "PATCH"): [Call("/api/v1/me", signed_in(200), json={})],
    ("/api/v1/me", "DELETE"): [Call("/api/v1/me", signed_in(202), actor="fresh")],
    ("/api/v1/me/export", "GET"): [Call("/api/v1/me/export", signed_in(200))],
    ("/api/v1/me/tokens", "GET"): [Call("/api/v1/me/tokens", signed_in(200))],
    ("/api/v1/me/tokens/<int:token_id>", "DELETE"): [
        Call("/api/v1/me/tokens/999999999", signed_in(404), note="no token of the caller's")],
    ("/api/v1/users/<int:user_id>", "PATCH"): [Call("/api/v1/users/{learner}", admins(200), json={})],
    ("/api/v1/users/<int:user_id>/erase", "POST"): [Call("/api/v1/users/{new_user}/erase", admins(202),
                                                         fresh=("user",))],

    ("/api/v1/users", "GET"): [Call("/api/v1/users?q=person&role=learner&status=active", admins(200))],

    # Accounts: the admins' pages for people
    ("/admin/users/", "GET"): [Call("/admin/users/?q=a&role=trainer&status=active", admins(200, LOGIN))],
    ("/admin/users/<int:user_id>", "GET"): [Call("/admin/users/{learner}", admins(200, LOGIN))],
    ("/admin/users/<int:user_id>/roles", "POST"): [
        Call("/admin/users/{new_user}/roles", admins(302, LOGIN), data={"roles": ["trainer"]}, fresh=("user",))],
    ("/admin/users/<int:user_id>/disable", "POST"): [
        Call("/admin/users/{new_user}/disable", admins(302, LOGIN), data={}, fresh=("user",))],
    ("/admin/users/<int:user_id>/enable", "POST"): [
        Call("/admin/users/{new_user}/enable", admins(302, LOGIN), data={}, fresh=("user",))],
    ("/admin/users/<int:user_id>/password-reset", "POST"): [
        Call("/admin/users/{new_user}/password-reset", admins(302, LOGIN), data={}, fresh=("user",))],
    ("/admin/users/<int:user_id>/erase", "GET"): [Call("/admin/users/{learner}/erase", admins(200, LOGIN))],
    ("/admin/users/<int:user_id>/erase", "POST"): [
        Call("/admin/users/{learner}/erase", admins(422, LOGIN), data={"email": "not-them@example.org"},
             note="a wrong confirmation erases nothing"),
        Call("/admin/users/{new_user}/erase", admins(302, LOGIN), data={"email": "{new_user_email}"},
             fresh=("user",))],

    # The favicon, the API docs' own copy of Swagger UI, and a learner's certificate being prepared
    ("/favicon.ico", "GET"): [Call("/favicon.ico", everyone(200))],
    ("/api/v1/docs/assets/<name>", "GET"): [Call("/api/v1/docs/assets/swagger-ui.css", everyone(200))],
    ("/certificates/enrolments/<int:enrolment_id>.json", "GET"): [
        Call("/certificates/enrolments/{enrolment}.json", owner(200, LOGIN))],

    # Audit
    ("/admin/audit/", "GET"): [Call("/admin/audit/", admins(200, LOGIN))],
    ("/api/v1/audit", "GET"): [Call("/api/v1/audit", admins(200))],

    # Catalogue: pages
    ("/courses/", "GET"): [Call("/courses/", everyone(200))],
    ("/courses/<slug>", "GET"): [
        Call("/courses/{course}", everyone(200)),
        Call("/courses/{draft}", by_role(404, 404, 404, 404, 404, 200), note="drafts are the admins' own"),
    ],
    ("/admin/courses/", "GET"): [Call("/admin/courses/", admins(200, LOGIN))],
    ("/admin/courses/new", "GET"): [Call("/admin/courses/new", admins(200, LOGIN))],
    ("/admin/courses/new", "POST"): [Call("/admin/courses/new", admins(422, LOGIN), data={"slug": "bad slug"})],
    ("/admin/courses/import", "GET"): [Call("/admin/courses/import", admins(200, LOGIN))],
    ("/admin/courses/import", "POST"): [Call("/admin/courses/import", admins(422, LOGIN),
                                             data={"definition": "not json"})],
    ("/admin/courses/<slug>/edit", "GET"): [Call("/admin/courses/{course}/edit", admins(200, LOGIN))],
    ("/admin/courses/<slug>/edit", "POST"): [Call("/admin/courses/{course}/edit", admins(422, LOGIN),
                                                  data={"title": ""})],
    ("/admin/courses/<slug>/publish", "POST"): [Call("/admin/courses/{new_draft}/publish", admins(302, LOGIN),
                                                     data={}, fresh=("draft",))],
    ("/admin/courses/<slug>/archive", "POST"): [Call("/admin/courses/{new_course}/archive", admins(302, LOGIN),
                                                     data={}, fresh=("course",))],

    # Catalogue: API
    ("/api/v1/courses", "GET"): [Call("/api/v1/courses", everyone(200))],
    ("/api/v1/courses", "POST"): [Call("/api/v1/courses", admins(201), json=lambda: factories.course_data())],
    ("/api/v1/courses/<slug>", "GET"): [
        Call("/api/v1/courses/{course}", everyone(200)),
        Call("/api/v1/courses/{draft}", by_role(404, 404, 404, 404, 404, 200)),
    ],
    ("/api/v1/courses/<slug>", "PATCH"): [Call("/api/v1/courses/{course}", admins(200), json={})],
    ("/api/v1/courses/<slug>/publish", "POST"): [Call("/api/v1/courses/{new_draft}/publish", admins(200),
                                                      fresh=("draft",))],
    ("/api/v1/courses/<slug>/archive", "POST"): [Call("/api/v1/courses/{new_course}/archive", admins(200),
                                                      fresh=("course",))],

    # Enrolment: pages
    ("/courses/<slug>/enrol", "POST"): [
        Call("/courses/{new_course}/enrol", signed_in(302, LOGIN), data={}, fresh=("course",)),
        Call("/courses/{draft}/enrol", by_role(LOGIN, 404, 404, 404, 404, 302), data={},
             note="no one enrols in a draft; admins see it, and are sent back with a message"),
    ],
    ("/learning/", "GET"): [Call("/learning/", signed_in(200, LOGIN))],
    ("/learning/<int:enrolment_id>", "GET"): [Call("/learning/{enrolment}", owner(302, LOGIN))],
    ("/learning/<int:enrolment_id>/lessons/<int:lesson_id>", "GET"): [
        Call("/learning/{enrolment}/lessons/{lesson}", owner(200, LOGIN))],
    ("/learning/<int:enrolment_id>/lessons/<int:lesson_id>/done", "POST"): [
        Call("/learning/{enrolment}/lessons/{lesson}/done", owner(302, LOGIN), data={})],
    ("/learning/<int:enrolment_id>/quiz", "GET"): [Call("/learning/{enrolment}/quiz", owner(200, LOGIN))],
    ("/learning/<int:enrolment_id>/quiz", "POST"): [Call("/learning/{enrolment}/quiz", owner(422, LOGIN), data={})],
    ("/learning/<int:enrolment_id>/withdraw", "POST"): [
        Call("/learning/{new_enrolment}/withdraw", owner(302, LOGIN), data={}, fresh=("enrolment",))],

    # Enrolment: API
    ("/api/v1/courses/<slug>/enrolments", "POST"): [
        Call("/api/v1/courses/{new_course}/enrolments", signed_in(201), fresh=("course",)),
        Call("/api/v1/courses/{draft}/enrolments", by_role(401, 404, 404, 404, 404, 409)),
    ],
    ("/api/v1/me/enrolments", "GET"): [Call("/api/v1/me/enrolments", signed_in(200))],
    ("/api/v1/enrolments/<int:enrolment_id>", "GET"): [
        Call("/api/v1/enrolments/{enrolment}", by_role(401, 200, 404, 404, 404, 200),
             note="its learner, and admins; to the cohort's trainer the cohort pages show it")],
    ("/api/v1/enrolments/<int:enrolment_id>/lessons/<int:lesson_id>/complete", "POST"): [
        Call("/api/v1/enrolments/{enrolment}/lessons/{lesson}/complete", owner(200))],
    ("/api/v1/enrolments/<int:enrolment_id>/quiz-attempts", "POST"): [
        Call("/api/v1/enrolments/{enrolment}/quiz-attempts", owner(201), json={"answers": {}})],
    ("/api/v1/enrolments/<int:enrolment_id>/withdraw", "POST"): [
        Call("/api/v1/enrolments/{new_enrolment}/withdraw", owner(200), fresh=("enrolment",))],

    # The installable web app (public: no one's data)
    ("/sw.js", "GET"): [Call("/sw.js", everyone(200))],
    ("/manifest.webmanifest", "GET"): [Call("/manifest.webmanifest", everyone(200))],
    ("/offline", "GET"): [Call("/offline", everyone(200))],

    # Offline learning: API (events name their enrolment; someone else's is a per-event rejection)
    ("/api/v1/sync", "POST"): [
        Call("/api/v1/sync", signed_in(200), json={"events": []}),
        Call("/api/v1/sync", signed_in(422), json={"events": "many"}),
    ],
    ("/api/v1/courses/<slug>/package", "GET"): [
        Call("/api/v1/courses/{finished_course}/package", by_role(401, 200, 200, 403, 403, 403, manager=403,
                                                                  other_manager=403),
             note="those enrolled in the course (completed here); no one else, admins included"),
        Call("/api/v1/courses/{draft}/package", by_role(401, 404, 404, 404, 404, 403)),
    ],

    # Cohorts: pages (trainers and admins only; another trainer's cohort does not exist for them)
    ("/cohorts/", "GET"): [Call("/cohorts/", runners(200, LOGIN, stranger=200))],
    ("/cohorts/new", "GET"): [Call("/cohorts/new", runners(200, LOGIN, stranger=200))],
    ("/cohorts/new", "POST"): [Call("/cohorts/new", runners(422, LOGIN, stranger=422), data={"name": ""})],
    ("/cohorts/<int:cohort_id>", "GET"): [Call("/cohorts/{cohort_a}", runners(200, LOGIN))],
    ("/cohorts/<int:cohort_id>/roster", "POST"): [
        Call("/cohorts/{cohort_a}/roster", runners(200, LOGIN), data={"mode": "partial", "file": "roster"})],
    ("/cohorts/<int:cohort_id>/imports/<int:import_id>", "GET"): [
        Call("/cohorts/{cohort_a}/imports/{import_a}", runners(200, LOGIN)),
        Call("/cohorts/{cohort_b}/imports/{import_a}", runners(404, LOGIN, stranger=404),
             note="an import is reached only through its own cohort"),
    ],
    ("/cohorts/<int:cohort_id>/members/<int:user_id>/complete", "POST"): [
        Call("/cohorts/{new_cohort}/members/{new_member}/complete", runners(302, LOGIN), data={},
             fresh=("cohort",)),
        Call("/cohorts/{cohort_b}/members/{learner}/complete", by_role(LOGIN, 403, 403, 404, 404, 404), data={},
             note="a learner is signed off only in their own cohort"),
    ],
    ("/cohorts/<int:cohort_id>/close", "GET"): [Call("/cohorts/{cohort_a}/close", runners(200, LOGIN))],
    ("/cohorts/<int:cohort_id>/close", "POST"): [
        Call("/cohorts/{new_cohort}/close", runners(302, LOGIN), data={}, fresh=("cohort",))],
    ("/cohorts/<int:cohort_id>/settings", "POST"): [
        Call("/cohorts/{cohort_a}/settings", runners(422, LOGIN), data={"attendance_rule": "nonsense"})],
    ("/cohorts/<int:cohort_id>/sessions", "POST"): [
        Call("/cohorts/{new_cohort}/sessions", runners(302, LOGIN), data={"date": "2025-03-04", "time": "09:00"},
             fresh=("cohort",))],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>", "GET"): [
        Call("/cohorts/{cohort_a}/sessions/{session_a}", runners(200, LOGIN)),
        Call("/cohorts/{cohort_a}/sessions/{session_b}", runners(404, LOGIN),
             note="a session is reached only through its own cohort"),
    ],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>", "POST"): [
        Call("/cohorts/{new_cohort}/sessions/{new_session}", runners(302, LOGIN), data={"present": []},
             fresh=("cohort",))],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>/paper", "GET"): [
        Call("/cohorts/{cohort_a}/sessions/{session_a}/paper", runners(200, LOGIN)),
        Call("/cohorts/{cohort_a}/sessions/{session_a}/paper?all=present", runners(200, LOGIN)),
        Call("/cohorts/{cohort_b}/sessions/{session_a}/paper", runners(404, LOGIN),
             note="a session is reached only through its own cohort")],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>/paper", "POST"): [
        Call("/cohorts/{cohort_a}/sessions/{session_a}/paper", runners(422, LOGIN), data={},
             note="no member given a mark: nothing to save"),
        Call("/cohorts/{cohort_b}/sessions/{session_a}/paper", runners(404, LOGIN), data={})],
    ("/cohorts/<int:cohort_id>/roster.csv", "GET"): [Call("/cohorts/{cohort_a}/roster.csv", runners(200, LOGIN))],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>/check-in-code", "GET"): [
        Call("/cohorts/{cohort_a}/sessions/{session_a}/check-in-code", runners(200, LOGIN)),
        Call("/cohorts/{cohort_b}/sessions/{session_a}/check-in-code", runners(404, LOGIN),
             note="a session is reached only through its own cohort")],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>/check-in-qr.svg", "GET"): [
        Call("/cohorts/{cohort_a}/sessions/{session_a}/check-in-qr.svg?code={check_in_code}", runners(200, LOGIN),
             fresh=("check_in",)),
        Call("/cohorts/{cohort_a}/sessions/{session_a}/check-in-qr.svg?code=123456789", runners(404, LOGIN),
             note="only the session's current code is drawn")],
    ("/cohorts/<int:cohort_id>/sessions/<int:session_id>/sign-in-sheet.pdf", "GET"): [
        Call("/cohorts/{cohort_a}/sessions/{session_a}/sign-in-sheet.pdf", runners(200, LOGIN)),
        Call("/cohorts/{cohort_b}/sessions/{session_a}/sign-in-sheet.pdf", runners(404, LOGIN))],
    ("/check-in", "GET"): [Call("/check-in?code=123456789", signed_in(200, LOGIN))],
    ("/check-in", "POST"): [
        Call("/check-in", signed_in(422, LOGIN), data={"code": "123456789"}, note="a wrong code"),
        Call("/check-in", by_role(LOGIN, 409, 403, 403, 403, 403), data={"code": "{check_in_code}"},
             fresh=("check_in",), note="members only; session_a's check-in ended long ago")],

    # Cohorts: API
    ("/api/v1/cohorts", "GET"): [Call("/api/v1/cohorts", runners(200, stranger=200))],
    ("/api/v1/cohorts", "POST"): [Call("/api/v1/cohorts", runners(201, stranger=201), json=_cohort_body)],
    ("/api/v1/cohorts/<int:cohort_id>", "GET"): [
        Call("/api/v1/cohorts/{cohort_a}", runners(200)),
        Call("/api/v1/cohorts/999999", runners(404, stranger=404)),
    ],
    ("/api/v1/cohorts/<int:cohort_id>", "PATCH"): [Call("/api/v1/cohorts/{cohort_a}", runners(200), json={})],
    ("/api/v1/cohorts/<int:cohort_id>/roster", "POST"): [
        Call("/api/v1/cohorts/{cohort_a}/roster", runners(200), data=ROSTER, content_type="text/csv")],
    ("/api/v1/cohorts/<int:cohort_id>/roster-imports/<int:import_id>", "GET"): [
        Call("/api/v1/cohorts/{cohort_a}/roster-imports/{import_a}", runners(200)),
        Call("/api/v1/cohorts/{cohort_b}/roster-imports/{import_a}", runners(404, stranger=404)),
    ],
    ("/api/v1/cohorts/<int:cohort_id>/roster.csv", "GET"): [
        Call("/api/v1/cohorts/{cohort_a}/roster.csv", runners(200))],
    ("/api/v1/cohorts/<int:cohort_id>/members/<int:user_id>/complete", "POST"): [
        Call("/api/v1/cohorts/{new_cohort}/members/{new_member}/complete", runners(200), fresh=("cohort",)),
        Call("/api/v1/cohorts/{cohort_b}/members/{learner}/complete", by_role(401, 403, 403, 404, 404, 404)),
    ],
    ("/api/v1/cohorts/<int:cohort_id>/close", "POST"): [
        Call("/api/v1/cohorts/{new_cohort}/close", runners(200), fresh=("cohort",))],
    ("/api/v1/cohorts/<int:cohort_id>/sessions", "GET"): [
        Call("/api/v1/cohorts/{cohort_a}/sessions", runners(200))],
    ("/api/v1/cohorts/<int:cohort_id>/sessions", "POST"): [
        Call("/api/v1/cohorts/{new_cohort}/sessions", runners(201), json={"starts_at": "2025-03-04T09:00:00Z"},
             fresh=("cohort",))],
    ("/api/v1/cohorts/<int:cohort_id>/sessions/<int:session_id>/attendance", "GET"): [
        Call("/api/v1/cohorts/{cohort_a}/sessions/{session_a}/attendance", runners(200)),
        Call("/api/v1/cohorts/{cohort_b}/sessions/{session_a}/attendance", runners(404, stranger=404)),
    ],
    ("/api/v1/cohorts/<int:cohort_id>/sessions/<int:session_id>/attendance", "PUT"): [
        Call("/api/v1/cohorts/{new_cohort}/sessions/{new_session}/attendance", runners(200),
             json={"present": ["{new_member}"]}, fresh=("cohort",))],
    ("/api/v1/cohorts/<int:cohort_id>/sessions/<int:session_id>/check-in-code", "POST"): [
        Call("/api/v1/cohorts/{cohort_a}/sessions/{session_a}/check-in-code", runners(201)),
        Call("/api/v1/cohorts/{cohort_b}/sessions/{session_a}/check-in-code", runners(404, stranger=404))],
    ("/api/v1/check-in", "POST"): [
        Call("/api/v1/check-in", signed_in(422), json={"code": "123456789"}, note="a wrong code"),
        Call("/api/v1/check-in", by_role(401, 409, 403, 403, 403, 403), json={"code": "{check_in_code}"},
             fresh=("check_in",), note="members only; session_a's check-in ended long ago")],

    # Certificates: pages
    ("/certificates", "GET"): [Call("/certificates", signed_in(200, LOGIN))],
    ("/certificates/<code>.pdf", "GET"): [
        Call("/certificates/{certificate}.pdf", everyone(200), note="anyone holding the code"),
        Call("/certificates/{completed_enrolment}.pdf", everyone(404), note="an id is not a code"),
    ],
    ("/verify", "GET"): [Call("/verify", everyone(200))],
    ("/verify/<code>", "GET"): [Call("/verify/{certificate}", everyone(200))],
    ("/certificates/admin", "GET"): [Call("/certificates/admin", admins(200, LOGIN))],
    ("/certificates/admin/<code>", "GET"): [Call("/certificates/admin/{certificate}", admins(200, LOGIN))],
    ("/certificates/admin/<code>/revoke", "POST"): [
        Call("/certificates/admin/{new_certificate}/revoke", admins(302, LOGIN), data={"reason": "Issued in error"},
             fresh=("certificate",))],
    ("/certificates/admin/<code>/render", "POST"): [
        Call("/certificates/admin/{certificate}/render", admins(302, LOGIN), data={})],

    # Certificates: API
    ("/api/v1/me/certificates", "GET"): [Call("/api/v1/me/certificates", signed_in(200))],
    ("/api/v1/certificates/<code>", "GET"): [Call("/api/v1/certificates/{certificate}", everyone(200))],
    ("/api/v1/certificates/<code>/credential", "GET"): [
        Call("/api/v1/certificates/{certificate}/credential", everyone(200))],
    ("/api/v1/status-lists/<int:list_number>", "GET"): [Call("/api/v1/status-lists/{status_list}", everyone(200))],
    ("/api/v1/certificates/<code>/revoke", "POST"): [
        Call("/api/v1/certificates/{new_certificate}/revoke", admins(200), json={"reason": "Issued in error"},
             fresh=("certificate",))],
    ("/api/v1/certificates/<code>/render", "POST"): [Call("/api/v1/certificates/{certificate}/render", admins(200))],

    # Reminders: the signed link is the credential
    ("/reminders/unsubscribe/<token>", "GET"): [
        Call("/reminders/unsubscribe/{unsubscribe}", everyone(200)),
        Call("/reminders/unsubscribe/forged-token", everyone(400)),
    ],
    ("/reminders/unsubscribe/<token>", "POST"): [Call("/reminders/unsubscribe/forged-token", everyone(400), data={})],

    # Evaluations: the learner's own form; a cohort's summary for its trainers; the anonymous report for admins
    ("/learning/<int:enrolment_id>/evaluation", "GET"): [
        Call("/learning/{completed_enrolment}/evaluation", owner(200, LOGIN))],
    ("/learning/<int:enrolment_id>/evaluation", "POST"): [
        Call("/learning/{completed_enrolment}/evaluation", owner(422, LOGIN), data={"relevance": "9"},
             note="an answer out of range: refused, nothing stored")],
    ("/cohorts/<int:cohort_id>/evaluation", "GET"): [Call("/cohorts/{cohort_a}/evaluation", runners(200, LOGIN))],
    ("/reports/evaluations", "GET"): [Call("/reports/evaluations", admins(200, LOGIN))],
    ("/api/v1/reports/evaluations", "GET"): [Call("/api/v1/reports/evaluations", admins(200))],
    ("/api/v1/reports/evaluations.csv", "GET"): [Call("/api/v1/reports/evaluations.csv", admins(200))],
    ("/api/v1/enrolments/<int:enrolment_id>/evaluation", "GET"): [
        Call("/api/v1/enrolments/{completed_enrolment}/evaluation", owner(200))],
    ("/api/v1/enrolments/<int:enrolment_id>/evaluation", "POST"): [
        Call("/api/v1/enrolments/{completed_enrolment}/evaluation", owner(422), json={"answers": {"relevance": 9}})],

    # Reporting
    ("/reports/", "GET"): [Call("/reports/", admins(200, LOGIN))],
    ("/reports/exports", "POST"): [Call("/reports/exports", admins(302, LOGIN),
                                        data={"format": "csv", "group_by": "country"})],
    ("/reports/exports/<int:export_id>", "GET"): [Call("/reports/exports/{export}", admins(200, LOGIN))],
    ("/api/v1/reports/summary", "GET"): [Call("/api/v1/reports/summary", admins(200))],
    ("/api/v1/reports/export.csv", "GET"): [Call("/api/v1/reports/export.csv", admins(200))],
    ("/api/v1/reports/export.xlsx", "GET"): [Call("/api/v1/reports/export.xlsx", admins(200))],
    ("/api/v1/reports/exports", "POST"): [Call("/api/v1/reports/exports", admins(202), json={})],
    ("/api/v1/reports/exports/<int:export_id>", "GET"): [Call("/api/v1/reports/exports/{export}", admins(200))],
    ("/api/v1/reports/exports/<int:export_id>/download", "GET"): [
        Call("/api/v1/reports/exports/{export}/download", admins(200))],
    # Knowledge tests (pre-test, post-test) and the learning gain
    ("/learning/<int:enrolment_id>/tests/<kind>", "GET"): [
        Call("/learning/{new_tested_enrolment}/tests/pre", owner(200, LOGIN), fresh=("tested_enrolment",))],
    ("/learning/<int:enrolment_id>/tests/<kind>", "POST"): [
        Call("/learning/{new_tested_enrolment}/tests/pre", owner(422, LOGIN), data={}, fresh=("tested_enrolment",))],
    ("/admin/courses/<slug>/knowledge-tests", "GET"): [
        Call("/admin/courses/{course}/knowledge-tests", admins(200, LOGIN))],
    ("/admin/courses/<slug>/knowledge-tests", "POST"): [
        Call("/admin/courses/{course}/knowledge-tests", admins(422, LOGIN), data={"pre_questions-0-text": "Alone?"})],
    ("/api/v1/courses/<slug>/knowledge-tests", "GET"): [
        Call("/api/v1/courses/{course}/knowledge-tests", admins(200))],
    ("/api/v1/courses/<slug>/knowledge-tests", "PUT"): [
        Call("/api/v1/courses/{new_course}/knowledge-tests", admins(200), fresh=("course",),
             json=lambda: factories_assessment.definition())],
    ("/api/v1/enrolments/<int:enrolment_id>/knowledge-tests", "GET"): [
        Call("/api/v1/enrolments/{enrolment}/knowledge-tests", owner(200))],
    ("/api/v1/enrolments/<int:enrolment_id>/knowledge-tests/<kind>/attempts", "POST"): [
        Call("/api/v1/enrolments/{new_tested_enrolment}/knowledge-tests/pre/attempts", owner(201),
             json={"answers": {}}, fresh=("tested_enrolment",))],
    ("/api/v1/reports/learning-gain", "GET"): [Call("/api/v1/reports/learning-gain", admins(200))],
    ("/api/v1/reports/learning-gain.csv", "GET"): [Call("/api/v1/reports/learning-gain.csv", admins(200))],
    # Single sign-on: the organisation sign-in page is public; a provider nobody configured is 404 to all.
    ("/auth/sso/", "GET"): [Call("/auth/sso/?email=someone@nowhere.example", everyone(422)),
                            Call("/auth/sso/", everyone(200))],
    ("/auth/sso/<provider>/login", "GET"): [Call("/auth/sso/nowhere/login", everyone(404))],
    ("/auth/sso/<provider>/oidc/callback", "GET"): [Call("/auth/sso/nowhere/oidc/callback?code=x&state=y",
                                                         everyone(404))],
    ("/auth/sso/<provider>/saml/acs", "POST"): [Call("/auth/sso/nowhere/saml/acs", everyone(404),
                                                     data={"SAMLResponse": "PHg+"})],
    ("/auth/sso/<provider>/saml/complete", "GET"): [Call("/auth/sso/nowhere/saml/complete?ticket=x",
                                                         everyone(404))],
    ("/auth/sso/<provider>/saml/metadata", "GET"): [Call("/auth/sso/nowhere/saml/metadata", everyone(404))],
    ("/admin/sso/", "GET"): [Call("/admin/sso/", admins(200, LOGIN))],
    ("/admin/sso/new", "GET"): [Call("/admin/sso/new", admins(200, LOGIN))],
    ("/admin/sso/new", "POST"): [Call("/admin/sso/new", admins(422, LOGIN), data={"kind": "oidc", "slug": "x"})],
    ("/admin/sso/<int:provider_id>/enabled", "POST"): [Call("/admin/sso/999999/enabled", admins(404, LOGIN),
                                                            data={"enabled": "0"})],
    # LTI 1.3: the tool's configuration and keys are public; logins and launches come from a partner's LMS
    # (whoever is signed in here), so an unregistered platform or a launch without state is refused to all.
    ("/lti/config", "GET"): [Call("/lti/config", everyone(200))],
    ("/lti/jwks", "GET"): [Call("/lti/jwks", everyone(200))],
    ("/lti/login", "GET"): [Call("/lti/login?iss=https://nowhere.example&login_hint=x"
                                 "&target_link_uri=http://localhost/lti/launch", everyone(403))],
    ("/lti/login", "POST"): [Call("/lti/login", everyone(403), data={
        "iss": "https://nowhere.example", "login_hint": "x", "target_link_uri": "http://localhost/lti/launch"})],
    ("/lti/launch", "POST"): [Call("/lti/launch", everyone(400), data={"id_token": "x.y.z"})],
    ("/lti/deep-linking", "POST"): [Call("/lti/deep-linking", everyone(400), data={"id_token": "x.y.z"})],
    ("/lti/deep-linking/respond", "POST"): [Call("/lti/deep-linking/respond", everyone(400),
                                                 data={"ticket": "forged", "course": "x"})],
    ("/api/v1/lti/platforms", "GET"): [Call("/api/v1/lti/platforms", admins(200))],
    ("/api/v1/lti/platforms", "POST"): [Call("/api/v1/lti/platforms", admins(201), json={
        "issuer": "https://moodle.matrix.example", "client_id": "matrix", "deployment_ids": ["1"],
        "key_set_url": "https://moodle.matrix.example/mod/lti/certs.php",
        "auth_login_url": "https://moodle.matrix.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.matrix.example/mod/lti/token.php"})],
    # The roster of an LTI context's cohort (cohort A is not one: 409 for those who may ask; the page flashes it).
    ("/api/v1/cohorts/<int:cohort_id>/lti-roster", "POST"): [
        Call("/api/v1/cohorts/{cohort_a}/lti-roster", runners(409))],
    ("/lti/cohorts/<int:cohort_id>/roster", "POST"): [Call("/lti/cohorts/{cohort_a}/roster", runners(302, LOGIN))],
    ("/admin/lti/", "GET"): [Call("/admin/lti/", admins(200, LOGIN))],
    ("/admin/lti/<int:platform_id>/enabled", "POST"): [Call("/admin/lti/999999/enabled", admins(404, LOGIN),
                                                            data={"enabled": "0"})],
    # Removing a platform (with what its launches left) or one resource link: admins only.
    ("/api/v1/lti/platforms/<int:platform_id>", "DELETE"): [
        Call("/api/v1/lti/platforms/{new_lti_platform}?cascade=true", admins(204), fresh=("lti_platform",)),
        Call("/api/v1/lti/platforms/999999", admins(404))],
    ("/api/v1/lti/platforms/<int:platform_id>/links", "GET"): [
        Call("/api/v1/lti/platforms/{new_lti_platform}/links", admins(200), fresh=("lti_platform",))],
    ("/api/v1/lti/links/<int:link_id>", "DELETE"): [
        Call("/api/v1/lti/links/{new_lti_link}", admins(204), fresh=("lti_platform",))],
    ("/admin/lti/<int:platform_id>/remove", "POST"): [
        Call("/admin/lti/{new_lti_platform}/remove", admins(302, LOGIN), data={"cascade": "1"},
             fresh=("lti_platform",)),
        Call("/admin/lti/999999/remove", admins(404, LOGIN), data={"cascade": "1"})],
    ("/admin/lti/<int:platform_id>/links", "GET"): [
        Call("/admin/lti/{new_lti_platform}/links", admins(200, LOGIN), fresh=("lti_platform",)),
        Call("/admin/lti/999999/links", admins(404, LOGIN))],
    ("/admin/lti/<int:platform_id>/links/<int:link_id>/remove", "POST"): [
        Call("/admin/lti/{new_lti_platform}/links/{new_lti_link}/remove", admins(302, LOGIN), fresh=("lti_platform",)),
        Call("/admin/lti/999999/links/999999/remove", admins(404, LOGIN))],
}

CASES = [
    pytest.param(method, rule, index, role, id=f"{method} {call.path} as {role}")
    for (rule, method), calls in MATRIX.items()
    for index, call in enumerate(calls)
    for role in ROLES
]


# --- fixtures: one world per module -----------------------------------------------------------------

@pytest.fixture(autouse=True)
def _clean_database():
    """Overrides the suite's per-test cleanup: this module's world lives for the whole module."""
    yield


@pytest.fixture(scope="module")
def world(app):
    with module_world(app) as built:
        yield built


@pytest.fixture(scope="module")
def browsers(app, world):
    """A signed-in browser client for each person (anonymous has none)."""
    clients = {"anonymous": app.test_client()}
    for role in ROLES[1:]:
        clients[role] = app.test_client()
        sign_in(clients[role], world.emails[role])
    return clients


def _fill(value, ids: dict):
    if callable(value):
        value = value()
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids and isinstance(ids[value[1:-1]], int):
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, bytes):
        return value.decode().format(**ids).encode()
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


def _fresh_person(role: str):
    person = factories.user(roles=ROLE_KINDS[role])
    return person.email, factories.token(person)


def refused(wanted) -> bool:
    return wanted in (LOGIN, 401, 403, 404)


def prepare(app, world, call: Call, role: str) -> tuple[dict, str | None, str | None]:
    """The ids to fill the call with, and who makes it (e-mail, token), making fresh things first."""
    ids = {**world.ids, **{f"{who}_email": email for who, email in world.emails.items()}}
    ids.update({name: world.ids[stand_in] for name, stand_in in STAND_INS.items()})
    ids["new_user_email"] = ids["learner_email"]
    with app.app_context():
        for name in call.fresh if not refused(call.expect[role]) else [n for n in call.fresh if n in READ_ONLY]:
            ids.update(FRESH[name](world))
        email, token = (world.emails.get(role), world.tokens.get(role))
        if call.actor == "fresh" and role != "anonymous":
            email, token = _fresh_person(role)
        db.session.remove()
    return ids, email, token


def send(app, browsers, method: str, call: Call, role: str, ids: dict, email: str | None, token: str | None):
    """Make the call as ``role``; returns the response."""
    path = _fill(call.path, ids)
    kwargs: dict = {"method": method}
    if path.startswith("/api/"):
        kwargs["headers"] = {"Accept": "application/json"}
        if role != "anonymous":
            kwargs["headers"]["Authorization"] = f"Bearer {token}"
        client = browsers["anonymous"]
    else:
        kwargs["headers"] = {"Accept": "text/html"}
        client = browsers[role]
        if call.actor in ("fresh", "fresh_session") and role != "anonymous":
            client = app.test_client()
            sign_in(client, email)
    if call.json is not None:
        kwargs["json"] = _fill(call.json, ids)
    if call.data is not None:
        data = _fill(call.data, ids)
        if isinstance(data, dict) and data.get("file") == "roster":
            data = {**data, "file": (io.BytesIO(_fill(ROSTER, ids)), "roster.csv")}
            kwargs["content_type"] = "multipart/form-data"
        kwargs["data"] = data
    if call.content_type:
        kwargs["content_type"] = call.content_type
    return client.open(path, **kwargs)


# --- the tests --------------------------------------------------------------------------------------

def test_every_route_is_in_the_matrix(app):
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes with no entry in the authorisation matrix: {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


@pytest.mark.parametrize(("method", "rule", "index", "role"), CASES)
def test_each_person_gets_what_the_matrix_says(app, world, browsers, method, rule, index, role):
    call = MATRIX[(rule, method)][index]
    wanted = call.expect[role]
    mutating = method not in ("GET", "HEAD")
    ids, email, token = prepare(app, world, call, role)
    if mutating and refused(wanted):
        with app.app_context():
            before = fingerprint()
            db.session.remove()
    response = send(app, browsers, method, call, role, ids, email, token)
    shown = f"{method} {call.path} as {role}: {response.status_code} {response.get_data()[:300]!r}"
    response.close()
    if wanted == LOGIN:
        assert response.status_code == 302, shown
        assert response.headers["Location"].startswith("/account/login"), shown
    else:
        assert response.status_code == wanted, shown
    if refused(wanted) and call.path.startswith("/api/"):
        assert response.get_json()["error"]["code"] in ("unauthorized", "forbidden", "not_found"), shown
    if mutating and refused(wanted):
        with app.app_context():
            assert fingerprint() == before, f"a refused call changed something: {shown}"
            db.session.remove()


# --- no identifier can be guessed to reach another person's data -------------------------------------

def _walk(client, template: str, ids, headers) -> dict[int, int]:
    answers = {}
    for number in ids:
        response = client.get(template.format(number), headers=headers)
        answers[number] = response.status_code
        response.close()
    return answers


def test_walking_every_enrolment_id_finds_only_ones_own(app, world, browsers):
    from learning.enrolment.models import Enrolment

    with app.app_context():
        own = set(db.session.scalars(db.select(Enrolment.id).where(Enrolment.user_id == world.ids["other_learner"])))
        highest = db.session.scalar(db.select(db.func.max(Enrolment.id)))
        db.session.remove()
    headers = {"Authorization": f"Bearer {world.tokens['other_learner']}"}
    api = _walk(browsers["anonymous"], "/api/v1/enrolments/{}", range(1, highest + 3), headers)
    pages = _walk(browsers["other_learner"], "/learning/{}/quiz", range(1, highest + 3), {})
    assert {n for n, status in api.items() if status == 200} == own
    assert {n for n, status in pages.items() if status != 404} == own
    assert set(api.values()) == {200, 404} and set(pages.values()) <= {200, 404}


def test_walking_every_cohort_id_finds_only_the_trainers_own(app, world, browsers):
    from learning.cohorts.models import Cohort, CohortTrainer

    with app.app_context():
        own = set(db.session.scalars(
            db.select(CohortTrainer.cohort_id).where(CohortTrainer.user_id == world.ids["other_trainer"])))
        highest = db.session.scalar(db.select(db.func.max(Cohort.id)))
        db.session.remove()
    headers = {"Authorization": f"Bearer {world.tokens['other_trainer']}"}
    api = _walk(browsers["anonymous"], "/api/v1/cohorts/{}/roster.csv", range(1, highest + 3), headers)
    pages = _walk(browsers["other_trainer"], "/cohorts/{}", range(1, highest + 3), {})
    assert own and {n for n, status in api.items() if status == 200} == own
    assert {n for n, status in pages.items() if status == 200} == own
    assert set(api.values()) == {200, 404} and set(pages.values()) == {200, 404}


def test_a_certificate_is_reached_only_with_its_whole_code(app, world, browsers):
    """Ids, near misses and the other codes of a list give nothing; the code is 60 random bits."""
    from learning.certificates.codes import ALPHABET, RANDOM_SYMBOLS, normalise_code

    client = browsers["other_learner"]
    code = world.ids["certificate"]
    body = code.replace("-", "")
    near_misses = [body[:i] + next(a for a in ALPHABET if a != body[i]) + body[i + 1:] for i in range(len(body))]
    tries = [str(world.ids["completed_enrolment"]), "1", body[:-1], *near_misses]
    for attempt in tries:
        for path in (f"/certificates/{attempt}.pdf", f"/api/v1/certificates/{attempt}",
                     f"/api/v1/certificates/{attempt}/credential"):
            response = client.get(path)
            response.close()
            assert response.status_code == 404, (path, response.status_code)
    assert len(ALPHABET) ** RANDOM_SYMBOLS >= 2 ** 60
    assert normalise_code(code.lower()) == code  # typed by a person, it still works
    mine = client.get("/api/v1/me/certificates",
                      headers={"Authorization": f"Bearer {world.tokens['other_learner']}"}).get_json()
    assert [item["code"] for item in mine["items"]] == [world.ids["other_certificate"]]


def test_a_roster_import_and_a_session_are_reached_only_through_their_own_cohort(world, browsers):
    """Trainer B owns cohort B, yet cannot reach cohort A's import or session by putting its id under B."""
    headers = {"Authorization": f"Bearer {world.tokens['other_trainer']}"}
    client = browsers["anonymous"]
    ids = world.ids
    assert client.get(f"/api/v1/cohorts/{ids['cohort_b']}/sessions/{ids['session_b']}/attendance",
                      headers=headers).status_code == 200
    assert client.get(f"/api/v1/cohorts/{ids['cohort_b']}/sessions/{ids['session_a']}/attendance",
                      headers=headers).status_code == 404
    assert client.get(f"/api/v1/cohorts/{ids['cohort_b']}/roster-imports/{ids['import_a']}",
                      headers=headers).status_code == 404
    assert client.put(f"/api/v1/cohorts/{ids['cohort_b']}/sessions/{ids['session_a']}/attendance",
                      json={"present": []}, headers=headers).status_code == 404
