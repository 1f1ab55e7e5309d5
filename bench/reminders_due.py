"""How long selecting and claiming the due reminders takes among 250,000 learners on PostgreSQL.

Seeds (with COPY) 250,000 learners in 30 time zones and five languages, with
enrolments (active and idle for 0-60 days, completed, withdrawn; some in cohorts
ending soon), certificates (recent, expiring in the coming months, revoked,
renewed), roster invitations never accepted, reminders already sent and
digests already delivered today; then times, at noon UTC:

- ``select``: every rule's set-based query counting what is due (best of 3);
- ``claim``: the whole planning run (claims in the sent-log with ON CONFLICT DO
  NOTHING, and the digests), committed;
- ``rerun``: the same run again (an overlapping or repeated beat), which must claim nothing.

    .venv/bin/python bench/reminders_due.py [--learners 250000] [--database-url URL]

The load is set-based throughout (``bench/bulk_load.py``): the tables are
stripped of their indexes and keys, the rows are formatted in Python and
streamed with ``COPY ... FREEZE`` on three connections at once (users,
enrolments, certificates), then every index is built and every foreign key
validated once, and the result is checked against the migrated schema.

Prints each step's time and the total wall time, and writes ``bench/results/reminders_due.json``.
The database is wiped first; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bulk_load import SESSION, restore, schema_snapshot, strip  # noqa: E402
from bench.common import ensure_postgres_database, write_result  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/learning_bench_reminders"
NOW = datetime(2031, 3, 10, 12, 0, tzinfo=UTC)
ZONES = [
    "UTC", "Europe/London", "Europe/Madrid", "Europe/Paris", "Europe/Kyiv", "Africa/Nairobi", "Africa/Lagos",
    "Africa/Johannesburg", "Africa/Cairo", "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata", "Asia/Dhaka",
    "Asia/Bangkok", "Asia/Manila", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "America/Sao_Paulo",
    "America/Bogota", "America/Mexico_City", "America/New_York", "America/Lima", "America/Santiago",
    "America/Argentina/Buenos_Aires", "Asia/Jakarta", "Europe/Lisbon", "Africa/Casablanca", "Asia/Riyadh",
    "America/Guatemala",
]
LANGUAGES = ["en", "es", "fr", "pt", "ar"]
COURSES = 12
TABLES = ["courses", "course_translations", "cohorts", "users", "enrolments", "certificates", "cohort_invitations",
          "reminders_sent", "reminder_digests"]
BLOCK = 5000  # learners per block of COPY text
NULL = "\\N"  # NULL in COPY text


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def migrated_app(url: str):
    """The app on the bench database, wiped and built with the migrations."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from learning import create_app
    from learning.extensions import db

    if "bench" not in url.rsplit("/", 1)[1]:
        raise SystemExit("refusing to wipe the database: its name must contain 'bench'")
    os.environ["DATABASE_URL"] = url
    app = create_app()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        logging.disable(logging.INFO)  # the migrations' progress lines
        try:
            upgrade(directory=str(ROOT / "migrations"), revision="heads")
        finally:
            logging.disable(logging.NOTSET)
        db.session.remove()
        db.engine.dispose()
    return app


def copy_into(conn, table: str, columns: list[str]):
    """A COPY into ``table``, truncated in this transaction (so FREEZE), sent by a thread while Python formats."""
    from psycopg.copy import QueuedLibpqWriter

    cur = conn.cursor()
    cur.execute(f"TRUNCATE {table}")
    return cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FREEZE)", writer=QueuedLibpqWriter(cur))


