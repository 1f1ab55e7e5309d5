"""Measure the statistics endpoints at scale, beside the plainest exact SQL over the raw tables.

Run ``bench/seed_scale.py`` first. Then:

    .venv/bin/python bench/report_summary.py [--database-url postgresql://postgres@127.0.0.1:5432/learning_bench_reporting]

Each endpoint is called through the Flask test client (the whole request:
authentication, validation, queries, JSON) after a warm-up, ``--runs`` times;
the median and 95th percentile are printed beside the median time of the plain
queries a reporting script would write (``COUNT(DISTINCT user_id)`` over
``enrolments``, joined to ``certificates``) for the same answer. Results go to
``bench/results/report_summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ServerCpu, own_cpu_seconds, peak_rss  # noqa: E402
from bench.seed_scale import ADMIN_EMAIL, ADMIN_PASSWORD, DEFAULT_URL  # noqa: E402

# The plainest exact SQL for the whole summary: every figure a COUNT(DISTINCT) over the raw rows.
PLAIN_SUMMARY = [
    "SELECT count(DISTINCT user_id) FROM enrolments e WHERE {enrolled}",
    "SELECT count(DISTINCT user_id) FROM enrolments e WHERE e.completed_at IS NOT NULL AND {completed}",
    "SELECT count(DISTINCT country) FROM enrolments e WHERE {enrolled}",
    "SELECT count(*) FROM certificates c JOIN enrolments e ON e.id = c.enrolment_id WHERE {issued}",
    "SELECT e.country, count(DISTINCT user_id) FROM enrolments e WHERE {enrolled} GROUP BY 1",
    "SELECT e.country, count(DISTINCT user_id) FROM enrolments e WHERE e.completed_at IS NOT NULL AND {completed} GROUP BY 1",
    "SELECT e.sector, count(DISTINCT user_id) FROM enrolments e WHERE {enrolled} GROUP BY 1",
    "SELECT e.sector, count(DISTINCT user_id) FROM enrolments e WHERE e.completed_at IS NOT NULL AND {completed} GROUP BY 1",
    "SELECT e.course_id, count(DISTINCT user_id) FROM enrolments e WHERE {enrolled} GROUP BY 1",
    "SELECT e.course_id, count(DISTINCT user_id) FROM enrolments e WHERE e.completed_at IS NOT NULL AND {completed} GROUP BY 1",
    "SELECT extract(year FROM e.enrolled_at AT TIME ZONE 'UTC'), count(DISTINCT user_id) FROM enrolments e WHERE {enrolled} GROUP BY 1",
    "SELECT extract(year FROM e.completed_at AT TIME ZONE 'UTC'), count(DISTINCT user_id) FROM enrolments e WHERE e.completed_at IS NOT NULL AND {completed} GROUP BY 1",
]
PLAIN_HEADLINE = "SELECT count(DISTINCT user_id) FROM enrolments e WHERE {enrolled}"


def where(country: str | None, year: int | str | None) -> dict[str, str]:
    def clause(column: str) -> str:
        parts = ["TRUE"]
        if country:
            parts.append(f"e.country = '{country}'")
        if isinstance(year, str):  # a month, "YYYY-MM"
            parts.append(f"{column} >= '{year}-01T00:00:00Z' AND {column} < date '{year}-01' + interval '1 month'")
        elif year:
            parts.append(f"{column} >= '{year}-01-01T00:00:00Z' AND {column} < '{year + 1}-01-01T00:00:00Z'")
        return " AND ".join(parts)

    return {"enrolled": clause("e.enrolled_at"), "completed": clause("e.completed_at"), "issued": clause("c.issued_at")}


def timed(func, runs: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 2), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--plain-runs", type=int, default=3)
    parser.add_argument("--export-runs", type=int, default=3, help="0: no exports")
    parser.add_argument("--plain-cases", type=int, default=4,
                        help="for how many of the four summaries to time the whole summary in plain SQL "
                             "(each takes minutes at 10M); the headline in plain SQL is timed for all")
    parser.add_argument("--unaligned-runs", type=int, default=11)
    parser.add_argument("--periods", default="", help="unaligned periods to time: short, long (default: both)")
    parser.add_argument("--only", choices=("summary", "unaligned", "exports"),
                        help="run one part only (the others are skipped)")
    parser.add_argument("--exports", default="",
                        help="comma-separated export names to run (default: all), e.g. 'csv by cohort and month'")
    parser.add_argument("--period-index", choices=("on", "off"), default="on",
                        help="the in-memory period index (learning/reporting/period_index/): built before "
                             "timing (its build time and RSS are printed), or off (the facts in PostgreSQL)")
    parser.add_argument("--check-exact", action="store_true",
                        help="unaligned: compare each summary from the index with the facts path's (slow)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "report_summary.json"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    plain_warmup = 1 if args.plain_runs > 1 else 0  # at 10M one plain summary takes minutes

    from sqlalchemy import text

    from learning import create_app
    from learning.accounts.services import authenticate
    from learning.accounts.tokens import issue_api_token
    from learning.config import load_config
    from learning.extensions import db

    config = load_config({**os.environ, "DATABASE_URL": args.database_url, "OUTBOX_PUBLISH": "false",
                          "RATELIMIT_ENABLED": "false"})
    config["TESTING"] = True
    config["REPORT_PERIOD_INDEX"] = args.period_index == "on"
    config["REPORT_PERIOD_INDEX_BUILD"] = "sync"
    app = create_app(config)
    logging_off()
    with app.app_context():
        token, _row = issue_api_token(authenticate(ADMIN_EMAIL, ADMIN_PASSWORD))
        db.session.commit()
        enrolments = db.session.scalar(text("SELECT count(*) FROM enrolments"))
        people = db.session.scalar(text("SELECT count(DISTINCT user_id) FROM enrolments"))
        countries = db.session.scalar(text("SELECT count(DISTINCT country) FROM enrolments"))
        biggest = db.session.scalar(text("SELECT country FROM enrolments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"))
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    answers: dict = {}  # path -> (status, rows or the refusal's suggestions), of the last run

    def call(path: str):
        def run():
            response = client.get(path, headers=headers)
            # An export none of whose figures can be published answers 422 with what does publish (issue 16).
            refused = response.status_code == 422 and "export" in path and "suggestions" in response.json["error"]
            assert response.status_code == 200 or refused, response.get_data(as_text=True)[:500]
            body = response.get_data()
            answers[path] = (response.status_code, response.json["error"]["suggestions"] if refused
                             else body.count(b"\n") - 1 if "export.csv" in path else None)
        return run

    cases = {
        "summary, no filter": ("/api/v1/reports/summary", None, None),
        f"summary, country={biggest}": (f"/api/v1/reports/summary?country={biggest}", biggest, None),
        "summary, year 2024": ("/api/v1/reports/summary?from=2024-01-01&to=2024-12-31", None, 2024),
        "summary, month 2024-03": ("/api/v1/reports/summary?from=2024-03-01&to=2024-03-31", None, "2024-03"),
        f"summary, country={biggest} and year 2024": (
            f"/api/v1/reports/summary?country={biggest}&from=2024-01-01&to=2024-12-31", biggest, 2024),
    }
    results: dict = {"machine": machine(), "data": {"enrolments": enrolments, "professionals": people,
                                                   "countries": countries}, "summary": {}, "exports": {}}
    with app.app_context():
        connection = db.engine.connect()
        for number, (name, (path, country, year)) in enumerate(cases.items() if args.only in (None, "summary")
                                                                else ()):
            endpoint = timed(call(path), args.runs)
            clauses = where(country, year)
            plain_all = timed(lambda c=clauses: [connection.execute(text(q.format(**c))).all() for q in PLAIN_SUMMARY],
                              args.plain_runs, warmup=plain_warmup) if number < args.plain_cases else None
            plain_one = timed(lambda c=clauses: connection.execute(text(PLAIN_HEADLINE.format(**c))).all(),
                              args.plain_runs, warmup=plain_warmup)
            results["summary"][name] = {"endpoint": endpoint, "plain_sql_whole_summary": plain_all,
                                        "plain_sql_headline_only": plain_one,
                                        "speed_up": round((plain_all or plain_one)["median_ms"] / endpoint["median_ms"], 1)}
            whole = f"{plain_all['median_ms']:9.1f} ms" if plain_all else "not timed"
            print(f"{name:45s} endpoint median {endpoint['median_ms']:8.2f} ms  p95 {endpoint['p95_ms']:8.2f} ms"
                  f"  | plain SQL: whole summary {whole}, headline only "
                  f"{plain_one['median_ms']:8.1f} ms  (x{results['summary'][name]['speed_up']})")
        connection.close()
        db.session.remove()
    if args.period_index == "on":
        results["period_index"] = build_period_index(app)
    if args.only in (None, "unaligned"):
        results["unaligned"] = unaligned(app, call, args, biggest,
                                         lambda path: client.get(path, headers=headers).get_json())
    wanted = {name.strip() for name in args.exports.split(",") if name.strip()}
    for name, path in {
        "csv by country and sector": "/api/v1/reports/export.csv?group_by=country,sector",
        "csv by country": "/api/v1/reports/export.csv?group_by=country",
        "csv by sector": "/api/v1/reports/export.csv?group_by=sector",
        "csv by cohort and month": "/api/v1/reports/export.csv?group_by=cohort,month",
        "xlsx by country and sector": "/api/v1/reports/export.xlsx?group_by=country,sector",
        "csv by month and cohort": "/api/v1/reports/export.csv?group_by=month,cohort",
        "csv by cohort and year": "/api/v1/reports/export.csv?group_by=cohort,year",
        "csv by cohort": "/api/v1/reports/export.csv?group_by=cohort",
        "csv by month": "/api/v1/reports/export.csv?group_by=month",
        "csv by course and month": "/api/v1/reports/export.csv?group_by=course,month",
        # 3,000 × 124, cells mostly small, not withheld whole: did not finish before the protection was bounded
        # (docs/PERFORMANCE.md, helpers "export" and "export2").
        "csv by organisation and month": "/api/v1/reports/export.csv?group_by=organisation,month",
        "csv by cohort and month in 2024": "/api/v1/reports/export.csv?group_by=cohort,month&from=2024-01-01&to=2024-12-31",
        "csv by cohort and month 15 Mar-20 Sep 2024":
            "/api/v1/reports/export.csv?group_by=cohort,month&from=2024-03-15&to=2024-09-20",
    }.items():
        if not args.export_runs or args.only not in (None, "exports"):
            break
        if wanted and name not in wanted:
            continue
        with BackendCpu(args.database_url) as server:
            own = own_cpu_seconds()
            results["exports"][name] = timed(call(path), args.export_runs, warmup=0)  # the largest takes seconds
            own = own_cpu_seconds() - own
        figures = results["exports"][name]
        figures["cpu_ms_per_run"] = {"python": round(own * 1000 / args.export_runs, 1),
                                     "postgresql": round(server.seconds * 1000 / args.export_runs, 1)}
        status, answer = answers[path]
        figures["status"], figures["answer"] = status, answer
        figures["load_average"] = os.getloadavg()[0]
        aim = "  (aim: under 1,000 ms)" if "cohort and month" in name else ""
        said = f"422, suggests {','.join(answer)}" if status == 422 else f"{answer} rows" if answer is not None else ""
        print(f"export {name:44s} median {figures['median_ms']:9.1f} ms  CPU per run: Python "
              f"{figures['cpu_ms_per_run']['python']:.0f} ms, PostgreSQL {figures['cpu_ms_per_run']['postgresql']:.0f} ms"
              f"{aim}  [{said}]  load {os.getloadavg()[0]:.1f}")
    results["load_average_before"], results["load_average_after"] = load_before, os.getloadavg()
    results["rss_mb"] = peak_rss()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2))
    print(f"written {args.output}")


class BackendCpu:
    """CPU seconds of the PostgreSQL backends of one database (/proc), read at the start and at the
    end: exact for the app's pooled connections, which live through the whole measurement (``ServerCpu``
    samples every half second and misses the end of a run shorter than that)."""

    def __init__(self, url: str) -> None:
        self.url, self.database = url, url.rsplit("/", 1)[1]
        self.seconds = 0.0

    def _sample(self) -> dict[int, float]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            pids = [pid for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,))]
        return {pid: cpu for pid in pids if (cpu := ServerCpu._cpu(pid)) is not None}

    def __enter__(self) -> BackendCpu:
        self.first = self._sample()
        return self

    def __exit__(self, *exc) -> None:
        last = self._sample()
        self.seconds = sum(value - self.first[pid] for pid, value in last.items() if pid in self.first)


# Periods that are not a whole year or month (the cells cannot answer them): a short one and a long one.
UNALIGNED = {"short (2024-03-15..2024-09-20)": ("2024-03-15", "2024-09-20"),
             "long (2017-03-15..2024-09-20)": ("2017-03-15", "2024-09-20")}
AIM_MS = 50


def unaligned(app, call, args, biggest: str, get_json=None) -> dict:
    """The summary for unaligned periods, for each filter combination API.md allows (one of each
    dimension, and pairs), beside the 50 ms aim and the plainest exact SQL's headline (one
    ``COUNT(DISTINCT user_id)`` over the enrolments of the period and filters: the floor any exact
    answer from the raw rows needs). CPU per call (this process, and the PostgreSQL backends) is
    recorded too: the machine is shared, and wall time is noisy."""
    from sqlalchemy import text

    from learning.extensions import db

    with app.app_context():
        course_id, slug = db.session.execute(text(
            "SELECT c.id, c.slug FROM courses c JOIN enrolments e ON e.course_id = c.id "
            "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1")).one()
        organisation = db.session.scalar(text(
            "SELECT organisation_id FROM enrolments WHERE organisation_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"))
        cohort = db.session.scalar(text(
            "SELECT cohort_id FROM enrolments WHERE cohort_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"))
        db.session.remove()
    # (query string, SQL condition on enrolments e)
    filters = {
        "no filter": ("", "TRUE"),
        f"country={biggest}": (f"&country={biggest}", f"e.country = '{biggest}'"),
        "sector=justice": ("&sector=justice", "e.sector = 'justice'"),
        f"course={slug}": (f"&course={slug}", f"e.course_id = {course_id}"),
        f"organisation={organisation}": (f"&organisation={organisation}", f"e.organisation_id = {organisation}"),
        f"cohort={cohort}": (f"&cohort={cohort}", f"e.cohort_id = {cohort}"),
        f"country={biggest}, sector=justice": (f"&country={biggest}&sector=justice",
                                               f"e.country = '{biggest}' AND e.sector = 'justice'"),
        f"country={biggest}, course={slug}": (f"&country={biggest}&course={slug}",
                                             f"e.country = '{biggest}' AND e.course_id = {course_id}"),
    }
    results: dict = {}
    print(f"summary for a period that is not a whole year or month (aim: median under {AIM_MS} ms)")
    with app.app_context():
        connection = db.engine.connect()
        for period_name, (start, end) in UNALIGNED.items():
            if args.periods and period_name.split()[0] not in args.periods.split(","):
                continue
            for filter_name, (query, condition) in filters.items():
                path = f"/api/v1/reports/summary?from={start}&to={end}{query}"
                call(path)()  # warm-up outside the CPU window (it opens the pool's connection)
                if args.check_exact and app.extensions.get("period_index") is not None:
                    check_exact(app, get_json, path)
                with BackendCpu(args.database_url) as server:
                    own = own_cpu_seconds()
                    endpoint = timed(call(path), args.unaligned_runs, warmup=0)
                    own = own_cpu_seconds() - own
                floor = timed(lambda c=condition, s=start, e=end: connection.execute(text(
                    "SELECT count(DISTINCT user_id) FROM enrolments e WHERE " + c +
                    f" AND e.enrolled_at >= '{s}T00:00:00Z' AND e.enrolled_at < date '{e}' + 1")).all(),
                    args.plain_runs, warmup=0)
                cpu = {"python": round(own * 1000 / args.unaligned_runs, 1),
                       "postgresql": round(server.seconds * 1000 / args.unaligned_runs, 1)}
                results[f"{period_name}, {filter_name}"] = {"endpoint": endpoint, "cpu_ms_per_call": cpu,
                                                            "plain_sql_headline_only": floor, "aim_ms": AIM_MS}
                print(f"  {period_name:31s} {filter_name:34s} median {endpoint['median_ms']:8.1f} ms "
                      f"p95 {endpoint['p95_ms']:8.1f} ms  CPU/call: Python {cpu['python']:5.0f} ms, PostgreSQL "
                      f"{cpu['postgresql']:5.0f} ms | aim {AIM_MS} ms | plain SQL headline {floor['median_ms']:7.1f} ms"
                      f"  load {os.getloadavg()[0]:.1f}")
        connection.close()
        db.session.remove()
    return results


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory now (``VmHWM``: its peak so far), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def build_period_index(app) -> dict:
    """Build the process's period index now (as the first unaligned summary would), timed, with the
    process's RSS before and after, and the size of what it holds."""
    index = app.extensions.get("period_index")
    if index is None:
        return {}
    before, cpu = rss_mb(), own_cpu_seconds()
    started = time.perf_counter()
    index.reset()
    with index.lock:
        index.state = index._build()  # as the first request would (it gives the freed heap back too)
    seconds, cpu = time.perf_counter() - started, own_cpu_seconds() - cpu
    state = index.state
    figures = {"build_s": round(seconds, 2), "build_cpu_s": round(cpu, 2), "rss_before_mb": before,
               "rss_after_mb": rss_mb(), "rss_peak_mb": rss_mb("VmHWM"), "facts": int(len(state.base["user"])),
               "first_facts_mb": round(state.firsts.nbytes() / 2**20, 1),
               "row_orders_mb": round(sum(order.nbytes + starts.nbytes for order, starts in state.row_orders.values())
                                      / 2**20, 1),
               "column_bytes_mb": round(sum(a.nbytes for a in state.base.values()) / 2**20, 1),
               "load": os.getloadavg()[0]}
    print(f"period index: built in {figures['build_s']} s (CPU {figures['build_cpu_s']} s), {figures['facts']:,} facts, "
          f"first facts {figures['first_facts_mb']} MB, row orders {figures['row_orders_mb']} MB, "
          f"columns {figures['column_bytes_mb']} MB; "
          f"RSS {before} -> {figures['rss_after_mb']} MB (peak {figures['rss_peak_mb']} MB)  load {figures['load']:.1f}")
    return figures


def check_exact(app, get_json, path: str) -> None:
    """The same summary through the facts path (the index set aside): it must be identical."""
    index = app.extensions.pop("period_index")
    try:
        facts = get_json(path)
    finally:
        app.extensions["period_index"] = index
    assert facts == get_json(path), f"the index and the facts differ for {path}"
    print(f"  identical to the facts path: {path}")


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def logging_off() -> None:
    import logging

    logging.getLogger().setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
