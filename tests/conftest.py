"""Fixtures: the app on a migrated database, clients, factories, a real SMTP server,
a real Celery worker and a live server for the browser.

Set ``LEARNING_TEST_DATABASE_URL`` (PostgreSQL) and ``LEARNING_TEST_BROKER_URL``
(Redis) to run against real servers; without them the suite uses SQLite and the
filesystem broker. ``.ci/run`` always sets both.
"""

from __future__ import annotations

import os

# Cheap Argon2 for the hundreds of accounts the suite creates (see learning/accounts/passwords.py);
# set before the application is imported. The worker processes inherit it.
os.environ.setdefault("LEARNING_ARGON2_PROFILE", "fast")

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support import start_smtp_server, test_database_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def smtp(worker_id):
    """A real SMTP server receiving the platform's e-mails."""
    controller, mailbox = start_smtp_server()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture(scope="session")
def base_config(tmp_path_factory, worker_id, smtp) -> dict:
    """Configuration shared by the app under test, the worker and the live server."""
    tmp = tmp_path_factory.mktemp("instance")
    broker = os.environ.get("LEARNING_TEST_BROKER_URL") or "filesystem://"
    return {
        "LEARNING_INSTANCE_PATH": str(tmp),
        "DATABASE_URL": test_database_url(worker_id, str(tmp)),
        "CELERY_BROKER_URL": broker,
        "CELERY_QUEUE": f"learning-test-{worker_id}-{os.getpid()}",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        # Flask-Limiter keeps its on/off switch per process, so it stays on and
        # tests that are not about rate limits get limits they never reach.
        "RATELIMIT_ENABLED": "true",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "SIGNUP_RATE_LIMIT": "100000 per minute",
        "TOKEN_RATE_LIMIT": "100000 per minute",
        # Check-in attempts are counted per person (by user id, whatever token they use): ids come
        # back from test to test, so a test about the limit sets its own (and resets the counts).
        "CHECK_IN_RATE_LIMIT": "100000 per minute",
        "OUTBOX_PUBLISH": "false",
    }


def build_app(base_config: dict, **overrides):
    """An app configured as in ``base_config`` (environment form) plus Flask-level overrides."""
    from learning import create_app
    from learning.config import load_config

    env = {**os.environ, **base_config}
    config = load_config(env)
    # The period index (PostgreSQL) built in the request that first needs it, not in a thread.
    config.update({"TESTING": True, "WTF_CSRF_ENABLED": False, "REPORT_PERIOD_INDEX_BUILD": "sync"})
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def app(base_config):
    """The application on a freshly migrated database (migrations, not create_all)."""
    from flask_migrate import upgrade

    from learning.extensions import db

    application = build_app(base_config)
    with application.app_context():
        _reset_schema(db)
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
    yield application


