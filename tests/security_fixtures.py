"""A shared "world" for the security tests: every kind of person and every kind of thing they may
or may not reach, built once through the factories and described by plain values (ids, codes,
tokens), so that tests never hold ORM objects across requests.

    admin
    trainer_a runs cohort_a (course "course"), trainer_b runs cohort_b (the same course)
    learner: a member of cohort_a (enrolment), and a completed enrolment with a certificate
    other_learner: an enrolment and a certificate of their own
    a draft course, a session in each cohort, a roster import in cohort_a, a ready report export
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from learning.extensions import db
from tests import factories
from tests import factories_cohorts as cohorts

ROLES = ("anonymous", "learner", "other_learner", "trainer", "other_trainer", "admin", "manager", "other_manager")
ROLE_KINDS = {"learner": (), "other_learner": (), "trainer": ("trainer",), "other_trainer": ("trainer",),
              "admin": ("admin",), "manager": ("org_manager",), "other_manager": ("org_manager",)}


@dataclass
class World:
    """Plain values naming everything in the world; ``ids`` fills path templates."""

    ids: dict = field(default_factory=dict)
    emails: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)


def build_world() -> World:
    """Everything the authorisation tests reach for, committed (needs an app context)."""
    from learning.accounts.models import Organisation, OrganisationManager
    from learning.certificates.services import issue_certificate
    from learning.cohorts import imports
    from learning.organisations.models import JoinRequest
    from learning.reminders.services import unsubscribe_token
    from learning.reporting import exports
    from learning.reporting.queries import ReportFilter

    world = World()
    people = {
        "admin": factories.admin(full_name="Ada Admin"),
        "trainer": factories.trainer(full_name="Tomás Trainer"),
        "other_trainer": factories.trainer(full_name="Olu Othertrainer"),
        "learner": factories.user(full_name="Lena Learner"),
        "other_learner": factories.user(full_name="Omar Otherlearner"),
        # Organisation managers: ``manager`` steers organisation A (the learner's), ``other_manager`` B.
        "manager": factories.user(roles=("org_manager",), full_name="Mia Manager"),
        "other_manager": factories.user(roles=("org_manager",), full_name="Otto Othermanager"),
    }
    org_a = Organisation(name="Organisation A", country="CO")
    org_b = Organisation(name="Organisation B", country="PE")
    db.session.add_all([org_a, org_b])
    db.session.flush()
    people["learner"].organisation_id, people["other_learner"].organisation_id = org_a.id, org_b.id
    db.session.add_all([OrganisationManager(user_id=people["manager"].id, organisation_id=org_a.id),
                        OrganisationManager(user_id=people["other_manager"].id, organisation_id=org_b.id)])
    applicant = factories.user(full_name="Ari Applicant")
    join_request = JoinRequest(user_id=applicant.id, organisation_id=org_a.id, source="profile", status="pending")
    db.session.add(join_request)
    db.session.commit()
    course = factories.course()
    finished_course = factories.course()
    draft = factories.course(published=False)
    cohort_a = cohorts.cohort(people["trainer"], course, name="Cohort A")
    cohort_b = cohorts.cohort(people["other_trainer"], course, name="Cohort B")
    membership = cohorts.member(cohort_a, people["learner"])
    cohorts.member(cohort_b, people["other_learner"])
    session_a = cohorts.session(cohort_a)
    session_b = cohorts.session(cohort_b)
    completed = factories.completed_enrolment(people["learner"], finished_course)
    certificate = issue_certificate(completed.id)
    other_completed = factories.completed_enrolment(people["other_learner"], finished_course)
    other_certificate = issue_certificate(other_completed.id)
    roster = cohorts.csv_bytes("email,full_name,country,sector", f"{people['learner'].email},Lena Learner,CO,health")
    import_a = imports.start_import(cohort_a, roster, imports.ALL_OR_NOTHING, people["trainer"].id, "a.csv")
    db.session.commit()
    export = exports.request_export(people["admin"].id, ReportFilter(), ("country",), "csv", "en")
    db.session.commit()
    exports.build_export(export.id)

    lesson_ids = [lesson.id for module in course.modules for lesson in module.lessons]
    world.ids = {
        "admin": people["admin"].id, "trainer": people["trainer"].id, "other_trainer": people["other_trainer"].id,
        "learner": people["learner"].id, "other_learner": people["other_learner"].id,
        "course": course.slug, "finished_course": finished_course.slug, "draft": draft.slug,
        "cohort_a": cohort_a.id, "cohort_b": cohort_b.id,
        "enrolment": membership.id, "completed_enrolment": completed.id,
        "other_enrolment": other_completed.id,
        "lesson": lesson_ids[0], "session_a": session_a.id, "session_b": session_b.id,
        "import_a": import_a.id, "export": export.id,
        "certificate": certificate.code, "other_certificate": other_certificate.code,
        "status_list": certificate.status_list_index // 131_072,
        "unsubscribe": unsubscribe_token(people["learner"]),
        "year": completed.completed_at.year,
        "org_a": org_a.id, "org_b": org_b.id, "join_request": join_request.id,
    }
    world.emails = {role: person.email for role, person in people.items()}
    world.tokens = {role: factories.token(person) for role, person in people.items()}
    db.session.remove()
    return world


@contextmanager
def module_world(app) -> Iterator[World]:
    """A world that lives for a whole test module: built on empty tables, emptied afterwards."""
    from tests.conftest import empty_tables

    with app.app_context():
        empty_tables()
        built = build_world()
    yield built
    with app.app_context():
        empty_tables()


def sign_in(client, email: str) -> None:
    """Sign a browser client in (CSRF is off in the test app)."""
    response = client.post("/account/login", data={"email": email, "password": factories.PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def fingerprint() -> tuple:
    """Rows in every table, and the states that a refused call must not change."""
    from learning.accounts.models import User
    from learning.catalogue.models import Course
    from learning.certificates.models import Certificate
    from learning.cohorts.models import Cohort
    from learning.enrolment.models import Enrolment
    from learning.organisations.models import JoinRequest

    db.session.expire_all()
    counts = tuple(db.session.scalar(select(func.count()).select_from(table)) for table in db.metadata.sorted_tables)
    states = (
        tuple(db.session.execute(select(User.id, User.full_name, User.email, User.erased_at, User.organisation_id)
                                 .order_by(User.id))),
        tuple(db.session.execute(select(JoinRequest.id, JoinRequest.status).order_by(JoinRequest.id))),
        tuple(db.session.execute(select(Enrolment.id, Enrolment.status, Enrolment.completed_at).order_by(Enrolment.id))),
        tuple(db.session.execute(select(Cohort.id, Cohort.name, Cohort.status).order_by(Cohort.id))),
        tuple(db.session.execute(select(Course.slug, Course.status).order_by(Course.slug))),
        tuple(db.session.execute(select(Certificate.code, Certificate.revoked_at).order_by(Certificate.code))),
    )
    return counts, states


def start_gunicorn(config: dict, log_path: Path, workers: int = 1, threads: int = 4) -> tuple[subprocess.Popen, str]:
    """``gunicorn 'learning:create_app()'`` as deployed (gunicorn.conf.py), configured by ``config``
    (environment form), on a free loopback port; its output goes to ``log_path``."""
    from tests.conftest import ROOT
    from tests.support import free_port

    port = free_port()
    env = {**os.environ, **config, "LOG_LEVEL": "WARNING", "ACCESS_LOG": "0",
           "WEB_CONCURRENCY": str(workers), "WEB_THREADS": str(threads)}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "learning:create_app()", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180  # a loaded machine starts it slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log_path.read_text()[-3000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"gunicorn did not start: {log_path.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
