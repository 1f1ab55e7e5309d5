"""The LTI 1.3 tool end to end against a real platform running in the tests (tests/lti_platform.py):
login initiation → the platform's authentication → launch, deep linking, and every refusal leaving
nothing behind."""

from __future__ import annotations

import time

import requests
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from learning.accounts.models import User
from learning.audit.models import AuditEntry
from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.lti.models import (
    LtiContext,
    LtiIdentity,
    LtiLinkMember,
    LtiLoginState,
    LtiPlatform,
    LtiResourceLink,
)
from tests import factories
from tests.lti.conftest import DEEP_LINKING_URL, launch, start
from tests.lti_platform import form_of, path_of

pytest_plugins: list[str] = []


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def refusals() -> list[str]:
    db.session.expire_all()
    return [e.details.get("reason") for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "lti.launch_refused").order_by(AuditEntry.id))]


def snapshot() -> tuple:
    return (count(User), count(LtiIdentity), count(Enrolment), count(LtiResourceLink), count(LtiLinkMember),
            count(Cohort))


# --- configuration and keys --------------------------------------------------------------------

def test_config_publishes_the_urls_a_partner_admin_enters_and_the_tools_own_key(client, registered):
    config = client.get("/lti/config").get_json()
    assert config["login_url"] == "http://localhost/lti/login"
    assert config["launch_url"] == "http://localhost/lti/launch"
    assert config["jwks_url"] == "http://localhost/lti/jwks"
    assert config["deep_linking_url"] == DEEP_LINKING_URL
    assert set(config["redirect_uris"]) == {config["launch_url"], DEEP_LINKING_URL}
    assert config["oidc_initiation_url"] == config["login_url"] and config["target_link_uri"] == config["launch_url"]
    keys = client.get("/lti/jwks").get_json()["keys"]
    assert keys[0] == config["public_jwk"] and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
    certificate_kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert keys[0]["kid"] not in certificate_kids  # a key of its own
    assert "private" not in str(keys) and "d" not in keys[0]


# --- resource link launches --------------------------------------------------------------------

def test_learner_launch_signs_in_creates_the_account_and_enrols(client, registered, lms):
    course = factories.course()
    response = launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug}))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location == f"/courses/{course.slug}"
    user = db.session.scalar(select(User).where(User.email == "ana@academia.example"))
    assert user.full_name == "Ana Gómez" and user.organisation.name == "Academia de Policía"
    assert (user.country, user.sector) == ("CO", "law_enforcement") and user.password_hash is None
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == user.id))
    assert enrolment.course_id == course.id and enrolment.status == "active"
    assert enrolment.organisation_id == user.organisation_id and enrolment.country == "CO"
    link = db.session.scalar(select(LtiResourceLink))
    assert link.course_id == course.id and link.ags_lineitem == f"{lms.url}/lineitems/link-1"
    assert link.ags_lineitems == f"{lms.url}/lineitems" and "https://purl.imsglobal.org/spec/lti-ags/scope/score" \
        in link.ags_scopes
    context = db.session.scalar(select(LtiContext))
    assert context.memberships_url == f"{lms.url}/memberships" and context.title.startswith("Child protection")
    member = db.session.scalar(select(LtiLinkMember))
    assert member.user_id == user.id and member.identity.subject == "moodle-user-17"
    assert client.get("/account/profile").status_code == 200  # signed in

    again = launch(client, lms, "ana", lms.resource_link())  # the link remembers its course
    assert again.status_code == 302 and again.location == f"/courses/{course.slug}"
    assert count(User) == 1 and count(Enrolment) == 1 and count(LtiIdentity) == 1


def test_login_initiation_by_get_works_too(client, registered, lms):
    course = factories.course()
    action, fields = start(client, lms, "ana", lms.resource_link(custom={"course": course.slug}), method="get")
    assert client.post(path_of(action), data=fields).status_code == 302


def test_a_platform_that_keeps_the_address_to_itself_still_gets_an_account(client, registered, lms):
    course = factories.course()
    response = launch(client, lms, "anon", lms.resource_link(custom={"course": course.slug}))
    assert response.status_code == 302
    identity = db.session.scalar(select(LtiIdentity).where(LtiIdentity.subject == "moodle-user-99"))
    assert identity.user.email.endswith("@lti.invalid")


