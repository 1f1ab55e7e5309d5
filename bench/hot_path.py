"""Load test of the learner's hot path under gunicorn on loopback, beside a bare Flask baseline.

Each virtual learner enrols in a course and completes its lessons through the
JSON API, as fast as it can, from many threads at once. The same gunicorn
settings serve, side by side, a bare Flask endpoint that does one database write,
so the ratio of the two shows what the platform itself costs. The two take turns
(``--rounds``, in alternating order: platform then bare, bare then platform, ...),
so that the machine's drift during the run weighs on both alike; the ratio is the
bare endpoint's requests per second over all rounds against the platform's, and
each round's own ratio is printed too. At the end every completion is checked to
have been counted exactly once.

    .venv/bin/python -m bench.hot_path [--learners 200] [--rounds 5] [--concurrency 32]

Needs PostgreSQL (``BENCH_DATABASE_URL``, default a ``learning_bench_hotpath``
database on 127.0.0.1). Prints the figures and writes bench/results/hot_path.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from bench.common import (
    ServerCpu,
    children_of,
    ensure_postgres_database,
    percentile,
    process_tree_rss,
    reset_and_migrate,
    start_gunicorn,
    stop,
    write_result,
)

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/learning_bench_hotpath"


class Client:
    """One keep-alive HTTP connection per thread."""

    _local = threading.local()

    def __init__(self, base: str):
        self.netloc = urlparse(base).netloc

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.netloc, timeout=60)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=json.dumps(body or {}), headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self._local.conn = None
            raise
        return response.status, data, time.perf_counter() - started


def prepare(database_url: str, learners: int, lessons: int) -> tuple[str, list[int], list[str]]:
    """A published course and ``learners`` people with API tokens, created through the services."""
    from learning import create_app
    from learning.accounts.models import User
    from learning.accounts.tokens import issue_api_token
    from learning.catalogue.services import all_lessons, create_course, publish_course
    from learning.extensions import db

    os.environ["DATABASE_URL"] = database_url
    app = create_app()
    with app.app_context():
        course = create_course(None, {
            "slug": "hot-path", "title": "Hot path", "summary": "Load test", "language": "en",
            "modules": [{"title": "M", "lessons": [{"title": f"L{i}", "body": "x"} for i in range(lessons)]}],
        })
        publish_course(None, course)
        db.session.flush()
        lesson_ids = [lesson.id for lesson in all_lessons(course)]
        users = [User(email=f"load{i}@bench.invalid", full_name=f"Load {i}", country="KE", sector="education",
                      language="en") for i in range(learners)]
        db.session.add_all(users)
        db.session.flush()
        tokens = [issue_api_token(user)[0] for user in users]
        db.session.commit()
    return "hot-path", lesson_ids, tokens


def run_learners(base: str, slug: str, lesson_ids: list[int], tokens: list[str], concurrency: int,
                 every_latency: list[float] | None = None) -> dict:
    client = Client(base)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def learner(token: str) -> None:
        status, data, took = client.request("POST", f"/api/v1/courses/{slug}/enrolments", token=token)
        local = [took]
        if status != 201:
            with lock:
                errors.append(f"enrol {status} {data[:200]!r}")
            return
        enrolment_id = json.loads(data)["id"]
        for lesson_id in lesson_ids:
            status, data, took = client.request(
                "POST", f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete", token=token)
            local.append(took)
            if status != 200:
                with lock:
                    errors.append(f"complete {status} {data[:200]!r}")
        with lock:
            latencies.extend(local)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(learner, tokens))
    elapsed = time.perf_counter() - started
    if every_latency is not None:
        every_latency.extend(latencies)
    return {"requests": len(latencies), "seconds": round(elapsed, 3),
            "requests_per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1), "errors": errors[:5], "error_count": len(errors)}


def run_bare(base: str, requests: int, concurrency: int) -> dict:
    client = Client(base)
    latencies: list[float] = []
    lock = threading.Lock()

    def one(_):
        status, _data, took = client.request("POST", "/write")
        with lock:
            latencies.append(took)
        return status

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - started
    return {"requests": requests, "seconds": round(elapsed, 3),
            "requests_per_second": round(requests / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "error_count": sum(1 for s in statuses if s != 201)}


def workers_cpu(server_pid: int) -> dict[int, float]:
    """CPU seconds so far of each gunicorn web worker (the arbiter's children), from /proc."""
    return {pid: cpu for pid in children_of(server_pid) if (cpu := ServerCpu._cpu(pid)) is not None}


def cpu_per_request(server_pid: int, database_url: str, run) -> tuple[dict, dict]:
    """Run ``run()`` and add to its figures the CPU milliseconds per request of the web workers and of
    the PostgreSQL backends serving the database: what each request costs, which a loaded machine
    inflates far less than wall time (docs/PERFORMANCE.md, helper "hotpath3")."""
    before = workers_cpu(server_pid)
    with ServerCpu(database_url, urlparse(database_url).path.lstrip("/"), interval=0.2) as server_cpu:
        figures = run()
    after = workers_cpu(server_pid)
    web = sum(after[pid] - before.get(pid, 0.0) for pid in after)
    figures["web_workers_cpu_ms_per_request"] = round(1000 * web / figures["requests"], 2)
    figures["postgres_cpu_ms_per_request"] = round(1000 * server_cpu.seconds / figures["requests"], 2)
    return figures, after


def count_once(database_url: str, learners: int, lessons: int) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        progress = conn.execute("SELECT count(*) FROM lesson_progress").fetchone()[0]
        distinct = conn.execute("SELECT count(*) FROM (SELECT DISTINCT enrolment_id, lesson_id FROM lesson_progress) t").fetchone()[0]
        completed = conn.execute("SELECT count(*) FROM enrolments WHERE status = 'completed'").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM outbox_events WHERE event_type = 'enrolment.completed'").fetchone()[0]
    return {"lesson_completions": progress, "expected": learners * lessons, "duplicates": progress - distinct,
            "enrolments_completed": completed, "completion_events": events,
            "counted_once": progress == distinct == learners * lessons and completed == events == learners}


def statistics_exact(database_url: str) -> dict:
    """Drain the statistics' refresh events the requests left (as the worker would, in this process),
    then compare the rollup with a recount of the raw rows (facts computed from enrolments and
    certificates, their cells counted in Python)."""
    from sqlalchemy import select

    from learning import create_app
    from learning.extensions import db
    from learning.outbox.models import OutboxEvent
    from learning.outbox.services import process_batch
    from learning.reporting.models import ReportCell, ReportFact
    from learning.reporting.rollup import REFRESH_EVENT, _fact_key, cells_of, facts_query

    os.environ["DATABASE_URL"] = database_url
    app = create_app()
    with app.app_context():
        ids = list(db.session.scalars(select(OutboxEvent.id).where(
            OutboxEvent.event_type == REFRESH_EVENT, OutboxEvent.status != "done").order_by(OutboxEvent.id)))
        started = time.perf_counter()
        for i in range(0, len(ids), 50):
            process_batch(ids[i:i + 50])
        drained_s = time.perf_counter() - started
        fresh: dict = {}
        for row in db.session.execute(select(facts_query(db.engine.dialect.name))):
            fresh[_fact_key(row)] = fresh.get(_fact_key(row), 0) + int(row.weight)
        expected = {key: n for key, n in cells_of(fresh.keys(), fresh.values()).items() if n}
        cells = {(c.kind, c.dims, c.period, c.country, c.sector, c.course_id, c.cohort_id, c.organisation_id): c.n
                 for c in db.session.scalars(select(ReportCell)) if c.n}
        facts = {(f.user_id, f.kind, f.day, f.country, f.sector, f.course_id, f.cohort_id, f.organisation_id): f.weight
                 for f in db.session.scalars(select(ReportFact))}
        db.session.remove()
    return {"refresh_events": len(ids), "drained_in_s": round(drained_s, 2),
            "rollup_equals_recount": cells == expected and facts == fresh}


def _booted(base: str, method: str, path: str, workers: int) -> None:
    """Wait until the server's workers answer (a worker loads the app after the fork: minutes on a machine
    at load 20, hence the long timeout)."""
    for _ in range(4 * workers):
        probe = http.client.HTTPConnection(urlparse(base).netloc, timeout=300)
        probe.request(method, path)
        probe.getresponse().read()
        probe.close()


def _total(rounds: list[dict], latencies: list[float] | None = None) -> dict:
    """The rounds of one server together: requests over seconds, CPU per request weighted by requests."""
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    total = {"requests": requests, "seconds": round(seconds, 3),
             "requests_per_second": round(requests / seconds, 1) if seconds else None,
             "error_count": sum(r["error_count"] for r in rounds),
             "errors": [e for r in rounds for e in r.get("errors", [])][:5],
             "web_workers_cpu_ms_per_request": round(sum(r["web_workers_cpu_ms_per_request"] * r["requests"]
                                                         for r in rounds) / requests, 2),
             "postgres_cpu_ms_per_request": round(sum(r["postgres_cpu_ms_per_request"] * r["requests"]
                                                      for r in rounds) / requests, 2)}
    if latencies is not None:
        total["p50_ms"] = round(percentile(latencies, 50) * 1000, 1)
        total["p95_ms"] = round(percentile(latencies, 95) * 1000, 1)
    else:
        total["p50_ms"] = round(statistics.median(r["p50_ms"] for r in rounds), 1)
        total["p95_ms"] = round(statistics.median(r["p95_ms"] for r in rounds), 1)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200, help="learners per round")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds, each the platform's learners and as many requests to the bare endpoint, "
                             "in alternating order")
    parser.add_argument("--lessons", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per process (gthread)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    load_before = os.getloadavg()
    ensure_postgres_database(url)
    reset_and_migrate(url)
    learners = args.learners * args.rounds
    slug, lesson_ids, tokens = prepare(url, learners, args.lessons)
    env = {"DATABASE_URL": url, "OUTBOX_PUBLISH": "false", "LOG_LEVEL": "WARNING",
           "RATELIMIT_ENABLED": "true", "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://")}
    # Both servers run side by side and take turns, so that the machine's drift (the bare endpoint alone
    # moved by 60 % between runs minutes apart, docs/PERFORMANCE.md) falls on both alike.
    server, base = start_gunicorn("learning:create_app()", env, workers=args.workers, threads=args.threads)
    bare_server = None
    try:
        bare_server, bare_base = start_gunicorn("bench.bare_app:create_app()", {"DATABASE_URL": url},
                                                workers=args.workers, threads=args.threads)
        _booted(base, "GET", "/healthz", args.workers)
        _booted(bare_base, "POST", "/write", args.workers)
        time.sleep(2)
        rss = {"gunicorn_at_rest": process_tree_rss(server.pid)}  # the arbiter and each web worker
        platform_rounds, bare_rounds, latencies = [], [], []
        for number in range(args.rounds):
            batch = tokens[number * args.learners:(number + 1) * args.learners]

            def platform_round(batch=batch):
                figures, _ = cpu_per_request(server.pid, url, lambda: run_learners(
                    base, slug, lesson_ids, batch, args.concurrency, latencies))
                platform_rounds.append(figures)

            def bare_round():
                figures, _ = cpu_per_request(bare_server.pid, url, lambda: run_bare(
                    bare_base, args.learners * (1 + args.lessons), args.concurrency))
                bare_rounds.append(figures)

            for turn in ((platform_round, bare_round) if number % 2 == 0 else (bare_round, platform_round)):
                turn()
        rss["gunicorn_after"] = process_tree_rss(server.pid)
    finally:
        stop(server)
        if bare_server is not None:
            stop(bare_server)
    checks = count_once(url, learners, args.lessons)
    checks["statistics"] = statistics_exact(url)
    platform, bare = _total(platform_rounds, latencies), _total(bare_rounds)
    round_ratios = [round(b["requests_per_second"] / p["requests_per_second"], 2)
                    for p, b in zip(platform_rounds, bare_rounds, strict=True)]
    ratio = round(bare["requests_per_second"] / platform["requests_per_second"], 2) if platform["requests_per_second"] else None
    figures = {"learners": learners, "rounds": args.rounds, "learners_per_round": args.learners, "lessons": args.lessons,
               "concurrency": args.concurrency, "gunicorn_workers": args.workers, "gunicorn_threads": args.threads,
               "platform": platform, "bare_flask_one_write": bare, "bare_to_platform_throughput_ratio": ratio,
               "round_ratios": round_ratios, "platform_rounds": platform_rounds, "bare_rounds": bare_rounds,
               "integrity": checks, "rss_mb": rss,
               "load_average_before": load_before, "load_average_after": os.getloadavg()}
    path = write_result("hot_path", figures)
    print(f"hot path (enrol + complete lessons): {platform['requests_per_second']} req/s, "
          f"p50 {platform['p50_ms']} ms, p95 {platform['p95_ms']} ms, errors {platform['error_count']}")
    print(f"bare Flask, one DB write:           {bare['requests_per_second']} req/s, "
          f"p50 {bare['p50_ms']} ms, p95 {bare['p95_ms']} ms")
    print(f"CPU ms per request: web workers {platform['web_workers_cpu_ms_per_request']} (bare "
          f"{bare['web_workers_cpu_ms_per_request']}), PostgreSQL {platform['postgres_cpu_ms_per_request']} (bare "
          f"{bare['postgres_cpu_ms_per_request']})")
    print(f"ratio bare/platform: {ratio} over {args.rounds} alternated rounds (each round: {round_ratios}); "
          f"every completion counted once: {checks['counted_once']} ({checks})")
    print(f"statistics after the refresh events are drained: {checks['statistics']}")
    print(f"web worker RSS (MB): at rest {rss['gunicorn_at_rest']['children']}, "
          f"after {rss['gunicorn_after']['children']}")
    print(f"gunicorn {args.workers} x {args.threads} threads; load average {load_before[0]:.2f} -> "
          f"{figures['load_average_after'][0]:.2f}; written to {path}")


if __name__ == "__main__":
    main()
