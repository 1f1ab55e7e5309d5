"""A platform's resource links on the admins' page (/admin/lti/<id>/links): listed a page at a time, each
removed by its button as ``DELETE /api/v1/lti/links/<id>`` removes it (``removal.remove_resource_link``:
its members and score deliveries go, the course stops counting as LTI-linked with its last link, audited).
Admins only; an unknown platform or link, or another platform's link, is a 404 that changes nothing; the
button needs the form's CSRF token. The confirmation dialog is a browser's (tests/pages/test_lti_admin_page.py)."""

from __future__ import annotations

from learning.extensions import db
from learning.lti import models as lti
from learning.lti.views import LINKS_PER_PAGE
from tests.factories import PASSWORD
from tests.factories_certificates import sign_in
from tests.html_forms import as_multidict, form_values
from tests.lti.test_removal import launched, linked, registered, removals, rows, world


def _admin(app, make):
    client = app.test_client()
    admin = make.admin()
    sign_in(client, admin)
    return client, admin


def test_the_platforms_page_counts_its_links_and_leads_to_them(app, make):
    platform, other = registered(1), registered(2)
    launched(platform, make.course())
    launched(platform, make.course(), link="link-2")
    client, _admin_user = _admin(app, make)
    page = client.get("/admin/lti/").get_data(as_text=True)
    assert f'href="/admin/lti/{platform.id}/links">2 resource links' in page
    assert f'href="/admin/lti/{other.id}/links">0 resource links' in page


def test_an_admin_removes_a_link_from_the_page_as_the_api_does(app, make):
    platform, course, other_course = registered(), make.course(), make.course()
    kept = launched(platform, course)
    gone = launched(platform, other_course, link="link-2")
    gone_id, kept_id = gone.id, kept.id
    client, admin = _admin(app, make)
    page = client.get(f"/admin/lti/{platform.id}/links").get_data(as_text=True)
    assert "2 resource links" in page and "link-1" in page and "link-2" in page and other_course.slug in page
    action = f"/admin/lti/{platform.id}/links/{gone_id}/remove"
    assert f'action="{action}"' in page and "data-confirm=" in page and "js/confirm.js" in page
    response = client.post(action, data=as_multidict(form_values(page, action)))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/admin/lti/{platform.id}/links?page=1")
    db.session.expire_all()
    assert db.session.get(lti.LtiResourceLink, gone_id) is None and db.session.get(lti.LtiResourceLink, kept_id)
    assert rows(lti.LtiLinkMember) == rows(lti.LtiScoreDelivery) == 1 and rows(lti.LtiIdentity) == 2
    assert not linked(other_course) and linked(course)
    assert [(a, actor, target) for a, actor, target, _d in removals()] == [
        ("lti.resource_link_removed", admin.id, str(gone_id))]
    page = client.get(f"/admin/lti/{platform.id}/links").get_data(as_text=True)
    assert "The resource link “Lesson” is removed" in page and "1 resource link" in page and "link-2" not in page


def test_the_links_are_paged_and_a_page_past_the_last_shows_the_last(app, make, monkeypatch):
    monkeypatch.setattr("learning.lti.views.LINKS_PER_PAGE", 2)
    platform = registered()
    for n in range(1, 6):
        launched(platform, make.course(), link=f"link-{n}")
    client, _admin_user = _admin(app, make)

    def shown(query: str) -> list[str]:
        page = client.get(f"/admin/lti/{platform.id}/links{query}").get_data(as_text=True)
        return [f"link-{n}" for n in range(1, 6) if f">link-{n}<" in page]

    assert shown("") == shown("?page=1") == shown("?page=nonsense") == ["link-1", "link-2"]
    assert shown("?page=3") == shown("?page=99") == ["link-5"]
    page = client.get(f"/admin/lti/{platform.id}/links?page=2").get_data(as_text=True)
    assert "Page 2 of 3" in page and f"/admin/lti/{platform.id}/links?page=3" in page
    assert LINKS_PER_PAGE == 50  # the page's own size (patched above for five links)


def test_learners_and_trainers_are_refused_and_nothing_changes(app, make):
    platform = registered()
    link = launched(platform, make.course())
    anonymous = app.test_client().post(f"/admin/lti/{platform.id}/links/{link.id}/remove")
    assert anonymous.status_code == 302 and "/account/login" in anonymous.headers["Location"]
    clients = [app.test_client(), app.test_client()]
    for client, person in zip(clients, (make.user(), make.trainer()), strict=True):
        sign_in(client, person)  # audited: before the count of what must not change
    before = world()
    for client in clients:
        assert client.get(f"/admin/lti/{platform.id}/links").status_code == 403
        assert client.post(f"/admin/lti/{platform.id}/links/{link.id}/remove").status_code == 403
    assert world() == before and before["LtiResourceLink"] == 1


def test_an_unknown_or_another_platforms_link_is_a_404_that_changes_nothing(app, make):
    platform, other = registered(1), registered(2)
    link = launched(platform, make.course())
    theirs = launched(other, make.course(), link="theirs")
    client, _admin_user = _admin(app, make)
    before = world()
    for path in (f"/admin/lti/{platform.id}/links/999999/remove", f"/admin/lti/999999/links/{link.id}/remove",
                 f"/admin/lti/{platform.id}/links/{theirs.id}/remove"):
        response = client.post(path)
        assert response.status_code == 404, path
        assert "No such" in response.get_data(as_text=True), path
    assert client.post(f"/admin/lti/{platform.id}/links/abc/remove").status_code == 404
    assert client.get("/admin/lti/999999/links").status_code == 404
    assert client.get(f"/admin/lti/{platform.id}/links/{link.id}/remove").status_code == 405
    assert world() == before


def test_the_button_needs_the_forms_csrf_token(make, base_config):
    from tests.conftest import build_app

    platform = registered()
    link = launched(platform, make.course())
    admin = make.admin()
    strict = build_app(base_config, WTF_CSRF_ENABLED=True)
    client = strict.test_client()
    login = client.get("/account/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/account/login", data={"email": admin.email, "password": PASSWORD,
                                               "csrf_token": token}).status_code == 302
    before = world()
    assert client.post(f"/admin/lti/{platform.id}/links/{link.id}/remove").status_code == 400
    assert world() == before
    page = client.get(f"/admin/lti/{platform.id}/links").get_data(as_text=True)
    action = f"/admin/lti/{platform.id}/links/{link.id}/remove"
    assert client.post(action, data=as_multidict(form_values(page, action))).status_code == 302
    assert rows(lti.LtiResourceLink) == 0
