"""Where a learner's request spends its time: the hot path's requests in one process, measured by part.

    .venv/bin/python -m bench.hot_path_profile --learners 40     # BENCH_DATABASE_URL, default learning_bench_hotpath
    .venv/bin/python -m bench.hot_path_profile --learners 40 --cprofile 30   # and the 30 costliest functions

The same flow as ``bench.hot_path`` (enrol, then complete each lesson, with a bearer token) through
the Flask test client, one request at a time, so that no queueing hides the cost: per request type,
the wall time, the statements sent and the time inside them (SQLAlchemy cursor events), the time in
the statistics rollup's refresh at commit, in the token look-up and in the commit itself. Writes
``bench/results/hot_path_profile.json``. (``bench.hot_path`` is the load test under gunicorn.)
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager

from bench.common import ensure_postgres_database, reset_and_migrate, write_result
from bench.hot_path import DEFAULT_URL, prepare


class Meter:
    """Accumulates, for the request being measured, statements and seconds by part."""

    def __init__(self):
        self.current: dict | None = None

    def add(self, key: str, value: float) -> None:
        if self.current is not None:
            self.current[key] += value

    @contextmanager
    def request(self):
        self.current = defaultdict(float)
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            yield self.current
        finally:
            self.current["wall_s"] = time.perf_counter() - started
            self.current["cpu_s"] = time.thread_time() - cpu  # this thread's CPU: less bent by a loaded machine
            self.current = None


def timed(meter: Meter, key: str, func):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            meter.add(key, time.perf_counter() - started)
    return wrapper


def instrument(app, meter: Meter) -> None:
    from sqlalchemy import event

    from learning.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()
        meter.add("statements", 1)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        meter.add("db_s", time.perf_counter() - conn.info.pop("bench_started", time.perf_counter()))

    from learning.api import auth
    from learning.reporting import rollup

    rollup.refresh_people = timed(meter, "rollup_refresh_s", rollup.refresh_people)
    auth.auth.verify_token_callback = timed(meter, "token_lookup_s", auth.auth.verify_token_callback)
    from sqlalchemy.orm import Session

    Session.commit = timed(meter, "commit_s", Session.commit)  # the rollup refresh included


def summarise(samples: list[dict]) -> dict:
    keys = sorted({key for sample in samples for key in sample})
    return {"requests": len(samples),
            **{f"median_{key}": round(statistics.median(s.get(key, 0.0) for s in samples)
                                      * (1 if key == "statements" else 1000), 2) for key in keys}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--lessons", type=int, default=4)
    parser.add_argument("--cprofile", type=int, metavar="N", default=0,
                        help="also run the requests under cProfile and print the N costliest functions (own time)")
    parser.add_argument("--sort", default="tottime", choices=("tottime", "cumulative"),
                        help="the cProfile listing's order (cumulative: with what each function calls)")
    parser.add_argument("--cpu", action="store_true",
                        help="the profiler counts this thread's CPU time, not the wall clock (waits for PostgreSQL drop out)")
    parser.add_argument("--dump", metavar="PATH", help="also write the profile there (for pstats)")
    parser.add_argument("--only", default="", metavar="REGEX",
                        help="list only the functions whose file and name match (e.g. 'learning/|apiflask|marshmallow')")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_postgres_database(url)
    reset_and_migrate(url)
    slug, lesson_ids, tokens = prepare(url, args.learners, args.lessons)
    os.environ.update({"DATABASE_URL": url, "OUTBOX_PUBLISH": "false", "RATELIMIT_ENABLED": "false"})
    from learning import create_app

    app = create_app()
    meter = Meter()
    instrument(app, meter)
    client = app.test_client()
    gc.collect()
    gc.freeze()  # as a web worker after boot (gunicorn.conf.py): no full collection walking the loaded app
    samples: dict[str, list[dict]] = {"enrol": [], "complete lesson": []}
    load_before = os.getloadavg()
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time) if args.cpu else cProfile.Profile()
        profiler.enable()
    for token in tokens:
        headers = {"Authorization": f"Bearer {token}"}
        with meter.request() as sample:
            response = client.post(f"/api/v1/courses/{slug}/enrolments", headers=headers, json={})
        assert response.status_code == 201, response.get_data(as_text=True)
        samples["enrol"].append(dict(sample))
        enrolment_id = response.get_json()["id"]
        for lesson_id in lesson_ids:
            with meter.request() as sample:
                response = client.post(f"/api/v1/enrolments/{enrolment_id}/lessons/{lesson_id}/complete",
                                       headers=headers, json={})
            assert response.status_code == 200, response.get_data(as_text=True)
            samples["complete lesson"].append(dict(sample))
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        if args.dump:
            profiler.dump_stats(args.dump)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
        stats.print_stats(*([args.only] if args.only else []), args.cprofile)
        print(out.getvalue())
    figures = {name: summarise(values) for name, values in samples.items()}
    figures["units"] = "median per request: statements as a count, everything else in ms"
    figures["load_average"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    path = write_result("hot_path_profile", figures)
    for name in samples:
        f = figures[name]
        print(f"{name:16s} wall {f['median_wall_s']:6.1f} ms, CPU {f['median_cpu_s']:5.1f} ms | "
              f"{f['median_statements']:.0f} statements, "
              f"{f['median_db_s']:5.1f} ms in them | rollup refresh {f.get('median_rollup_refresh_s', 0):5.1f} ms"
              f" | token {f.get('median_token_lookup_s', 0):5.1f} ms | commit {f.get('median_commit_s', 0):5.1f} ms")
    print(f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}; {path}")


if __name__ == "__main__":
    main()
