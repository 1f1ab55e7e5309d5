"""Benchmark: issue 2,000 certificates (PDF included) with a real Celery worker on Redis.

    .venv/bin/python bench/certificates.py [--count 2000] [--concurrency 2]
    .venv/bin/python bench/certificates.py --profile 300 [--cprofile]   # in one process

Uses PostgreSQL database ``learning_certificates_bench`` (created and reset)
and Redis db 3 unless ``BENCH_DATABASE_URL`` / ``BENCH_BROKER_URL`` say
otherwise. The completions and their ``enrolment.completed`` outbox events are
written first (as a cohort's close writes them); then a worker process is
started, every event is published (as after a cohort's close: in batches of
``OUTBOX_BATCH_SIZE``, each an ``outbox.process_batch`` task issuing its
certificates in one transaction), and the clock runs until the last
certificate is committed. Prints certificates per second, overall and per
worker process, and writes ``bench/results/certificates.json``.

``--profile N`` seeds N completions the same way, then runs the worker's task
body (``outbox.process_batch`` in an app context, for each batch of
``OUTBOX_BATCH_SIZE`` events; with ``--one-by-one``, ``outbox.process`` for
each event) in this process, without Celery, and prints where the time goes: PDF rendering, the issuing
query, the status-list count, storage, the reporting rollup that runs at
commit, and the rest (outbox rows, ORM, flush, commit), with the number of SQL
statements per certificate. With ``--cprofile`` the same run is made under
cProfile instead and its listing printed. Nothing is written to
``bench/results``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import process_tree_rss  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (prefork pool)")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="issue N certificates in this process (no worker) and say where the time goes")
    parser.add_argument("--cprofile", action="store_true", help="with --profile: run under cProfile")
    parser.add_argument("--one-by-one", action="store_true",
                        help="with --profile: one event per task (outbox.process) instead of batches")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key with --cprofile")
    args = parser.parse_args()
    if args.profile:
        args.count = args.profile

    instance = tempfile.mkdtemp(prefix="bench-certificates-")
    env = {
        **os.environ,
        "LEARNING_INSTANCE_PATH": instance,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL",
                                       "postgresql://postgres@127.0.0.1:5432/learning_certificates_bench"),
        "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/3"),
        "CELERY_QUEUE": f"bench-certificates-{os.getpid()}",
        "OUTBOX_PUBLISH": "true",  # events are bulk-inserted, then published when the clock starts
        "SECRET_KEY": "benchmark-secret-key-long-enough-for-anything",
        "RATELIMIT_ENABLED": "false",
    }
    os.environ.update(env)
    _ensure_database(env["DATABASE_URL"])

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from learning import create_app
    from learning.accounts.models import User
    from learning.catalogue.services import create_course, publish_course
    from learning.certificates.models import Certificate
    from learning.enrolment.models import Enrolment
    from learning.extensions import db
    from learning.models_base import utcnow
    from learning.outbox.models import OutboxEvent
    from learning.outbox.services import publish

    app = create_app()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"), revision="heads")

        course = create_course(None, {
            "slug": "bench-course", "title": "Protecting children online", "summary": "Benchmark course.",
            "language": "en", "certificate_validity_months": 24,
            "modules": [{"title": "Module", "lessons": [{"title": "Lesson", "body": "Text."}]}],
        })
        publish_course(None, course)
        db.session.commit()
        names = ["Zoë Ñúñez", "Олена Коваленко", "فاطمة الزهراء", "Kwame Mensah", "Nguyễn Thị Lan"]
        now = utcnow()
        db.session.execute(insert(User), [
            {"email": f"bench{i}@example.org", "full_name": f"{names[i % len(names)]} {i}", "country": "CO",
             "sector": "education", "language": "en", "created_at": now} for i in range(args.count)
        ])
        user_ids = db.session.scalars(select(User.id).order_by(User.id)).all()
        db.session.execute(insert(Enrolment), [
            {"user_id": uid, "course_id": course.id, "status": "completed", "enrolled_at": now - timedelta(days=30),
             "completed_at": now - timedelta(days=i % 300), "country": "CO", "sector": "education",
             "language": "en"} for i, uid in enumerate(user_ids)
        ])
        enrolment_ids = db.session.scalars(select(Enrolment.id).order_by(Enrolment.id)).all()
        db.session.execute(insert(OutboxEvent), [
            {"event_type": "enrolment.completed", "payload": {"enrolment_id": eid}, "status": "pending",
             "attempts": 0, "created_at": now, "next_attempt_at": now} for eid in enrolment_ids
        ])
        db.session.commit()
        event_ids = db.session.scalars(select(OutboxEvent.id).order_by(OutboxEvent.id)).all()
        from learning.certificates.keys import active_key

        active_key()  # the first key exists before the clock starts, as in production

    if args.profile:
        _profile(app, list(event_ids), args.sort if args.cprofile else None, args.one_by_one)
        return

    log_path = Path(instance) / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--loglevel=INFO",
             f"--concurrency={args.concurrency}", "--pool=prefork", "-Q", f"{env['CELERY_QUEUE']},{env['CELERY_QUEUE']}.bulk",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{env['CELERY_QUEUE']}@%h"],
            cwd=ROOT, env={**env, "PGAPPNAME": WORKER_APP_NAME}, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(worker, log_path)
            rss = {"worker_at_rest": process_tree_rss(worker.pid)}
            peak = 0.0
            with app.app_context():
                # CPU seconds, not wall-clock: the machine is shared, so the figure to compare is the
                # worker's CPU (its pool processes included) and its PostgreSQL backends' per certificate.
                cpu = CpuMeter(worker.pid)
                cpu.sample()
                load_before = os.getloadavg()
                started = time.perf_counter()
                publish(list(event_ids))
                done = 0
                while done < args.count:
                    time.sleep(0.25)
                    peak = max(peak, process_tree_rss(worker.pid)["max"])  # aim: under 250 MB while issuing
                    cpu.sample()
                    done = db.session.scalar(select(func.count(Certificate.id)))
                    db.session.rollback()
                    if worker.poll() is not None:
                        raise SystemExit(f"worker died: {log_path.read_text()[-2000:]}")
                elapsed = time.perf_counter() - started
                cpu.sample()
                at_last_certificate = cpu.spent()
                cpu.settle()  # the events the batches emitted (certificate.issued, statements) handled too
                with_pdf = db.session.scalar(select(func.count(Certificate.id)).where(Certificate.pdf_path.is_not(None)))
                failed = db.session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.last_error.is_not(None)))
            rss["worker_after"] = process_tree_rss(worker.pid)
            rss["worker_peak_while_issuing"] = peak
        finally:
            worker.terminate()
            worker.wait(30)

    rate = args.count / elapsed
    result = {
        "benchmark": "certificates",
        "certificates": args.count,
        "with_pdf": with_pdf,
        "events_with_errors": failed,
        "worker_processes": args.concurrency,
        "seconds": round(elapsed, 2),
        "certificates_per_second": round(rate, 1),
        "certificates_per_second_per_process": round(rate / args.concurrency, 1),
        # CPU ms per certificate, from the publication to the last certificate's commit, and until the
        # worker went idle (the events the batches emitted handled too).
        "cpu_ms_per_certificate": {part: round(1000 * seconds / args.count, 2)
                                   for part, seconds in at_last_certificate.items()},
        "cpu_ms_per_certificate_until_idle": {part: round(1000 * seconds / args.count, 2)
                                              for part, seconds in cpu.spent().items()},
        "rss_mb": rss,  # resident memory: the worker's main process and each pool process
        "database": "postgresql" if env["DATABASE_URL"].startswith("postgres") else "other",
        "broker": env["CELERY_BROKER_URL"].split(":")[0],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    # The machine is shared: other work running at the same time slows the figure.
                    "load_average_1min_before_and_after": [round(load_before[0], 2),
                                                           round(os.getloadavg()[0], 2)]},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / "certificates.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.count} certificates (PDF included) in {elapsed:.1f}s: {rate:.1f} per second, "
          f"{rate / args.concurrency:.1f} per second per worker process ({args.concurrency} processes)")
    per = result["cpu_ms_per_certificate"]
    for label, per in (("to the last certificate", result["cpu_ms_per_certificate"]),
                       ("until the worker is idle", result["cpu_ms_per_certificate_until_idle"])):
        print(f"CPU per certificate, {label}: worker {per['worker']:.2f} ms (pool {per['pool']:.2f}, "
              f"main {per['main']:.2f}), its PostgreSQL backends {per['postgresql']:.2f} ms, "
              f"together {per['worker'] + per['postgresql']:.2f} ms")
    print(f"({len(cpu.last['pool'])} pool processes, {len(cpu.last['postgresql'])} PostgreSQL backends seen)")
    print(f"worker RSS (MB): at rest {rss['worker_at_rest']['max']}, peak while issuing {peak}, after "
          f"{rss['worker_after']['max']} (main {rss['worker_after']['main']}, pool {rss['worker_after']['children']})"
          f"   aim: < 250 MB")
    print(f"written to {out.relative_to(ROOT)}")


def _profile(app, event_ids: list[int], sort: str | None, one_by_one: bool = False) -> None:
    """Run the worker's task body for every event in this process: timed by part, or under cProfile."""
    import cProfile
    import pstats
    from collections import Counter

    from sqlalchemy import event, text

    import learning.certificates.services as services
    import learning.reporting.rollup as rollup
    from learning.certificates import status_list
    from learning.certificates.storage import FileSystemStorage
    from learning.extensions import db
    from learning.outbox.services import process, process_batch

    size = 1 if one_by_one else app.config["OUTBOX_BATCH_SIZE"]

    def run(ids: list[int]) -> None:
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            with app.app_context():  # as the worker's FlaskTask does for each task
                if len(chunk) == 1:
                    assert process(chunk[0]) == "done"
                else:
                    assert process_batch(chunk) == {"done-or-busy": 0, "batched": len(chunk)}

    warm, rest = event_ids[:5], event_ids[5:]
    run(warm)  # fonts, translations and the first connection before the clock starts
    load_before = os.getloadavg()[0]
    if sort:
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        run(rest)
        profiler.disable()
        elapsed = time.perf_counter() - started
        pstats.Stats(profiler).sort_stats(sort).print_stats(45)
        print(f"{len(rest)} certificates in one process under cProfile: {1000 * elapsed / len(rest):.1f} ms each "
              f"(load average {load_before:.2f} -> {os.getloadavg()[0]:.2f})")
        return

    spent: Counter[str] = Counter()

    def timed(owner, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        setattr(owner, name, wrapper)

    timed(services, "render_pdf", "PDF (render_pdf)")
    timed(services, "_issuing_facts_of", "issuing query (enrolment, holder, course, translations)")
    timed(status_list, "random_index", "status-list position (reads max(id))")
    timed(status_list, "random_indices", "status-list position (reads max(id))")
    timed(FileSystemStorage, "put", "storage (file written)")
    timed(rollup, "refresh_people", "reporting rollup at commit (learning/reporting)")
    statements = Counter()
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *_args: statements.update(["sql"]))
    with app.app_context():
        backend = db.session.scalar(text("SELECT pg_backend_pid()"))  # the pool's one connection here
        db.session.rollback()
    backend_before = _cpu_of(backend)
    started, cpu_started = time.perf_counter(), time.process_time()
    run(rest)
    elapsed, cpu_spent = time.perf_counter() - started, time.process_time() - cpu_started
    backend_after = _cpu_of(backend)
    count = len(rest)
    print(f"{count} certificates in one process, no Celery, {size} per task: {1000 * elapsed / count:.1f} ms each, "
          f"{count / elapsed:.1f} per second, {statements['sql'] / count:.1f} SQL statements each "
          f"(load average {load_before:.2f} -> {os.getloadavg()[0]:.2f})")
    if backend_before and backend_after:
        print(f"  CPU: this process {1000 * cpu_spent / count:.2f} ms each, its PostgreSQL backend "
              f"{1000 * (backend_after[1] - backend_before[1]) / count:.2f} ms each")
    for label, seconds in spent.most_common():
        print(f"  {label:58s} {1000 * seconds / count:6.2f} ms")
    rest_ms = 1000 * (elapsed - sum(spent.values())) / count
    print(f"  {'the rest (outbox rows, ORM, insert, commit)':58s} {rest_ms:6.2f} ms")
    print(f"  ({len(range(0, count, size))} tasks' worth of transactions; Celery's own cost per task is not included)")


