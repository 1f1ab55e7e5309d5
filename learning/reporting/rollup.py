"""Keeping the statistics rollup exact: per-person facts and distinct-count cells.

Whenever a transaction changes someone's enrolments or certificates (through
the ORM, as every service does), this module recomputes that person's facts
from the source rows just before the commit and applies the difference to the
cells, in the same transaction. A person counts once in a cell however many
of their facts fall into it, so the difference of the two sets of cells is
the exact change of every distinct count. ``rebuild`` recomputes everything
from scratch (after a bulk load, or to check the incremental path).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import (
    Date,
    Integer,
    cast,
    delete,
    event,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from learning.accounts.models import User
from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.reporting.models import ReportCell, ReportFact

# The dimensions an enrolment records, in the canonical order of cell keys.
DIMENSIONS: dict[str, str] = {
    "country": "country",
    "sector": "sector",
    "course": "course_id",
    "cohort": "cohort_id",
    "organisation": "organisation_id",
}
NEUTRAL = {"country": "", "sector": "", "course_id": 0, "cohort_id": 0, "organisation_id": 0}
# Every combination of at most two dimensions gets cells: enough for any one
# filter combined with any one breakdown, or any two-way export.
SUBSETS: tuple[tuple[str, ...], ...] = tuple(
    combo for size in (0, 1, 2) for combo in itertools.combinations(DIMENSIONS, size)
)
DISTINCT_KINDS = ("reached", "trained")
# Enrolment columns whose change can change a person's facts.
WATCHED_ENROLMENT = ("user_id", "course_id", "cohort_id", "enrolled_at", "completed_at", "country",
                     "sector", "organisation_id")
WATCHED_CERTIFICATE = ("user_id", "enrolment_id", "issued_at")
PENDING_KEY = "reporting_people_to_refresh"

FactKey = tuple  # (user_id, kind, day, country, sector, course_id, cohort_id, organisation_id)
CellKey = tuple  # (kind, dims, period, country, sector, course_id, cohort_id, organisation_id)


def dims_name(subset: Iterable[str]) -> str:
    """The ``dims`` value of the cells keyed by these dimensions (canonical order)."""
    wanted = set(subset)
    return "+".join(name for name in DIMENSIONS if name in wanted)


# --- SQL for the facts -----------------------------------------------------------------

def _utc_day(column, dialect: str):
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _year(day, dialect: str):
    if dialect == "postgresql":
        return cast(func.extract("year", day), Integer)
    return cast(func.strftime("%Y", day), Integer)


def _month(day, dialect: str):
    if dialect == "postgresql":
        return cast(func.extract("year", day) * 100 + func.extract("month", day), Integer)
    return cast(func.strftime("%Y%m", day), Integer)


def facts_query(dialect: str, user_ids: Sequence[int] | None = None):
    """Every fact of these people (or everyone), computed from enrolments and certificates."""

    dimension_columns = (
        func.coalesce(Enrolment.country, ""),
        func.coalesce(Enrolment.sector, ""),
        Enrolment.course_id,
        func.coalesce(Enrolment.cohort_id, 0),
        func.coalesce(Enrolment.organisation_id, 0),
    )
    names = ("country", "sector", "course_id", "cohort_id", "organisation_id")

    def grouped(kind: str, day, query):
        grouping = (Enrolment.user_id, day, *dimension_columns)
        query = query.add_columns(
            Enrolment.user_id.label("user_id"), literal(kind).label("kind"), day.label("day"),
            *(column.label(name) for column, name in zip(dimension_columns, names, strict=True)),
            func.count().label("weight"),
        )
        if user_ids is not None:
            query = query.where(Enrolment.user_id.in_(user_ids))
        return query.group_by(*grouping)

    reached = grouped("reached", _utc_day(Enrolment.enrolled_at, dialect), select().select_from(Enrolment))
    trained = grouped("trained", _utc_day(Enrolment.completed_at, dialect),
                      select().select_from(Enrolment).where(Enrolment.completed_at.is_not(None)))
    certified = grouped("certified", _utc_day(Certificate.issued_at, dialect),
                        select().select_from(Certificate).join(Enrolment, Enrolment.id == Certificate.enrolment_id))
    return union_all(reached, trained, certified).subquery("facts")


# --- cells of a set of facts -------------------------------------------------------------

def cells_of(facts: Iterable[FactKey], weights: Iterable[int]) -> Counter:
    """The cells these facts contribute to: 1 per person and cell, or the certificates' count."""
    result: Counter = Counter()
    seen: set[tuple] = set()
    for fact, weight in zip(facts, weights, strict=True):
        user_id, kind, day, *values = fact
        row = dict(zip(("country", "sector", "course_id", "cohort_id", "organisation_id"), values, strict=True))
        for period in (0, day.year, day.year * 100 + day.month):
            for subset in SUBSETS:
                columns = [DIMENSIONS[name] for name in subset]
                key = (kind, dims_name(subset), period,
                       *(row[c] if c in columns else NEUTRAL[c] for c in NEUTRAL))
                if kind == "certified":
                    result[key] += weight
                elif (user_id, key) not in seen:
                    seen.add((user_id, key))
                    result[key] += 1
    return result


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _fact_key(row) -> FactKey:
    return (row.user_id, row.kind, _as_date(row.day), row.country, row.sector, row.course_id,
            row.cohort_id, row.organisation_id)


