"""Rebuilding the statistics rollup from scratch: every fact and cell recomputed from the source tables.

Needed only after a load that bypassed the application (``flask --app learning reports rebuild``,
``bench/seed_scale.py``), or to check the incremental maintenance of ``rollup.py`` (the property
tests compare the two).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, insert, literal, literal_column, select, text, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.rollup import (
    ALL_TIME,
    CELL_COLUMNS,
    CELL_FAMILIES,
    DIMENSIONS,
    FACT_INSERT_COLUMNS,
    NEUTRAL,
    REBUILD_GATE,
    YEAR,
    dims_name,
    fact_rows_select,
    refresh_people,
)


def rebuild(connection: Connection) -> dict[str, int]:
    """Recompute every fact and cell from the source tables, in the caller's transaction.

    On PostgreSQL the two tables are emptied with TRUNCATE and their indexes are dropped while rows
    go in and built again afterwards (one sort each instead of maintaining them row by row), with
    the memory for sorting raised for this transaction. Other transactions that write enrolments
    wait for it, as the tables are locked until it commits.
    """
    dialect = connection.dialect.name
    tables = (ReportFact.__table__.name, ReportCell.__table__.name)
    if dialect == "postgresql":
        connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)}")
        indexes = _drop_indexes(connection, tables)
    else:
        connection.execute(delete(ReportCell))
        connection.execute(delete(ReportFact))
    connection.execute(insert(ReportFact).from_select(FACT_INSERT_COLUMNS, fact_rows_select(dialect)))
    if dialect == "postgresql":
        connection.exec_driver_sql("ANALYZE report_facts")
    for subset, grains in CELL_FAMILIES:
        for grain in grains:
            connection.execute(insert(ReportCell).from_select(list(CELL_COLUMNS) + ["n"],
                                                              _cells_select(subset, grain)))
    if dialect == "postgresql":
        for statement in indexes:
            connection.exec_driver_sql(statement)
    counts = {
        "facts": connection.scalar(select(func.count()).select_from(ReportFact)),
        "cells": connection.scalar(select(func.count()).select_from(ReportCell)),
    }
    if dialect == "postgresql":
        connection.exec_driver_sql("ANALYZE report_cells")
        connection.exec_driver_sql("ANALYZE report_facts")
    return counts


def _drop_indexes(connection: Connection, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' indexes and primary keys; returns the statements that make them again."""
    again: list[str] = []
    for table in tables:
        for name, definition in connection.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u') ORDER BY conname"
        ), {"table": table}):
            connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            again.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in connection.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :table ORDER BY indexname"
        ), {"table": table}):
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
            again.append(definition)
    return again


# The kinds of facts counted in people (every kind but "certified", which is counted in certificates):
# named rather than "kind <> 'certified'" so that a year's statement reads the (kind, day) index.
PEOPLE_KINDS = ("reached", "trained")


def _cells_select(subset: tuple[str, ...], grain: str, years: tuple[int | None, int | None] | None = None):
    """Distinct people per cell as DISTINCT then COUNT (hash aggregation, unlike COUNT(DISTINCT)),
    plus certificates per cell; the all-time period is a constant, never grouped by. With
    ``years=(first, last)`` (either None for unbounded; year and month grains only), only the cells
    of those years: a year's cells are counted from that year's facts alone."""
    columns = [c for c in NEUTRAL if c in {DIMENSIONS[name] for name in subset}]
    within = []
    if years is not None:
        # The year on both the year and the day (equal by construction): the day's bounds let the
        # facts' (kind, day) index, built before the cells, read only that year's facts.
        first, last = years
        if first is not None:
            within += [ReportFact.year >= first, ReportFact.day >= date(first, 1, 1)]
        if last is not None:
            within += [ReportFact.year <= last, ReportFact.day < date(last + 1, 1, 1)]
    constant = grain == ALL_TIME
    period = None if constant else (ReportFact.year if grain == YEAR else ReportFact.month)
    people = (
        select(ReportFact.kind, *([] if constant else [period.label("period")]),
               *[getattr(ReportFact, c) for c in columns], ReportFact.user_id)
        .where(ReportFact.kind.in_(PEOPLE_KINDS), *within)
        .distinct()
        .subquery("people")
    )

    def cell(source, value):
        values = [source.c[c] if c in columns else literal(NEUTRAL[c]) for c in NEUTRAL]
        period_column = literal_column("0") if constant else source.c.period
        grouping = [source.c.kind, *([] if constant else [period_column]), *[source.c[c] for c in columns]]
        return (select(source.c.kind, literal(dims_name(subset)), period_column, *values, value)
                .group_by(*grouping))

    certified = (
        select(ReportFact.kind, *([] if constant else [period.label("period")]),
               *[getattr(ReportFact, c) for c in columns], ReportFact.weight)
        .where(ReportFact.kind == "certified", *within)
        .subquery("certified")
    )
    return union_all(cell(people, func.count()), cell(certified, func.sum(certified.c.weight)))


