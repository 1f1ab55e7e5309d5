"""Health, readiness, metrics, request ids and logs: what operators rely on."""

from __future__ import annotations

import json
import logging

from tests.conftest import build_app


def test_health_is_always_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_ready_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_not_ready_when_the_broker_is_unreachable(base_config, app):
    broken = build_app({**base_config, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"})
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"].startswith("error")


def test_metrics_count_requests_and_show_the_outbox_backlog(client, make):
    make.user()  # a sign-up e-mail is waiting in the outbox
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'learning_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in text
    assert 'learning_outbox_events{status="pending"} 0.0' in text  # factories send no verification mail
    assert "learning_http_request_duration_seconds_bucket" in text


def test_every_response_carries_a_request_id(client):
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"


def test_production_logs_are_json_lines_with_the_request_id(base_config, app, capsys):
    prod = build_app(base_config, LOG_FORMAT="json")
    with prod.test_request_context("/", headers={"X-Request-ID": "req-42"}):
        prod.preprocess_request()
        logging.getLogger("learning.test").warning("something happened")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "something happened" and record["request_id"] == "req-42"
    assert record["level"] == "WARNING"
    build_app(base_config, LOG_FORMAT="text")  # back to text for the other tests
