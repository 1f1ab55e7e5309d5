"""Gunicorn settings, all from the environment: ``gunicorn 'learning:create_app()'``."""

import gc
import os

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
accesslog = "-" if os.environ.get("ACCESS_LOG", "1") == "1" else None
access_log_format = '{"remote":"%(h)s","request":"%(r)s","status":%(s)s,"bytes":%(b)s,"ms":%(M)s,"request_id":"%({x-request-id}o)s"}'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Let Prometheus forget a dead worker's live gauges (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Move everything the application allocated while loading (≈ 275,000 objects: modules, routes,
    mappers, the OpenAPI spec) out of the garbage collector's sight: a full collection otherwise walks
    them all, about half a second in which no thread of the worker answers, and 25 % of a worker's CPU
    over the first hundreds of requests (docs/PERFORMANCE.md, "Hot path (seventh session)"). They
    live as long as the worker; new objects are collected as before."""
    if os.environ.get("WEB_GC_FREEZE", "1") == "1":
        gc.collect()
        gc.freeze()

