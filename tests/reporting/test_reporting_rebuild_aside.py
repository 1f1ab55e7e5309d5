"""The rollup rebuilt aside: summaries answer during the whole rebuild, and the swapped-in rollup
equals a recount, changes made during the rebuild included.

PostgreSQL only for the concurrency (on SQLite the rebuild is one transaction; its result is
checked by the last test on either database).
"""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import insert, select, text

from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.reporting import rebuild as rebuild_module
from learning.reporting import services
from learning.reporting.models import ReportFact, ReportRebuild, ReportRebuildPending
from learning.reporting.queries import ReportFilter
from learning.reporting.rebuild import Aside, rebuild, rebuild_aside
from tests import factories_reporting as rf

HOLD = 4242  # an advisory lock the test holds to keep the rebuild in the middle of building


def summary() -> dict:
    return rf.comparable(services.summary(ReportFilter()))


state = rf.rollup_state


def history() -> dict:
    """A few people's enrolments through the ORM (the rollup kept exact), then rows loaded around
    the application (the rollup does not know them: what a rebuild is for)."""
    courses = [rf.course() for _ in range(2)]
    cohort = rf.cohort(courses[0])
    people = [rf.person(country=country) for country in ("CO", "KE", "FR", "CO")]
    rf.enrolment(people[0], courses[0], date(2024, 1, 5), date(2024, 2, 1), date(2024, 2, 2), cohort_id=cohort.id)
    rf.enrolment(people[1], courses[1], date(2023, 12, 30), date(2024, 1, 3))
    rf.enrolment(people[2], courses[0], date(2024, 6, 1))
    db.session.commit()
    with db.engine.begin() as connection:  # a bulk load: no session, so no hook sees it
        connection.execute(insert(Enrolment.__table__), [
            {"user_id": people[3].id, "course_id": courses[1].id, "status": "completed", "language": "en",
             "enrolled_at": rf.at(date(2022, 3, 1)), "completed_at": rf.at(date(2022, 4, 1)), "country": "CO",
             "sector": "health", "organisation_id": None, "cohort_id": None},
            {"user_id": people[2].id, "course_id": courses[1].id, "status": "withdrawn", "language": "en",
             "enrolled_at": rf.at(date(2021, 7, 9)), "completed_at": None, "country": "FR", "sector": "justice",
             "organisation_id": None, "cohort_id": None},
        ])
    return {"courses": courses, "people": people}


def in_place_state() -> tuple[dict, list]:
    """What the in-place rebuild (one transaction, the tables locked) makes of the same rows."""
    db.session.commit()
    with db.engine.begin() as connection:
        rebuild(connection)
    return state()


def schema_of_rollup() -> set[tuple]:
    return set(db.session.execute(text(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "AND tablename IN ('report_facts', 'report_cells') "
        "UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid IN ('report_facts'::regclass, 'report_cells'::regclass) "
        "UNION ALL SELECT 'default', column_name, column_default FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name IN ('report_facts', 'report_cells')")).all())


@pytest.fixture
def postgresql(app_context):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the rebuild aside and its concurrency are PostgreSQL's")


