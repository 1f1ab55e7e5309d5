"""The admins' page of registered platforms: listed, turned off (launches refused, scores wait) and on."""

from __future__ import annotations

from sqlalchemy import select

from learning.audit.models import AuditEntry
from learning.extensions import db
from tests import factories
from tests.factories_certificates import sign_in
from tests.lti.conftest import launch


def test_an_admin_turns_a_platform_off_and_on(app, client, registered, lms):
    admin = app.test_client()
    sign_in(admin, factories.admin())
    page = admin.get("/admin/lti/").get_data(as_text=True)
    assert "Academia Moodle" in page and lms.client_id in page and 'href="/admin/lti/"' in page
    assert admin.post(f"/admin/lti/{registered.id}/enabled", data={"enabled": "0"}).status_code == 302
    db.session.expire_all()
    assert registered.enabled is False
    assert "Turn on" in admin.get("/admin/lti/").get_data(as_text=True)
    course = factories.course()
    params = lms.login_params("ana", "http://localhost/lti/launch", lms.resource_link(custom={"course": course.slug}))
    assert client.post("/lti/login", data=params).status_code == 403  # not registered while it is off
    admin.post(f"/admin/lti/{registered.id}/enabled", data={"enabled": "1"})
    assert launch(client, lms, "ana", lms.resource_link(custom={"course": course.slug})).status_code == 302
    actions = list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.in_(["lti.platform_disabled", "lti.platform_enabled"])).order_by(AuditEntry.id)))
    assert actions == ["lti.platform_disabled", "lti.platform_enabled"]


def test_learners_and_trainers_do_not_see_it(app, registered):
    for person in (factories.user(), factories.trainer()):
        browser = app.test_client()
        sign_in(browser, person)
        assert browser.get("/admin/lti/").status_code == 403
        assert browser.post(f"/admin/lti/{registered.id}/enabled", data={"enabled": "0"}).status_code == 403
    db.session.expire_all()
    assert registered.enabled is True
