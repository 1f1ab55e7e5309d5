"""Operations: request ids, structured (JSON) logs, Prometheus metrics, health and readiness.

- ``/healthz``: the process is alive (no dependencies checked).
- ``/readyz``: the database and the broker answer; 503 otherwise, so a load
  balancer stops sending traffic to a web process that cannot serve.
- ``/metrics``: Prometheus text format (requests, durations, outbox backlog;
  the worker's task counts and durations when ``PROMETHEUS_MULTIPROC_DIR`` is
  shared or the worker's own exporter runs, see docs/DEPLOY.md).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
import uuid

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text

bp = Blueprint("ops", __name__)
bp.enable_openapi = False  # operations endpoints are not part of the API document

HTTP_REQUESTS = Counter("learning_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
HTTP_DURATION = Histogram("learning_http_request_duration_seconds", "HTTP request duration", ["endpoint"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
TASKS = Counter("learning_celery_tasks_total", "Celery tasks finished", ["task", "state"])
TASK_DURATION = Histogram("learning_celery_task_duration_seconds", "Celery task duration", ["task"],
                          buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))


class RequestIdFilter(logging.Filter):
    """Adds the current request id (or '-') to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    """JSON lines in production (or with LOG_FORMAT=json), readable text otherwise."""
    fmt = app.config.get("LOG_FORMAT") or ("json" if app.config.get("ENV_NAME") == "production" else "text")
    root = logging.getLogger()
    if getattr(root, "_learning_configured", None) == fmt:
        return
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        ))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root.handlers = [handler]
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting is chatty
    # Kombu warns on every connection to a broker URL without a host (the embedded filesystem://
    # broker has none to give), which made `make run` print a warning for nothing.
    logging.getLogger("kombu.connection").addFilter(
        lambda record: not record.getMessage().startswith("No hostname was supplied."))
    root._learning_configured = fmt


class OutboxBacklogCollector:
    """The outbox backlog by status, read from the database at scrape time."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from learning.extensions import db
        from learning.outbox.models import OutboxEvent

        gauge = GaugeMetricFamily("learning_outbox_events", "Outbox events by status", labels=["status"])
        try:
            with self.app.app_context():
                rows = db.session.execute(
                    select(OutboxEvent.status, func.count()).where(OutboxEvent.status != "done")
                    .group_by(OutboxEvent.status)
                ).all()
                db.session.remove()
        except Exception:  # a scrape must not fail because the database is down
            rows = []
        counts = dict(rows)
        for status in ("pending", "failed"):
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge


def register_observability(app: Flask) -> None:
    configure_logging(app)
    app.register_blueprint(bp)

    @app.before_request
    def start_timer():
        incoming = request.environ.get("HTTP_X_REQUEST_ID", "")  # the header, without a Headers look-up
        context = g._get_current_object()
        context.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        context.request_started = time.perf_counter()

    # The metrics' children by label values, kept: ``labels()`` takes a lock and checks its arguments on
    # every call, which the learner's hot path paid twice a request (docs/PERFORMANCE.md, "hotpath4").
    # A few hundred entries at most (endpoints × methods × statuses), as the metrics themselves hold.
    durations: dict = {}
    counters: dict = {}

    @app.after_request
    def record_request(response):
        req, context = request._get_current_object(), g._get_current_object()  # one look-up each
        endpoint = req.endpoint or "unmatched"
        started = getattr(context, "request_started", None)
        if started is not None:
            child = durations.get(endpoint)
            if child is None:
                child = durations[endpoint] = HTTP_DURATION.labels(endpoint)
            child.observe(time.perf_counter() - started)
        key = (req.method, endpoint, response.status_code)
        child = counters.get(key)
        if child is None:
            if len(counters) > 2000:  # a client inventing methods: the metric grows, this stays bounded
                counters.clear()
            child = counters[key] = HTTP_REQUESTS.labels(req.method, endpoint, str(response.status_code))
        child.inc()
        response.headers["X-Request-ID"] = getattr(context, "request_id", "")
        return response


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """200 when the database and the broker answer, 503 (naming what failed) otherwise."""
    from learning.extensions import db

    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        celery_app = current_app.extensions["celery"]
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ready" if ready else "unavailable", "checks": checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    """Prometheus text. With ``METRICS_TOKEN`` set it needs that bearer token; without one it is
    served in development only: in production an unguarded endpoint would publish traffic and
    backlog figures to anyone, so it does not exist (404) until a token is configured."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token and current_app.config.get("ENV_NAME") == "production":
        abort(404)
    given = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return jsonify({"error": {"code": "unauthorized", "message": "Metrics need the METRICS_TOKEN."}}), 401
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    output = generate_latest(registry)
    backlog = CollectorRegistry()
    backlog.register(OutboxBacklogCollector(current_app._get_current_object()))
    output += generate_latest(backlog)
    return output, 200, {"Content-Type": CONTENT_TYPE_LATEST}


def register_task_metrics() -> None:
    """Count and time tasks in worker processes (connected once per process)."""
    from celery.signals import task_postrun, task_prerun

    started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _start(task_id=None, **_):
        started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _finish(task_id=None, task=None, state=None, **_):
        begun = started.pop(task_id, None)
        name = getattr(task, "name", "unknown")
        TASKS.labels(name, state or "UNKNOWN").inc()
        if begun is not None:
            TASK_DURATION.labels(name).observe(time.perf_counter() - begun)