def test_summaries_answer_and_changes_count_while_a_rebuild_builds_aside(postgresql, monkeypatch):
    made = history()
    schema_before = schema_of_rollup()
    stale = summary()
    assert stale != rf.recount(rf.snapshot())  # the rollup does not know the loaded rows yet

    # Hold the rebuild in the middle of building: the cells' builder first waits for a lock the test holds.
    cells = rebuild_module.ASIDE[1]
    def held_fill(engine, connection, workers, say):  # the cells counted in the process (the default)
        with engine.connect() as waiting:
            waiting.execute(text(f"SELECT pg_advisory_xact_lock_shared({HOLD})"))
            waiting.rollback()
        return cells.fill(engine, connection, workers, say)

    monkeypatch.setattr(rebuild_module, "ASIDE", [rebuild_module.ASIDE[0], Aside(
        cells.table, lambda connection: [text(f"SELECT pg_advisory_xact_lock_shared({HOLD})"),
                                         *cells.statements(connection)], fill=held_fill)])
    holder = db.engine.connect()
    holder.execute(text(f"SELECT pg_advisory_lock({HOLD})"))
    holder.commit()
    outcome: dict = {}
    engine = db.engine

    def run() -> None:
        try:
            outcome["counts"] = rebuild_aside(engine, workers=1)
        except BaseException as error:  # reported below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not db.session.execute(text(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = :hold AND NOT granted"),
                {"hold": HOLD}).first():
            assert time.monotonic() < deadline and thread.is_alive(), outcome
            time.sleep(0.05)
        db.session.commit()
        building = db.session.scalars(select(ReportRebuild)).all()
        assert [r.state for r in building] == ["building"]

        # Another connection asks for the summary: answered at once, from the old rollup.
        db.session.execute(text("SET LOCAL statement_timeout = '5s'"))
        db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
        assert summary() == stale
        db.session.commit()

        # A learner enrols and completes meanwhile, through the application: not blocked either.
        db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
        newcomer = rf.person(country="KE")
        rf.enrolment(newcomer, made["courses"][1], date(2024, 2, 10), date(2024, 2, 20), date(2024, 2, 21))
        rf.enrolment(made["people"][0], made["courses"][1], date(2024, 3, 1), date(2024, 3, 9))
        db.session.commit()
        during = summary()
        assert during["professionals_reached"] == stale["professionals_reached"] + 1  # counted live, as ever
        assert set(db.session.scalars(select(ReportRebuildPending.user_id))) == {newcomer.id, made["people"][0].id}
        db.session.commit()
    finally:
        holder.execute(text(f"SELECT pg_advisory_unlock({HOLD})"))
        holder.commit()
        holder.close()
        thread.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["counts"]["caught_up_people"] == 2

    # Swapped in: every figure is a recount of the rows, those added during the rebuild included.
    after = summary()
    assert after == rf.recount(rf.snapshot())
    assert after["professionals_reached"] == stale["professionals_reached"] + 2
    assert [r.state for r in db.session.scalars(select(ReportRebuild))] == ["swapped"]
    assert db.session.scalar(select(ReportRebuildPending.user_id)) is None
    assert not db.session.execute(text(
        "SELECT nspname FROM pg_namespace WHERE nspname IN ('report_build', 'report_old')")).all()
    assert schema_of_rollup() == schema_before  # the same indexes, keys and defaults as migrated
    swapped = state()
    assert swapped == in_place_state()

    # Later changes keep the swapped-in rollup exact; new facts take ids from its own sequence.
    rf.enrolment(made["people"][1], made["courses"][0], date(2025, 1, 2), date(2025, 1, 30))
    db.session.commit()
    assert summary() == rf.recount(rf.snapshot())
    assert db.session.execute(text("SELECT count(*) = count(DISTINCT id) FROM report_facts")).scalar()


def test_a_failed_rebuild_leaves_the_live_rollup_and_stops_noting(postgresql, monkeypatch):
    history()
    before = state()
    facts, cells = rebuild_module.ASIDE
    monkeypatch.setattr(rebuild_module, "ASIDE", [facts, Aside(
        cells.table, lambda connection: [*cells.statements(connection), text("SELECT 1 / 0")])])
    with pytest.raises(Exception, match="division by zero"):
        rebuild_aside(db.engine)
    assert state() == before
    assert [r.state for r in db.session.scalars(select(ReportRebuild))] == ["failed"]
    db.session.commit()
    person = rf.person()
    rf.enrolment(person, rf.course(), date(2024, 5, 5))
    db.session.commit()
    assert db.session.scalar(select(ReportRebuildPending.user_id)) is None
    assert not db.session.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = 'report_build'")).all()


def test_rebuild_aside_equals_a_recount_on_either_database(app_context):
    history()
    db.session.commit()
    counts = rebuild_aside(db.engine)
    assert counts["facts"] == db.session.scalar(select(db.func.count()).select_from(ReportFact))
    assert summary() == rf.recount(rf.snapshot())
    assert summary()["by_year"] == rf.recount(rf.snapshot())["by_year"]