# --- rebuilding aside and swapping in (PostgreSQL) -------------------------------------------------

BUILD_SCHEMA, OLD_SCHEMA = "report_build", "report_old"


@dataclass(frozen=True)
class Aside:
    """A table the rebuild builds aside and swaps in with the others, in one short transaction.

    ``statements(connection)`` gives the INSERT ... SELECT statements that fill it: independent of one
    another (the rebuild runs them on several connections at once), written with unqualified table
    names (they run with ``search_path`` = the build schema, then public, so they write the table
    built aside and read the ones built before it in ``ASIDE``'s order). ``from_source``: they read
    enrolments and certificates, so they all run in the rebuild's one snapshot.
    """

    table: str
    statements: Callable[[Connection], list]
    from_source: bool = False
    # Fills the table otherwise (engine, connection, workers, log) -> False to run the statements instead.
    fill: Callable[[Engine, Connection, int, Callable[[str], None]], bool] | None = None


# The cells counted in this process from the facts built aside (``cell_counts``: a tenth of the
# CPU of the SQL statements at 10M enrolments); False: by the SQL statements, as the in-place rebuild.
CELLS_IN_PROCESS = True


def _count_cells(engine: Engine, conn: Connection, workers: int, say: Callable[[str], None]) -> bool:
    if not CELLS_IN_PROCESS:
        return False
    from learning.reporting.cell_counts import count_cells

    with conn.begin():
        spans = _year_spans(conn)
    return count_cells(engine, BUILD_SCHEMA, spans, workers, say)


def _source_years(connection: Connection) -> list[int]:
    """The first and last UTC years of the enrolments' and certificates' moments (empty: no rows)."""
    moments = connection.execute(select(
        select(func.min(Enrolment.enrolled_at)).scalar_subquery(),
        select(func.max(Enrolment.enrolled_at)).scalar_subquery(),
        select(func.max(Enrolment.completed_at)).scalar_subquery(),
        select(func.min(Certificate.issued_at)).scalar_subquery(),
        select(func.max(Certificate.issued_at)).scalar_subquery())).one()
    years = [moment.year for moment in moments if moment is not None]
    return list(range(min(years), max(years) + 1)) if years else []


def _fact_statements(connection: Connection) -> list:
    """A year of facts per statement (enrolled, completed or certified that year, in UTC), the first
    and last years unbounded: each year's grouping fits in memory, and the connections share them."""
    dialect = connection.dialect.name
    years = _source_years(connection)
    if not years:
        return [insert(ReportFact).from_select(FACT_INSERT_COLUMNS, fact_rows_select(dialect))]
    bounds = [datetime(year, 1, 1, tzinfo=UTC) for year in years[1:]]
    parts = list(zip([None, *bounds], [*bounds, None], strict=True))
    return [insert(ReportFact).from_select(FACT_INSERT_COLUMNS, fact_rows_select(dialect, between=part))
            for part in reversed(parts)]  # the latest years (the most rows) first


def _year_spans(connection: Connection) -> list[tuple[int | None, int | None]]:
    """(first, last) year of each part, a year each; the first and last years unbounded, so a fact
    of a year outside the source's range still counts."""
    years = _source_years(connection)
    return [(None if index == 0 else year, None if index == len(years) - 1 else year)
            for index, year in enumerate(years)] or [(None, None)]