def seed(url: str, learners: int, rng: random.Random) -> tuple[dict, dict]:
    """Fill the database; returns how many rows of each kind, and the seconds of each phase."""
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://")
    timings: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        migrated = schema_snapshot(conn)
        started = time.perf_counter()
        stripped = strip(conn, TABLES)
        timings["drop_indexes_and_keys_s"] = time.perf_counter() - started

    started = time.perf_counter()
    counts: dict[str, int] = {}
    with ExitStack() as stack:
        # Users, enrolments and certificates stream on three connections at once.
        users_conn, enrolments_conn, certificates_conn = (stack.enter_context(psycopg.connect(url))
                                                          for _ in range(3))
        for conn in (users_conn, enrolments_conn, certificates_conn):
            for statement in SESSION:
                conn.execute(statement)
        now_text = stamp(NOW)
        with copy_into(users_conn, "courses", ["id", "slug", "language", "status", "pass_mark", "sectors",
                                               "created_at", "certificate_validity_months"]) as copy:
            copy.write("".join(f"{c}\tcourse-{c}\ten\tpublished\t80\t[]\t{now_text}\t24\n"
                               for c in range(1, COURSES + 1)))
        with copy_into(users_conn, "course_translations", ["id", "course_id", "language", "title", "summary"]) as copy:
            copy.write("".join(f"{c}\t{c}\ten\tCourse {c}\t\n" for c in range(1, COURSES + 1)))
        cohorts = list(range(1, 201))
        with copy_into(users_conn, "cohorts", ["id", "course_id", "name", "country", "delivery", "starts_on",
                                               "ends_on", "status", "attendance_rule", "created_at"]) as copy:
            copy.write("".join(
                f"{k}\t{1 + k % COURSES}\tCohort {k}\tCO\tin_person\t{(NOW - timedelta(days=60)).date()}\t"
                f"{(NOW + timedelta(days=k % 40 - 5)).date()}\t{'open' if k % 10 else 'closed'}\tnone\t{now_text}\n"
                for k in cohorts))
        users_conn.commit()
        counts["courses"], counts["cohorts"] = COURSES, len(cohorts)

        with copy_into(users_conn, "users", [
                "id", "email", "full_name", "language", "timezone", "active", "reminders_enabled", "created_at",
                "session_version", "password_hash", "erased_at"]) as users_copy, \
                copy_into(enrolments_conn, "enrolments", [
                    "id", "user_id", "course_id", "cohort_id", "status", "enrolled_at", "completed_at",
                    "last_activity_at"]) as enrolments_copy, \
                copy_into(certificates_conn, "certificates", [
                    "id", "code", "enrolment_id", "user_id", "course_id", "course_title", "course_language",
                    "issued_at", "expires_at", "revoked_at"]) as certificates_copy:
            invitations, sent, digests, formatting = generate(
                rng, learners, cohorts, users_copy, enrolments_copy, certificates_copy, counts)
        timings["format_rows_in_python_s"] = formatting
        for conn in (enrolments_conn, certificates_conn):
            conn.commit()
        with copy_into(users_conn, "cohort_invitations", ["cohort_id", "user_id", "created_at", "sent_at"]) as copy:
            copy.write("".join(invitations))
        with copy_into(users_conn, "reminders_sent", ["rule", "user_id", "occasion", "status", "subject_id",
                                                      "created_at"]) as copy:
            copy.write("".join(sent))
        with copy_into(users_conn, "reminder_digests", ["user_id", "local_date", "status", "attempts",
                                                        "next_attempt_at", "created_at", "sent_at", "sent_on"]) as copy:
            copy.write("".join(digests))
        counts.update(invitations=len(invitations), reminders_already_sent=len(sent), digests_sent_today=len(digests))
        for table in ("users", "enrolments", "certificates", "cohorts", "courses"):
            users_conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        users_conn.commit()
    timings["copy_s"] = time.perf_counter() - started

    timings.update(restore(url, stripped, {"users": learners, "enrolments": counts["enrolments"],
                                           "certificates": counts["certificates"],
                                           "reminders_sent": len(sent), "reminder_digests": len(digests)}))
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - started
        restored = schema_snapshot(conn)
    for kind in ("indexes", "constraints"):
        if migrated[kind] != restored[kind]:
            raise SystemExit(f"the schema differs from the migrated one after the load: {kind} missing "
                             f"{sorted(migrated[kind] - restored[kind])}, unexpected "
                             f"{sorted(restored[kind] - migrated[kind])}")
    return counts, {key: round(value, 2) for key, value in timings.items() if isinstance(value, float)}