WORKER_APP_NAME = "bench-certificates-worker"  # the worker's PostgreSQL backends, by application_name
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, CPU seconds of the process, CPU seconds of its reaped children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from 1 with pid and name.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK, (int(fields[13]) + int(fields[14])) / _TICK


class CpuMeter:
    """The CPU the worker spends (its main process, its pool processes, and those it reaped) and the CPU
    of the PostgreSQL backends it is connected to, between the first and the last ``sample``.

    Every process's last reading is kept, so a backend that ends between two samples counts up to the
    sample before. (A pool process replaced during the run would be counted twice, by its last reading
    and by the main process's reaped children; the benchmark's worker replaces none.)"""

    def __init__(self, worker_pid: int) -> None:
        self.worker_pid = worker_pid
        self.first: dict[str, dict[int, float]] | None = None
        self.last: dict[str, dict[int, float]] = {"main": {}, "pool": {}, "postgresql": {}}

    def _backends(self) -> list[int]:
        from sqlalchemy import text

        from learning.extensions import db

        pids = db.session.scalars(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                  {"name": WORKER_APP_NAME}).all()
        db.session.rollback()
        return list(pids)

    def sample(self) -> None:
        now: dict[str, dict[int, float]] = {"main": {}, "pool": {}, "postgresql": {}}
        main = _cpu_of(self.worker_pid)
        if main is not None:
            now["main"][self.worker_pid] = main[1] + main[2]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                found = _cpu_of(int(entry.name))
                if found is not None and found[0] == self.worker_pid:
                    now["pool"][int(entry.name)] = found[1]
        for pid in self._backends():
            found = _cpu_of(pid)
            if found is not None:
                now["postgresql"][pid] = found[1]
        if self.first is None:
            self.first = now
        for part, readings in now.items():
            self.last[part].update(readings)

    def settle(self, quiet: float = 0.02, timeout: float = 30.0) -> None:
        """Sample until the worker and its backends spent under ``quiet`` CPU seconds in a second."""
        deadline = time.monotonic() + timeout
        before = self._total()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            self.sample()
            now = self._total()
            if now - before < quiet:
                return
            before = now

    def _total(self) -> float:
        spent = self.spent()
        return spent["worker"] + spent["postgresql"]

    def spent(self) -> dict[str, float]:
        assert self.first is not None
        out = {part: sum(value - self.first[part].get(pid, 0.0) for pid, value in readings.items())
               for part, readings in self.last.items()}
        out["worker"] = out["main"] + out["pool"]
        return out


def _ensure_database(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def _wait_ready(worker, log_path: Path, timeout: float = 60) -> None:
    """Ready when the worker logs that it is (the ``celeryd_init`` banner ends with ``ready.``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"worker exited: {log_path.read_text()[-2000:]}")
        if b" ready." in log_path.read_bytes():
            return
        time.sleep(0.2)
    raise SystemExit("worker not ready")


if __name__ == "__main__":
    main()
