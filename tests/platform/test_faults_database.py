"""When the database goes away and comes back, the site says so clearly and recovers by itself."""

from __future__ import annotations

import gc
import os
import warnings

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import build_app
from tests.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.skipif(not os.environ.get("LEARNING_TEST_DATABASE_URL"),
                       reason="needs a database server: set LEARNING_TEST_DATABASE_URL (CI does)"),
    # Connections broken by the outage are discarded by the pool without a clean close.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def proxied_app(base_config, app):
    url = make_url(base_config["DATABASE_URL"])
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = build_app({**base_config,
                         "DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)})
    yield proxied, proxy
    proxy.cut()
    with proxied.app_context():
        from learning.extensions import db

        db.engine.dispose()
    with warnings.catch_warnings():  # collect the broken connections now, while warnings are ignored
        warnings.simplefilter("ignore")
        gc.collect()


def test_database_outage_answers_503_then_recovers(proxied_app, make):
    proxied, proxy = proxied_app
    user = make.user(email="steady@example.org")
    token = make.token(user)
    client = proxied.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    proxy.cut()
    down = client.get("/api/v1/me", headers=headers)
    assert down.status_code == 503
    assert down.get_json()["error"]["code"] == "unavailable"
    assert down.headers["Retry-After"] == "5"
    page = client.get("/account/login", headers={"Accept": "text/html"})
    assert page.status_code in (200, 503)  # the login page needs no database until it is posted
    assert client.get("/readyz").status_code == 503

    proxy.restore()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_a_write_during_the_outage_changes_nothing_and_succeeds_when_retried(proxied_app, make):
    proxied, proxy = proxied_app
    user = make.user(email="writer@example.org")
    token = make.token(user)
    client = proxied.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    proxy.cut()
    assert client.patch("/api/v1/me", json={"full_name": "Changed"}, headers=headers).status_code == 503
    proxy.restore()
    assert client.get("/api/v1/me", headers=headers).get_json()["full_name"] != "Changed"
    assert client.patch("/api/v1/me", json={"full_name": "Changed"}, headers=headers).status_code == 200
