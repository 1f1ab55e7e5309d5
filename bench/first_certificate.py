"""The newcomer's first certificate: the embedded mode right after ``make run``.

What ``make run`` does, in a fresh instance directory: migrate SQLite, seed the demo data (its ~290
completions leave their ``enrolment.completed`` events in the filesystem broker), start the Celery
worker with beat (2 processes). Then, while the demo's backlog drains, a newcomer finishes a course
every ``--every`` seconds (``--probes`` of them, the first as soon as the worker is ready): the time
from the completion's commit to its certificate being committed is what they wait. Also measured:
how long the demo's backlog takes to drain, and the worker's resident memory at rest and after.

    .venv/bin/python bench/first_certificate.py            # aim: each probe's certificate within 5 s
    .venv/bin/python bench/first_certificate.py --leave-events  # the seed's ~290 events left to the worker
    .venv/bin/python bench/first_certificate.py --learners 100 --probes 2   # a quick look

Figures in ``bench/results/first_certificate.json``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, children_of, process_tree_rss, write_result  # noqa: E402

AIM_SECONDS = 5.0


def embedded_env(instance: Path) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "MAIL_SERVER", "LEARNING_BROKER_DIR"}}
    return {**env, "LEARNING_INSTANCE_PATH": str(instance), "FLASK_APP": "learning", "PYTHONUNBUFFERED": "1"}


def flask(env: dict, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


WORKERS = 2  # scripts/worker.sh: the interactive worker (with beat) and the bulk one


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    """The workers exactly as ``scripts/run.sh`` starts them (``scripts/worker.sh``), ready to consume."""
    out = open(log, "wb")  # noqa: SIM115
    celery = str(Path(sys.executable).with_name("celery"))
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "worker.sh")], cwd=ROOT,
                            env={**env, "CELERY": celery}, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600  # the bulk worker starts once the interactive one is ready
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        if log.read_bytes().count(b" ready.") >= WORKERS:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the worker did not start")


def workers_rss(script_pid: int) -> dict:
    """The RSS of each worker ``scripts/worker.sh`` started (its own process, its children: beat
    for the interactive one): ``{"main": [MB per worker], "children": [MB...], "max": MB, "total": MB}``."""
    trees = [process_tree_rss(pid) for pid in children_of(script_pid)]
    mains = [tree["main"] for tree in trees if tree["main"] is not None]
    children = [value for tree in trees for value in tree["children"]]
    return {"main": mains, "children": children, "max": max([0, *mains, *children]),
            "total": round(sum(mains) + sum(children), 1)}


def beat_rss(env: dict, instance: Path, settle: float = 8.0) -> float | None:
    """The resident memory of ``celery beat`` on its own (as production runs it), after ``settle`` s."""
    with open(instance / "beat.log", "wb") as log:
        beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "celery_worker", "beat", "--loglevel=INFO",
                                 "--schedule", str(instance / "beat-schedule")], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            time.sleep(settle)
            return process_tree_rss(beat.pid)["max"]
        finally:
            beat.terminate()
            beat.wait(30)


def newcomer_completes(number: int):
    """A new learner enrols in a demo course and completes it, as the site would; the enrolment's id."""
    from sqlalchemy import select

    from learning.accounts import services as accounts
    from learning.catalogue.models import Course
    from learning.catalogue.services import all_lessons
    from learning.enrolment import services as enrolment
    from learning.extensions import db

    user = accounts.register_user(
        {"email": f"newcomer{number}-{time.time_ns()}@example.org", "full_name": f"Newcomer {number}",
         "country": "KE", "sector": "education", "language": "en", "timezone": "UTC"},
        send_verification=False, password_required=False)
    course = db.session.scalars(select(Course).where(Course.status == "published").order_by(Course.id)).first()
    item = enrolment.enrol(user, course)
    db.session.commit()
    for lesson in all_lessons(course):
        enrolment.complete_lesson(item, lesson.id)
    if course.quiz is not None and item.status == "active":
        answers = {str(q.id): next(c.id for c in q.choices if c.correct) for q in course.quiz.questions}
        enrolment.submit_quiz(item, answers)
    db.session.commit()  # the completion and its event; the event is published now
    return item.id


def certificate_of(enrolment_id: int) -> bool:
    from sqlalchemy import select

    from learning.certificates.models import Certificate
    from learning.extensions import db

    db.session.rollback()
    return db.session.scalar(select(Certificate.id).where(Certificate.enrolment_id == enrolment_id)) is not None


