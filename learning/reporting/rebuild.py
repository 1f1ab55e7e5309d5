"""Rebuilding the statistics rollup from scratch: every fact and cell recomputed from the source tables.

Needed only after a load that bypassed the application (``flask --app learning reports rebuild``,
``bench/seed_scale.py``), or to check the incremental maintenance of ``rollup.py`` (the property
tests compare the two).
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, literal, literal_column, select, text, union_all
from sqlalchemy.engine import Connection

from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.rollup import (
    ALL_TIME,
    CELL_COLUMNS,
    CELL_FAMILIES,
    DIMENSIONS,
    FACT_INSERT_COLUMNS,
    NEUTRAL,
    YEAR,
    dims_name,
    fact_rows_select,
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


def _cells_select(subset: tuple[str, ...], grain: str):
    """Distinct people per cell as DISTINCT then COUNT (hash aggregation, unlike COUNT(DISTINCT)),
    plus certificates per cell; the all-time period is a constant, never grouped by."""
    columns = [c for c in NEUTRAL if c in {DIMENSIONS[name] for name in subset}]
    constant = grain == ALL_TIME
    period = None if constant else (ReportFact.year if grain == YEAR else ReportFact.month)
    people = (
        select(ReportFact.kind, *([] if constant else [period.label("period")]),
               *[getattr(ReportFact, c) for c in columns], ReportFact.user_id)
        .where(ReportFact.kind != "certified")
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
        .where(ReportFact.kind == "certified")
        .subquery("certified")
    )
    return union_all(cell(people, func.count()), cell(certified, func.sum(certified.c.weight)))
