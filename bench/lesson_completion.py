"""Completing lessons through the API's Core hot path in-process (``hot.complete_lesson`` and a commit),
on PostgreSQL: the CPU and wall time per lesson, without gunicorn or HTTP around it. For comparing two trees
quickly (run it in each, alternately; docs/PERFORMANCE.md, helper "house4").

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/learning_bench_lessons \
      .venv/bin/python -m bench.lesson_completion [--learners 10] [--lessons 20]

The database is rebuilt from the migrations first.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.common import ensure_postgres_database, reset_and_migrate

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/learning_bench_lessons"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--lessons", type=int, default=20)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_postgres_database(url)
    reset_and_migrate(url)
    os.environ["DATABASE_URL"] = url.replace("postgresql://", "postgresql+psycopg://", 1)

    from learning import create_app
    from learning.accounts.models import User
    from learning.enrolment import hot
    from learning.extensions import db
    from learning.reporting.rollup import defer_refresh
    from tests import factories
    from tests.factories_catalogue import lesson_ids

    app = create_app()
    with app.app_context():
        course = factories.course(quiz=None, modules=[{"title": "M", "lessons": [
            {"title": f"Lesson {n}", "body": "Text."} for n in range(args.lessons)]}])
        lessons, slug = lesson_ids(course), course.slug
        people = [factories.user().id for _ in range(args.learners)]
        db.session.remove()
        cpu = wall = 0.0
        for person in people:
            session = db.session()
            enrolment_id = hot.enrol(session, db.session.get(User, person), slug)["id"]
            session.commit()
            db.session.remove()
            for lesson in lessons:
                session = db.session()
                defer_refresh(session)  # as the API's views do
                user = db.session.get(User, person)
                started_cpu, started = time.process_time(), time.perf_counter()
                answer = hot.complete_lesson(session, user, enrolment_id, lesson)
                session.commit()
                cpu += time.process_time() - started_cpu
                wall += time.perf_counter() - started
                db.session.remove()
            assert answer["status"] == "completed"
    done = len(people) * len(lessons)
    print(f"{done} lessons: CPU {1000 * cpu / done:.3f} ms/lesson, wall {1000 * wall / done:.3f} ms/lesson "
          f"(load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