def _cell_statements(connection: Connection) -> list:
    """One statement per family for all time; per family and year for the year and month grains
    (a year's distinct people fit in memory, where ten years' spill to disk)."""
    spans = _year_spans(connection)
    statements = []
    for subset, grains in CELL_FAMILIES:
        for grain in grains:
            for span in ([None] if grain == ALL_TIME else spans):
                statements.append((len(subset), grain == ALL_TIME, subset, grain, span))
    # All-time families (the largest) and the widest first, so the connections finish together.
    statements.sort(key=lambda item: (not item[1], -item[0]))
    return [insert(ReportCell).from_select(list(CELL_COLUMNS) + ["n"], _cells_select(subset, grain, span))
            for _size, _all, subset, grain, span in statements]


# Every table of the rollup, in the order they are built (a table's statements may read the ones
# before it). Another structure derived from the facts adds itself here (its statements, and the
# refresh keeping it in step in ``rollup.refresh_people``) and is swapped in with the others.
ASIDE: list[Aside] = [
    Aside("report_facts", _fact_statements, from_source=True),
    Aside("report_cells", _cell_statements, fill=_count_cells),
]


def rebuild_aside(engine: Engine, workers: int = 2, before_swap: Callable[[], None] | None = None,
                  log: Callable[[str], None] | None = None) -> dict:
    """Rebuild the rollup without stopping the statistics: build every table of ``ASIDE`` in a
    schema of its own, then swap them in together in one short transaction.

    Summaries keep reading the live tables for the whole build, and every refresh keeps writing
    them (it also notes its people in ``report_rebuild_pending``); the facts are computed in one
    snapshot taken after the rebuild raised its flag, the people changed since are refreshed again
    in the built tables, and the swap (the last of them refreshed while refreshes wait at the gate,
    then ``ALTER TABLE ... SET SCHEMA`` under a lock held for milliseconds) makes the built tables
    the live ones. On SQLite, ``rebuild`` in one transaction (writers wait, readers read the old rows).
    Returns the counts and the seconds of each phase.
    """
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            return rebuild(connection)
    say = log or (lambda message: None)
    timings: dict = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[f"{name}_s"] = round(now - clock, 2)
        clock = now
        say(f"{name}: {timings[f'{name}_s']} s")

    tables = [aside.table for aside in ASIDE]
    with engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {BUILD_SCHEMA} CASCADE")  # a failed rebuild's leftovers
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE")
        with conn.begin():
            # Raise the flag once no refresh is in flight; from now on every refresh notes its people.
            conn.execute(text("SELECT pg_advisory_xact_lock(:gate)"), {"gate": REBUILD_GATE})
            conn.execute(text("UPDATE report_rebuilds SET state = 'abandoned', finished_at = now() "
                              "WHERE state = 'building'"))
            conn.execute(text("DELETE FROM report_rebuild_pending"))
            rebuild_id = conn.execute(text("INSERT INTO report_rebuilds (state, started_at) "
                                           "VALUES ('building', now()) RETURNING id")).scalar_one()
        try:
            counts = _build_and_swap(engine, conn, tables, workers, before_swap, lap, say)
        except BaseException:
            with conn.begin():
                conn.execute(text("SELECT pg_advisory_xact_lock(:gate)"), {"gate": REBUILD_GATE})
                conn.execute(text("UPDATE report_rebuilds SET state = 'failed', finished_at = now() WHERE id = :id"),
                             {"id": rebuild_id})
                conn.execute(text("DELETE FROM report_rebuild_pending"))
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {BUILD_SCHEMA} CASCADE")
            raise
        with conn.begin():
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE")
        lap("drop_old_tables")
        with conn.begin():
            conn.execute(text("UPDATE report_rebuilds SET counts = CAST(:counts AS json) WHERE id = :id"),
                         {"id": rebuild_id, "counts": json.dumps({**counts, **timings})})
    return {**counts, **timings}