def backlog() -> int:
    from sqlalchemy import func, select

    from learning.extensions import db
    from learning.outbox.models import OutboxEvent

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.event_type == "enrolment.completed", OutboxEvent.status != "done"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=400, help="demo learners (seed-demo's default: 400)")
    parser.add_argument("--probes", type=int, default=4, help="newcomers finishing while the backlog drains")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between newcomers")
    parser.add_argument("--leave-events", action="store_true",
                        help="seed as before: the demo's completion events left to the worker (a backlog of batches)")
    parser.add_argument("--keep-log", type=Path, help="copy the worker's log there")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="learning-first-certificate-") as tmp:
        instance = Path(tmp)
        env = embedded_env(instance)
        figures: dict = {"aim_seconds": AIM_SECONDS, "load_before": os.getloadavg()}
        figures["migrate_s"] = round(flask(env, "db", "upgrade", "heads"), 2)
        seed = ["seed-demo", "--learners", str(args.learners)] + (["--leave-events"] if args.leave_events else [])
        figures["seed_mode"] = "events left to the worker" if args.leave_events else "certificates issued by the seed"
        figures["seed_s"] = round(flask(env, *seed), 2)
        os.environ.update(env)
        from learning import create_app

        app = create_app()
        with app.app_context():
            figures["backlog_events"] = backlog()
        worker = start_worker(env, instance / "worker.log")
        ready = time.perf_counter()
        figures["rss_mb"] = {"worker_at_rest": workers_rss(worker.pid)}
        try:
            with app.app_context():
                waits, pending = [], {}
                drained_at = None
                next_probe = ready
                while time.perf_counter() - ready < 300:
                    now = time.perf_counter()
                    if len(pending) + len(waits) < args.probes and now >= next_probe:
                        clicked = time.perf_counter()
                        enrolment_id = newcomer_completes(len(waits) + len(pending) + 1)
                        committed = time.perf_counter()  # the certificate's wait starts at the commit
                        pending[enrolment_id] = (committed, committed - clicked, backlog())
                        next_probe = now + args.every
                    for enrolment_id, (committed, completing, behind) in list(pending.items()):
                        if certificate_of(enrolment_id):
                            waits.append({"seconds": round(time.perf_counter() - committed, 2),
                                          "enrol_and_complete_s": round(completing, 2),
                                          "backlog_events_when_completed": behind})
                            del pending[enrolment_id]
                    if drained_at is None and backlog() == 0:
                        drained_at = time.perf_counter()
                    if drained_at is not None and not pending and len(waits) == args.probes:
                        break
                    time.sleep(0.05)
            figures["newcomers"] = waits
            figures["newcomer_max_s"] = max((w["seconds"] for w in waits), default=None)
            figures["backlog_drained_s"] = round(drained_at - ready, 2) if drained_at else None
            figures["rss_mb"]["worker_after"] = workers_rss(worker.pid)
            figures["load_after"] = os.getloadavg()
        finally:
            worker.terminate()
            worker.wait(120)  # a warm shutdown: each worker finishes its task (10-15 s at load 9)
            if args.keep_log:
                args.keep_log.write_bytes((instance / "worker.log").read_bytes())
        figures["rss_mb"]["beat_at_rest"] = beat_rss(env, instance)
    path = write_result("first_certificate" + ("_backlog" if args.leave_events else ""), figures)
    if figures["backlog_events"]:
        print(f"seed ({figures['seed_mode']}): {figures['backlog_events']} demo events left, drained in "
              f"{figures['backlog_drained_s']} s after the worker was ready (seed {figures['seed_s']} s)")
    else:
        print(f"seed ({figures['seed_mode']}): no demo event left to the worker (seed {figures['seed_s']} s)")
    for number, wait in enumerate(figures["newcomers"], 1):
        print(f"newcomer {number}: certificate {wait['seconds']:.2f} s after the completion's commit "
              f"({wait['backlog_events_when_completed']} completion events waiting, its own included)   aim: < {AIM_SECONDS:.0f} s"
              f"   [enrolling and completing took {wait['enrol_and_complete_s']:.2f} s]")
    rss = figures["rss_mb"]
    print(f"worker RSS (MB), largest process: at rest {rss['worker_at_rest']['max']}, after "
          f"{rss['worker_after']['max']} (workers {rss['worker_after']['main']}, their children (beat) "
          f"{rss['worker_after']['children']}; all {rss['worker_after']['total']})   aim: < 250 MB")
    print(f"beat on its own, RSS at rest: {rss['beat_at_rest']} MB")
    print(f"load average {figures['load_before'][0]:.1f} -> {figures['load_after'][0]:.1f}; {path}")


if __name__ == "__main__":
    main()