def generate(rng: random.Random, learners: int, cohorts: list[int], users_copy, enrolments_copy,
             certificates_copy, counts: dict) -> tuple[list[str], list[str], list[str], float]:
    """Write the learners, their enrolments and certificates as COPY text, ``BLOCK`` learners at a time.

    Returns the invitations, reminders already sent and digests already sent today (as COPY
    lines), and the seconds spent formatting. Same random draws, in the same order, as the
    original tuple-by-tuple seeding, so the data set (and what falls due) is unchanged.
    """
    rand, choice, sample, uniform = rng.random, rng.choice, rng.sample, rng.uniform
    created, erased_at = stamp(NOW - timedelta(days=900)), stamp(NOW - timedelta(days=3))
    withdrawn_at, now_text, two_hours_ago = stamp(NOW - timedelta(days=100)), stamp(NOW), stamp(
        NOW - timedelta(hours=2))
    today, week, course_ids, sizes = NOW.date(), timedelta(days=7), range(1, COURSES + 1), (1, 1, 2)
    invitations: dict[tuple[int, int], str] = {}
    sent, digests = [], []
    enrolment_id = certificate_id = 0
    formatting = 0.0
    for first in range(1, learners + 1, BLOCK):
        block_started = time.perf_counter()
        users, enrolments, certificates = [], [], []
        for uid in range(first, min(learners, first + BLOCK - 1) + 1):
            invited = rand() < 0.02
            language, zone = choice(LANGUAGES), choice(ZONES)
            active = "f" if rand() < 0.01 else "t"
            enabled = "f" if rand() < 0.05 else "t"
            users.append(f"{uid}\tlearner{uid}@bench.example\tLearner {uid}\t{language}\t{zone}\t{active}\t"
                         f"{enabled}\t{created}\t1\t{NULL if invited else '!'}\t"
                         f"{erased_at if rand() < 0.005 else NULL}\n")
            for course in sample(course_ids, choice(sizes)):
                enrolment_id += 1
                roll = rand()
                cohort = choice(cohorts) if rand() < 0.15 else None
                if roll < 0.55:  # active, idle for 0-60 days
                    last = NOW - timedelta(days=uniform(0, 60))
                    last_text = stamp(last)
                    enrolments.append(f"{enrolment_id}\t{uid}\t{course}\t{cohort or NULL}\tactive\t"
                                      f"{stamp(last - timedelta(days=5))}\t\\N\t{last_text}\n")
                    if invited and cohort:
                        invitations[(cohort, uid)] = (f"{cohort}\t{uid}\t{last_text}\t"
                                                      f"{stamp(NOW - timedelta(days=uniform(0, 15)))}\n")
                    if NOW - last > week and rand() < 0.4:
                        sent.append(f"inactivity\t{uid}\tenrolment:{enrolment_id}:inactive:7d\tsent\t"
                                    f"{enrolment_id}\t{stamp(NOW - timedelta(days=1))}\n")
                elif roll < 0.9:  # completed, with a certificate
                    issued = NOW - timedelta(days=uniform(0, 800))
                    issued_text = stamp(issued)
                    enrolments.append(f"{enrolment_id}\t{uid}\t{course}\t\\N\tcompleted\t"
                                      f"{stamp(issued - timedelta(days=20))}\t{issued_text}\t{issued_text}\n")
                    certificate_id += 1
                    expires = stamp(issued + timedelta(days=730)) if rand() < 0.7 else "\\N"
                    revoked = stamp(issued + timedelta(days=3)) if rand() < 0.01 else "\\N"
                    certificates.append(f"{certificate_id}\tC{certificate_id:012d}\t{enrolment_id}\t{uid}\t"
                                        f"{course}\tCourse {course}\ten\t{issued_text}\t{expires}\t{revoked}\n")
                else:
                    enrolments.append(f"{enrolment_id}\t{uid}\t{course}\t\\N\twithdrawn\t{withdrawn_at}\t"
                                      f"\\N\t\\N\n")
            if rand() < 0.02:
                digests.append(f"{uid}\t{today}\tsent\t1\t{now_text}\t{two_hours_ago}\t{two_hours_ago}\t{today}\n")
        formatting += time.perf_counter() - block_started
        users_copy.write("".join(users))  # returns at once: a thread per connection sends it
        enrolments_copy.write("".join(enrolments))
        certificates_copy.write("".join(certificates))
    counts.update(learners=learners, enrolments=enrolment_id, certificates=certificate_id)
    return list(invitations.values()), sent, digests, formatting


def best_of(runs: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(app) -> dict:
    from learning.extensions import db
    from learning.reminders import services

    with app.app_context():
        select_seconds, due = best_of(3, lambda: services.count_due(NOW))
        db.session.rollback()
        start = time.perf_counter()
        claimed = services.plan(NOW)
        claim_seconds = time.perf_counter() - start
        start = time.perf_counter()
        again = services.plan(NOW)
        rerun_seconds = time.perf_counter() - start
        db.session.remove()
    return {"select_seconds": round(select_seconds, 3), "due_by_rule": due, "due_total": sum(due.values()),
            "claim_seconds": round(claim_seconds, 3), "claimed": claimed,
            "rerun_seconds": round(rerun_seconds, 3), "rerun_claimed": again}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=250_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()

    began = time.perf_counter()
    load_before = os.getloadavg()
    ensure_postgres_database(args.database_url)
    app = migrated_app(args.database_url)
    migrate_seconds = time.perf_counter() - began
    start = time.perf_counter()
    counts, seed_steps = seed(args.database_url, args.learners, random.Random(args.seed))
    seed_seconds = time.perf_counter() - start
    figures = measure(app)
    if any(figures["rerun_claimed"].values()):
        raise SystemExit(f"a re-run claimed reminders again: {figures['rerun_claimed']}")
    total_seconds = time.perf_counter() - began
    load_after = os.getloadavg()

    print(f"wiping and migrating the database: {migrate_seconds:.1f} s")
    print(f"{counts['learners']:,} learners, {counts['enrolments']:,} enrolments, "
          f"{counts['certificates']:,} certificates seeded in {seed_seconds:.1f} s "
          f"({', '.join(f'{k} {v}' for k, v in seed_steps.items())})")
    print(f"selecting the due reminders: {figures['select_seconds']:.2f} s "
          f"({figures['due_total']:,} due: {figures['due_by_rule']})")
    print(f"claiming them and building {figures['claimed']['digests']:,} digests: {figures['claim_seconds']:.2f} s; "
          f"a re-run claims nothing in {figures['rerun_seconds']:.2f} s")
    print(f"total wall time: {total_seconds:.1f} s (load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after)")
    path = write_result("reminders_due", {
        "now": NOW, "rows": counts, "migrate_seconds": round(migrate_seconds, 1), "seed_seconds": round(seed_seconds, 1),
        "seed_steps": seed_steps, **figures, "total_seconds": round(total_seconds, 1),
        "load_average": {"before": load_before[0], "after": load_after[0]}})
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
