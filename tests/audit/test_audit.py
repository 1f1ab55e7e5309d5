"""Admin actions land in the audit log, which only admins can search."""

from __future__ import annotations


def test_admin_actions_are_searchable_in_the_api(api, make):
    admin, learner = make.admin(email="chief@example.org"), make.user()
    client = api.as_user(admin)
    client.patch(f"users/{learner.id}", json={"roles": ["trainer"]})
    response = client.get("audit?action=user.roles")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1
    entry = body["items"][0]
    assert entry["actor_email"] == "chief@example.org" and entry["target_id"] == str(learner.id)
    assert entry["details"]["roles"] == ["learner", "trainer"]
    assert client.get("audit?actor=nobody").get_json()["total"] == 0


def test_audit_log_is_for_admins_only(api, make):
    assert api.get("audit").status_code == 401
    assert api.as_user(make.user()).get("audit").status_code == 403
    assert api.as_user(make.trainer()).get("audit").status_code == 403


def test_bad_filters_are_422(api, make):
    response = api.as_user(make.admin()).get("audit?since=yesterday&per_page=9999")
    assert response.status_code == 422
    assert {"since", "per_page"} <= set(response.get_json()["error"]["fields"])


def test_audit_page_lists_entries_for_admins(client, make):
    admin = make.admin(email="page-admin@example.org")
    learner = make.user()
    from learning.accounts.services import set_roles
    from learning.extensions import db

    set_roles(admin, learner, ["trainer"])
    db.session.commit()
    client.post("/account/login", data={"email": "page-admin@example.org", "password": "a-Good-password-42"})
    html = client.get("/admin/audit/?action=user.").get_data(as_text=True)
    assert "user.roles_changed" in html and "page-admin@example.org" in html


def test_audit_page_refuses_learners(client, make):
    make.user(email="l@example.org")
    client.post("/account/login", data={"email": "l@example.org", "password": "a-Good-password-42"})
    assert client.get("/admin/audit/").status_code == 403


def test_roster_exports_are_audited(api, make):
    admin = make.admin(email="exporter@example.org")
    course = make.course()
    client = api.as_user(admin)
    cohort = client.post("cohorts", json={"course": course.slug, "name": "Audit cohort", "country": "KE",
                                          "delivery": "online", "starts_on": "2026-01-05",
                                          "ends_on": "2026-01-30"}).get_json()
    assert client.get(f"cohorts/{cohort['id']}/roster.csv").status_code == 200
    entries = client.get("audit?action=cohort.roster_exported").get_json()
    assert entries["total"] == 1
    assert entries["items"][0]["actor_email"] == "exporter@example.org"
    assert entries["items"][0]["target_id"] == str(cohort["id"])
