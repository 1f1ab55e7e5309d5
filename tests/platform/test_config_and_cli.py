"""Configuration from the environment, the production guard, and the command line."""

from __future__ import annotations

import pytest

from learning.accounts.models import User
from learning.config import DEV_SECRET_KEY, ConfigError, load_config
from learning.extensions import db


def test_embedded_defaults_need_no_server(tmp_path):
    config = load_config({"LEARNING_INSTANCE_PATH": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert config["CELERY"]["broker_url"] == "filesystem://"
    assert config["CELERY"]["task_serializer"] == "json" and config["CELERY"]["accept_content"] == ["json"]
    assert config["CELERY"]["task_acks_late"] and config["CELERY"]["task_reject_on_worker_lost"]


def test_production_refuses_the_development_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config({"LEARNING_ENV": "production", "SECRET_KEY": DEV_SECRET_KEY})
    with pytest.raises(ConfigError):
        load_config({"LEARNING_ENV": "production", "SECRET_KEY": "short"})


def test_production_refuses_rate_limits_kept_in_each_process_memory():
    production = {"LEARNING_ENV": "production", "SECRET_KEY": "k8Jq2-Zr7vN0pWmXc4Tb9LsYh3GdEa6Fu1"}
    for memory in ({}, {"RATELIMIT_STORAGE_URI": "memory://"}):
        with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI=memory://"):
            load_config({**production, **memory})
    shared = load_config({**production, "RATELIMIT_STORAGE_URI": "redis://r:6379/1"})
    assert shared["RATELIMIT_STORAGE_URI"] == "redis://r:6379/1"
    assert load_config({})["RATELIMIT_STORAGE_URI"] == "memory://"  # fine for one development process


def test_production_uses_secure_cookies_and_postgres_urls():
    config = load_config({"LEARNING_ENV": "production", "SECRET_KEY": "k8Jq2-Zr7vN0pWmXc4Tb9LsYh3GdEa6Fu1",
                          "RATELIMIT_STORAGE_URI": "redis://r:6379/1",
                          "DATABASE_URL": "postgres://u@db/learning", "CELERY_BROKER_URL": "redis://r:6379/0"})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/learning"
    assert config["CELERY"]["broker_url"] == "redis://r:6379/0"


def test_bad_integer_setting_is_a_clear_error():
    with pytest.raises(ConfigError, match="MAIL_PORT"):
        load_config({"MAIL_PORT": "twenty-five"})


@pytest.mark.parametrize("name, value", [
    ("API_TOKEN_LIFETIME_HOURS", "0"), ("OUTBOX_BATCH_SIZE", "0"), ("OUTBOX_BATCH_SIZE", "-3"),
    ("OUTBOX_MAX_ATTEMPTS", "0"), ("SMALL_CELL_THRESHOLD", "-1"), ("REMINDER_BATCH_SIZE", "0"),
    ("SESSION_LIFETIME_HOURS", "0"), ("ACCOUNT_RETENTION_DAYS", "-5"), ("RENEWAL_WINDOW_DAYS", "-1"),
    ("ROSTER_MAX_ROWS", "0"), ("MAIL_PORT", "0"), ("MAIL_TIMEOUT", "0"), ("REPORT_CHANGES_RETENTION_HOURS", "0"),
    ("LOG_LEVEL", "LOUD"), ("LOG_FORMAT", "xml"), ("REPORT_PERIOD_INDEX_BUILD", "later"),
    ("CERTIFICATE_STORAGE", "ftp"), ("CERTIFICATE_STORAGE", "s3"),
])
def test_a_documented_setting_with_a_meaningless_value_is_refused_at_start(tmp_path, name, value):
    """Not accepted and misbehaving later: tokens dead on arrival (a lifetime of 0), a logging set-up
    that crashes with a bare ValueError, certificates that fail in the worker (an unknown storage, or
    S3 without a bucket)."""
    with pytest.raises(ConfigError, match=name):
        load_config({name: value}, instance_path=str(tmp_path))


def test_settings_read_as_documented(tmp_path):
    config = load_config({"LOG_LEVEL": "warning", "LOG_FORMAT": "JSON", "ACCOUNT_RETENTION_DAYS": "0",
                          "SMALL_CELL_THRESHOLD": "0", "MAIL_DEFAULT_SENDER": ""}, instance_path=str(tmp_path))
    assert config["LOG_LEVEL"] == "WARNING" and config["LOG_FORMAT"] == "json"
    assert config["ACCOUNT_RETENTION_DAYS"] == 0 and config["SMALL_CELL_THRESHOLD"] == 0
    # Set but empty (as an env file's "MAIL_DEFAULT_SENDER=" leaves it): the default sender, not an empty From.
    assert config["MAIL_DEFAULT_SENDER"] == "Learning Platform <no-reply@learning.local>"


def test_cli_creates_the_first_admin(runner, app_context):
    result = runner.invoke(args=["users", "create", "--email", "Root@Example.org", "--password", "a-Good-password-42",
                                 "--name", "Root Admin", "--country", "GB", "--sector", "government", "--role", "admin"])
    assert result.exit_code == 0, result.output
    user = db.session.query(User).one()
    assert user.email == "root@example.org" and user.roles == ["learner", "admin"]


def test_cli_reports_bad_input_and_creates_nothing(runner, app_context):
    result = runner.invoke(args=["users", "create", "--email", "x@example.org", "--password", "a-Good-password-42",
                                 "--name", "X", "--country", "XX", "--sector", "government"])
    assert result.exit_code != 0
    assert "country" in result.output
    assert db.session.query(User).count() == 0


def test_seed_demo_builds_a_realistic_data_set(runner, app_context):
    from sqlalchemy import func, select

    from learning.catalogue.models import Course, CourseTranslation
    from learning.enrolment.models import Enrolment

    result = runner.invoke(args=["seed-demo", "--learners", "120"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(func.count(func.distinct(User.country)))) >= 30
    assert db.session.scalar(select(func.count(func.distinct(User.sector)))) == 11
    assert db.session.scalar(select(func.count(func.distinct(CourseTranslation.language)))) >= 3
    assert db.session.scalar(select(func.count()).select_from(Course).where(Course.status == "published")) >= 3
    assert db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "completed")) > 20
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "nothing seeded" in again.output
