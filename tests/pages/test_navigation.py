"""Every page a person may use is reachable from the navigation: starting from the links of the
header and footer, and following links at most two more steps, each role reaches every page
(without ids in its address) that it is allowed to open."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urlsplit

import pytest

from tests.factories import PASSWORD

# Addresses that are not pages for people: machine endpoints, downloads, and steps inside a flow.
NOT_PAGES = {
    "ops.healthz", "ops.readyz", "ops.metrics", "certificates.jwks", "accounts.download_data",
    "openapi.spec", "openapi.swagger_ui_oauth_redirect", "accounts.login_two_factor", "static",
    "home.favicon", "offline.service_worker", "offline.manifest", "offline.offline_page",
    "lti.config", "lti.jwks",
}
# Pages for people who are not signed in; signed in, the header offers "Sign out" instead.
SIGNED_OUT_ONLY = {"/account/login", "/account/signup", "/account/forgot", "/auth/sso/"}
LINK = re.compile(r'<a\s[^>]*href="([^"#]+)"')
NAV = re.compile(r'<(?:nav|footer)\b[^>]*>(.*?)</(?:nav|footer)>', re.S)


def _pages(app) -> dict[str, str]:
    """Endpoint → path of every GET page whose address has no variable part."""
    pages = {}
    for rule in app.url_map.iter_rules():
        if ("GET" in rule.methods and not rule.arguments and rule.endpoint not in NOT_PAGES
                and not rule.rule.startswith("/api/") and not rule.endpoint.startswith("openapi.")
                or rule.endpoint == "openapi.docs"):
            pages[rule.endpoint] = rule.rule
    return pages


def _may_use(client, pages: dict[str, str]) -> set[str]:
    """The pages this person opens successfully when typing their address."""
    return {path for path in pages.values() if client.get(path).status_code == 200}


def _reached(client, app) -> set[str]:
    """Paths reached from the navigation of the home page, following links up to two more steps."""
    home = client.get("/").get_data(as_text=True)
    start = {href for block in NAV.findall(home) for href in LINK.findall(block)}
    seen: set[str] = set()
    queue = deque((href, 0) for href in start)
    while queue:
        href, depth = queue.popleft()
        parts = urlsplit(href)
        if parts.netloc or not parts.path.startswith("/") or parts.path in seen:
            continue
        seen.add(parts.path)
        if depth >= 2 or parts.path.startswith(("/api/v1/", "/static/")) or parts.path.endswith(
                (".pdf", ".csv", ".json", ".xlsx")):
            continue
        response = client.get(href)
        if response.status_code == 200 and response.mimetype == "text/html":
            queue.extend((link.replace("&amp;", "&"), depth + 1)
                         for link in LINK.findall(response.get_data(as_text=True)))
    return seen


@pytest.fixture
def person(make, client):
    def signed_in(role: str | None):
        if role is None:
            return client
        user = {"learner": make.user, "trainer": make.trainer, "admin": make.admin,
                "org_manager": lambda: make.user(roles=("org_manager",))}[role]()
        assert client.post("/account/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        return client
    return signed_in


@pytest.mark.parametrize("role", [None, "learner", "trainer", "admin", "org_manager"])
def test_every_page_a_role_may_use_is_reachable_from_its_navigation(app, make, person, role):
    make.course()  # something to browse
    client = person(role)
    pages = _pages(app)
    allowed = _may_use(client, pages) - (SIGNED_OUT_ONLY if role else set())
    reached = _reached(client, app)
    missing = sorted(allowed - reached)
    assert not missing, f"{role or 'anonymous'} cannot reach {missing} from the navigation"


def test_the_admin_menu_links_every_admin_page(make, person):
    client = person("admin")
    home = client.get("/").get_data(as_text=True)
    menu = re.search(r'<nav class="admin-nav"[^>]*>(.*?)</nav>', home, re.S).group(1)
    assert LINK.findall(menu) == ["/admin/courses/", "/certificates/admin", "/admin/users/", "/reports/",
                                  "/admin/audit/", "/admin/sso/", "/admin/lti/"]


@pytest.mark.parametrize("role", ["learner", "trainer"])
def test_people_who_are_not_admins_see_no_admin_menu(person, role):
    home = person(role).get("/").get_data(as_text=True)
    assert 'class="admin-nav"' not in home and "/admin/" not in home