def _reset_schema(db) -> None:
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(autouse=True)
def _clean_database(request):
    """Every test starts with empty tables."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        empty_tables()


def _empty_postgresql_tables(engine, tables: list[str]) -> None:
    """DELETE, not TRUNCATE: a TRUNCATE gives every table and index a new file, and PostgreSQL syncs each
    new index file to disk at commit; with some two hundred indexes that fsync storm cost about a second
    per test on a busy disk, where deleting the few rows a test wrote costs milliseconds. Foreign keys
    are not checked while emptying everything (a superuser's ``session_replication_role``); without that
    right, TRUNCATE as before. Sequences restart at 1, as ``RESTART IDENTITY`` did."""
    from sqlalchemy.exc import DBAPIError

    with engine.begin() as conn:
        try:
            with conn.begin_nested():
                conn.execute(text("SET LOCAL session_replication_role = replica"))
        except DBAPIError:  # not a superuser
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        for name in reversed(tables):
            conn.execute(text(f'DELETE FROM "{name}"'))
        conn.execute(text(
            "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema()"))


def empty_tables() -> None:
    """Every table emptied (in the current app context): after each test, and for module-scoped worlds."""
    from flask import current_app

    from learning.extensions import db

    db.session.remove()
    index = current_app.extensions.get("period_index")
    if index is not None:  # the rows go without the change log: the index forgets them too
        index.reset()
    tables = [t.name for t in db.metadata.sorted_tables]
    if db.engine.dialect.name == "postgresql":
        _empty_postgresql_tables(db.engine, tables)
        return
    with db.engine.begin() as conn:
        for name in reversed(tables):
            conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield
        from learning.extensions import db

        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app_context):
    """Factories: ``make.user(...)``, ``make.course(...)``, ``make.token(user)`` and more."""
    from tests import factories

    return factories


@pytest.fixture
def sign_in(client):
    """Sign the test client in to the pages: ``sign_in(user)`` returns the client, now ``user``'s."""
    from tests.factories import PASSWORD

    def as_user(user):
        response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client
    return as_user


@pytest.fixture
def api(client, app):
    """A JSON client for ``/api/v1`` that can act as any user: ``api.as_user(user).get(...)``."""
    from tests.factories import ApiClient

    return ApiClient(client, app)


# --- a real Celery worker -----------------------------------------------------

def _process_env(base_config: dict) -> dict:
    env = {**os.environ, **base_config, "OUTBOX_PUBLISH": "true", "PYTHONUNBUFFERED": "1"}
    env.pop("FLASK_APP", None)
    return env


class WorkerProcess:
    """A ``celery -A celery_worker worker`` process on the configured broker."""

    def __init__(self, base_config: dict, log_path: Path):
        self.base_config = base_config
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        queue = self.base_config["CELERY_QUEUE"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--loglevel=INFO",
             "--concurrency=2", "--pool=prefork", "-Q", f"{queue},{queue}.bulk", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{queue}@%h"],
            cwd=ROOT, env=_process_env(self.base_config), stdout=self.log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 180) -> None:
        # On two loaded cores a worker once took a full minute to say it was ready (the deadline was 60 s).
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited: {self.log_path.read_text()[-3000:]}")
            if b" ready." in self.log_path.read_bytes():
                return
            if time.monotonic() > deadline:  # after a last look at the log, not before it
                raise RuntimeError(f"Celery worker not ready: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, as a crashed machine would."""
        if self.proc and self.proc.poll() is None:
            import signal

            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture(scope="session")
def celery_worker(app, base_config, tmp_path_factory):
    """A real worker process, shared by the session's integration tests."""
    worker = WorkerProcess(base_config, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def live_app(base_config, app):
    """An app that publishes outbox events to the broker, for tests with the worker."""
    return build_app(base_config, OUTBOX_PUBLISH=True)


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it is truthy; fail with ``message`` after ``timeout`` seconds (generous: the
    real worker shares two cores with the rest of the suite, and a wait that succeeds ends at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


# --- a live server and a real browser --------------------------------------------

@pytest.fixture(scope="session")
def live_server(app, base_config):
    """The app served over HTTP on loopback, in a thread of this process, with CSRF on."""
    from werkzeug.serving import make_server

    served = build_app(base_config, WTF_CSRF_ENABLED=True, TESTING=False)
    # Port 0: the kernel picks a free port as it binds (a port found free first and bound later could be
    # taken meanwhile by another xdist worker's server).
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.port}"
    yield server
    server.shutdown()


CHROMIUM = os.environ.get("LEARNING_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM} (apt-get install chromium); "
                    "`make test` installs it when run as root.")
    from playwright.sync_api import expect, sync_playwright

    # expect() waits 5 s by default, whatever the page's own timeout: too little on a loaded machine for a
    # page that follows a form sent to the live server (or a sync once the network is back).
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)  # as the walk's pages (tests/page_walk.py): two loaded cores are slow
    yield page
    context.close()


# --- every collected test reports a result (scripts/test.sh passes --every-test-reports) -------------

def pytest_addoption(parser):
    from tests.every_test_reports import add_option

    add_option(parser)


def pytest_configure(config):
    from tests.every_test_reports import register

    register(config)