def test_instructor_launch_opens_the_contexts_cohort_and_learners_join_it(client, app, registered, lms):
    course = factories.course()
    response = launch(client, lms, "teo", lms.resource_link(custom={"course": course.slug}))
    assert response.status_code == 302, response.get_data(as_text=True)
    cohort = db.session.scalar(select(Cohort))
    assert response.location == f"/cohorts/{cohort.id}"
    teo = db.session.scalar(select(User).where(User.email == "teo@academia.example"))
    assert teo.is_trainer and [t.user_id for t in cohort.trainers] == [teo.id]
    assert cohort.course_id == course.id and cohort.country == "CO" and cohort.name.startswith("Child protection")
    assert teo.language == "es"  # the launch's locale
    assert client.get(response.location).status_code == 200  # the cohort view
    assert count(Enrolment) == 0  # the instructor is not a learner of it

    learner = app.test_client()
    assert launch(learner, lms, "ana", lms.resource_link()).status_code == 302
    enrolment = db.session.scalar(select(Enrolment))
    assert enrolment.cohort_id == cohort.id

    again = launch(client, lms, "teo", lms.resource_link())
    assert again.location == f"/cohorts/{cohort.id}" and count(Cohort) == 1


def test_a_platform_not_trusted_with_instructors_launches_them_as_learners(client, registered, lms):
    registered.instructors_are_trainers = False
    db.session.commit()
    course = factories.course()
    response = launch(client, lms, "teo", lms.resource_link(custom={"course": course.slug}))
    assert response.location == f"/courses/{course.slug}"
    teo = db.session.scalar(select(User).where(User.email == "teo@academia.example"))
    assert not teo.is_trainer and count(Cohort) == 0 and count(Enrolment) == 1


def test_an_existing_account_of_the_platforms_organisation_is_linked(client, registered, lms):
    course = factories.course()
    ana = factories.user(email="ana@academia.example", organisation=registered.organisation.name)
    assert launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302
    assert count(User) == 1 and db.session.scalar(select(LtiIdentity.user_id)) == ana.id


def test_an_existing_account_elsewhere_is_not_taken_over(client, registered, lms):
    course = factories.course()
    factories.user(email="ana@academia.example")  # not of the platform's organisation
    before = snapshot()
    response = launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug}))
    assert response.status_code == 403 and "already exists" in response.get_data(as_text=True)
    assert snapshot() == before and refusals() == ["email_taken"]


