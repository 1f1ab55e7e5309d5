"""Our LTI 1.3 tool launched by a platform that is not ours: ``lti1p3platform`` (tests/lti_foreign_platform.py).

The library makes the login initiation, checks our authentication request, signs the id tokens with its
own key (PyJWT), issues the access token for our client assertion, checks the bearer tokens and scopes
of our AGS calls and validates our deep linking response against our ``/lti/jwks``. The tool side is
the real one (test client for the browser's requests, ``requests`` for the tool's calls to the platform).
"""

from __future__ import annotations

from datetime import datetime

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import KeySet
from sqlalchemy import delete, select

from learning.accounts.models import Organisation, User
from learning.enrolment import services as enrolment_services
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.lti import ags, services
from learning.lti import client as lti_client
from learning.lti import launch as lti_launch
from learning.lti.models import LtiScoreDelivery
from tests import factories
from tests.lti.test_ags import answers, deliver, finish, score_events
from tests.lti_foreign_platform import (
    INSTRUCTOR,
    LEARNER,
    ForeignPlatform,
    path_of,
    public_jwk_without_kid,
)
from tests.lti_platform import form_of


@pytest.fixture(scope="module")
def foreign():
    platform = ForeignPlatform()
    platform.users["lina"] = {"sub": "lib-user-5", "name": "Lina Okafor", "email": "lina@college.example",
                              "roles": [LEARNER]}
    platform.users["tom"] = {"sub": "lib-user-1", "name": "Tom Berg", "email": "tom@college.example",
                             "roles": [INSTRUCTOR]}
    yield platform
    platform.stop()


@pytest.fixture
def registered(app, app_context, client, foreign, monkeypatch):
    monkeypatch.setitem(app.config, "LTI_ALLOW_HTTP", True)
    lti_launch._jwks_cache.clear()
    lti_client._tokens.clear()
    foreign.scores.clear()
    foreign.held.clear()
    foreign.stale_scores.clear()
    foreign.whole_seconds = False
    foreign.line_items.clear()
    foreign.errors.clear()
    foreign.deep_link_items.clear()
    foreign.token_requests.clear()
    foreign.sign_as_usual()
    foreign.use_tool_jwks(client.get("/lti/jwks").get_json())  # as the admin registers the tool's keys
    org = Organisation(name="Library College", country="KE", sector="education")
    db.session.add(org)
    platform = services.create_platform(**foreign.tool_registration, name="Library LMS", organisation=org)
    db.session.commit()
    yield platform
    lti_client._tokens.clear()


def through_the_platform(client, foreign, user: str, message: dict):
    """The library's login initiation → our login → the library's authentication → the form it posts to us."""
    started = client.get(path_of(foreign.login_url(user, message)))
    assert started.status_code == 302, started.get_data(as_text=True)
    assert started.location.startswith(foreign.url + "/auth?")
    at_platform = requests.get(started.location, timeout=10)
    assert at_platform.status_code == 200, (at_platform.text, foreign.errors)
    return form_of(at_platform.text)


def resource_link(course, link_id: str = "lib-link-1", lineitem: bool = True) -> dict:
    return {"type": "LtiResourceLinkRequest", "link_id": link_id, "title": "Week 1", "lineitem": lineitem,
            "custom": {"course": course.slug}}


