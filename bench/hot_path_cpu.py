"""CPU per request of the learner's hot path in one process, no server and no client: the hot statements run
straight on psycopg's cursor (A) against the same app sending them through SQLAlchemy's execution (B).

    .venv/bin/python -m bench.hot_path_cpu [--learners 1200] [--batch 20]

Two apps in one process, each calling the WSGI application directly with a built environ (enrol, then
complete each lesson, with a bearer token). B carries a no-op ``before_cursor_execute`` listener, which is
what sends a ``HotStatement`` through ``Connection.execute`` (``learning/hot_statements.py``). Batches of
learners take turns between A and B (A B, B A, ...) so that the machine's drift falls on both alike; the
figure is each side's median thread CPU per request and the median of the pairs' ratios. Needs PostgreSQL
(``BENCH_DATABASE_URL``, as ``bench.hot_path``). Writes bench/results/hot_path_cpu.json.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import sys
import time

from bench.common import ensure_postgres_database, reset_and_migrate, write_result
from bench.hot_path import DEFAULT_URL, prepare


def _environ(path: str, token: str) -> dict:
    body = b"{}"
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "wsgi.version": (1, 0), "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_ACCEPT": "application/json", "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {token}"}


def _call(app, environ: dict) -> tuple[str, bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    body = b"".join(app(environ, start_response))
    return answer["status"], body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=20, help="learners per turn")
    parser.add_argument("--lessons", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_postgres_database(url)
    reset_and_migrate(url)
    slug, lesson_ids, tokens = prepare(url, args.learners, args.lessons)
    os.environ.update({"DATABASE_URL": url, "OUTBOX_PUBLISH": "false", "LOG_LEVEL": "WARNING",
                       "RATELIMIT_ENABLED": "true", "CELERY_BROKER_URL": "memory://"})
    from sqlalchemy import event

    from learning import create_app
    from learning.extensions import db

    direct, through_sqlalchemy = create_app(), create_app()
    with through_sqlalchemy.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: None)
    gc.collect()
    gc.freeze()  # as gunicorn.conf.py's post_worker_init

    def learner(app, token: str) -> None:
        status, body = _call(app, _environ(f"/api/v1/courses/{slug}/enrolments", token))
        if not status.startswith("201"):
            raise RuntimeError(f"enrol: {status} {body[:200]!r}")
        enrolment = json.loads(body)["id"]
        for lesson in lesson_ids:
            status, body = _call(app, _environ(f"/api/v1/enrolments/{enrolment}/lessons/{lesson}/complete", token))
            if not status.startswith("200"):
                raise RuntimeError(f"complete: {status} {body[:200]!r}")

    pending = iter(tokens)
    for _ in range(min(30, args.learners // 4)):  # warm both: connections, prepared statements, kept outlines
        learner(direct, next(pending))
        learner(through_sqlalchemy, next(pending))
    a, b = [], []
    per_batch = args.batch * (1 + len(lesson_ids))
    while True:
        order = ((direct, a), (through_sqlalchemy, b)) if len(a) % 2 == 0 else ((through_sqlalchemy, b), (direct, a))
        batches = [[next(pending, None) for _ in range(args.batch)] for _ in order]
        if any(None in batch for batch in batches):
            break
        for (app, out), batch in zip(order, batches, strict=True):
            started = time.thread_time()
            for token in batch:
                learner(app, token)
            out.append(1000 * (time.thread_time() - started) / per_batch)
    if not a:
        raise SystemExit("too few learners for one pair of batches: raise --learners")
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    figures = {"learners": args.learners, "batch": args.batch, "pairs": len(a),
               "direct_cpu_ms_per_request": round(statistics.median(a), 3),
               "through_sqlalchemy_cpu_ms_per_request": round(statistics.median(b), 3),
               "through_sqlalchemy_to_direct_median_ratio": round(statistics.median(ratios), 3),
               "load_average": os.getloadavg()}
    path = write_result("hot_path_cpu", figures)
    print(f"hot path CPU per request in one process: direct {figures['direct_cpu_ms_per_request']} ms, through "
          f"SQLAlchemy's execution {figures['through_sqlalchemy_cpu_ms_per_request']} ms; ratio of the "
          f"{len(a)} pairs (median) {figures['through_sqlalchemy_to_direct_median_ratio']}; written to {path}")


if __name__ == "__main__":
    main()
