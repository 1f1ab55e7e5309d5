"""Seed PostgreSQL at ten times the organisation's scale, fast, with COPY.

1,000,000 enrolments of 250,000 professionals in 150 countries, 11 sectors,
40 courses, 8,000 cohorts and 3,000 organisations over ten years; about 60 %
completed, each completion with its certificate. Rows go in with psycopg 3's
``COPY ... FROM STDIN`` (no row-by-row INSERT), then the reporting rollup is
rebuilt once from them, as ``flask reports rebuild`` would after a bulk load.

    .venv/bin/python bench/seed_scale.py [--database-url postgresql://postgres@127.0.0.1:5432/learning_bench_reporting]

The database is wiped first; its name must contain "bench".
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pycountry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/learning_bench_reporting"
SECTORS = ["law_enforcement", "justice", "education", "health", "social_services", "financial", "technology",
           "government", "civil_society", "academia", "other"]
ADMIN_EMAIL = "bench-admin@example.org"
ADMIN_PASSWORD = "bench-admin-password-42"


def ensure_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if "bench" not in name:
        raise SystemExit(f"refusing to wipe {name!r}: the database name must contain 'bench'")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def migrated_app(url: str):
    """The app on a freshly migrated bench database."""
    import os

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


def moment(rng: random.Random, start: date, days: int) -> datetime:
    day = start + timedelta(days=rng.randrange(days))
    return datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60), tzinfo=UTC)


def seed(url: str, people: int, enrolments: int, countries: int, seed_value: int) -> dict:
    rng = random.Random(seed_value)
    codes = [c.alpha_2 for c in pycountry.countries][:countries]
    # A long tail, as in real programmes: a few countries hold most learners.
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(codes))]
    now = datetime.now(UTC)
    timings: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur:
            organisations = 3000
            with cur.copy("COPY organisations (id, name, country, sector, created_at) FROM STDIN") as copy:
                for i in range(1, organisations + 1):
                    copy.write_row((i, f"Organisation {i}", rng.choices(codes, weights)[0], rng.choice(SECTORS), now))
            with cur.copy("COPY courses (id, slug, language, status, pass_mark, sectors, created_at) FROM STDIN") as copy:
                for i in range(1, 41):
                    copy.write_row((i, f"course-{i}", "en", "published", 80, "[]", now))
            with cur.copy("COPY course_translations (id, course_id, language, title, summary) FROM STDIN") as copy:
                for i in range(1, 41):
                    copy.write_row((i, i, "en", f"Course {i}", "A course."))
            user_country, user_sector, user_org = [None], [None], [None]
            with cur.copy("COPY users (id, email, full_name, country, sector, language, timezone, organisation_id, "
                          "active, reminders_enabled, created_at, session_version) FROM STDIN") as copy:
                for i in range(1, people + 1):
                    country, sector = rng.choices(codes, weights)[0], rng.choice(SECTORS)
                    org = rng.randrange(1, organisations + 1) if rng.random() < 0.7 else None
                    user_country.append(country)
                    user_sector.append(sector)
                    user_org.append(org)
                    copy.write_row((i, f"p{i}@bench.example.org", f"Person {i}", country, sector, "en", "UTC", org,
                                    True, True, now, 1))
                copy.write_row((people + 1, ADMIN_EMAIL, "Bench Admin", "GB", "other", "en", "UTC", None,
                                True, True, now, 1))
            cohorts = 8000
            cohort_of: dict[tuple[int, str], list[int]] = {}
            with cur.copy("COPY cohorts (id, course_id, name, country, delivery, starts_on, ends_on, status, "
                          "attendance_rule, created_at) FROM STDIN") as copy:
                for i in range(1, cohorts + 1):
                    course, country = rng.randrange(1, 41), rng.choices(codes, weights)[0]
                    cohort_of.setdefault((course, country), []).append(i)
                    copy.write_row((i, course, f"Cohort {i}", country, "in_person", date(2020, 1, 1),
                                    date(2020, 2, 1), "open", "none", now))
            timings["copy_reference_rows_s"] = time.perf_counter() - started

            started = time.perf_counter()
            certificates = []
            per_person = enrolments / people
            counts = [min(40, max(1, round(rng.gauss(per_person, 1.2)))) for _ in range(people + 1)]
            counts[0] = 0
            gap = enrolments - sum(counts)
            while gap:  # exactly the number asked for
                user, step = rng.randrange(1, people + 1), (1 if gap > 0 else -1)
                if 1 <= counts[user] + step <= 40:
                    counts[user] += step
                    gap -= step
            enrolment_id = 0
            with cur.copy("COPY enrolments (id, user_id, course_id, cohort_id, status, enrolled_at, completed_at, "
                          "country, sector, organisation_id, language) FROM STDIN") as copy:
                for user in range(1, people + 1):
                    for course in rng.sample(range(1, 41), k=counts[user]):
                        enrolment_id += 1
                        enrolled = moment(rng, date(2016, 1, 1), 3650)
                        completed = None
                        if rng.random() < 0.6:
                            completed = min(now, enrolled + timedelta(days=rng.randrange(1, 120)))
                            certificates.append((enrolment_id, user, course, completed + timedelta(minutes=5)))
                        status = "completed" if completed else rng.choice(["active", "withdrawn"])
                        cohort_ids = cohort_of.get((course, user_country[user]))
                        cohort = rng.choice(cohort_ids) if cohort_ids and rng.random() < 0.5 else None
                        copy.write_row((enrolment_id, user, course, cohort, status, enrolled, completed,
                                        user_country[user], user_sector[user], user_org[user], "en"))
            with cur.copy("COPY certificates (id, code, enrolment_id, user_id, course_id, holder_name, course_title, "
                          "course_language, issued_at) FROM STDIN") as copy:
                for n, (eid, user, course, issued) in enumerate(certificates, start=1):
                    copy.write_row((n, f"B{n:015d}", eid, user, course, f"Person {user}", f"Course {course}", "en", issued))
            timings["copy_enrolments_and_certificates_s"] = time.perf_counter() - started
            for table in ("organisations", "courses", "course_translations", "users", "cohorts", "enrolments",
                          "certificates"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return {"people": people, "enrolments": enrolment_id, "certificates": len(certificates),
            "countries": len(codes), "cohorts": cohorts, "organisations": organisations, **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--people", type=int, default=250_000)
    parser.add_argument("--enrolments", type=int, default=1_000_000)
    parser.add_argument("--countries", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    ensure_database(args.database_url)
    app = migrated_app(args.database_url)
    counts = seed(args.database_url, args.people, args.enrolments, args.countries, args.seed)

    from learning.accounts.passwords import hash_password
    from learning.extensions import db
    from learning.reporting.rollup import rebuild

    with app.app_context():
        from learning.accounts.models import User, UserRole

        admin = db.session.query(User).filter_by(email=ADMIN_EMAIL).one()
        admin.password_hash = hash_password(ADMIN_PASSWORD)
        admin.role_rows = [UserRole(role="admin")]
        db.session.commit()
        started = time.perf_counter()
        with db.engine.begin() as connection:
            rollup = rebuild(connection)
        counts["rollup_rebuild_s"] = round(time.perf_counter() - started, 1)
        counts.update({f"rollup_{k}": v for k, v in rollup.items()})
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        db.session.remove()
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in counts.items()}, indent=2))


if __name__ == "__main__":
    main()
