"""Seed PostgreSQL at ten times the organisation's scale, fast, with COPY.

1,000,000 enrolments of 250,000 professionals in 150 countries, 11 sectors,
40 courses, 8,000 cohorts and 3,000 organisations over ten years; about 60 %
completed, each completion with its certificate. Rows go in with psycopg 3's
``COPY ... FROM STDIN`` (no row-by-row INSERT), then the reporting rollup is
rebuilt once from them, as ``flask reports rebuild`` would after a bulk load.

    .venv/bin/python bench/seed_scale.py [--database-url postgresql://postgres@127.0.0.1:5432/learning_bench_reporting]
    .venv/bin/python bench/seed_scale.py --skip-rebuild      # the load alone

How it stays fast (see ``bench/bulk_load.py``): the tables are loaded bare (their
indexes, keys and foreign keys dropped, then rebuilt once and checked against
the migrated schema); rows are formatted as COPY text from precomputed strings
and written in large blocks; enrolments and certificates stream on two
connections at once, each through a writer thread, so that formatting in Python
and parsing in PostgreSQL overlap; the tables are truncated and filled in the
same transaction (``COPY ... FREEZE``), so the final VACUUM has nothing to do.

The database is wiped first; its name must contain "bench" or "scale".
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import random
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pycountry
from psycopg.copy import QueuedLibpqWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bulk_load import SESSION, restore, schema_snapshot, strip  # noqa: E402
from bench.common import ServerCpu, own_cpu_seconds, peak_rss, write_result  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/learning_bench_reporting"
SECTORS = ["law_enforcement", "justice", "education", "health", "social_services", "financial", "technology",
           "government", "civil_society", "academia", "other"]
ADMIN_EMAIL = "bench-admin@example.org"
ADMIN_PASSWORD = "bench-admin-password-42"
TABLES = ["organisations", "courses", "course_translations", "users", "cohorts", "enrolments", "certificates"]
COURSES, ORGANISATIONS, COHORTS = 40, 3000, 8000
FIRST_DAY, DAYS = date(2016, 1, 1), 3650  # enrolments over ten years
BLOCK = 2000  # people per block of COPY text (about 8,000 enrolments, 0.5 MB)


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if "bench" not in name and "scale" not in name:
        raise SystemExit(f"refusing to wipe {name!r}: the database name must contain 'bench' or 'scale'")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def migrated_app(url: str):
    """The app on a freshly migrated bench database."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from learning import create_app
    from learning.config import load_config
    from learning.extensions import db

    config = load_config({**os.environ, "DATABASE_URL": url, "OUTBOX_PUBLISH": "false"})
    app = create_app(config)
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        db.session.remove()
        db.engine.dispose()
    return app


def copy_into(cur: psycopg.Cursor, table: str, columns: str):
    """A COPY into a table truncated in this transaction, written from a thread while the caller formats."""
    cur.execute(f"TRUNCATE {table}")
    return cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FREEZE)", writer=QueuedLibpqWriter(cur))


def timestamps(now: datetime) -> tuple[list[str], list[str], str, str]:
    """COPY text for every day of the period (and the 120 after), every minute of a day, and now."""
    days = [f"{FIRST_DAY + timedelta(days=d)} " for d in range(DAYS + 122)]
    clock = [f"{m // 60:02d}:{m % 60:02d}:00+00" for m in range(1440)]
    return days, clock, now.strftime("%Y-%m-%d %H:%M:%S+00"), (now + timedelta(minutes=5)).strftime(
        "%Y-%m-%d %H:%M:%S+00")


