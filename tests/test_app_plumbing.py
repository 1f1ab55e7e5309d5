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
    assert len(api) == 8


def test_outbox_handlers_are_registered_where_the_app_is_built(app):
    registry = app.extensions["outbox"]
    assert set(registry.handlers) == {"mail.send", "account.erasure_requested", "cohort.invitations",
                                      "cohort.roster_import", "enrolment.completed", "report.export_requested"}
    assert set(registry.batch_handlers) == {"enrolment.completed"}


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
        "after_flush": ["_remember_ids", "_remember_people"],
        "before_commit": ["_refresh_before_commit"],
        "after_commit": ["_publish_after_commit", "forget_transaction_caches"],
        "after_rollback": ["_forget_after_rollback", "forget_transaction_caches"],
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