def test_a_launch_inside_an_iframe_offers_a_new_window_and_signs_no_one_in(client, registered, lms):
    course = factories.course()
    response = launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug}),
                      **{"Sec-Fetch-Dest": "iframe"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'target="_blank"' in page and "/lti/login?" in page
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors https: http:" in response.headers["Content-Security-Policy"]
    assert count(User) == 0 and count(Enrolment) == 0
    import html
    import re

    restart = html.unescape(re.search(r'href="(/lti/login\?[^"]+)"', page).group(1))
    top = client.get(restart)  # the new window starts again at the top level
    assert top.status_code == 302 and top.location.startswith(lms.url + "/auth?")
    action, fields = form_of(requests.get(top.location, timeout=10).text)
    assert client.post(path_of(action), data=fields).status_code == 302
    assert count(Enrolment) == 1


def test_the_platform_rotating_its_key_is_followed(client, registered, lms):
    course = factories.course()
    assert launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302
    lms.rotate_key()
    assert launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302


# --- deep linking ------------------------------------------------------------------------------

def test_deep_linking_round_trip_places_a_course_that_then_launches(client, app, registered, lms):
    course = factories.course()
    factories.course(published=False)  # drafts are not offered
    message = lms.deep_linking()
    picker = launch(client, lms, "teo", message, target=DEEP_LINKING_URL)
    assert picker.status_code == 200, picker.get_data(as_text=True)
    page = picker.get_data(as_text=True)
    title_es = course.translations[0].title if course.translations[0].language == "es" else \
        next(t.title for t in course.translations if t.language == "es")
    assert title_es in page  # the teacher's language (es-CO)
    assert page.count("/lti/deep-linking/respond") == 1
    assert "X-Frame-Options" not in picker.headers
    action, fields = form_of(page, "/lti/deep-linking/respond")
    chosen = client.post(path_of(action), data={**fields, "course": course.slug})
    assert chosen.status_code == 200
    assert f"form-action 'self' {lms.url}" in chosen.headers["Content-Security-Policy"]
    back, jwt_fields = form_of(chosen.get_data(as_text=True), "/deep-link-return")
    assert back == f"{lms.url}/deep-link-return"
    answer = requests.post(back, data=jwt_fields, timeout=10)
    assert answer.status_code == 200, answer.text
    [item] = lms.deep_link_items
    assert item["type"] == "ltiResourceLink" and item["url"] == "http://localhost/lti/launch"
    assert item["custom"] == {"course": course.slug} and item["title"] == title_es
    assert item["lineItem"]["scoreMaximum"] == 100
    assert lms.last_deep_linking_claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == message["data"]
    assert count(User) == 0  # choosing signs no one in

    # The placed link launches the course for a learner.
    learner = app.test_client()
    placed = lms.resource_link(link_id="placed-1", custom=item["custom"], title=item["title"])
    response = launch(learner, lms, "ana", placed)
    assert response.status_code == 302 and response.location == f"/courses/{course.slug}"


def test_a_forged_or_unknown_choice_is_refused(client, registered, lms):
    course = factories.course()
    picker = launch(client, lms, "teo", lms.deep_linking(), target=DEEP_LINKING_URL)
    action, fields = form_of(picker.get_data(as_text=True), "/lti/deep-linking/respond")
    assert client.post(path_of(action), data={**fields, "course": "no-such-course"}).status_code == 422
    assert client.post(path_of(action), data={"ticket": fields["ticket"] + "x", "course": course.slug}) \
        .status_code == 400


# --- refusals ----------------------------------------------------------------------------------

def refused(client, lms, reason: str, status: int = 403, user: str = "ana", message=None, **headers):
    course = factories.course()
    before = snapshot()
    response = launch(client, lms, user, message or lms.resource_link(custom={"course": course.slug}), **headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert snapshot() == before
    assert refusals()[-1] == reason
    return response


def test_a_replayed_launch_is_refused(client, registered, lms):
    course = factories.course()
    action, fields = start(client, lms, "ana", lms.resource_link(custom={"course": course.slug}))
    assert client.post(path_of(action), data=fields).status_code == 302
    before = snapshot()
    response = client.post(path_of(action), data=fields)
    assert response.status_code == 403 and "already used" in response.get_data(as_text=True)
    assert snapshot() == before and refusals() == ["replayed"]


def test_an_expired_token_is_refused(client, registered, lms):
    lms.tamper = lambda c: {**c, "iat": int(time.time()) - 900, "exp": int(time.time()) - 600}
    refused(client, lms, "expired")


def test_a_token_for_another_tool_is_refused(client, registered, lms):
    lms.tamper = lambda c: {**c, "aud": "another-tool", "azp": "another-tool"}
    refused(client, lms, "wrong_audience")


def test_a_token_for_several_audiences_needs_our_azp(client, registered, lms):
    lms.tamper = lambda c: {**c, "aud": [lms.client_id, "another-tool"], "azp": "another-tool"}
    refused(client, lms, "wrong_audience")


def test_an_unknown_deployment_is_refused(client, registered, lms):
    lms.tamper = lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "deployment-9"}
    refused(client, lms, "unknown_deployment")


def test_an_unknown_issuer_is_refused_at_login_and_at_launch(client, registered, lms):
    before = snapshot()
    params = lms.login_params("ana", "http://localhost/lti/launch", lms.resource_link())
    response = client.post("/lti/login", data={**params, "iss": "https://stranger.example"})
    assert response.status_code == 403 and count(LtiLoginState) == 0
    lms.tamper = lambda c: {**c, "iss": "https://stranger.example"}
    refused(client, lms, "unknown_issuer")
    assert snapshot() == before
    assert refusals() == ["unknown_issuer"]  # the launch answered a login we started (not the stray login)


def test_a_bad_signature_is_refused(client, registered, lms):
    lms.break_signature = True
    refused(client, lms, "bad_signature")


def test_a_token_signed_by_a_key_the_platform_does_not_publish_is_refused(client, registered, lms):
    lms.sign_with = RSAKey.generate_key(2048, parameters={"kid": "platform-key-1"}, private=True)
    refused(client, lms, "bad_signature")
    lms.sign_with = RSAKey.generate_key(2048, parameters={"kid": "unpublished"}, private=True)
    refused(client, lms, "bad_signature")


def test_a_launch_without_state_or_with_another_logins_state_is_refused(client, registered, lms):
    course = factories.course()
    message = lms.resource_link(custom={"course": course.slug})
    action, fields = start(client, lms, "ana", message)
    _action, other = start(client, lms, "ana", message)
    before = snapshot()
    assert client.post(path_of(action), data={"id_token": fields["id_token"]}).status_code == 400
    assert client.post(path_of(action), data={**fields, "state": "made-up"}).status_code == 403
    assert client.post(path_of(action), data={**fields, "state": other["state"]}).status_code == 403
    # Without a state of ours, nothing says which platform it is: logged, not audited.
    assert snapshot() == before and refusals() == ["bad_nonce"]
    assert client.post(path_of(action), data=fields).status_code == 302  # the real one still works


def test_a_launch_brought_by_another_page_without_the_state_cookie_is_refused(client, app, registered, lms):
    course = factories.course()
    action, fields = start(client, lms, "ana", lms.resource_link(custom={"course": course.slug}))
    victim = app.test_client()  # another browser: it never started this login
    before = snapshot()
    response = victim.post(path_of(action), data=fields, headers={"Sec-Fetch-Dest": "document"})
    assert response.status_code == 403 and snapshot() == before and refusals() == ["state_cookie_missing"]


def test_other_message_types_and_versions_are_refused(client, registered, lms):
    lms.tamper = lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/version": "1.1"}
    refused(client, lms, "unsupported_version", status=400)
    lms.tamper = lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiSubmissionReviewRequest"}
    refused(client, lms, "unsupported_message_type", status=400)


def test_a_target_link_uri_elsewhere_is_refused(client, registered, lms):
    lms.tamper = lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "https://evil.example/"}
    refused(client, lms, "foreign_target", status=400)