def seed(url: str, people: int, enrolments: int, countries: int, seed_value: int, processes: int) -> dict:
    rng = random.Random(seed_value)
    rand = rng.random
    codes = [c.alpha_2 for c in pycountry.countries][:countries]
    # A long tail, as in real programmes: a few countries hold most learners.
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(codes))]
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S+00")
    timings: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        migrated = schema_snapshot(conn)
        started = time.perf_counter()
        stripped = strip(conn, TABLES)
        timings["drop_indexes_and_constraints_s"] = time.perf_counter() - started

    started = time.perf_counter()
    with ExitStack() as stack:
        # Enrolments on one connection, certificates on the other: two server processes parse at once.
        main, second = (stack.enter_context(psycopg.connect(url)) for _ in range(2))
        for conn in (main, second):
            for statement in SESSION:
                conn.execute(statement)
        cur = main.cursor()
        with copy_into(cur, "organisations", "id, name, country, sector, created_at") as copy:
            org_countries = rng.choices(codes, weights, k=ORGANISATIONS)
            copy.write("".join(f"{i}\tOrganisation {i}\t{org_countries[i - 1]}\t{SECTORS[int(rand() * 11)]}\t{stamp}\n"
                               for i in range(1, ORGANISATIONS + 1)))
        with copy_into(cur, "courses", "id, slug, language, status, pass_mark, sectors, created_at") as copy:
            copy.write("".join(f"{i}\tcourse-{i}\ten\tpublished\t80\t[]\t{stamp}\n" for i in range(1, COURSES + 1)))
        with copy_into(cur, "course_translations", "id, course_id, language, title, summary") as copy:
            copy.write("".join(f"{i}\t{i}\ten\tCourse {i}\tA course.\n" for i in range(1, COURSES + 1)))
        user_country = [""] + rng.choices(codes, weights, k=people)
        user_sector = [""] + [SECTORS[int(rand() * 11)] for _ in range(people)]
        user_org = [""] + [str(1 + int(rand() * ORGANISATIONS)) if rand() < 0.7 else "\\N" for _ in range(people)]
        # cohorts_in[country][course]: the cohorts of that course taught in that country.
        cohorts_in: dict[str, list[list[int]]] = {code: [[] for _ in range(COURSES + 1)] for code in codes}
        cohort_rows = []
        for i, country in enumerate(rng.choices(codes, weights, k=COHORTS), start=1):
            course = 1 + int(rand() * COURSES)
            cohorts_in[country][course].append(i)
            cohort_rows.append(f"{i}\t{course}\tCohort {i}\t{country}\tin_person\t2020-01-01\t2020-02-01\topen\t"
                               f"none\t{stamp}\n")
        counts = courses_per_person(rng, people, enrolments)
        # What the worker processes read (inherited when they fork, never sent).
        _SHARED.update(user_country=user_country, user_sector=user_sector, user_org=user_org, cohorts_in=cohorts_in,
                       counts=counts, now=now, stamp=stamp, seed=seed_value)
        pool = stack.enter_context(multiprocessing.get_context("fork").Pool(processes))
        with copy_into(cur, "users", "id, email, full_name, country, sector, language, timezone, organisation_id, "
                                     "active, reminders_enabled, created_at, session_version") as copy:
            for text in pool.imap(user_block, range(1, people + 1, 10 * BLOCK)):
                copy.write(text)
            copy.write(f"{people + 1}\t{ADMIN_EMAIL}\tBench Admin\tGB\tother\ten\tUTC\t\\N\tt\tt\t{stamp}\t1\n")
        with copy_into(cur, "cohorts", "id, course_id, name, country, delivery, starts_on, ends_on, status, "
                                       "attendance_rule, created_at") as copy:
            copy.write("".join(cohort_rows))
        timings["copy_reference_rows_s"] = time.perf_counter() - started

        started = time.perf_counter()
        # Each block of people starts at the enrolment id after the previous block's: the processes
        # format blocks independently, and this process writes them in order.
        starts, first_id = [], 1
        for first in range(1, people + 1, BLOCK):
            starts.append((first, first_id))
            first_id += sum(counts[first:first + BLOCK])
        blocks = pool.imap(enrolment_block, starts)
        totals = {"enrolments": 0, "certificates": 0}
        formatting = 0.0
        with copy_into(cur, "enrolments", "id, course_id, cohort_id, status, enrolled_at, completed_at, user_id, "
                                          "country, sector, organisation_id, language") as enrolments_copy, \
                copy_into(second.cursor(), "certificates", "id, code, enrolment_id, course_id, course_title, "
                                                          "course_language, user_id, holder_name, issued_at") \
                as certificates_copy:
            while True:
                block_started = time.perf_counter()
                block = next(blocks, None)
                formatting += time.perf_counter() - block_started
                if block is None:
                    break
                enrolments_text, certificates_text, last_enrolment, certificates = block
                totals["enrolments"] = last_enrolment
                totals["certificates"] += certificates
                enrolments_copy.write(enrolments_text)  # returns at once: a thread sends it
                certificates_copy.write(certificates_text)
            timings["waiting_for_formatted_rows_s"] = formatting
            drain_started = time.perf_counter()
        timings["wait_for_copy_after_formatting_s"] = time.perf_counter() - drain_started
        second.commit()  # first: its TRUNCATE locks certificates until then
        for table in TABLES:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        main.commit()
        timings["copy_enrolments_and_certificates_s"] = time.perf_counter() - started

    sizes = {**totals, "users": people, "cohorts": COHORTS, "organisations": ORGANISATIONS}
    timings.update(restore(url, stripped, sizes))
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - started
        restored = schema_snapshot(conn)
    check_schema(migrated, restored)
    return {"people": people, **totals,
            "countries": len(codes), "cohorts": COHORTS, "organisations": ORGANISATIONS,
            "indexes_restored": len(stripped.indexes),
            "constraints_restored": len(stripped.keys) + len(stripped.foreign_keys), **timings}


_SHARED: dict = {}  # set by seed() before the pool forks


