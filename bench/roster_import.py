"""Benchmark: import a generated 10,000-row roster into a cohort, as a partner agency would send it.

    .venv/bin/python -m bench.roster_import            # PostgreSQL at learning_bench (created if missing)
    DATABASE_URL=sqlite:////tmp/bench.sqlite3 .venv/bin/python -m bench.roster_import --rows 2000

The file is messy on purpose (byte-order mark, semicolons, country names in
English, Spanish and French, sector labels, mixed-case e-mails); 10% of the
people already have accounts. The database is migrated, not emptied: each run
uses fresh e-mail addresses. Prints rows per second and writes
``bench/results/roster_import.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid

from bench.common import ensure_postgres_database, write_result

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/learning_bench"
COUNTRIES = ["Colombia", "CO", "México", "Pérou", "Brasil", "Kenya", "Sénégal", "Philippines", "Filipinas",
             "Allemagne", "ES", "Côte d’Ivoire", "Ghana", "India", "Indonésie", "Marruecos", "UA", "Thailand"]
SECTORS = ["law_enforcement", "Law enforcement", "Justicia", "Éducation", "health", "Servicios sociales",
           "Financial services", "technology", "Gobierno", "Société civile", "academia"]
LANGUAGES = ["es", "fr", "en", "pt-BR", "ar", ""]


def roster(emails: list[str], seed: int = 7) -> bytes:
    """A semicolon CSV with a BOM and headers in another order, one row per e-mail."""
    rng = random.Random(seed)
    lines = ["Nombre;E-mail;País;Sector;Organización;Idioma"]
    for i, email in enumerate(emails):
        lines.append(";".join([f"Participante {i} Pérez", email.upper() if i % 7 == 0 else email,
                               rng.choice(COUNTRIES), rng.choice(SECTORS), f"Partner agency {i % 250}",
                               rng.choice(LANGUAGES)]))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def setup(run: str):
    """A trainer, two published courses and a cohort of each."""
    from datetime import date

    from learning.accounts.services import register_user
    from learning.catalogue.services import create_course, publish_course
    from learning.cohorts.services import create_cohort
    from learning.extensions import db

    trainer = register_user({"email": f"trainer-{run}@bench.example.org", "password": "a-Bench-password-42",
                             "full_name": "Bench Trainer", "country": "CO", "sector": "law_enforcement",
                             "language": "es"}, roles=["trainer"], send_verification=False)
    cohorts = []
    for name in ("earlier", "measured"):
        course = create_course(None, {"slug": f"bench-{name}-{run}", "title": f"Bench {name}", "language": "es",
                                      "modules": [{"title": "M", "lessons": [{"title": "L", "body": "B"}]}]})
        publish_course(None, course)
        cohorts.append(create_cohort(trainer, {"course": course.slug, "name": f"Bench {name} {run}", "country": "CO",
                                               "delivery": "in_person", "starts_on": date(2025, 1, 1),
                                               "ends_on": date(2025, 12, 31)}))
    db.session.commit()
    return trainer, cohorts


def timed_import(cohort, data: bytes, actor_id: int) -> tuple[float, float, float, object]:
    """Seconds to read and check the file, for the whole import with its commit, for the commit; the report."""
    from learning.cohorts.imports import import_roster
    from learning.cohorts.roster import parse_roster
    from learning.extensions import db

    started = time.perf_counter()
    parse_roster(data, default_language="es")
    parse_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = import_roster(cohort, data, "all_or_nothing", actor_id)
    db.session.flush()
    committing = time.perf_counter()
    db.session.commit()  # includes whatever other features do before commit (the statistics rollup)
    done = time.perf_counter()
    return parse_seconds, done - started, done - committing, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if url.startswith("postgres"):
        ensure_postgres_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("OUTBOX_PUBLISH", "false")  # measure the import, not the broker

    from flask_babel import force_locale
    from flask_migrate import upgrade

    from learning import create_app
    from learning.extensions import db

    app = create_app({"ROSTER_MAX_ROWS": max(50_000, args.rows)})
    with app.app_context(), force_locale("en"):
        upgrade(directory="migrations", revision="heads")
        run = uuid.uuid4().hex[:8]
        trainer, (earlier, measured) = setup(run)
        emails = [f"person{i}.{run}@agency.example.org" for i in range(args.rows)]
        existing = emails[: args.rows // 10]
        timed_import(earlier, roster(existing, seed=1), trainer.id)  # these people now have accounts

        data = roster(emails)
        parse_seconds, seconds, commit_seconds, report = timed_import(measured, data, trainer.id)
        _parse, again_seconds, _commit, again = timed_import(measured, data, trainer.id)
        dialect = db.engine.dialect.name
        exact = rollup_equals_rebuild()

    figures = {
        "database": dialect, "rows": args.rows, "file_bytes": len(data), "existing_accounts": len(existing),
        "created": report.created, "enrolled": report.enrolled, "errors": len(report.errors),
        "seconds": round(seconds, 3), "rows_per_second": round(args.rows / seconds),
        "parse_and_validate_seconds": round(parse_seconds, 3), "commit_seconds": round(commit_seconds, 3),
        "reimport_seconds": round(again_seconds, 3), "reimport_already_enrolled": again.already_enrolled,
        "import_without_commit_seconds": round(seconds - commit_seconds, 3),
        "load_average_1min": round(os.getloadavg()[0], 2), "rollup_equals_a_full_rebuild": exact,
    }
    path = write_result("roster_import", figures)
    print(f"Roster import on {dialect}: {args.rows} rows in {seconds:.2f} s = {figures['rows_per_second']} rows/s "
          f"({report.created} accounts created, {report.enrolled} enrolled; reading and checking the file "
          f"{parse_seconds:.2f} s, the commit {commit_seconds:.2f} s; importing the same file again {again_seconds:.2f} s)")
    print(f"The statistics rollup the imports left equals a full rebuild: {exact}")
    print(f"Written to {path.relative_to(path.parents[2])}")
    if not exact:
        raise SystemExit("the rollup maintained by the imports differs from a full rebuild")


def rollup_equals_rebuild() -> bool:
    """Whether the cells and facts the imports maintained are exactly what a rebuild computes."""
    from sqlalchemy import text

    from learning.extensions import db
    from learning.reporting.rebuild import rebuild

    queries = ("SELECT kind, dims, period, country, sector, course_id, cohort_id, organisation_id, n "
               "FROM report_cells WHERE n <> 0",
               "SELECT user_id, kind, day, country, sector, course_id, cohort_id, organisation_id, weight "
               "FROM report_facts")
    db.session.commit()
    with db.engine.connect() as connection:
        before = [sorted(connection.execute(text(q)).all()) for q in queries]
    with db.engine.begin() as connection:
        rebuild(connection)
    with db.engine.connect() as connection:
        after = [sorted(connection.execute(text(q)).all()) for q in queries]
    return before == after


if __name__ == "__main__":
    main()
