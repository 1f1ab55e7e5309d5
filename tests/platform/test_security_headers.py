"""Hardening, checked over every route: CSRF on every form, strict cookies, the security headers
and Content-Security-Policy on every response, and rate limits that hold, also across several
web processes sharing Redis.

Routes are enumerated from the application, so a new form or page is covered the day it is added.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import build_app
from tests.security_fixtures import fingerprint, start_gunicorn, stop_server

PASSWORD = "a-Good-password-42"
# POST pages that take no CSRF token, and why.
CSRF_EXEMPT_PAGES = {
    # RFC 8058 one-click unsubscribe: mail clients POST without a token; the signed token in the address is the proof.
    "/reminders/unsubscribe/<token>",
    # SAML's assertion consumer service: the IdP's page POSTs the signed response across sites (learning/sso/saml.py).
    "/auth/sso/<provider>/saml/acs",
}
STRICT_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; font-src 'self'; "
              "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def example_path(rule) -> str:
    """The rule's path with a plausible value for each variable (checks here come before any lookup)."""
    from werkzeug.routing.converters import AnyConverter, NumberConverter

    def plausible(converter):
        if isinstance(converter, NumberConverter):
            return 1
        if isinstance(converter, AnyConverter):  # one of the values the route names: the first
            return sorted(converter.items)[0]
        return "x"

    values = {name: plausible(converter) for name, converter in rule._converters.items()}
    if rule.rule.startswith("/static/"):
        values["filename"] = "css/app.css"
    return rule.build(values, append_unknown=False)[1]


def routes(app, method: str, api: bool):
    return [rule for rule in app.url_map.iter_rules()
            if method in rule.methods and rule.rule.startswith("/api/") == api]


