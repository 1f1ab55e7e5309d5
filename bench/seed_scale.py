"""Seed PostgreSQL at ten times the organisation's scale, fast, with COPY.

1,000,000 enrolments of 250,000 professionals in 150 countries, 11 sectors,
40 courses, 8,000 cohorts and 3,000 organisations over ten years; about 60 %
completed, each completion with its certificate. Rows go in with psycopg 3's
``COPY ... FROM STDIN`` (no row-by-row INSERT), then the reporting rollup is
rebuilt once from them, as ``flask reports rebuild`` would after a bulk load.

    .venv/bin/python bench/seed_scale.py [--database-url postgresql://postgres@127.0.0.1:5432/learning_bench_reporting]
    .venv/bin/python bench/seed_scale.py --skip-rebuild      # the load alone

How it stays fast (see ``bench/bulk_load.py`` and ``bench/pgcopy.py``): the tables are loaded bare
(their indexes, keys and foreign keys dropped, then rebuilt once and checked against the migrated
schema); the rows are drawn as whole numpy columns (a block of 25,000 people at a time, each block
with its own generator seeded by the run's seed and its first person, in this process or in forked ones) and sent
in PostgreSQL's binary COPY format, so that neither Python formats nor PostgreSQL parses text;
enrolments and certificates stream on two connections at once, each through a writer thread; the
tables are truncated and filled in the same transaction (``COPY ... FREEZE``), so the final VACUUM
has nothing to do.

The database is wiped first; its name must contain "bench" or "scale".
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pycountry
from psycopg.copy import QueuedLibpqWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import pgcopy  # noqa: E402
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
BLOCK = 25_000  # people per block of binary COPY rows (about 100,000 enrolments, 11 MB)


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


def copy_into(cur: psycopg.Cursor, table: str, columns: str, binary: bool = False):
    """A COPY into a table truncated in this transaction, written from a thread while the caller
    generates the next rows."""
    cur.execute(f"TRUNCATE {table}")
    options = "FREEZE, FORMAT binary" if binary else "FREEZE"
    return cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH ({options})", writer=QueuedLibpqWriter(cur))


@contextmanager
def binary_copy_into(cur: psycopg.Cursor, table: str, columns: str):
    """``copy_into`` in PostgreSQL's binary format: the caller writes ``pgcopy.rows()``."""
    with copy_into(cur, table, columns, binary=True) as copy:
        copy.write(pgcopy.SIGNATURE)
        yield copy
        copy.write(pgcopy.TRAILER)


def microseconds(moment: datetime) -> int:
    """A UTC time as PostgreSQL's binary timestamp (microseconds since 2000-01-01)."""
    return (moment - pgcopy.EPOCH) // timedelta(microseconds=1)


@dataclass
class Reference:
    """What every block of enrolments reads: the people's attributes (index: the person's id; 0 is
    nobody), the cohorts of each (country, course), the clock."""

    seed: int
    codes: list[str]
    country: np.ndarray  # index into ``codes``
    sector: np.ndarray  # index into SECTORS
    organisation: np.ndarray  # organisation id, 0 for none
    courses: np.ndarray  # how many courses each person took
    cohort_ids: np.ndarray  # cohort ids ordered by (country, course)
    cohort_first: np.ndarray  # per key country * (COURSES + 1) + course: first position in cohort_ids
    cohort_count: np.ndarray  # ... and how many
    first_day_us: int  # FIRST_DAY at midnight UTC
    now_us: int  # now, to the second
    last_minute: int  # now, in minutes since FIRST_DAY