def test_the_librarys_launch_signs_the_learner_in_and_opens_the_course(client, registered, foreign):
    course = factories.course()
    action, fields = through_the_platform(client, foreign, "lina", resource_link(course))
    assert path_of(action) == "/lti/launch"
    response = client.post(path_of(action), data=fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location == f"/courses/{course.slug}"
    person = db.session.scalar(select(User).where(User.email == "lina@college.example"))
    assert person is not None and person.full_name == "Lina Okafor"
    assert db.session.scalar(select(Enrolment).where(Enrolment.user_id == person.id,
                                                     Enrolment.course_id == course.id)) is not None
    # The library's id token is used once.
    assert client.post(path_of(action), data=fields).status_code == 403
    assert foreign.errors == []


def test_scores_reach_the_librarys_line_item_with_its_access_token(client, registered, foreign):
    course = factories.course()
    action, fields = through_the_platform(client, foreign, "lina", resource_link(course))
    assert client.post(path_of(action), data=fields).status_code == 302
    person = db.session.scalar(select(User).where(User.email == "lina@college.example"))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == person.id))
    finish(enrolment, course)
    assert set(deliver()) == {"done"}
    assert foreign.errors == []
    assert foreign.token_requests and all(
        r["grant_type"] == "client_credentials" for r in foreign.token_requests)
    posted = [score for item, score in foreign.scores if item == "item-lib-link-1"]
    assert posted and all(score["userId"] == "lib-user-5" for score in posted)
    final = posted[-1]
    assert final["activityProgress"] == "Completed" and final["gradingProgress"] == "FullyGraded"
    assert final["scoreGiven"] == 100 and final["scoreMaximum"] == 100


def test_a_score_sent_again_after_its_answer_was_lost_is_not_marked_failed(client, registered, foreign):
    """lti1p3platform (like Moodle) answers 409 Conflict to a score not later than the one it holds. A score
    the platform took whose answer was lost is sent again and meets that 409: it is delivered, not failed."""
    course = factories.course()
    action, fields = through_the_platform(client, foreign, "lina", resource_link(course, "lib-link-3"))
    assert client.post(path_of(action), data=fields).status_code == 302
    person = db.session.scalar(select(User).where(User.email == "lina@college.example"))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == person.id))
    finish(enrolment, course)
    payloads = [dict(e.payload) for e in score_events()]
    assert set(deliver()) == {"done"} and len(foreign.scores) == 1
    # The platform took it but the answer was lost: the tool recorded no delivery and the handler runs again.
    db.session.execute(delete(LtiScoreDelivery))
    db.session.commit()
    ags.post_score(payloads[-1])  # no exception: the outbox marks the event done, not failed
    db.session.commit()
    assert len(foreign.scores) == 1 and len(foreign.stale_scores) == 1
    assert foreign.stale_scores[0][1]["timestamp"] == foreign.scores[0][1]["timestamp"]


def test_facts_within_one_second_still_reach_a_platform_that_compares_whole_seconds(client, registered, foreign):
    """Moodle refuses (409) a score not later than the grade's, comparing whole seconds: progress, a quiz
    attempt and the completion handled in three requests within a second were all but the first refused.
    A score in the same second as the last one taken is now sent at the next second."""
    foreign.whole_seconds = True
    course = factories.course()
    action, fields = through_the_platform(client, foreign, "lina", resource_link(course, "lib-link-4"))
    assert client.post(path_of(action), data=fields).status_code == 302
    person = db.session.scalar(select(User).where(User.email == "lina@college.example"))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == person.id))
    first, second = [lesson.id for module in course.modules for lesson in module.lessons]
    enrolment_services.complete_lesson(enrolment, first)
    db.session.commit()
    assert set(deliver()) == {"done"}
    enrolment_services.submit_quiz(enrolment, answers(course, 0))
    db.session.commit()
    assert set(deliver()) == {"done"}
    enrolment_services.complete_lesson(enrolment, second)
    enrolment_services.submit_quiz(enrolment, answers(course, 2))
    db.session.commit()
    assert set(deliver()) == {"done"}
    assert foreign.stale_scores == []
    progress = [s["activityProgress"] for _item, s in foreign.scores]
    assert progress == ["InProgress", "Submitted", "Completed"]
    seconds = [datetime.fromisoformat(s["timestamp"]).replace(microsecond=0) for _item, s in foreign.scores]
    assert seconds == sorted(set(seconds))  # strictly later each time, at whole seconds


