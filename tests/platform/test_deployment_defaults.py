"""A deployment on defaults is safe: its own random secret key, no proxy believed unless configured,
and no public metrics in production."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from learning.config import (
    DEV_SECRET_KEY,
    SECRET_KEY_FILE,
    ConfigError,
    instance_secret_key,
    load_config,
)
from tests.conftest import ROOT, build_app

# --- the secret key ----------------------------------------------------------------------------------


def test_the_embedded_default_makes_a_random_key_of_its_own_kept_private(tmp_path):
    config = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path)})
    key = config["SECRET_KEY"]
    assert key != DEV_SECRET_KEY and len(key) >= 60
    kept = tmp_path / SECRET_KEY_FILE
    assert kept.read_text().strip() == key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_the_key_survives_restarts_and_differs_between_instances(tmp_path):
    first = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path / "a")})["SECRET_KEY"]
    again = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path / "a")})["SECRET_KEY"]
    other = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path / "b")})["SECRET_KEY"]
    assert first == again
    assert other != first


def test_a_key_file_copied_with_loose_permissions_is_made_private_again(tmp_path):
    key = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    (tmp_path / SECRET_KEY_FILE).chmod(0o644)
    assert load_config({"LEARNING_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"] == key
    assert stat.S_IMODE((tmp_path / SECRET_KEY_FILE).stat().st_mode) == 0o600


def test_an_empty_or_weak_key_file_is_refused_rather_than_used(tmp_path):
    (tmp_path / SECRET_KEY_FILE).write_text("short\n")
    with pytest.raises(ConfigError, match="delete it"):
        load_config({"LEARNING_INSTANCE_PATH": str(tmp_path)})


def test_processes_starting_at_once_agree_on_one_key(tmp_path):
    """The web process and the worker of ``make run`` start together on a fresh instance."""
    with ProcessPoolExecutor(max_workers=6) as pool:
        keys = set(pool.map(instance_secret_key, [tmp_path] * 12))
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE]  # no candidate left behind


def test_the_celery_worker_signs_with_the_web_processes_key(tmp_path):
    """Links the worker e-mails (password resets, unsubscribe) must verify on the web process."""
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "LEARNING_ENV", "FLASK_APP")}
    env.update(LEARNING_INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               CELERY_BROKER_URL="filesystem://")
    worker = subprocess.run(
        [sys.executable, "-c", "import sys, celery_worker; sys.stdout.write(celery_worker.flask_app.config['SECRET_KEY'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    web = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert worker.stdout == web


def test_beat_starts_in_a_fresh_instance_folder_when_the_key_comes_from_the_environment(tmp_path):
    """A fresh clone with SECRET_KEY set has no instance folder (nothing made a key file there):
    `celery -A celery_worker beat`, as the README runs it, crashed at once, unable to open its schedule
    file there. It now makes the folder and keeps its schedule."""
    instance = tmp_path / "not-yet-made"
    env = {key: value for key, value in os.environ.items() if key not in ("LEARNING_ENV", "FLASK_APP")}
    env.update(LEARNING_INSTANCE_PATH=str(instance), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               CELERY_BROKER_URL="filesystem://", LEARNING_BROKER_DIR=str(tmp_path / "broker"),
               SECRET_KEY="a-fresh-clone-s-own-long-random-key-0123456789")
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "celery_worker", "beat", "--loglevel=INFO"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240  # loading the app on a busy machine
        while time.monotonic() < deadline and beat.poll() is None and not list(instance.glob("celerybeat-schedule*")):
            time.sleep(0.5)
        time.sleep(2)  # a beat that cannot open its schedule dies just after
        assert beat.poll() is None, beat.communicate(timeout=30)[0][-3000:]
        assert list(instance.glob("celerybeat-schedule*"))
    finally:
        beat.terminate()
        output = beat.communicate(timeout=60)[0]
    assert "FileNotFoundError" not in output and "Traceback" not in output, output[-3000:]


@pytest.mark.parametrize("key", [None, "", DEV_SECRET_KEY, "short", "x" * 64, "ab" * 40])
def test_production_refuses_an_absent_published_or_weak_key(tmp_path, key):
    env = {"LEARNING_ENV": "production", "LEARNING_INSTANCE_PATH": str(tmp_path)}
    if key is not None:
        env["SECRET_KEY"] = key
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(env)
    assert not (tmp_path / SECRET_KEY_FILE).exists()  # production never makes a key of its own


def test_development_refuses_the_key_once_published_in_the_source(tmp_path):
    with pytest.raises(ConfigError, match="development key"):
        load_config({"SECRET_KEY": DEV_SECRET_KEY, "LEARNING_INSTANCE_PATH": str(tmp_path)})


def test_production_accepts_a_long_random_key(tmp_path):
    key = "k8Jq2-Zr7vN0pWmXc4Tb9LsYh3GdEa6Fu1"
    config = load_config({"LEARNING_ENV": "production", "SECRET_KEY": key, "LEARNING_INSTANCE_PATH": str(tmp_path),
                          "RATELIMIT_STORAGE_URI": "redis://limits.internal:6379/1"})
    assert config["SECRET_KEY"] == key


# --- proxies -----------------------------------------------------------------------------------------

def _app_showing_the_client(base_config, **overrides):
    app = build_app(base_config, LOGIN_RATE_LIMIT="2 per minute", **overrides)

    @app.get("/_test/client")
    def client_seen():
        from flask import request

        return {"address": request.remote_addr, "scheme": request.scheme}

    return app


def _seen(app, forwarded_for: str, remote: str) -> dict:
    return app.test_client().get("/_test/client", headers={"X-Forwarded-For": forwarded_for,
                                                           "X-Forwarded-Proto": "https"},
                                 environ_base={"REMOTE_ADDR": remote}).get_json()


def _sign_in_statuses(app, remote: str, forwarded: list[str]) -> list[int]:
    client = app.test_client()
    return [client.post("/account/login", data={"email": "nobody@example.org", "password": "x"},
                        headers={"X-Forwarded-For": address}, environ_base={"REMOTE_ADDR": remote}).status_code
            for address in forwarded]


def test_forwarded_headers_are_ignored_by_default(base_config, app):
    shown = _app_showing_the_client(base_config)
    assert _seen(shown, "203.0.113.7", "10.20.0.1") == {"address": "10.20.0.1", "scheme": "http"}
    # A client cannot escape its rate-limit bucket by writing a new X-Forwarded-For each time.
    statuses = _sign_in_statuses(shown, "10.20.0.2", ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    assert statuses[-1] == 429, statuses


def test_with_trusted_proxies_the_client_behind_the_balancer_is_seen(base_config, app):
    shown = _app_showing_the_client(base_config, TRUSTED_PROXIES=1)
    # Only the address the one trusted proxy appended is believed, not what the client wrote before it.
    assert _seen(shown, "192.0.2.66, 203.0.113.8", "10.20.0.3") == {"address": "203.0.113.8", "scheme": "https"}
    # Clients behind one balancer get buckets of their own...
    assert 429 not in _sign_in_statuses(shown, "10.20.0.4", ["198.51.100.11", "198.51.100.12", "198.51.100.13"])
    # ...and each is still limited.
    assert _sign_in_statuses(shown, "10.20.0.4", ["198.51.100.14"] * 3)[-1] == 429


def test_audit_entries_name_the_client_behind_a_trusted_proxy(base_config, app):
    from learning.audit.models import AuditEntry
    from learning.extensions import db
    from tests import factories

    shown = build_app(base_config, TRUSTED_PROXIES=1)
    with shown.app_context():
        admin = factories.admin()
        target = factories.user()
        token = factories.token(admin)
        target_id = target.id
        db.session.remove()
    client = shown.test_client()
    response = client.patch(f"/api/v1/users/{target_id}", json={"full_name": "Renamed"},
                            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"},
                            environ_base={"REMOTE_ADDR": "10.20.0.5"})
    assert response.status_code == 200, response.get_data(as_text=True)
    with shown.app_context():
        entry = db.session.query(AuditEntry).order_by(AuditEntry.id.desc()).first()
        assert entry.ip == "203.0.113.9"
        db.session.remove()


def test_a_negative_proxy_count_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_config({"TRUSTED_PROXIES": "-1", "LEARNING_INSTANCE_PATH": str(tmp_path)})


# --- metrics -----------------------------------------------------------------------------------------

# Production configuration as load_config accepts it (a shared rate-limit store is required); the app
# under test then counts in memory, since these tests are about /metrics, not about limits.
PRODUCTION = {"LEARNING_ENV": "production", "RATELIMIT_STORAGE_URI": "redis://limits.internal:6379/1"}


def test_metrics_without_a_token_are_not_served_in_production(base_config, app):
    production = build_app({**base_config, **PRODUCTION}, ADMIN_2FA_REQUIRED=False,
                           RATELIMIT_STORAGE_URI="memory://")
    response = production.test_client().get("/metrics")
    assert response.status_code == 404
    assert b"learning_http_requests_total" not in response.get_data()


def test_metrics_with_a_token_need_it_in_production(base_config, app):
    production = build_app({**base_config, **PRODUCTION, "METRICS_TOKEN": "scrape-token-1234"},
                           ADMIN_2FA_REQUIRED=False, RATELIMIT_STORAGE_URI="memory://")
    client = production.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-1234"})
    assert allowed.status_code == 200 and b"learning_http_requests_total" in allowed.get_data()


def test_metrics_stay_open_in_development(client):
    response = client.get("/metrics")
    assert response.status_code == 200 and b"learning_http_requests_total" in response.get_data()


# --- gunicorn: what a worker loaded at start-up is out of the garbage collector's sight ------------------


@pytest.mark.parametrize("setting, frozen", [(None, True), ("1", True), ("0", False)])
def test_a_web_worker_freezes_what_it_loaded_unless_told_not_to(setting, frozen):
    """gunicorn.conf.py's ``post_worker_init`` moves the objects a worker allocated while loading the
    application into the collector's permanent generation (a full collection would otherwise walk them
    all, stalling every thread of the worker); ``WEB_GC_FREEZE=0`` leaves the collector as Python sets it."""
    code = ("import gc, runpy; conf = runpy.run_path('gunicorn.conf.py'); "
            "conf['post_worker_init'](None); "
            "print(gc.get_freeze_count())")
    env = {k: v for k, v in os.environ.items() if k != "WEB_GC_FREEZE"}
    if setting is not None:
        env["WEB_GC_FREEZE"] = setting
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    assert (int(out) > 1000) is frozen


def test_a_celery_worker_freezes_what_it_loaded_before_forking_its_pool(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k != "WEB_GC_FREEZE"},
           "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "LEARNING_INSTANCE_PATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "import gc, celery_worker; print(gc.get_freeze_count())"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert int(out.split()[-1]) > 100_000
