"""Removing a registered platform or one of its resource links: the admins' API, the ``flask lti`` commands
and the admins' page. A platform that launches left records on is refused (409, nothing changed) unless the
admin asks to remove those too; an unknown id is a 404 that changes nothing; a course whose last link goes
stops counting as LTI-linked; every removal is in the audit log; the accounts and enrolments stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from learning.accounts.models import User
from learning.audit.models import AuditEntry
from learning.catalogue.models import Course
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.lti import models as lti
from learning.lti import services
from learning.models_base import utcnow
from tests import factories
from tests import factories_cohorts as cohorts
from tests.factories_certificates import sign_in

LAUNCH_LEFT = (lti.LtiDeployment, lti.LtiContext, lti.LtiContextCohort, lti.LtiIdentity, lti.LtiResourceLink, lti.LtiLinkMember,
               lti.LtiScoreDelivery, lti.LtiLoginState)


def registered(n: int = 1) -> lti.LtiPlatform:
    base = f"https://moodle{n}.removal.example"
    platform = services.create_platform(
        issuer=base, client_id=f"client-{n}", auth_login_url=f"{base}/auth", auth_token_url=f"{base}/token",
        key_set_url=f"{base}/certs", deployment_ids=["1"], name=f"Moodle {n}")
    db.session.commit()
    return platform


def launched(platform: lti.LtiPlatform, course: Course, link: str = "link-1") -> lti.LtiResourceLink:
    """What a launch from the platform leaves (as ``launch`` and ``services`` write it): the person's
    account link, the context with its cohort, the resource link opening the course, the person's
    membership of it and a score delivery, and a login state."""
    person = factories.user()
    deployment = platform.deployments[0]
    identity = lti.LtiIdentity(platform_id=platform.id, subject=f"sub-{link}", user_id=person.id)
    context = db.session.scalar(select(lti.LtiContext).where(lti.LtiContext.platform_id == platform.id))
    if context is None:
        context = lti.LtiContext(platform_id=platform.id, deployment_id=deployment.id, context_id="ctx", title="Class",
                             nrps_versions=[])
        db.session.add(context)
        db.session.flush()
        cohort = cohorts.cohort(course=course)
        db.session.add(lti.LtiContextCohort(context_id=context.id, course_id=course.id, cohort_id=cohort.id))
    resource = lti.LtiResourceLink(platform_id=platform.id, deployment_id=deployment.id, context_id=context.id,
                               resource_link_id=link, title="Lesson", course_id=course.id, ags_scopes=[])
    db.session.add_all([identity, resource])
    db.session.flush()
    db.session.add_all([
        lti.LtiLinkMember(resource_link_id=resource.id, user_id=person.id, identity_id=identity.id, roles=[]),
        lti.LtiScoreDelivery(resource_link_id=resource.id, user_id=person.id, sent_at=utcnow()),
        lti.LtiLoginState(state=f"state-{link}", nonce=f"nonce-{link}", platform_id=platform.id,
                      expires_at=utcnow() + timedelta(minutes=10))])
    factories.enrolment(person, course)  # commits
    return resource


def rows(model, platform_id: int | None = None) -> int:
    query = select(func.count()).select_from(model)
    if platform_id is not None and hasattr(model, "platform_id"):
        query = query.where(model.platform_id == platform_id)
    return db.session.scalar(query)


def world() -> dict:
    """Every row LTI keeps, and the accounts, enrolments and courses' flags: what must not change."""
    db.session.expire_all()
    return {"platforms": rows(lti.LtiPlatform), **{model.__name__: rows(model) for model in LAUNCH_LEFT},
            "users": rows(User), "linked": sorted(db.session.scalars(select(Course.id).where(Course.lti_linked))),
            "audit": rows(AuditEntry)}


def linked(course: Course) -> bool:
    db.session.expire_all()
    return db.session.get(Course, course.id).lti_linked


def removals() -> list[tuple]:
    return [(e.action, e.actor_id, e.target_id, e.details) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("lti.%removed")).order_by(AuditEntry.id))]