# --- incremental maintenance ----------------------------------------------------------------

def refresh_people(session: Session, user_ids: Iterable[int]) -> int:
    """Bring these people's facts and every cell they touch up to date; returns how many changed."""
    ids = sorted({int(i) for i in user_ids if i is not None})
    if not ids:
        return 0
    dialect = session.get_bind().dialect.name
    # One refresh per person at a time: concurrent transactions queue on the user row.
    session.execute(select(User.id).where(User.id.in_(ids)).order_by(User.id).with_for_update())
    old = _group_by_user(session.execute(
        select(ReportFact.user_id, ReportFact.kind, ReportFact.day, ReportFact.country, ReportFact.sector,
               ReportFact.course_id, ReportFact.cohort_id, ReportFact.organisation_id, ReportFact.weight)
        .where(ReportFact.user_id.in_(ids))
    ))
    new_query = facts_query(dialect, ids)
    new = _group_by_user(session.execute(select(new_query)))
    delta: Counter = Counter()
    changed = [uid for uid in ids if old.get(uid, {}) != new.get(uid, {})]
    if not changed:
        return 0
    for uid in changed:
        before, after = old.get(uid, {}), new.get(uid, {})
        delta.update(cells_of(after.keys(), after.values()))
        delta.subtract(cells_of(before.keys(), before.values()))
    session.execute(delete(ReportFact).where(ReportFact.user_id.in_(changed)))
    rows = [
        _fact_row(key, weight) for uid in changed for key, weight in sorted(new.get(uid, {}).items())
    ]
    if rows:
        session.execute(insert(ReportFact.__table__), rows)
    _apply_cell_delta(session, dialect, {k: v for k, v in delta.items() if v})
    return len(changed)


def _group_by_user(result) -> dict[int, dict[FactKey, int]]:
    people: dict[int, dict[FactKey, int]] = {}
    for row in result:
        key = _fact_key(row)
        people.setdefault(row.user_id, {})[key] = people.get(row.user_id, {}).get(key, 0) + int(row.weight)
    return people


def _fact_row(key: FactKey, weight: int) -> dict:
    user_id, kind, day, country, sector, course_id, cohort_id, organisation_id = key
    return {"user_id": user_id, "kind": kind, "day": day, "year": day.year, "month": day.year * 100 + day.month,
            "country": country, "sector": sector, "course_id": course_id, "cohort_id": cohort_id,
            "organisation_id": organisation_id, "weight": weight}


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


CELL_COLUMNS = ("kind", "dims", "period", "country", "sector", "course_id", "cohort_id", "organisation_id")


def _apply_cell_delta(session: Session, dialect: str, delta: dict[CellKey, int]) -> None:
    """Add ``delta`` to the cells, creating missing ones; keys in a fixed order so upserts never deadlock."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    rows = [dict(zip(CELL_COLUMNS, key, strict=True), n=n) for key, n in sorted(delta.items())]
    if not rows:
        return
    statement = upsert(ReportCell.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=list(CELL_COLUMNS), set_={"n": ReportCell.__table__.c.n + statement.excluded.n}
    )
    session.execute(statement, rows)  # one statement compiled once, executed for every row


# --- full rebuild ---------------------------------------------------------------------------

def rebuild(connection: Connection) -> dict[str, int]:
    """Recompute every fact and cell from the source tables, in the caller's transaction."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    connection.execute(delete(ReportCell))
    connection.execute(delete(ReportFact))
    facts = facts_query(dialect)
    day = facts.c.day
    connection.execute(insert(ReportFact).from_select(
        ["user_id", "kind", "day", "year", "month", "country", "sector", "course_id", "cohort_id",
         "organisation_id", "weight"],
        select(facts.c.user_id, facts.c.kind, facts.c.day, _year(day, dialect), _month(day, dialect),
               facts.c.country, facts.c.sector, facts.c.course_id, facts.c.cohort_id,
               facts.c.organisation_id, facts.c.weight),
    ))
    if dialect == "postgresql":
        connection.exec_driver_sql("ANALYZE report_facts")
    for subset in SUBSETS:
        for period in (ALL_TIME, ReportFact.year, ReportFact.month):
            connection.execute(insert(ReportCell).from_select(list(CELL_COLUMNS) + ["n"],
                                                              _cells_select(subset, period)))
    counts = {
        "facts": connection.scalar(select(func.count()).select_from(ReportFact)),
        "cells": connection.scalar(select(func.count()).select_from(ReportCell)),
    }
    if dialect == "postgresql":
        connection.exec_driver_sql("ANALYZE report_cells")
    return counts