def test_without_a_line_item_the_tool_creates_one_through_the_library_and_scores_it(client, registered, foreign):
    course = factories.course()
    action, fields = through_the_platform(client, foreign, "lina", resource_link(course, "lib-link-2", lineitem=False))
    assert client.post(path_of(action), data=fields).status_code == 302
    person = db.session.scalar(select(User).where(User.email == "lina@college.example"))
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == person.id))
    finish(enrolment, course)
    assert set(deliver()) == {"done"}
    assert foreign.errors == []
    created = [key for key, item in foreign.line_items.items() if key.startswith("created-")]
    assert len(created) == 1 and foreign.line_items[created[0]]["resourceLinkId"] == "lib-link-2"
    assert {item for item, _score in foreign.scores} == set(created)


def test_deep_linking_response_is_accepted_by_the_library(client, app, registered, foreign):
    course = factories.course()
    message = {"type": "LtiDeepLinkingRequest", "data": "lib-opaque-1"}
    action, fields = through_the_platform(client, foreign, "tom", message)
    assert path_of(action) == "/lti/deep-linking"
    picker = client.post(path_of(action), data=fields)
    assert picker.status_code == 200, picker.get_data(as_text=True)
    choice, ticket = form_of(picker.get_data(as_text=True), "/lti/deep-linking/respond")
    chosen = client.post(path_of(choice), data={**ticket, "course": course.slug})
    assert chosen.status_code == 200
    back, jwt_fields = form_of(chosen.get_data(as_text=True), "/deep-link-return")
    assert back == f"{foreign.url}/deep-link-return"
    answer = requests.post(back, data=jwt_fields, timeout=10)
    assert answer.status_code == 200, (answer.text, foreign.errors)
    [item] = foreign.deep_link_items
    assert item["type"] == "ltiResourceLink" and item["custom"] == {"course": course.slug}
    claims = jwt.decode(jwt_fields["JWT"], KeySet.import_key_set(client.get("/lti/jwks").get_json()),
                        algorithms=["RS256"]).claims
    assert claims["aud"] == foreign.url and claims["iss"] == foreign.client_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"opaque": "lib-opaque-1"}

    # The placed link launches the course.
    learner = app.test_client()
    placed = {"type": "LtiResourceLinkRequest", "link_id": "placed-lib-1", "title": item["title"],
              "custom": item["custom"], "lineitem": True}
    action, fields = through_the_platform(learner, foreign, "lina", placed)
    response = learner.post(path_of(action), data=fields)
    assert response.status_code == 302 and response.location == f"/courses/{course.slug}"
    assert foreign.errors == []


def test_id_tokens_without_a_kid_as_open_edx_signs_them_are_checked_against_each_key(client, registered, foreign):
    """Open edX's LTI consumer signs id tokens with no ``kid`` and publishes keys without one. With one key
    in the set that always worked; with two (a rotation under way) joserfc found "no key for kid None"
    and every launch was refused as a bad signature. Each key is now tried."""
    foreign.registration.without_kid = True
    foreign.registration.other_keys = [public_jwk_without_kid()]
    course = factories.course()
    action, fields = through_the_platform(client, foreign, "lina", resource_link(course, "lib-link-kidless"))
    assert "kid" not in jws.extract_compact(fields["id_token"].encode()).headers()
    response = client.post(path_of(action), data=fields)
    assert response.status_code == 302 and response.location == f"/courses/{course.slug}", \
        response.get_data(as_text=True)

    # Signed by a key the platform does not publish (the keyset is fetched again, then refused).
    foreign.registration.publish_own = False
    lti_launch._jwks_cache.clear()
    other = app_client(client)
    action, fields = through_the_platform(other, foreign, "lina", resource_link(course, "lib-link-kidless"))
    refused = other.post(path_of(action), data=fields)
    assert refused.status_code == 403 and "bad_signature" in audit_reasons()


def app_client(client):
    return client.application.test_client()


