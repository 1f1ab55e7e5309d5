"""How the app is put together: every feature registered explicitly by ``create_app``, session hooks on
the app's session only, outbox handlers in a registry the app owns, and the rollup's public
``note_changed`` for writes its hooks cannot see."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.models_base import utcnow
from learning.reporting.models import ReportFact


def test_every_blueprint_is_registered_by_name(app):
    assert {"home", "accounts", "catalogue", "enrolment", "cohorts", "certificates", "reminders", "reporting",
            "audit"} <= set(app.blueprints)
    api = {name for name, bp in app.blueprints.items() if bp.url_prefix and bp.url_prefix.startswith("/api/v1")}
    assert {"api_accounts", "api_audit", "api_catalogue", "api_certificates", "api_cohort_rosters", "api_cohorts",
            "api_enrolment", "api_reports"} <= api


def test_outbox_handlers_are_registered_where_the_app_is_built(app):
    registry = app.extensions["outbox"]
    assert set(registry.handlers) >= {"mail.send", "account.erasure_requested", "cohort.invitations",
                                      "cohort.roster_import", "enrolment.completed", "report.export_requested",
                                      "certificate.issued"}
    assert "enrolment.completed" in registry.batch_handlers


def test_each_session_hook_is_attached_once_to_the_apps_session_only(app, base_config):
    """Every app the tests build calls the features' ``init_app`` again: a hook must still be attached
    once, and to ``db.session``'s sessions, not to SQLAlchemy's ``Session`` class."""
    from tests.conftest import build_app

    build_app(base_config)
    with app.app_context():
        hooks = db.session().dispatch
        names = {kind: [f.__name__ for f in getattr(hooks, kind)] for kind in
                 ("after_flush", "before_commit", "after_commit", "after_rollback", "do_orm_execute")}
    assert names == {
        "after_flush": ["_remember_ids", "_remember_people", "update_linked_courses"],
        "before_commit": ["_refresh_before_commit"],
        "after_commit": ["_publish_after_commit", "forget_transaction_caches", "forget_course_activities"],
        "after_rollback": ["_forget_after_rollback", "forget_transaction_caches", "forget_course_activities"],
        "do_orm_execute": ["_remember_people_of_bulk_statements"],
    }
    plain = Session().dispatch
    assert not list(plain.after_flush) and not list(plain.before_commit) and not list(plain.after_commit)


def test_a_session_outside_the_app_gets_no_hooks(app, make):
    """The rollup's hooks are attached to ``db.session``, not to every SQLAlchemy session in the process."""
    course = make.course()
    learner = make.user()
    with Session(db.engine) as other:
        other.add(Enrolment(user_id=learner.id, course_id=course.id, status="active", enrolled_at=utcnow(),
                            country="CO", sector="law_enforcement", language="en"))
        other.commit()
    assert db.session.scalar(select(func.count()).select_from(ReportFact)) == 0


def test_note_changed_refreshes_people_a_statement_does_not_name(app, make):
    """A multi-row INSERT carries its rows in the statement, not in parameters: the writer says whose
    facts changed, and they are exact once the transaction commits."""
    from learning.reporting.rollup import note_changed

    course = make.course()
    people = [make.user(), make.user()]
    db.session.execute(insert(Enrolment).values([
        {"user_id": person.id, "course_id": course.id, "status": "active", "enrolled_at": utcnow(),
         "country": "CO", "sector": "law_enforcement", "language": "en"} for person in people
    ]))
    note_changed(db.session, [people[0].id])
    db.session.commit()
    noted = db.session.scalars(select(ReportFact.user_id)).all()
    assert noted == [people[0].id]  # the other one was not noted: the rollup no longer guesses from bind names


def test_the_celery_worker_gets_the_same_registrations(app, base_config):
    """``celery_worker`` builds the app with ``create_app``: the worker knows every task and every
    outbox handler, and its session has the rollup's hooks, with nothing imported for its side effects."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import json, celery_worker as w\n"
        "from learning.extensions import db\n"
        "with w.flask_app.app_context():\n"
        "    hooks = [f.__name__ for f in db.session().dispatch.before_commit]\n"
        "print(json.dumps({'handlers': sorted(w.flask_app.extensions['outbox'].handlers),\n"
        "                  'tasks': sorted(t for t in w.celery_app.tasks if not t.startswith('celery.')),\n"
        "                  'hooks': hooks}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env={**os.environ, **base_config},
                          capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # Exactly what the web app registers: the same factory, nothing left to an import's side effect.
    assert found["handlers"] == sorted(app.extensions["outbox"].handlers)
    assert found["tasks"] == sorted(t for t in app.extensions["celery"].tasks if not t.startswith("celery."))
    assert {"accounts.apply_retention", "outbox.process", "outbox.process_batch", "outbox.sweep",
            "reminders.run", "reminders.send_batch"} <= set(found["tasks"])
    assert found["hooks"] == ["_refresh_before_commit"]


def test_the_models_mappers_are_ready_when_the_app_is_built_not_at_the_first_request(base_config):
    """A fresh process (a web worker after its start or restart): building the app configures every mapper,
    so the first request that touches the ORM (on the hot path, the enrolment's statement) does not pay for
    it, and gunicorn's ``post_worker_init`` freezes them with the rest of what was loaded at boot."""
    import os
    import subprocess
    import sys

    script = ("from learning.extensions import db\n"
              "import learning.enrolment.models\n"
              "print(db.Model.registry._new_mappers)\n"
              "from learning import create_app\n"
              "create_app()\n"
              "print(db.Model.registry._new_mappers)\n")
    env = {**os.environ, **{key: str(value) for key, value in base_config.items() if isinstance(value, str)}}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"], result.stderr[-2000:]