def test_a_platform_launches_left_records_on_is_refused_and_nothing_changes(api, make):
    admin = make.admin()
    platform, course = registered(), make.course()
    launched(platform, course)
    assert linked(course)
    before = world()
    refused = api.as_user(admin).delete(f"lti/platforms/{platform.id}")
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "platform_in_use" and (error["resource_links"], error["linked_accounts"]) == (1, 1)
    assert "turn it off" in error["message"]
    assert world() == before and removals() == []


def test_with_cascade_the_platform_and_all_its_launches_left_go_and_the_course_is_no_longer_linked(api, make):
    admin = make.admin()
    platform, course = registered(), make.course()
    launched(platform, course)
    launched(platform, course, link="link-2")
    other = registered(2)
    launched(other, make.course(), link="elsewhere")
    users, enrolments = rows(User), rows(Enrolment)
    platform_id = platform.id
    assert api.as_user(admin).delete(f"lti/platforms/{platform_id}?cascade=true").status_code == 204
    db.session.expire_all()
    assert db.session.get(lti.LtiPlatform, platform_id) is None
    # Every row launches left is gone but the other platform's one of each.
    assert {model.__name__: rows(model) for model in LAUNCH_LEFT} == {model.__name__: 1 for model in LAUNCH_LEFT}
    assert all(rows(model, other.id) == 1 for model in LAUNCH_LEFT if hasattr(model, "platform_id"))
    assert not linked(course)  # its last links went
    # The people, their enrolments and the context's cohort stay (history, rule 3).
    assert (rows(User), rows(Enrolment), cohorts_of(course)) == (users, enrolments, 1)
    assert removals() == [("lti.platform_removed", admin.id, str(platform_id), {
        "issuer": "https://moodle1.removal.example", "client_id": "client-1", "cascade": True,
        "resource_links": 2, "linked_accounts": 2})]


def cohorts_of(course: Course) -> int:
    from learning.cohorts.models import Cohort

    return db.session.scalar(select(func.count()).select_from(Cohort).where(Cohort.course_id == course.id))


def test_a_course_another_platform_still_links_stays_linked(api, make):
    course = make.course()
    first, second = registered(1), registered(2)
    launched(first, course)
    launched(second, course, link="link-2")
    assert api.as_user(make.admin()).delete(f"lti/platforms/{first.id}?cascade=true").status_code == 204
    assert linked(course)


def test_a_platform_nobody_launched_from_is_removed_without_cascade(api, make):
    admin = make.admin()
    platform = registered()
    platform_id = platform.id
    assert api.as_user(admin).delete(f"lti/platforms/{platform_id}").status_code == 204
    db.session.expire_all()
    assert rows(lti.LtiPlatform) == 0 and rows(lti.LtiDeployment) == 0
    assert [action for action, *_ in removals()] == ["lti.platform_removed"]


@pytest.mark.parametrize("path", ["lti/platforms/999999", "lti/platforms/999999?cascade=true", "lti/links/999999"])
def test_an_unknown_id_is_a_404_that_changes_nothing(api, make, path):
    admin = make.admin()
    launched(registered(), make.course())
    before = world()
    response = api.as_user(admin).delete(path)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert world() == before


def test_a_bad_cascade_value_is_named_and_changes_nothing(api, make):
    platform, client = registered(), api.as_user(make.admin())
    before = world()
    response = client.delete(f"lti/platforms/{platform.id}?cascade=perhaps")
    assert response.status_code == 422 and "cascade" in response.get_json()["error"]["fields"]
    assert world() == before