def csrf_token(client, path: str = "/account/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def sign_in_with_token(client, email: str, remember: bool = False):
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    response = client.post("/account/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response


@pytest.fixture
def csrf_app(base_config, app):
    """The application as in production: CSRF on."""
    return build_app(base_config, WTF_CSRF_ENABLED=True)


@pytest.fixture
def production_app(base_config, app):
    # Production refuses per-process rate limits; this one process may keep them in memory all the same.
    return build_app({**base_config, "LEARNING_ENV": "production", "RATELIMIT_STORAGE_URI": "redis://unused:6379/1"},
                     WTF_CSRF_ENABLED=True, ADMIN_2FA_REQUIRED=False, RATELIMIT_STORAGE_URI="memory://")


# --- CSRF ------------------------------------------------------------------------------------------

def test_every_form_refuses_a_post_without_its_csrf_token(csrf_app, make):
    """Anonymous or signed in (as an admin, who may post to every form), a POST without the token
    is refused with 400 before anything else happens, and changes nothing."""
    admin = make.admin()
    anonymous, signed_in = csrf_app.test_client(), csrf_app.test_client()
    sign_in_with_token(signed_in, admin.email)
    pages = [rule for rule in routes(csrf_app, "POST", api=False) if rule.rule not in CSRF_EXEMPT_PAGES]
    assert len(pages) >= 25  # every form of the site: sign-up and sign-in to cohorts and certificates
    before = fingerprint()
    for rule in pages:
        for who, client in (("anonymous", anonymous), ("admin", signed_in)):
            response = client.post(example_path(rule), data={"email": admin.email, "password": PASSWORD})
            assert response.status_code == 400, (rule.rule, who, response.status_code)
            assert "CSRF" in response.get_data(as_text=True) or "csrf" in response.get_data(as_text=True).lower()
    assert fingerprint() == before
    assert signed_in.get("/account/profile").status_code == 200  # still signed in: nothing was posted


def test_the_api_refuses_a_browser_session_change_without_the_csrf_header(csrf_app, make):
    """A page's session cookie works on the API, but every change it makes needs the X-CSRFToken header
    (bearer tokens, which a forged page cannot send, need none)."""
    admin = make.admin()
    client = csrf_app.test_client()
    sign_in_with_token(client, admin.email)
    document = client.get("/api/v1/openapi.json").get_json()
    guarded = [(path, method.upper()) for path, operations in document["paths"].items()
               for method, operation in operations.items()
               if method in ("post", "put", "patch", "delete") and operation.get("security")]
    assert len(guarded) >= 20
    before = fingerprint()
    for path, method in guarded:
        url = re.sub(r"\{(\w+)\}", lambda m: "x" if m.group(1) in ("slug", "code") else "1", path)
        response = client.open(url, method=method, json={})
        assert response.status_code == 403, (method, path, response.status_code)
        assert "CSRF" in response.get_json()["error"]["message"]
    assert fingerprint() == before


# --- cookies ---------------------------------------------------------------------------------------

def _cookie_flags(response, name: str) -> set[str]:
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}="))
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_session_and_remember_cookies_are_http_only_and_same_site_lax(csrf_app, make):
    user = make.user()
    response = sign_in_with_token(csrf_app.test_client(), user.email, remember=True)
    for name in ("session", "remember_token"):
        flags = _cookie_flags(response, name)
        assert "httponly" in flags and "samesite=lax" in flags, (name, flags)
        assert "secure" not in flags  # development serves plain HTTP on loopback


def test_in_production_cookies_are_secure_and_https_is_required(production_app, make):
    user = make.user()
    client = production_app.test_client()
    response = sign_in_with_token(client, user.email, remember=True)
    for name in ("session", "remember_token"):
        flags = _cookie_flags(response, name)
        assert {"httponly", "secure", "samesite=lax"} <= flags, (name, flags)
    assert client.get("/").headers["Strict-Transport-Security"].startswith("max-age=63072000")


# --- headers ---------------------------------------------------------------------------------------

def _assert_security_headers(response, where: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    if where.startswith("/lti/") and response.mimetype == "text/html":
        # LTI pages show inside a partner LMS's iframe (docs/INTEGRATIONS.md, frames and cookies): any
        # https origin may frame them, and nothing else of the strict policy changes.
        assert "X-Frame-Options" not in headers, where
        assert headers.get("Content-Security-Policy") == STRICT_CSP.replace(
            "frame-ancestors 'none'", "frame-ancestors https:"), where
        return
    assert headers.get("X-Frame-Options") == "DENY", where
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    assert headers.get("Permissions-Policy") == "camera=(), microphone=(), geolocation=()", where
    assert headers.get("Cross-Origin-Opener-Policy") == "same-origin", where
    csp = headers.get("Content-Security-Policy")
    if where.startswith("/api/v1/docs"):
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, where  # Swagger UI's inline code
    else:
        assert csp == STRICT_CSP, where


def test_every_route_answers_with_the_security_headers_and_the_strict_csp(client, make):
    """Pages, API, files, errors and redirects alike; for anonymous callers and signed-in admins."""
    admin = make.admin()
    signed_in = client.application.test_client()
    signed_in.post("/account/login", data={"email": admin.email, "password": PASSWORD})
    checked = 0
    for rule in client.application.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = example_path(rule)
        for caller in (client, signed_in):
            response = caller.get(path)
            _assert_security_headers(response, path)
            response.close()
            checked += 1
    assert checked >= 120
    _assert_security_headers(client.post("/api/v1/auth/tokens", json={}), "a 422 from the API")
    _assert_security_headers(client.get("/no/such/page"), "a 404 page")


def test_pages_have_no_inline_scripts_or_styles_for_the_csp_to_block(client, make):
    """The strict CSP forbids inline code: every page loads its scripts and styles from files."""
    from tests import factories

    admin = make.admin()
    course = factories.course()
    client.post("/account/login", data={"email": admin.email, "password": PASSWORD})
    for path in ("/", "/courses/", f"/courses/{course.slug}", "/account/profile", "/account/two-factor", "/reports/",
                 "/cohorts/new", "/admin/courses/new", "/admin/audit/", "/certificates/admin", "/verify",
                 "/impact/2025"):
        page = client.get(path)
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        # A data block (type="application/json") is not run, so the CSP allows it.
        assert not re.search(r'<script(?![^>]*\b(src=|type="application/json"))[^>]*>\s*\S', html), \
            f"inline script on {path}"
        assert not re.search(r"<style", html) and not re.search(r"\sstyle=\"", html), f"inline style on {path}"
        assert not re.search(r"\son(click|load|submit|change)=", html), f"inline event handler on {path}"


# --- rate limits -----------------------------------------------------------------------------------

def test_tokens_and_sign_ups_are_rate_limited_with_a_clear_answer(base_config, app):
    strict = build_app(base_config, TOKEN_RATE_LIMIT="4 per minute", SIGNUP_RATE_LIMIT="2 per hour")
    client = strict.test_client()
    tokens = [client.post("/api/v1/auth/tokens", json={"email": "nobody@example.org", "password": "x"})
              for _ in range(5)]
    assert [r.status_code for r in tokens] == [401, 401, 401, 401, 429]
    assert tokens[-1].get_json()["error"]["code"] == "rate_limited"
    assert int(tokens[-1].headers["Retry-After"]) > 0
    body = {"email": "not-an-address", "password": PASSWORD, "full_name": "X", "country": "CO",
            "sector": "health", "language": "en"}
    sign_ups = [client.post("/api/v1/users", json=body).status_code for _ in range(3)]
    assert sign_ups == [422, 422, 429]


needs_redis = pytest.mark.skipif(not (os.environ.get("LEARNING_TEST_BROKER_URL") or "").startswith("redis://"),
                                 reason="needs Redis: set LEARNING_TEST_BROKER_URL=redis://... (CI does)")
LIMIT_STORE = "redis://127.0.0.1:6379/6"  # this test's own Redis database


def _count_until_limited(bases: list[str], attempts: int, label: str = "nobody") -> list[int]:
    """Ask for tokens with bad credentials, alternating between the servers; each attempt names another
    address, so that only the address-wide rate limit is at work (not the per-account sign-in waits)."""
    import json
    import urllib.error
    import urllib.request

    statuses = []
    for n in range(attempts):
        request = urllib.request.Request(f"{bases[n % len(bases)]}/api/v1/auth/tokens", method="POST",
                                         data=json.dumps({"email": f"{label}{n}@example.org", "password": "x"}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
            error.close()
    return statuses


@needs_redis
def test_limits_hold_across_web_processes_that_share_redis(base_config, app, tmp_path):
    """Two servers (separate processes) sharing the Redis store count the same requests: the fifth is
    refused whichever process it reaches. With per-process memory, each would have allowed four."""
    import redis

    store = redis.Redis.from_url(LIMIT_STORE)
    store.flushdb()
    store.close()
    config = {**base_config, "TOKEN_RATE_LIMIT": "4 per minute"}
    stores = [LIMIT_STORE, LIMIT_STORE, "memory://", "memory://"]
    with ThreadPoolExecutor(len(stores)) as pool:  # four processes start faster side by side
        servers = list(pool.map(lambda n: start_gunicorn({**config, "RATELIMIT_STORAGE_URI": stores[n]},
                                                         tmp_path / f"server{n}.log"), range(len(stores))))
    try:
        shared = [base for _proc, base in servers[:2]]
        separate = [base for _proc, base in servers[2:]]
        assert _count_until_limited(shared, 6, "shared") == [401, 401, 401, 401, 429, 429]
        assert _count_until_limited(separate, 6, "separate") == [401] * 6
    finally:
        for proc, _base in servers:
            stop_server(proc)