def test_an_unpublished_course_is_not_opened(client, registered, lms):
    draft = factories.course(published=False)
    before = snapshot()
    response = launch(client, lms, "ana", lms.resource_link(custom={"course": draft.slug}))
    assert response.status_code == 404 and snapshot() == before


# --- erasure -----------------------------------------------------------------------------------

def test_erasure_removes_the_platform_subject_and_launches(client, registered, lms):
    from learning.accounts.privacy import erase_user

    course = factories.course()
    assert launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302
    user_id = db.session.scalar(select(LtiIdentity.user_id))
    erase_user(user_id)
    db.session.commit()
    assert count(LtiIdentity) == 0 and count(LtiLinkMember) == 0
    assert count(LtiResourceLink) == 1  # the placement is the platform's, not the person's


def test_the_person_s_data_export_names_the_platforms_they_launched_from(client, registered, lms):
    """GET /api/v1/me/export holds "all personal data held on the caller": the LMS's subject too."""
    from learning.accounts.privacy import export_personal_data

    course = factories.course()
    assert launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302
    identity = db.session.scalar(select(LtiIdentity))
    platform = db.session.get(LtiPlatform, identity.platform_id)
    exported = export_personal_data(db.session.get(User, identity.user_id))["learning_platforms"]
    assert [(e["issuer"], e["subject"]) for e in exported] == [(platform.issuer, identity.subject)]
    assert exported[0]["linked_at"]


def test_erasure_removes_the_login_states_that_name_the_person(client, registered, lms):
    """Outside check: Moodle's login hint is the person's subject; the used login state kept it (until
    someone else's sign-in swept expired states), so the subject outlived the erasure in a dump."""
    from learning.accounts.privacy import erase_user

    lms.users["moodle-user-17"] = dict(lms.users["ana"])  # the hint is the subject, as Moodle sends it
    lms.users["teo-hint"] = dict(lms.users["teo"])
    course = factories.course()
    assert launch(client, lms, "moodle-user-17", lms.resource_link(custom={"course": course.slug})).status_code == 302
    assert launch(client, lms, "teo-hint", lms.resource_link(custom={"course": course.slug})).status_code == 302
    assert _hints() == {"moodle-user-17", "teo-hint"}
    user_id = db.session.scalar(select(LtiIdentity.user_id).where(LtiIdentity.subject == "moodle-user-17"))
    erase_user(user_id)
    db.session.commit()
    assert _hints() == {"teo-hint"}  # someone else's stays


def _hints() -> set[str]:
    db.session.expire_all()
    return set(db.session.scalars(select(LtiLoginState.login_hint)))