def test_an_admin_lists_a_platforms_links_and_removes_one(api, make):
    admin = make.admin()
    platform, course, other_course = registered(), make.course(), make.course()
    kept = launched(platform, course)
    gone = launched(platform, other_course, link="link-2")
    client = api.as_user(admin)
    listed = client.get(f"lti/platforms/{platform.id}/links").get_json()
    assert [(item["resource_link_id"], item["course"], item["members"], item["context"]) for item in listed["items"]] \
        == [("link-1", course.slug, 1, "Class"), ("link-2", other_course.slug, 1, "Class")]
    assert listed["total"] == 2 and client.get("lti/platforms/999999/links").status_code == 404
    second = client.get(f"lti/platforms/{platform.id}/links?page=2&per_page=1").get_json()
    assert [item["resource_link_id"] for item in second["items"]] == ["link-2"] and second["total"] == 2
    assert client.get(f"lti/platforms/{platform.id}/links?page=0").status_code == 422
    gone_id = gone.id
    assert client.delete(f"lti/links/{gone_id}").status_code == 204
    db.session.expire_all()
    assert db.session.get(lti.LtiResourceLink, gone_id) is None and db.session.get(lti.LtiResourceLink, kept.id)
    assert rows(lti.LtiLinkMember) == rows(lti.LtiScoreDelivery) == 1
    assert not linked(other_course) and linked(course)
    assert rows(lti.LtiIdentity) == 2  # the people's link to the platform stays: they may launch again
    assert [(a, actor, target) for a, actor, target, _d in removals()] == [
        ("lti.resource_link_removed", admin.id, str(gone_id))]


def test_only_admins_remove(api, make):
    platform = registered()
    link = launched(platform, make.course())
    clients = [api.as_user(person) for person in (make.user(), make.trainer())]
    before = world()
    for client in clients:
        assert client.delete(f"lti/platforms/{platform.id}?cascade=true").status_code == 403
        assert client.delete(f"lti/links/{link.id}").status_code == 403
        assert client.get(f"lti/platforms/{platform.id}/links").status_code == 403
    assert world() == before


def test_the_commands_remove_refuse_and_list(runner, make):
    platform, course = registered(), make.course()
    link = launched(platform, course)
    launched(platform, course, link="link-2")
    before = world()
    refused = runner.invoke(args=["lti", "remove-platform", str(platform.id)])
    assert refused.exit_code != 0 and "resource links: 2" in refused.output and world() == before
    unknown = runner.invoke(args=["lti", "remove-platform", "999999"])
    assert unknown.exit_code != 0 and "No such platform" in unknown.output and world() == before
    assert runner.invoke(args=["lti", "remove-link", "999999"]).exit_code != 0 and world() == before
    listed = runner.invoke(args=["lti", "links", str(platform.id)])
    assert listed.exit_code == 0 and '"link-1"' in listed.output and '"link-2"' in listed.output
    removed_link = runner.invoke(args=["lti", "remove-link", str(link.id)])
    assert removed_link.exit_code == 0, removed_link.output
    assert linked(course)  # link-2 still opens it
    removed = runner.invoke(args=["lti", "remove-platform", str(platform.id), "--cascade"])
    assert removed.exit_code == 0 and "1 resource links" in removed.output
    assert rows(lti.LtiPlatform) == 0 and not linked(course)
    assert [(action, actor) for action, actor, _t, _d in removals()] == [
        ("lti.resource_link_removed", None), ("lti.platform_removed", None)]


def test_on_the_admins_page_removal_is_refused_until_asked_to_cascade(app, make):
    platform, course = registered(), make.course()
    launched(platform, course)
    admin = app.test_client()
    sign_in(admin, make.admin())
    page = admin.get("/admin/lti/").get_data(as_text=True)
    assert f'action="/admin/lti/{platform.id}/remove"' in page and 'name="cascade"' in page
    before = world()
    refused = admin.post(f"/admin/lti/{platform.id}/remove", data={}, headers={"Referer": "/admin/lti/"})
    assert refused.status_code == 302 and world() == before
    assert "resource links: 1" in admin.get("/admin/lti/").get_data(as_text=True)  # flashed
    assert admin.post("/admin/lti/999999/remove", data={"cascade": "1"}).status_code == 404 and world() == before
    removed = admin.post(f"/admin/lti/{platform.id}/remove", data={"cascade": "1"})
    assert removed.status_code == 302
    page = admin.get("/admin/lti/").get_data(as_text=True)
    assert "Moodle 1 is removed" in page and "No platform is registered yet." in page
    assert rows(lti.LtiPlatform) == 0 and not linked(course)
    for person in (make.user(), make.trainer()):
        browser = app.test_client()
        sign_in(browser, person)
        assert browser.post(f"/admin/lti/{platform.id}/remove", data={"cascade": "1"}).status_code == 403
