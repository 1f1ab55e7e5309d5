"""``learning.hot_statements``: the hot path's statements run straight on psycopg's cursor give the rows
SQLAlchemy's own path gives, bind and read values through the same types, fail as SQLAlchemy fails (its
exceptions, a lost connection invalidated, nothing half-done), and step aside for anything listening to
the statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Integer, String, bindparam, column, create_engine, event, exc, text
from sqlalchemy.dialects.postgresql import JSONB

from learning.extensions import db
from learning.hot_statements import HotStatement
from learning.models_base import UTCDateTime

# A statement with what the hot ones use: named parameters, a typed timestamp in and out, JSON in, an
# array in, several rows out.
_STATEMENT = HotStatement(text(
    "SELECT n, CAST(:at AS timestamptz) + make_interval(secs => n) AS at, "
    "CAST(:payload AS jsonb) ->> 'name' AS name "
    "FROM unnest(CAST(:numbers AS int[])) AS n ORDER BY n"
).bindparams(bindparam("at", type_=UTCDateTime), bindparam("payload", type_=JSONB)).columns(
    column("n", Integer), column("at", UTCDateTime), column("name", String)))


@pytest.fixture(autouse=True)
def _psycopg_only(app):
    with app.app_context():
        if db.engine.dialect.driver != "psycopg":
            pytest.skip("the hot statements run on psycopg 3 (PostgreSQL)")
        yield
        db.session.rollback()


def _parameters():
    return {"at": datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=3))), "payload": {"name": "Amina"},
            "numbers": [2, 1, 3]}


def test_the_rows_are_those_of_sqlalchemys_own_path_as_plain_tuples_with_aware_utc_datetimes(app):
    direct = _STATEMENT.rows(db.session.connection(), _parameters())
    assert direct == [(1, datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC), "Amina"),
                      (2, datetime(2026, 3, 1, 9, 0, 2, tzinfo=UTC), "Amina"),
                      (3, datetime(2026, 3, 1, 9, 0, 3, tzinfo=UTC), "Amina")]
    assert all(type(row) is tuple and row[1].tzinfo is UTC for row in direct)
    through_sqlalchemy = [tuple(row) for row in db.session.connection().execute(_STATEMENT.statement,
                                                                                  _parameters())]
    assert direct == through_sqlalchemy


def test_a_statement_is_prepared_on_its_first_execution_in_the_requests_transaction(app):
    connection = db.session.connection()
    before = connection.execute(text("SELECT txid_current()")).scalar()
    assert _STATEMENT.rows(connection, _parameters())
    assert connection.execute(text("SELECT txid_current()")).scalar() == before  # the same transaction
    prepared = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("unnest" in statement for statement in prepared), prepared


def test_with_a_listener_on_the_statements_it_goes_through_sqlalchemy_and_is_seen(app):
    seen: list[str] = []

    def log(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", log)
    try:
        rows = _STATEMENT.rows(db.session.connection(), _parameters())
    finally:
        event.remove(db.engine, "before_cursor_execute", log)
    assert [row[0] for row in rows] == [1, 2, 3]
    assert len(seen) == 1 and "unnest" in seen[0]
    assert _STATEMENT.rows(db.session.connection(), _parameters()) == rows  # the listener gone: direct again
    assert len(seen) == 1


def test_an_engine_that_echoes_its_statements_echoes_the_hot_ones_too(app, caplog):
    import logging

    db.engine.echo = True
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            with db.engine.connect() as connection:
                assert len(_STATEMENT.rows(connection, _parameters())) == 3
    finally:
        db.engine.echo = False
    assert any("unnest" in record.getMessage() for record in caplog.records)


def test_a_naive_datetime_is_refused_as_sqlalchemy_refuses_it_and_nothing_is_sent(app):
    connection = db.session.connection()
    with pytest.raises(exc.StatementError, match="naive datetime"):
        _STATEMENT.rows(connection, {**_parameters(), "at": datetime(2026, 3, 1, 12)})
    with pytest.raises(exc.StatementError, match="numbers"):
        _STATEMENT.rows(connection, {"at": datetime.now(UTC), "payload": {}})  # a parameter missing
    assert connection.execute(text("SELECT 1")).scalar() == 1  # the transaction is still good


def test_the_servers_error_is_sqlalchemys_exception_and_the_transaction_rolls_back(app):
    failing = HotStatement(text("SELECT 1 / :zero AS x").columns(column("x", Integer)))
    with pytest.raises(exc.DataError) as raised:
        failing.rows(db.session.connection(), {"zero": 0})
    assert "division by zero" in str(raised.value.orig)
    db.session.rollback()
    assert failing.rows(db.session.connection(), {"zero": 1}) == [(1,)]


def test_a_connection_the_server_ended_is_invalidated_and_the_next_request_gets_a_good_one(app):
    connection = db.session.connection()
    pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    with pytest.raises(exc.OperationalError) as raised:
        _STATEMENT.rows(connection, _parameters())
    assert raised.value.connection_invalidated
    assert connection.invalidated
    db.session.rollback()
    db.session.remove()
    fresh = db.session.connection()
    assert fresh.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    assert len(_STATEMENT.rows(fresh, _parameters())) == 3


def test_on_a_connection_of_its_own_it_begins_a_transaction_as_execute_would(app):
    with db.engine.connect() as connection:
        assert not connection.in_transaction()
        assert len(_STATEMENT.rows(connection, _parameters())) == 3
        assert connection.in_transaction()
        connection.commit()
        assert not connection.in_transaction()


def test_another_driver_takes_sqlalchemys_path():
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        statement = HotStatement(text("SELECT :x + 1 AS y").columns(column("y", Integer)))
        assert statement.rows(connection, {"x": 41}) == [(42,)]


def test_the_learners_requests_send_their_statements_straight_to_the_driver(api, make, monkeypatch):
    """Nothing listening to the statements: enrolling and completing a lesson through the API send the
    caller's, the enrolment's and the lesson's statements on the cursor directly, none through
    ``Connection.execute``, and answer as always."""
    from sqlalchemy.engine import Connection

    from learning.catalogue.services import all_lessons
    from learning.db_liveness import PREPARE_AT_ONCE

    course = make.course(quiz=None, modules=[{"title": "M", "lessons": [{"title": "One", "body": "1."}]}])
    lesson = all_lessons(course)[0].id
    client = api.as_user(make.user())
    executed = Connection.execute
    through_sqlalchemy: list = []

    def execute(connection, statement, *args, **kwargs):
        through_sqlalchemy.append(statement)
        return executed(connection, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", execute)
    enrolled = client.post(f"courses/{course.slug}/enrolments")
    completed = client.post(f"enrolments/{enrolled.get_json()['id']}/lessons/{lesson}/complete")
    assert enrolled.status_code == 201 and completed.status_code == 200
    assert completed.get_json()["status"] == "completed"
    assert through_sqlalchemy  # the course's outline and titles, read once for the process
    hot = [statement for statement in through_sqlalchemy
           if getattr(statement, "_execution_options", {}).get(PREPARE_AT_ONCE)]
    assert hot == [], hot