ALL_TIME = literal_column("0")


def _cells_select(subset: tuple[str, ...], period):
    """Distinct people per cell as DISTINCT then COUNT (hash aggregation, unlike COUNT(DISTINCT)),
    plus certificates per cell; a constant period (all time) is never grouped by."""
    columns = [c for c in NEUTRAL if c in {DIMENSIONS[name] for name in subset}]
    constant = period is ALL_TIME
    people = (
        select(ReportFact.kind, *([] if constant else [period.label("period")]),
               *[getattr(ReportFact, c) for c in columns], ReportFact.user_id)
        .where(ReportFact.kind != "certified")
        .distinct()
        .subquery("people")
    )

    def cell(source, value, period_column):
        values = [source.c[c] if c in columns else literal(NEUTRAL[c]) for c in NEUTRAL]
        grouping = [source.c.kind, *([] if constant else [period_column]), *[source.c[c] for c in columns]]
        return (select(source.c.kind, literal(dims_name(subset)), ALL_TIME if constant else period_column,
                       *values, value).group_by(*grouping))

    certified = (
        select(ReportFact.kind, *([] if constant else [period.label("period")]),
               *[getattr(ReportFact, c) for c in columns], ReportFact.weight)
        .where(ReportFact.kind == "certified")
        .subquery("certified")
    )
    return union_all(
        cell(people, func.count(), None if constant else people.c.period),
        cell(certified, func.sum(certified.c.weight), None if constant else certified.c.period),
    )


# --- noticing changes --------------------------------------------------------------------------

def _changed_people(obj, watched: tuple[str, ...], is_new_or_deleted: bool) -> set[int]:
    state = sa_inspect(obj)
    people = {obj.user_id} if obj.user_id is not None else set()
    if is_new_or_deleted:
        return people
    changed = False
    for name in watched:
        history = state.attrs[name].history
        if history.has_changes():
            changed = True
            if name == "user_id":
                people.update(v for v in history.deleted if v is not None)
    return people if changed else set()


@event.listens_for(Session, "after_flush")
def _remember_people(session: Session, flush_context) -> None:
    pending: set[int] = session.info.setdefault(PENDING_KEY, set())
    for collection, fresh in ((session.new, True), (session.deleted, True), (session.dirty, False)):
        for obj in collection:
            if isinstance(obj, Enrolment):
                pending |= _changed_people(obj, WATCHED_ENROLMENT, fresh)
            elif isinstance(obj, Certificate):
                pending |= _changed_people(obj, WATCHED_CERTIFICATE, fresh)


def _user_ids_in_parameters(parameters) -> set[int]:
    if isinstance(parameters, dict):
        parameters = [parameters]
    found: set[int] = set()
    for params in parameters or ():
        for name, value in (params or {}).items():
            if isinstance(name, str) and (name == "user_id" or name.startswith("user_id_m")) and value is not None:
                found.add(int(value))
    return found


def _statement_parameters(statement) -> dict:
    try:
        return statement.compile().params
    except Exception:  # a statement that cannot compile on its own gives nothing to look at
        return {}


@event.listens_for(Session, "do_orm_execute")
def _remember_people_of_bulk_statements(state) -> None:
    """Bulk INSERT/UPDATE/DELETE through the session (roster imports) bypass the flush: note their people."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    statement = state.statement
    table = getattr(statement, "table", None)
    watched = {Enrolment.__table__: WATCHED_ENROLMENT, Certificate.__table__: WATCHED_CERTIFICATE}.get(table)
    if watched is None:
        return
    pending: set[int] = state.session.info.setdefault(PENDING_KEY, set())
    params = _statement_parameters(statement)
    pending |= _user_ids_in_parameters(state.parameters) | _user_ids_in_parameters(params)
    if state.is_insert:
        return
    if state.is_update:
        names = set(params) | {k for p in ([state.parameters] if isinstance(state.parameters, dict)
                                          else state.parameters or []) for k in (p or {})}
        if names and not names & set(watched):
            return
    where = statement.whereclause
    query = select(table.c.user_id).distinct()
    if where is not None:
        query = query.where(where)
    pending |= {uid for uid in state.session.execute(query).scalars() if uid is not None}


@event.listens_for(Session, "before_commit")
def _refresh_before_commit(session: Session) -> None:
    session.flush()
    people = session.info.pop(PENDING_KEY, None)
    if people:
        refresh_people(session, people)

# No clean-up on rollback on purpose: a savepoint's rollback must not forget the
# people changed earlier in the transaction, and refreshing someone whose
# changes were rolled back finds nothing to change.
