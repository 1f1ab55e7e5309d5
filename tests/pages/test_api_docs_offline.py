"""The interactive API docs work without the Internet: the page names no other host, its
Swagger UI files are served by the platform, and in a browser cut off from everything but the
platform the operations are listed."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

URL = re.compile(r'(?:src|href)="([^"]+)"')


def test_the_docs_page_references_no_other_host(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "cdn.jsdelivr.net" not in page and "apiflask.com" not in page
    assets = URL.findall(page)
    assert len(assets) == 4 and all(not urlsplit(url).netloc for url in assets)  # css, icon, two scripts
    for url in assets:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert len(asset.data) > 100
    assert "https:" not in response.headers["Content-Security-Policy"]


def test_only_swagger_uis_own_files_are_served(client):
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as script:
        assert script.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/api/v1/docs/assets/swagger-editor-bundle.js").status_code == 404
    assert client.get("/api/v1/docs/assets/..%2Fsetup.py").status_code == 404


def test_the_site_has_a_favicon(client):
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").get_data(as_text=True)


@pytest.mark.browser
def test_the_docs_work_offline_in_a_browser(page, live_server):
    requested: list[str] = []

    def only_the_platform(route):
        requested.append(route.request.url)
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_the_platform)
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/courses").first).to_be_visible()
    assert all(url.startswith(live_server.url) for url in requested), requested
