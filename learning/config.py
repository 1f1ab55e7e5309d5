"""Configuration read from the environment, with safe defaults for the embedded mode.

Embedded mode (the default) needs no server: a SQLite file database, a
filesystem Celery broker and e-mails written to files under ``instance/``.
Production sets ``LEARNING_ENV=production`` and points ``DATABASE_URL``,
``CELERY_BROKER_URL`` and ``MAIL_SERVER`` at real servers.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# The key earlier versions embedded in this file: public, so it is refused everywhere it could matter.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_SYMBOLS = 10  # distinct characters: "x" * 64 is long but guessable

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The configuration cannot be used (for example, production with the dev secret)."""


def _xapi_endpoint(env) -> str:
    """The LRS's xAPI base address (statements go to ``<it>/statements``); empty turns xAPI off."""
    value = (env.get("XAPI_ENDPOINT") or "").strip().rstrip("/")
    if value and not value.lower().startswith(("http://", "https://")):
        raise ConfigError(f"XAPI_ENDPOINT must be an http(s) address, got {value!r}")
    return value


def _xapi_actor(env) -> str:
    """How statements name people: ``account`` (an opaque id, the default) or ``mbox`` (their e-mail)."""
    value = (env.get("XAPI_ACTOR") or "account").strip().lower()
    if value not in ("account", "mbox"):
        raise ConfigError(f"XAPI_ACTOR must be 'account' or 'mbox', got {value!r}")
    return value


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _period_index_setting(value: str) -> str | bool:
    """REPORT_PERIOD_INDEX: "auto" (on for PostgreSQL, off for SQLite), or a boolean."""
    value = (value or "auto").strip().lower()
    return "auto" if value == "auto" else _bool(value)


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _at_least_one(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be 1 or more, got {value}")
    return value


def _at_least(env: dict[str, str], name: str, default: int, minimum: int) -> int:
    """An integer setting no smaller than ``minimum``: a size, lifetime or count of 0 or less would
    start a platform that misbehaves later (tokens dead on arrival, a batch of nothing), so it is refused."""
    value = _int(env, name, default)
    if value < minimum:
        raise ConfigError(f"{name} must be {minimum} or more, got {value}")
    return value


# Integer settings whose defaults live with their feature (taken from the environment only when set),
# with the least each may be: 0 where 0 means "off" or "at once", else 1.
OPTIONAL_INTEGERS = {
    "ACCOUNT_RETENTION_DAYS": 0, "RENEWAL_WINDOW_DAYS": 0, "REMINDER_BATCH_SIZE": 1, "ROSTER_MAX_ROWS": 1,
    "ROSTER_MAX_BYTES": 1, "ROSTER_BACKGROUND_ROWS": 1,
    # accounts: sessions and throttling (defaults in accounts/sessions.py and accounts/throttling.py)
    "SESSION_LIFETIME_HOURS": 1, "REMEMBER_ME_DAYS": 1, "SIGN_IN_FREE_FAILURES": 0,
    "SIGN_IN_FREE_FAILURES_PER_ADDRESS": 0, "SIGN_IN_FIRST_DELAY_SECONDS": 0, "SIGN_IN_MAX_DELAY_SECONDS": 0,
    "TOTP_FREE_FAILURES": 0,
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _choice(env: dict[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    """A setting that is one of a few words (an unknown one is refused at start, not at first use)."""
    value = (env.get(name) or default).strip()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(c for c in choices if c)}; got {value!r}")
    return value


def _rate_limit(env: dict[str, str], name: str, default: str) -> str:
    """A Flask-Limiter limit such as ``10 per minute``; refused at start-up when it does not parse
    (Flask-Limiter would otherwise log the error and enforce no limit at all)."""
    from limits import parse_many

    value = env.get(name) or default
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a rate limit such as '10 per minute', got {value!r}") from exc
    return value


def weak_secret_key(key: str) -> str | None:
    """Why ``key`` must not sign sessions and e-mailed links in production, or None if it may."""
    if not key:
        return "SECRET_KEY is not set"
    if key == DEV_SECRET_KEY:
        return "SECRET_KEY is the development key published in the source"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
    if len(set(key)) < MIN_SECRET_KEY_SYMBOLS:
        return f"SECRET_KEY must use at least {MIN_SECRET_KEY_SYMBOLS} different characters"
    return None


def instance_secret_key(instance: Path) -> str:
    """This instance's own random key, made on first start and kept in ``instance/secret_key``
    (readable by its owner only), so that sessions and e-mailed links survive restarts, the web
    process and the worker of one instance share it, and no two instances share one.

    Two processes starting at once both write a candidate to a private temporary file and
    ``link`` it into place, which only one can do; both then read the same winner."""
    path = instance / SECRET_KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if not key:
        instance.mkdir(parents=True, exist_ok=True)
        candidate = instance / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process won the race (or left an empty file, refused below)
        finally:
            candidate.unlink()
        key = path.read_text(encoding="ascii").strip()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # copied with looser permissions: keep it to its owner
    if weak_secret_key(key):
        raise ConfigError(f"{path} does not hold a usable key: delete it to have a new one made.")
    return key


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the common ``postgres://`` forms."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_config(env: dict[str, str] | None = None, instance_path: str | None = None) -> dict:
    """Build the Flask configuration mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    instance = Path(env.get("LEARNING_INSTANCE_PATH") or instance_path or PROJECT_ROOT / "instance")
    environment = env.get("LEARNING_ENV", "development")
    secret_key = env.get("SECRET_KEY", "")
    if environment == "production":
        # Every machine of a deployment must sign with the same key: it comes from the
        # environment, never from a file one machine made for itself.
        problem = weak_secret_key(secret_key)
        if problem:
            raise ConfigError(f"Refusing to start in production: {problem}. "
                              "Set SECRET_KEY to a long random value, the same on every machine.")
    elif not secret_key:
        secret_key = instance_secret_key(instance)
    elif secret_key == DEV_SECRET_KEY:
        raise ConfigError("SECRET_KEY is the development key published in the source: unset it "
                          "(a random key is kept in the instance folder) or set your own.")
    rate_limit_storage = env.get("RATELIMIT_STORAGE_URI", "memory://")
    if environment == "production" and rate_limit_storage.startswith("memory://"):
        raise ConfigError(
            "Refusing to start in production with RATELIMIT_STORAGE_URI=memory://: each web process would "
            "count requests on its own and the limits would not hold. Set it to a store the processes share, "
            "e.g. redis://host:6379/1."
        )

    database_url = normalise_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{instance / 'learning.sqlite3'}"
    )
    broker_dir = Path(env.get("LEARNING_BROKER_DIR") or instance / "broker")
    broker_url = env.get("CELERY_BROKER_URL") or "filesystem://"
    production = environment == "production"
    mail_server = env.get("MAIL_SERVER", "")

    trusted_proxies = _int(env, "TRUSTED_PROXIES", 0)
    if trusted_proxies < 0:
        raise ConfigError("TRUSTED_PROXIES must be 0 (the default: no proxy is believed) or more.")

    engine_options: dict = {"pool_pre_ping": True}
    if database_url.startswith("postgresql+psycopg://"):
        # No ``SELECT 1`` before every request: the pool polls the connection's socket at checkout
        # instead and replaces one the server closed (learning/db_liveness.py); TCP keepalives find a
        # peer that vanished silently.
        from learning.db_liveness import KEEPALIVES

        engine_options = {"pool_pre_ping": False, "connect_args": dict(KEEPALIVES)}
    if database_url.startswith("sqlite"):
        # SQLite is shared by the web process and the worker: wait for locks.
        engine_options["connect_args"] = {"timeout": 30}

    # Settings whose defaults live with their feature: taken from the environment only when set.
    optional: dict = {}
    for name in ("CERTIFICATE_STORAGE", "CERTIFICATE_S3_BUCKET", "CERTIFICATE_S3_PREFIX",
                 "CERTIFICATE_S3_ENDPOINT_URL", "CERTIFICATE_ISSUER_NAME", "CERTIFICATE_VERIFY_RATE_LIMIT"):
        if env.get(name):
            optional[name] = env[name]
    if env.get("CERTIFICATE_STORAGE"):
        optional["CERTIFICATE_STORAGE"] = _choice(env, "CERTIFICATE_STORAGE", "filesystem", ("filesystem", "s3"))
        if optional["CERTIFICATE_STORAGE"] == "s3" and not env.get("CERTIFICATE_S3_BUCKET"):
            raise ConfigError("CERTIFICATE_STORAGE=s3 needs CERTIFICATE_S3_BUCKET (the bucket certificate PDFs go to).")
    for name, minimum in OPTIONAL_INTEGERS.items():
        if env.get(name):
            optional[name] = _at_least(env, name, 0, minimum)

    return optional | {
        "ENV_NAME": environment,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "INSTANCE_DIR": str(instance),
        "BROKER_DIR": str(broker_dir),
        "CELERY": {
            "broker_url": broker_url,
            "broker_transport_options": (
                {
                    "data_folder_in": str(broker_dir / "out"),
                    "data_folder_out": str(broker_dir / "out"),
                    "processed_folder": str(broker_dir / "processed"),
                    "control_folder": str(broker_dir / "control"),
                    "store_processed": False,
                    # Look for messages every 0.2 s rather than every 1 s: a listing of a directory that
                    # holds a few files; a learner's certificate waits 0.4 s less on average.
                    "polling_interval": 0.2,
                }
                if broker_url.startswith("filesystem")
                else {"visibility_timeout": 3600}
            ),
            "result_backend": env.get("CELERY_RESULT_BACKEND") or None,
            "task_ignore_result": True,
            "task_serializer": "json",
            "result_serializer": "json",
            "accept_content": ["json"],
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            "timezone": "UTC",
            "enable_utc": True,
            "beat_schedule_filename": str(instance / "celerybeat-schedule"),
            "task_default_queue": env.get("CELERY_QUEUE", "learning"),
        },
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _at_least(env, "MAIL_PORT", 25, 1),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or "Learning Platform <no-reply@learning.local>",
        "MAIL_OUTBOX_DIR": env.get("MAIL_OUTBOX_DIR") or str(instance / "mail"),
        "MAIL_TIMEOUT": _at_least(env, "MAIL_TIMEOUT", 10, 1),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "STORAGE_DIR": env.get("STORAGE_DIR") or str(instance / "storage"),
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_ENABLED": _bool(env.get("WTF_CSRF_ENABLED"), True),
        # Brotli/gzip in the app (learning/compression.py); off where a reverse proxy compresses instead.
        "COMPRESS_RESPONSES": _bool(env.get("COMPRESS_RESPONSES"), True),
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": rate_limit_storage,
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": _rate_limit(env, "LOGIN_RATE_LIMIT", "10 per minute"),
        "SIGNUP_RATE_LIMIT": _rate_limit(env, "SIGNUP_RATE_LIMIT", "20 per hour"),
        "TOKEN_RATE_LIMIT": _rate_limit(env, "TOKEN_RATE_LIMIT", "20 per minute"),
        "CHECK_IN_RATE_LIMIT": _rate_limit(env, "CHECK_IN_RATE_LIMIT", "10 per minute"),  # per person (a room shares one address)
        "LOG_FORMAT": _choice({"LOG_FORMAT": (env.get("LOG_FORMAT") or "").lower()}, "LOG_FORMAT", "", ("", "json", "text")),
        "LOG_LEVEL": _choice({"LOG_LEVEL": (env.get("LOG_LEVEL") or "INFO").upper()}, "LOG_LEVEL", "INFO", LOG_LEVELS),
        # "fast": minimal Argon2 cost, for the test suite's hundreds of accounts (tests/conftest.py sets it).
        "ARGON2_PROFILE": env.get("LEARNING_ARGON2_PROFILE", ""),
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        # How many proxies (load balancers) in front of the web processes to believe about the
        # client's address and scheme (X-Forwarded-For, X-Forwarded-Proto); none by default.
        "TRUSTED_PROXIES": trusted_proxies,
        "ADMIN_2FA_REQUIRED": _bool(env.get("ADMIN_2FA_REQUIRED"), production),
        "API_TOKEN_LIFETIME_HOURS": _at_least(env, "API_TOKEN_LIFETIME_HOURS", 24 * 30, 1),
        "SMALL_CELL_THRESHOLD": _at_least(env, "SMALL_CELL_THRESHOLD", 5, 0),
        # Any period answered exactly from an in-memory index in each process (PostgreSQL only; about
        # 0.5 GB per process at 1M enrolments: docs/PERFORMANCE.md). "auto": on for PostgreSQL.
        "REPORT_PERIOD_INDEX": _period_index_setting(env.get("REPORT_PERIOD_INDEX", "auto")),
        # "background": built in a thread on first use (the facts answer meanwhile); "sync": in that request.
        "REPORT_PERIOD_INDEX_BUILD": _choice(env, "REPORT_PERIOD_INDEX_BUILD", "background", ("background", "sync")),
        "REPORT_CHANGES_RETENTION_HOURS": _at_least(env, "REPORT_CHANGES_RETENTION_HOURS", 24, 1),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 16 * 1024 * 1024),
        # xAPI learning records for a partner's LRS (learning/xapi, docs/INTEGRATIONS.md); off when empty.
        "XAPI_ENDPOINT": _xapi_endpoint(env),
        "XAPI_USERNAME": env.get("XAPI_USERNAME", ""),
        "XAPI_PASSWORD": env.get("XAPI_PASSWORD", ""),
        "XAPI_ACTOR": _xapi_actor(env),
        "XAPI_TIMEOUT": _at_least_one(env, "XAPI_TIMEOUT", 10),
        "OUTBOX_MAX_ATTEMPTS": _at_least(env, "OUTBOX_MAX_ATTEMPTS", 10, 1),
        # Events of a type with a batch handler committed together are handled this many per task.
        "OUTBOX_BATCH_SIZE": _at_least(env, "OUTBOX_BATCH_SIZE", 50, 1),
        # Publish outbox events to the broker right after commit (the sweep publishes the rest).
        "OUTBOX_PUBLISH": _bool(env.get("OUTBOX_PUBLISH"), True),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "learning" / "translations"),
        "LANGUAGES": ["en", "es", "fr", "pt", "ar"],
        # APIFlask: the OpenAPI document describes /api/v1 only.
        "OPENAPI_VERSION": "3.0.3",
        "INFO": {"description": "The learning platform's JSON API. Errors always use the `error` body."},
        "SYNC_LOCAL_SPEC": False,
        "JSON_SORT_KEYS": False,
    }