def _build_and_swap(engine: Engine, conn: Connection, tables: list[str], workers: int,
                    before_swap: Callable[[], None] | None, lap, say) -> dict:
    with conn.begin():
        conn.exec_driver_sql(f"CREATE SCHEMA {BUILD_SCHEMA}")
        for table in tables:
            _create_aside(conn, table)
    lap("create_tables")

    keys: list[str] = []
    for aside in ASIDE:
        if aside.fill is not None and aside.fill(engine, conn, workers, say):
            statements = None
        else:
            with conn.begin():
                statements = aside.statements(conn)
        if statements is None:
            pass
        elif aside.from_source:
            # One snapshot for every statement reading the source tables, exported by a connection
            # whose transaction stays open until they have all run.
            with engine.connect() as exporter:
                exporter = exporter.execution_options(isolation_level="REPEATABLE READ")
                with exporter.begin():
                    snapshot = exporter.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                    _run_parallel(engine, statements, workers, snapshot)
        else:
            _run_parallel(engine, statements, workers)
        lap(f"fill_{aside.table}")

        # Its indexes at once, and its statistics: the next table's statements read it through them
        # (a year's cells read that year's facts through the (kind, day) index).
        with conn.begin():
            indexes, constraints = _index_statements(conn, aside.table)
        _run_parallel(engine, [text(statement) for statement in indexes], workers)
        keys += constraints
        with conn.begin():
            conn.exec_driver_sql(f"ANALYZE {BUILD_SCHEMA}.{aside.table}")
        lap(f"index_{aside.table}")

    with conn.begin():
        for statement in keys:
            conn.exec_driver_sql(statement)
        for table in tables:
            for column, sequence in _serial_columns(conn, BUILD_SCHEMA, table):
                conn.exec_driver_sql(f"SELECT setval('{sequence}', COALESCE((SELECT max({column}) FROM "
                                     f"{BUILD_SCHEMA}.{table}), 0) + 1, false)")
    counts = {}
    with conn.begin():
        for table in tables:
            counts[table] = conn.exec_driver_sql(f"SELECT count(*) FROM {BUILD_SCHEMA}.{table}").scalar_one()
    counts["facts"], counts["cells"] = counts.get("report_facts"), counts.get("report_cells")
    lap("keys_and_counts")

    # Catch up with the people changed since the snapshot, while refreshes go on.
    caught_up = 0
    for _round in range(10):
        refreshed = _catch_up(engine)
        caught_up += refreshed
        if refreshed < 100:
            break
    lap("catch_up")
    if before_swap is not None:
        before_swap()
    with engine.connect() as swap:
        with swap.begin():
            # The last of them, with every refresh waiting at the gate; then the lock on the live
            # tables (readers wait for it only while the tables change schema: milliseconds).
            swap.execute(text("SELECT pg_advisory_xact_lock(:gate)"), {"gate": REBUILD_GATE})
            caught_up += _catch_up_on(swap)
            swap.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
            swap.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            swap.exec_driver_sql(f"CREATE SCHEMA {OLD_SCHEMA}")
            for table in tables:
                swap.exec_driver_sql(f"ALTER TABLE public.{table} SET SCHEMA {OLD_SCHEMA}")
                swap.exec_driver_sql(f"ALTER TABLE {BUILD_SCHEMA}.{table} SET SCHEMA public")
            swap.exec_driver_sql(f"DROP SCHEMA {BUILD_SCHEMA}")
            swap.execute(text("UPDATE report_rebuilds SET state = 'swapped', finished_at = now() "
                              "WHERE state = 'building'"))
            swap.execute(text("DELETE FROM report_rebuild_pending"))
    counts["caught_up_people"] = caught_up
    lap("swap")
    return counts


def _catch_up(engine: Engine) -> int:
    with engine.connect() as connection, connection.begin():
        return _catch_up_on(connection)


def _catch_up_on(connection: Connection) -> int:
    """Refresh, in the tables built aside, the people noted since the rebuild began."""
    people = connection.execute(text("DELETE FROM report_rebuild_pending RETURNING user_id")).scalars().all()
    if not people:
        return 0
    connection.exec_driver_sql(f"SET LOCAL search_path TO {BUILD_SCHEMA}, public")
    connection.exec_driver_sql("SET LOCAL learning.rebuild_catch_up = 'on'")
    session = Session(bind=connection)
    try:
        refresh_people(session, people)
        session.flush()
    finally:
        session.close()
    connection.exec_driver_sql("SET LOCAL search_path TO public")
    connection.exec_driver_sql("SET LOCAL learning.rebuild_catch_up = 'off'")
    return len(people)


