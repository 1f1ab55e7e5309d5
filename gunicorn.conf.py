"""Gunicorn settings, all from the environment: ``gunicorn 'learning:create_app()'``."""

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
    """Once the worker has loaded the app: its objects (modules, mappers, schemas, translations: some
    270,000 the garbage collector tracks) are moved out of the collector's sight (``gc.freeze``).

    Without this, each full collection walked all of them: one or two a worker per thousand requests
    of the learner's hot path, 0.3-0.5 s each with every thread of the worker stopped (the GIL), about
    0.7 ms of a worker's CPU per request on average and the worst of its latencies (docs/PERFORMANCE.md,
    helper "hotauth"). The app's objects live as long as the process anyway; a cycle among them that
    became garbage later would stay (none does: they are the app). Requests' own garbage is collected as
    before. ``WEB_GC_FREEZE=0`` turns it off."""
    if os.environ.get("WEB_GC_FREEZE", "1") != "0":
        import gc

        gc.collect()
        gc.freeze()