def audit_reasons() -> list[str]:
    from learning.audit.models import AuditEntry

    db.session.expire_all()
    return [e.details.get("reason") for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "lti.launch_refused"))]


def test_what_counts_as_the_platform_holding_a_newer_score():
    """Moodle's and lti1p3platform's 409, Open edX's 400 naming the timestamp; any other refusal is one."""
    from learning.lti.client import ServiceError

    moodle = ServiceError("POST … answered 409: Refusing score with an earlier timestamp for item 3 and user 7",
                          status=409)
    open_edx = ServiceError('POST … answered 400: {"timestamp": ["Score already exists for the provided timestamp"]}',
                            status=400)
    other = ServiceError('POST … answered 400: {"userId": ["This field is required."]}', status=400)
    assert ags._platform_has_newer(moodle) and ags._platform_has_newer(open_edx)
    assert not ags._platform_has_newer(other)
    assert not ags._platform_has_newer(ServiceError("answered 403", status=403))


def test_the_tool_configuration_has_what_canvas_checks_and_our_keys_parse_as_open_edx_reads_them(
        client, registered):
    """Canvas's developer key configuration (its schema and model, read in Canvas's code) and Open edX's
    reading of a tool keyset (PyJWT's ``PyJWKSet``, as its ``ToolKeyHandler`` does) on our documents."""
    import jwt as pyjwt

    answer = client.get("/lti/config")
    assert answer.content_type.startswith("application/json")  # Canvas refuses any other type
    config = answer.get_json()
    assert all(isinstance(config.get(k), str) and config[k]
               for k in ("title", "description", "target_link_uri", "oidc_initiation_url"))
    assert set(config["public_jwk"]) >= {"kty", "e", "n", "kid", "alg", "use"} and config["public_jwk_url"]
    assert "custom_fields" not in config  # Canvas would send it verbatim to every launch
    canvas_scopes = {"https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                     "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
                     "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
                     "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                     "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"}
    assert set(config["scopes"]) <= canvas_scopes
    [canvas] = [e for e in config["extensions"] if e["platform"] == "canvas.instructure.com"]
    assert canvas["privacy_level"] in ("public", "email_only", "name_only", "anonymous")
    message_types = {"link_selection": "LtiDeepLinkingRequest", "assignment_selection": "LtiDeepLinkingRequest",
                     "course_navigation": "LtiResourceLinkRequest"}
    for placement in canvas["settings"]["placements"]:
        assert message_types[placement["placement"]] == placement["message_type"]
        assert placement["target_link_uri"] in config["redirect_uris"]

    jwks = client.get("/lti/jwks").get_json()
    parsed = pyjwt.PyJWKSet.from_dict(jwks)
    assertion = lti_client.client_assertion(registered)
    kid = pyjwt.get_unverified_header(assertion)["kid"]
    claims = pyjwt.decode(assertion, parsed[kid].key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["iss"] == claims["sub"] == registered.client_id


def test_the_timestamp_sent_is_a_whole_second_after_the_last_one_sent_when_it_must_be():
    from datetime import UTC

    from learning.lti.models import LtiScoreDelivery as Delivery

    def at(text):
        return datetime.fromisoformat(f"2026-12-02T10:00:{text}+00:00")

    payload = {"timestamp": at("01.200").isoformat(timespec="milliseconds"), "rank": 1}
    assert ags._stamp(payload, Delivery()) == at("01.200")  # nothing sent yet: the fact's time
    assert ags._stamp(payload, Delivery(sent_timestamp=at("00.900"))) == at("01.200")  # a later second
    assert ags._stamp(payload, Delivery(sent_timestamp=at("01.100"))) == at("02.000")  # the same second
    # The last one was itself sent at the next second (10:00:01): this one goes at 10:00:02.
    assert ags._stamp(payload, Delivery(sent_timestamp=at("00.900"), sent_stamp=at("01.000"))) == at("02.000")
    assert at("02.000").tzinfo == UTC
