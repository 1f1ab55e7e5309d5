"""How long selecting the due reminders takes among 250,000 learners on PostgreSQL.

Seeds (with COPY) 250,000 learners in 30 time zones and five languages, with
enrolments (active and idle for 0-60 days, completed, withdrawn; some in cohorts
ending soon), certificates (recent, expiring in the coming months, revoked,
renewed), roster invitations never accepted, reminders already sent and
digests already delivered today; then times, at noon UTC:

- ``select``: every rule's set-based query counting what is due (the figure);
- ``claim``: the whole planning run (claims in the sent-log with ON CONFLICT DO
  NOTHING, and the digests), committed;
- ``rerun``: the same run again (an overlapping or repeated beat), which must claim nothing.

    .venv/bin/python bench/reminders_due.py [--learners 250000] [--database-url URL]

Prints the figures and writes ``bench/results/reminders_due.json``.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_postgres_database, reset_and_migrate, write_result  # noqa: E402

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


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def copy_rows(cursor, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples; None is NULL) into a table."""
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        count += 1
    buffer.seek(0)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)
    return count


def seed(url: str, learners: int, rng: random.Random) -> dict:
    """Fill the database; returns how many rows of each kind."""
    import psycopg

    counts: dict[str, int] = {}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        counts["courses"] = copy_rows(cur, "courses", ["id", "slug", "language", "status", "pass_mark", "sectors",
                                                      "created_at", "certificate_validity_months"],
                                      [(c, f"course-{c}", "en", "published", 80, "[]", stamp(NOW), 24)
                                       for c in range(1, COURSES + 1)])
        copy_rows(cur, "course_translations", ["id", "course_id", "language", "title", "summary"],
                  [(c, c, "en", f"Course {c}", "") for c in range(1, COURSES + 1)])
        cohorts = [(k, 1 + k % COURSES, f"Cohort {k}", "CO", "in_person", (NOW - timedelta(days=60)).date(),
                    (NOW + timedelta(days=k % 40 - 5)).date(), "open" if k % 10 else "closed", "none", stamp(NOW))
                   for k in range(1, 201)]
        counts["cohorts"] = copy_rows(cur, "cohorts", ["id", "course_id", "name", "country", "delivery",
                                                      "starts_on", "ends_on", "status", "attendance_rule",
                                                      "created_at"], cohorts)

        users, enrolments, certificates, invitations, sent, digests = [], [], [], [], [], []
        enrolment_id = certificate_id = 0
        for uid in range(1, learners + 1):
            invited = rng.random() < 0.02
            users.append((
                uid, f"learner{uid}@bench.example", f"Learner {uid}", rng.choice(LANGUAGES), rng.choice(ZONES),
                "f" if rng.random() < 0.01 else "t", "f" if rng.random() < 0.05 else "t",
                stamp(NOW - timedelta(days=900)), 1, None if invited else "!",
                stamp(NOW - timedelta(days=3)) if rng.random() < 0.005 else None,
            ))
            for course in rng.sample(range(1, COURSES + 1), rng.choice((1, 1, 2))):
                enrolment_id += 1
                roll = rng.random()
                cohort = rng.choice(cohorts) if rng.random() < 0.15 else None
                if roll < 0.55:  # active, idle for 0-60 days
                    last = NOW - timedelta(days=rng.uniform(0, 60))
                    enrolments.append((enrolment_id, uid, course, cohort[0] if cohort else None, "active",
                                       stamp(last - timedelta(days=5)), None, stamp(last)))
                    if invited and cohort:
                        invitations.append((cohort[0], uid, stamp(last), stamp(NOW - timedelta(days=rng.uniform(0, 15)))))
                    if NOW - last > timedelta(days=7) and rng.random() < 0.4:
                        sent.append(("inactivity", uid, f"enrolment:{enrolment_id}:inactive:7d", "sent",
                                     enrolment_id, stamp(NOW - timedelta(days=1))))
                elif roll < 0.9:  # completed, with a certificate
                    issued = NOW - timedelta(days=rng.uniform(0, 800))
                    enrolments.append((enrolment_id, uid, course, None, "completed",
                                       stamp(issued - timedelta(days=20)), stamp(issued), stamp(issued)))
                    certificate_id += 1
                    expires = issued + timedelta(days=730) if rng.random() < 0.7 else None
                    revoked = stamp(issued + timedelta(days=3)) if rng.random() < 0.01 else None
                    certificates.append((certificate_id, f"C{certificate_id:012d}", enrolment_id, uid, course,
                                         f"Course {course}", "en", stamp(issued),
                                         stamp(expires) if expires else None, revoked))
                else:
                    enrolments.append((enrolment_id, uid, course, None, "withdrawn",
                                       stamp(NOW - timedelta(days=100)), None, None))
            if rng.random() < 0.02:
                digests.append((uid, NOW.date(), "sent", 1, stamp(NOW), stamp(NOW - timedelta(hours=2)),
                                stamp(NOW - timedelta(hours=2)), NOW.date()))
        counts["learners"] = copy_rows(cur, "users", [
            "id", "email", "full_name", "language", "timezone", "active", "reminders_enabled", "created_at",
            "session_version", "password_hash", "erased_at"], users)
        counts["enrolments"] = copy_rows(cur, "enrolments", [
            "id", "user_id", "course_id", "cohort_id", "status", "enrolled_at", "completed_at", "last_activity_at"],
            enrolments)
        counts["certificates"] = copy_rows(cur, "certificates", [
            "id", "code", "enrolment_id", "user_id", "course_id", "course_title", "course_language", "issued_at",
            "expires_at", "revoked_at"], certificates)
        counts["invitations"] = copy_rows(cur, "cohort_invitations", ["cohort_id", "user_id", "created_at", "sent_at"],
                                          {(c, u): (c, u, a, s) for c, u, a, s in invitations}.values())
        counts["reminders_already_sent"] = copy_rows(cur, "reminders_sent", [
            "rule", "user_id", "occasion", "status", "subject_id", "created_at"], sent)
        counts["digests_sent_today"] = copy_rows(cur, "reminder_digests", [
            "user_id", "local_date", "status", "attempts", "next_attempt_at", "created_at", "sent_at", "sent_on"],
            digests)
        for table in ("users", "enrolments", "certificates", "cohorts", "courses"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return counts


def best_of(runs: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(url: str) -> dict:
    os.environ["DATABASE_URL"] = url
    from learning import create_app
    from learning.extensions import db
    from learning.reminders import services

    app = create_app()
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

    ensure_postgres_database(args.database_url)
    reset_and_migrate(args.database_url)
    start = time.perf_counter()
    counts = seed(args.database_url, args.learners, random.Random(args.seed))
    seed_seconds = time.perf_counter() - start
    figures = measure(args.database_url)
    if any(figures["rerun_claimed"].values()):
        raise SystemExit(f"a re-run claimed reminders again: {figures['rerun_claimed']}")

    print(f"{counts['learners']:,} learners, {counts['enrolments']:,} enrolments, "
          f"{counts['certificates']:,} certificates (seeded in {seed_seconds:.1f} s)")
    print(f"selecting the due reminders: {figures['select_seconds']:.2f} s "
          f"({figures['due_total']:,} due: {figures['due_by_rule']})")
    print(f"claiming them and building {figures['claimed']['digests']:,} digests: {figures['claim_seconds']:.2f} s; "
          f"a re-run claims nothing in {figures['rerun_seconds']:.2f} s")
    path = write_result("reminders_due", {"now": NOW, "rows": counts, "seed_seconds": round(seed_seconds, 1),
                                          **figures})
    print(f"written to {path.relative_to(Path(__file__).resolve().parent.parent)}")


if __name__ == "__main__":
    main()