def _create_aside(conn: Connection, table: str) -> None:
    """An empty copy of a live table in the build schema: columns, defaults, checks, no index;
    its own sequence for a serial column (the live one belongs to the live table)."""
    conn.exec_driver_sql(f"CREATE TABLE {BUILD_SCHEMA}.{table} (LIKE public.{table} INCLUDING DEFAULTS "
                         "INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING STORAGE)")
    for column, live_sequence in _serial_columns(conn, "public", table):
        sequence = f"{BUILD_SCHEMA}.{live_sequence.split('.')[-1]}"
        conn.exec_driver_sql(f"CREATE SEQUENCE {sequence} AS bigint OWNED BY {BUILD_SCHEMA}.{table}.{column}")
        conn.exec_driver_sql(f"ALTER TABLE {BUILD_SCHEMA}.{table} ALTER COLUMN {column} "
                             f"SET DEFAULT nextval('{sequence}'::regclass)")


def _serial_columns(conn: Connection, schema: str, table: str) -> list[tuple[str, str]]:
    """(column, its owned sequence) of a table's serial columns."""
    return [(column, sequence) for column, sequence in conn.execute(text(
        "SELECT a.attname, pg_get_serial_sequence(:table, a.attname) FROM pg_attribute a "
        "WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
    ), {"table": f"{schema}.{table}"}) if sequence]


def _index_statements(conn: Connection, table: str) -> tuple[list[str], list[str]]:
    """The live table's indexes as statements on the table built aside, and the statements making
    its primary and unique keys use them, so the swapped-in table has exactly the live schema."""
    indexes = [definition.replace(f" ON public.{table} ", f" ON {BUILD_SCHEMA}.{table} ", 1)
               for (definition,) in conn.execute(text(
                   "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = :table "
                   "ORDER BY indexname"), {"table": table})]
    keys = [f"ALTER TABLE {BUILD_SCHEMA}.{table} ADD CONSTRAINT \"{name}\" {kind} USING INDEX \"{index}\""
            for name, kind, index in conn.execute(text(
                "SELECT conname, CASE contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, "
                "(SELECT relname FROM pg_class WHERE oid = conindid) FROM pg_constraint "
                "WHERE conrelid = CAST(:table AS regclass) AND contype IN ('p', 'u') ORDER BY conname"),
                {"table": f"public.{table}"})]
    return indexes, keys


def _run_parallel(engine: Engine, statements: list, workers: int, snapshot: str | None = None) -> None:
    """Run independent statements on ``workers`` connections, each taking the next one left, with
    the build schema first on the search path; with ``snapshot``, every connection reads in that
    exported snapshot. Each connection commits once it finds none left."""
    pending: queue.Queue = queue.Queue()
    for statement in statements:
        pending.put(statement)
    errors: list[BaseException] = []
    backends: list[int] = []

    def run_on(connection: Connection) -> None:
        backends.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        for setting in (f"search_path TO {BUILD_SCHEMA}, public", "synchronous_commit = off",
                        "work_mem = '512MB'", "maintenance_work_mem = '512MB'",
                        "max_parallel_maintenance_workers = 0"):
            connection.exec_driver_sql(f"SET LOCAL {setting}")
        while not errors:
            try:
                statement = pending.get_nowait()
            except queue.Empty:
                return
            connection.execute(statement)

    def work() -> None:
        try:
            with engine.connect() as connection:
                if snapshot is not None:
                    connection = connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    if snapshot is not None:
                        connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    run_on(connection)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=work, name=f"rebuild-{n}")
               for n in range(max(1, min(workers, len(statements))))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # interrupted: stop the statements in flight, then let the caller clean up
        errors.append(RuntimeError("interrupted"))
        with engine.connect() as connection:
            for pid in backends:
                connection.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]