def seed(url: str, people: int, enrolments: int, countries: int, seed_value: int, processes: int = 1,
         server_cpu: ServerCpu | None = None) -> dict:
    rng = np.random.default_rng([seed_value, 0])  # the reference rows; each block has its own generator
    codes = [c.alpha_2 for c in pycountry.countries][:countries]
    # A long tail, as in real programmes: a few countries hold most learners.
    weights = np.array([1 / (rank + 1) ** 0.9 for rank in range(len(codes))])
    weights /= weights.sum()
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S+00")
    timings: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}  # CPU seconds per phase: PostgreSQL's backends, this process
    last = [server_cpu.so_far() if server_cpu else 0.0, own_cpu_seconds()]

    def mark(phase: str) -> None:
        now_cpu = [server_cpu.so_far() if server_cpu else 0.0, own_cpu_seconds()]
        cpu[phase] = {"postgresql": round(now_cpu[0] - last[0], 1), "python": round(now_cpu[1] - last[1], 1)}
        last[:] = now_cpu

    with psycopg.connect(url, autocommit=True) as conn:
        migrated = schema_snapshot(conn)
        started = time.perf_counter()
        stripped = strip(conn, TABLES)
        timings["drop_indexes_and_constraints_s"] = time.perf_counter() - started

    started = time.perf_counter()
    with ExitStack() as stack:
        # Enrolments on one connection, certificates on the other: two server processes take rows at once.
        main, second = (stack.enter_context(psycopg.connect(url)) for _ in range(2))
        for conn in (main, second):
            for statement in SESSION:
                conn.execute(statement)
        cur = main.cursor()
        org_country = rng.choice(len(codes), ORGANISATIONS, p=weights)
        org_sector = rng.integers(0, len(SECTORS), ORGANISATIONS)
        with copy_into(cur, "organisations", "id, name, country, sector, created_at") as copy:
            copy.write("".join(f"{i}\tOrganisation {i}\t{codes[org_country[i - 1]]}\t{SECTORS[org_sector[i - 1]]}"
                               f"\t{stamp}\n" for i in range(1, ORGANISATIONS + 1)))
        with copy_into(cur, "courses", "id, slug, language, status, pass_mark, sectors, created_at") as copy:
            copy.write("".join(f"{i}\tcourse-{i}\ten\tpublished\t80\t[]\t{stamp}\n" for i in range(1, COURSES + 1)))
        with copy_into(cur, "course_translations", "id, course_id, language, title, summary") as copy:
            copy.write("".join(f"{i}\t{i}\ten\tCourse {i}\tA course.\n" for i in range(1, COURSES + 1)))
        user_country = rng.choice(len(codes), people + 1, p=weights)
        user_sector = rng.integers(0, len(SECTORS), people + 1)
        user_org = np.where(rng.random(people + 1) < 0.7, rng.integers(1, ORGANISATIONS + 1, people + 1), 0)
        cohort_country = rng.choice(len(codes), COHORTS, p=weights)
        cohort_course = rng.integers(1, COURSES + 1, COHORTS)
        with copy_into(cur, "cohorts", "id, course_id, name, country, delivery, starts_on, ends_on, status, "
                                       "attendance_rule, created_at") as copy:
            copy.write("".join(f"{i}\t{cohort_course[i - 1]}\tCohort {i}\t{codes[cohort_country[i - 1]]}\tin_person\t"
                               f"2020-01-01\t2020-02-01\topen\tnone\t{stamp}\n" for i in range(1, COHORTS + 1)))
        # The cohorts of each (country, course), as one array ordered by that key.
        key = cohort_country * (COURSES + 1) + cohort_course
        order = np.argsort(key, kind="stable")
        keys = len(codes) * (COURSES + 1)
        reference = Reference(
            seed=seed_value, codes=codes, country=user_country, sector=user_sector, organisation=user_org,
            courses=courses_per_person(rng, people, enrolments), cohort_ids=order + 1,
            cohort_first=np.searchsorted(key[order], np.arange(keys)), cohort_count=np.bincount(key, minlength=keys),
            first_day_us=microseconds(datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC)),
            now_us=microseconds(now), last_minute=(now.date() - FIRST_DAY).days * 1440 + now.hour * 60 + now.minute)
        # What the generating processes read (inherited when they fork, never sent). One process (the
        # default) draws them here: on 2 cores, more processes cost more CPU (every block pickled and
        # sent through a pipe) than the rows take to draw, and the COPY's backends need the cores too.
        _SHARED[:] = [reference]
        pool = stack.enter_context(multiprocessing.get_context("fork").Pool(processes)) if processes > 1 else None
        imap = pool.imap if pool else map
        with binary_copy_into(cur, "users", USER_COLUMNS) as copy:
            for rows in imap(_user_job, [(first, min(people + 1, first + 10 * BLOCK), microseconds(now))
                                              for first in range(1, people + 1, 10 * BLOCK)]):
                copy.write(rows)
            copy.write(pgcopy.rows(1, [
                pgcopy.int4(np.array([people + 1])), pgcopy.constant("GB"), pgcopy.constant("en"),
                pgcopy.constant("UTC"), pgcopy.constant(True, "bool"), pgcopy.constant(True, "bool"),
                pgcopy.timestamp(np.array([microseconds(now)])), pgcopy.constant(1, "int4"),
                pgcopy.constant(ADMIN_EMAIL), pgcopy.constant("Bench Admin"), pgcopy.constant("other"),
                pgcopy.int4(np.zeros(1), null=np.ones(1, dtype=bool))]))
        timings["copy_reference_rows_s"] = time.perf_counter() - started
        mark("reference_rows")

        started = time.perf_counter()
        totals = {"enrolments": 0, "certificates": 0}
        generating = 0.0
        # Each block of people starts at the enrolment id after the previous block's: the processes
        # draw blocks independently, and this process writes them in order.
        before = np.cumsum(reference.courses)  # enrolments of the people up to each one
        blocks = imap(_enrolment_job, [(first, min(people + 1, first + BLOCK), int(before[first - 1]) + 1)
                                            for first in range(1, people + 1, BLOCK)])
        with binary_copy_into(cur, "enrolments", ENROLMENT_COLUMNS) as enrolments_copy, \
                binary_copy_into(second.cursor(), "certificates", CERTIFICATE_COLUMNS) as certificates_copy:
            while True:
                block_started = time.perf_counter()
                block = next(blocks, None)
                generating += time.perf_counter() - block_started
                if block is None:
                    break
                enrolment_rows, certificate_rows, count, certified = block
                enrolments_copy.write(enrolment_rows)  # returns at once: a thread sends it
                certificates_copy.write(certificate_rows)
                totals["enrolments"] += count
                totals["certificates"] += certified
            timings["generating_rows_s"] = generating
            if pool:
                pool.close()
                pool.join()  # so that their CPU seconds count in this phase
            drain_started = time.perf_counter()
        timings["wait_for_copy_after_generating_s"] = time.perf_counter() - drain_started
        second.commit()  # first: its TRUNCATE locks certificates until then
        for table in TABLES:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        main.commit()
        timings["copy_enrolments_and_certificates_s"] = time.perf_counter() - started
        mark("enrolments_and_certificates")

    sizes = {**totals, "users": people, "cohorts": COHORTS, "organisations": ORGANISATIONS}
    timings.update(restore(url, stripped, sizes, mark))
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - started
        restored = schema_snapshot(conn)
    time.sleep(server_cpu.interval if server_cpu else 0)  # one more sample of the backends
    mark("vacuum_analyze")
    check_schema(migrated, restored)
    return {"people": people, **totals,
            "countries": len(codes), "cohorts": COHORTS, "organisations": ORGANISATIONS,
            "indexes_restored": len(stripped.indexes),
            "constraints_restored": len(stripped.keys) + len(stripped.foreign_keys), **timings, "cpu_s_by_phase": cpu}