def user_block(first: int) -> str:
    """COPY text of ``10 * BLOCK`` people from ``first`` (in a worker process)."""
    country, sector, org, stamp = (_SHARED[k] for k in ("user_country", "user_sector", "user_org", "stamp"))
    last = min(len(country) - 1, first + 10 * BLOCK - 1)
    return "".join(f"{i}\tp{i}@bench.example.org\tPerson {i}\t{country[i]}\t{sector[i]}\ten\tUTC\t"
                   f"{org[i]}\tt\tt\t{stamp}\t1\n" for i in range(first, last + 1))


@functools.cache
def _clock() -> tuple:
    """Every day of the period (and the 120 after) and every minute of a day as COPY text, once per process."""
    now = _SHARED["now"]
    return (*timestamps(now), (now.date() - FIRST_DAY).days * 1440 + now.hour * 60 + now.minute)


def enrolment_block(start: tuple[int, int]) -> tuple[str, str, int, int]:
    """COPY text of the enrolments and certificates of ``BLOCK`` people (in a worker process), the
    last enrolment id and the number of certificates.

    Each person takes ``counts[person]`` different courses, enrolled at a uniform minute of the ten
    years, with a snapshot of their country, sector and organisation; 60 % complete 1 to 119 days
    later and get their certificate five minutes after (its id is the enrolment's, so that blocks
    need no shared counter); half of the rest are active, half withdrew; half of the enrolments are
    in a cohort of the course in the person's country, when it has one. Every value is cut from
    precomputed strings: no datetime objects, no per-row adaptation. Each block draws from its own
    generator, seeded by the run's seed and the block's first person: the data do not depend on the
    number of processes.
    """
    first, enrolment_id = start
    user_country, user_sector, user_org, cohorts_in, counts = (
        _SHARED[k] for k in ("user_country", "user_sector", "user_org", "cohorts_in", "counts"))
    rng = random.Random(_SHARED["seed"] * 1_000_003 + first)
    rand, sample = rng.random, rng.sample
    days, clock, now_text, now_plus_5, last_minute = _clock()
    course_ids = list(range(1, COURSES + 1))
    course_cert = [""] + [f"{c}\tCourse {c}\ten" for c in course_ids]
    people = len(counts) - 1
    enrolment_id -= 1
    rows, certificates = [], []
    for user in range(first, min(people, first + BLOCK - 1) + 1):
        country = user_country[user]
        tail = f"{user}\t{country}\t{user_sector[user]}\t{user_org[user]}\ten\n"
        holder = f"{user}\tPerson {user}\t"
        in_country = cohorts_in[country]
        for course in sample(course_ids, counts[user]):
            enrolment_id += 1
            minute = int(rand() * DAYS * 1440)
            enrolled = days[minute // 1440] + clock[minute % 1440]
            if rand() < 0.6:
                done = minute + (1 + int(rand() * 119)) * 1440
                if done > last_minute:
                    completed, issued = now_text, now_plus_5
                else:
                    completed = days[done // 1440] + clock[done % 1440]
                    issue = done + 5
                    issued = days[issue // 1440] + clock[issue % 1440]
                status = "completed"
                certificates.append(f"{enrolment_id}\tB{enrolment_id:015d}\t{enrolment_id}\t"
                                    f"{course_cert[course]}\t{holder}{issued}\n")
            else:
                completed, status = "\\N", "active" if rand() < 0.5 else "withdrawn"
            ids = in_country[course]
            cohort = ids[int(rand() * len(ids))] if ids and rand() < 0.5 else "\\N"
            rows.append(f"{enrolment_id}\t{course}\t{cohort}\t{status}\t{enrolled}\t{completed}\t{tail}")
    return "".join(rows), "".join(certificates), enrolment_id, len(certificates)


def courses_per_person(rng: random.Random, people: int, enrolments: int) -> list[int]:
    """How many of the 40 courses each person took: about the mean, exactly ``enrolments`` in all."""
    per_person = enrolments / people
    counts = [min(COURSES, max(1, round(rng.gauss(per_person, 1.2)))) for _ in range(people + 1)]
    counts[0] = 0
    gap = enrolments - sum(counts)
    while gap:
        user, step = rng.randrange(1, people + 1), (1 if gap > 0 else -1)
        if 1 <= counts[user] + step <= COURSES:
            counts[user] += step
            gap -= step
    return counts


def check_schema(migrated: dict[str, set[tuple]], restored: dict[str, set[tuple]]) -> None:
    """Fail loudly unless every index and constraint is back exactly as the migrations made it."""
    for kind in ("indexes", "constraints"):
        missing, extra = migrated[kind] - restored[kind], restored[kind] - migrated[kind]
        if missing or extra:
            raise SystemExit(f"schema differs from the migrated one after the load: {kind} missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
    print(f"schema identical to the migrated one: {len(restored['indexes'])} indexes, "
          f"{len(restored['constraints'])} constraints", file=sys.stderr)


class SummaryProbe(threading.Thread):
    """Asks for the summary (``services.summary``, what the endpoint calls) every 0.2 s from its own
    connection while a rebuild runs; records how long each answer took."""

    def __init__(self, app) -> None:
        super().__init__(daemon=True)
        self.app, self.samples, self.done, self.errors = app, [], threading.Event(), []

    def run(self) -> None:
        from learning.extensions import db
        from learning.reporting import services
        from learning.reporting.queries import ReportFilter

        with self.app.app_context():
            while not self.done.is_set():
                started = time.perf_counter()
                try:
                    services.summary(ReportFilter())
                except Exception as error:  # noqa: BLE001 - counted, reported with the figures
                    self.errors.append(repr(error)[:200])
                finally:
                    db.session.rollback()
                self.samples.append((time.perf_counter() - started) * 1000)
                self.done.wait(0.2)
            db.session.remove()

    def stop(self) -> dict:
        self.done.set()
        self.join()
        ordered = sorted(self.samples)
        pick = (lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)) if ordered else (
            lambda q: None)
        return {"answers": len(ordered), "errors": len(self.errors), "first_errors": self.errors[:3],
                "median_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": ordered[-1] if ordered else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--people", type=int, default=250_000)
    parser.add_argument("--enrolments", type=int, default=1_000_000)
    parser.add_argument("--countries", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                        help="processes formatting the rows (the data do not depend on it)")
    parser.add_argument("--workers", type=int, default=2, help="connections rebuilding the rollup at once")
    parser.add_argument("--rebuilds", type=int, default=2, choices=(1, 2),
                        help="2: build the rollup, then time a rebuild while it is in use (1: only the first)")
    parser.add_argument("--output", default="seed_scale", help="name of the results file in bench/results/")
    parser.add_argument("--skip-rebuild", action="store_true",
                        help="load the rows only, without rebuilding the statistics rollup (to time the load)")
    args = parser.parse_args()

    load_before = os.getloadavg()
    started = time.perf_counter()
    ensure_database(args.database_url)
    app = migrated_app(args.database_url)
    counts = {"migrate_s": time.perf_counter() - started}
    database = args.database_url.rsplit("/", 1)[1]
    python_cpu = own_cpu_seconds()
    with ServerCpu(args.database_url, database) as server_cpu:
        counts.update(seed(args.database_url, args.people, args.enrolments, args.countries, args.seed,
                           args.processes))
    # CPU seconds are what the machine's load does not inflate: on an idle 2-core machine the wall
    # time is about the larger of (Python + PostgreSQL) / 2 and the longest single-process part.
    counts["seed_cpu_s"] = {"postgresql": server_cpu.seconds, "python": round(own_cpu_seconds() - python_cpu, 1)}

    from learning.accounts.passwords import hash_password
    from learning.extensions import db
    from learning.reporting.rebuild import rebuild_aside

    with app.app_context():
        from learning.accounts.models import User, UserRole

        admin = db.session.query(User).filter_by(email=ADMIN_EMAIL).one()
        admin.password_hash = hash_password(ADMIN_PASSWORD)
        admin.role_rows = [UserRole(role="admin")]
        db.session.commit()
        counts["seed_total_s"] = time.perf_counter() - started
        if not args.skip_rebuild:
            # Twice: the first builds the rollup from nothing (the live tables are empty); the second
            # is the one that matters, a rebuild while the statistics are in use, with a probe asking
            # for the summary all along, as a dashboard would.
            say = lambda line: print(line, file=sys.stderr)  # noqa: E731
            if args.rebuilds > 1:
                first = rebuild_aside(db.engine, workers=args.workers, log=say)
                counts["rollup_first_build_s"] = sum(v for k, v in first.items() if k.endswith("_s"))
            probe = SummaryProbe(app)
            probe.start()
            rebuild_started = time.perf_counter()
            with ServerCpu(args.database_url, database) as server_cpu:
                rollup = rebuild_aside(db.engine, workers=args.workers, log=say)
            counts["rollup_rebuild_s"] = time.perf_counter() - rebuild_started
            counts["rollup_rebuild_cpu_s"] = {"postgresql": server_cpu.seconds}
            counts["summary_during_rebuild"] = probe.stop()
            counts.update({f"rollup_{k}": v for k, v in rollup.items()})
        db.session.remove()
    counts = {k: round(v, 2) if isinstance(v, float) else v for k, v in counts.items()}
    print(json.dumps(counts, indent=2))
    counts["rss_mb"] = peak_rss()
    path = write_result(args.output, {"skip_rebuild": args.skip_rebuild, "load_average_before": load_before,
                                       "load_average_after": os.getloadavg(), **counts})
    print(f"written {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
