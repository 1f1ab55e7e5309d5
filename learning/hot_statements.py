"""The learner's hot statements, run straight on the driver's cursor of the request's connection.

Every request of the learner's hot path (docs/PERFORMANCE.md, "Hot path, ninth pass") sends one or two of
a handful of fixed statements: the caller's (``learning.accounts.tokens``), the enrolment's and the
lesson's (``learning.enrolment.hot``). Through ``Connection.execute`` each execution builds an execution
context, looks the statement up in the compiled cache, reads ``cursor.description`` (one psycopg
``Column`` object per result column, about twenty a request) to build a ``CursorResult`` and its
metadata, and wraps each row: about a sixth of a web worker's CPU per request, more than any other part
of the platform's own code. A ``HotStatement`` compiles its statement once per dialect and then does what
SQLAlchemy's default path does for it, minus that machinery:

- the bind parameters pass through the same bind processors (``UTCDateTime`` refuses naive datetimes,
  JSON is adapted as SQLAlchemy's psycopg dialect adapts it), escaped names as the compiled statement
  gives them;
- the statement is prepared on its first execution on a connection (as ``PREPARE_AT_ONCE`` asks of the
  default path, ``learning.db_liveness``), on the request's own connection and transaction (the
  session's: a ``BEGIN`` if none was open yet, exactly as before);
- each row comes back as a tuple, through the result columns' processors (``UTCDateTime`` gives aware
  UTC datetimes);
- a driver error goes through the connection's own handling: wrapped in SQLAlchemy's exception (so an
  ``OperationalError`` still answers 503, ``learning.errors``), ``handle_error`` listeners called, and a
  connection the server dropped invalidated, never handed back to the pool.

Whenever something listens to the engine's or connection's statement events (``before_cursor_execute``:
a tracer, an APM agent, the tests that count statements), the statement goes through
``Connection.execute`` instead, so that whatever listens sees it as it always did, and so it does when the
engine echoes its statements (``SQLALCHEMY_ECHO``); the rows are the same either way
(``tests/enrolment/test_hot_statements.py``). Other drivers than psycopg 3 take that path too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    compiled: Any
    bind_processors: dict
    escaped_names: dict  # empty when no name needed escaping
    result_processors: tuple | None  # one per result column (a function or None); None when no column has one


class HotStatement:
    """A fixed statement of the hot path: ``rows(connection, parameters)`` runs it on ``connection`` (the
    session's) and returns its rows as tuples."""

    __slots__ = ("statement", "_compiled")

    def __init__(self, statement: Executable):
        self.statement = statement
        self._compiled: dict[Any, _Compiled] = {}  # by dialect: one, in practice

    def rows(self, connection: Connection, parameters: dict) -> list[tuple]:
        if connection.dialect.driver != "psycopg" or connection._echo or _listened(connection):
            return [tuple(row) for row in connection.execute(self.statement, parameters)]
        compiled = self._compiled.get(connection.dialect)
        if compiled is None:
            compiled = self._compiled[connection.dialect] = self._compile(connection.dialect)
        if not connection.in_transaction():  # as ``Connection.execute`` begins one ("commit as you go")
            connection.begin()
        bound, cursor = parameters, None
        try:
            values = compiled.compiled.construct_params(parameters)
            processors, escaped = compiled.bind_processors, compiled.escaped_names
            bound = {escaped.get(key, key): processors[key](value) if key in processors else value
                     for key, value in values.items()}
            cursor = connection.connection.dbapi_connection.cursor()
            cursor.execute(compiled.sql, bound, prepare=True)
            fetched = cursor.fetchall()
            cursor.close()
        except BaseException as error:  # as SQLAlchemy's own path: wrapped (a bad value: StatementError; the
            # server's error: its DBAPIError), the cursor closed, the connection invalidated if it was lost, raised
            connection._handle_dbapi_exception(error, compiled.sql, bound, cursor, None)
        result_processors = compiled.result_processors
        if result_processors is None:
            return fetched
        return [tuple(value if process is None else process(value)
                      for process, value in zip(result_processors, row, strict=True)) for row in fetched]

    def _compile(self, dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.positional or compiled.literal_execute_params or compiled.post_compile_params:
            raise TypeError("a hot statement takes named parameters only, none expanded at execution")
        result_processors = tuple(entry.type._cached_result_processor(dialect, None)
                                  for entry in compiled._result_columns)
        return _Compiled(compiled.string, compiled, dict(compiled._bind_processors),
                         dict(compiled.escaped_bind_names), result_processors if any(result_processors) else None)


def _listened(connection: Connection) -> bool:
    """Whether anything listens to the statements ``Connection.execute`` would run on ``connection`` (its
    own listeners or its engine's; one removed no longer counts). The flags are SQLAlchemy's own test: false
    while nothing was ever attached, as in production; once something was, the listeners are looked at."""
    if not (connection._has_events or connection.engine._has_events):
        return False
    dispatch = connection.dispatch
    return bool(dispatch.before_execute or dispatch.after_execute or dispatch.before_cursor_execute
                or dispatch.after_cursor_execute)