# The columns of each binary COPY: those of a fixed width first (one scatter per row for all of them).
USER_COLUMNS = ("id, country, language, timezone, active, reminders_enabled, created_at, session_version, email, "
                "full_name, sector, organisation_id")
ENROLMENT_COLUMNS = ("id, user_id, course_id, enrolled_at, country, language, status, cohort_id, completed_at, "
                     "sector, organisation_id")
CERTIFICATE_COLUMNS = ("id, enrolment_id, user_id, course_id, code, course_language, issued_at, course_title, "
                       "holder_name")
STATUSES = ["active", "completed", "withdrawn"]


_SHARED: list = []  # [the Reference], set by seed() before the pool forks


def _user_job(block: tuple[int, int, int]) -> bytes:
    return user_block(_SHARED[0], *block)


def _enrolment_job(block: tuple[int, int, int]) -> tuple[bytes, bytes, int, int]:
    return enrolment_block(_SHARED[0], *block)


def user_block(reference: Reference, first: int, stop: int, created_us: int) -> bytes:
    """The people ``first`` to ``stop - 1`` as binary COPY rows (``USER_COLUMNS``)."""
    ids = np.arange(first, stop)
    organisation = reference.organisation[first:stop]
    return pgcopy.rows(len(ids), [
        pgcopy.int4(ids), pgcopy.text(reference.country[first:stop], reference.codes), pgcopy.constant("en"),
        pgcopy.constant("UTC"), pgcopy.constant(True, "bool"), pgcopy.constant(True, "bool"),
        pgcopy.timestamp(np.full(len(ids), created_us)), pgcopy.constant(1, "int4"),
        pgcopy.numbered("p", ids, "@bench.example.org"), pgcopy.numbered("Person ", ids),
        pgcopy.text(reference.sector[first:stop], SECTORS), pgcopy.int4(organisation, null=organisation == 0)])


def enrolment_block(reference: Reference, first: int, stop: int, first_id: int) -> tuple[bytes, bytes, int, int]:
    """The enrolments and certificates of the people ``first`` to ``stop - 1`` as binary COPY rows
    (``ENROLMENT_COLUMNS``, ``CERTIFICATE_COLUMNS``), numbered from ``first_id``; and how many of each.

    Each person takes ``courses[person]`` different courses (a random order of the 40, cut), enrolled
    at a uniform minute of the ten years, with a snapshot of their country, sector and organisation;
    60 % complete 1 to 119 days later (at most now) and get their certificate five minutes after
    (its id is the enrolment's); half of the rest are active, half withdrew; half of the enrolments
    are in a cohort of the course in the person's country, when it has one. Whole columns are drawn
    at once (numpy), from a generator seeded by the run's seed and the block's first person: the
    data depend on the seed only.
    """
    rng = np.random.default_rng([reference.seed, 1, first])
    people = np.arange(first, stop)
    taken = reference.courses[first:stop]
    order = np.argsort(rng.random((len(people), COURSES)), axis=1) + 1
    course = order[np.arange(COURSES) < taken[:, None]]  # each person's courses, person after person
    user = np.repeat(people, taken)
    count = len(course)
    ids = first_id + np.arange(count)
    minute = rng.integers(0, DAYS * 1440, count)
    completed = rng.random(count) < 0.6
    done = minute + rng.integers(1, 120, count) * 1440
    withdrawn = rng.random(count) < 0.5
    in_cohort = rng.random(count) < 0.5
    pick = rng.random(count)
    country = reference.country[user]
    organisation = reference.organisation[user]
    enrolled_us = reference.first_day_us + minute * 60_000_000
    completed_us = np.where(done > reference.last_minute, reference.now_us, reference.first_day_us + done * 60_000_000)
    status = np.where(completed, 1, np.where(withdrawn, 2, 0))
    key = country * (COURSES + 1) + course
    size = reference.cohort_count[key]
    has_cohort = in_cohort & (size > 0)
    slot = np.where(has_cohort, reference.cohort_first[key] + np.minimum((pick * size).astype(np.int64), size - 1), 0)
    cohort = np.where(has_cohort, reference.cohort_ids[slot], 0)
    enrolment_rows = pgcopy.rows(count, [
        pgcopy.int4(ids), pgcopy.int4(user), pgcopy.int4(course), pgcopy.timestamp(enrolled_us),
        pgcopy.text(country, reference.codes), pgcopy.constant("en"), pgcopy.text(status, STATUSES),
        pgcopy.int4(cohort, null=~has_cohort), pgcopy.timestamp(completed_us, null=~completed),
        pgcopy.text(reference.sector[user], SECTORS), pgcopy.int4(organisation, null=organisation == 0)])
    certified = ids[completed]
    certificate_rows = pgcopy.rows(len(certified), [
        pgcopy.int4(certified), pgcopy.int4(certified), pgcopy.int4(user[completed]), pgcopy.int4(course[completed]),
        pgcopy.numbered("B", certified, digits=15), pgcopy.constant("en"),
        pgcopy.timestamp(completed_us[completed] + 5 * 60_000_000),
        pgcopy.numbered("Course ", course[completed]), pgcopy.numbered("Person ", user[completed])])
    return enrolment_rows, certificate_rows, count, len(certified)


def courses_per_person(rng: np.random.Generator, people: int, enrolments: int) -> np.ndarray:
    """How many of the 40 courses each person took (index: the person; 0 is nobody): about the mean,
    exactly ``enrolments`` in all."""
    counts = np.clip(np.rint(rng.normal(enrolments / people, 1.2, people + 1)), 1, COURSES).astype(np.int64)
    counts[0] = 0
    gap = enrolments - int(counts.sum())
    while gap:
        step = 1 if gap > 0 else -1
        users = np.unique(rng.integers(1, people + 1, min(abs(gap), people)))[:abs(gap)]
        users = users[(counts[users] + step >= 1) & (counts[users] + step <= COURSES)]
        counts[users] += step
        gap -= step * len(users)
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
    parser.add_argument("--processes", type=int, default=1,
                        help="processes drawing the rows; 1: this one (the data do not depend on it)")
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
                           args.processes, server_cpu))
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
