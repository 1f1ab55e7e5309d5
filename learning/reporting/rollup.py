"""Keeping the statistics rollup exact: per-person facts and distinct-count cells.

Whenever a transaction changes someone's enrolments or certificates (through
the ORM, as every service does), this module recomputes that person's facts
from the source rows just before the commit and applies the difference to the
cells, in the same transaction. A person counts once in a cell however many
of their facts fall into it, so the difference of the two sets of cells is
the exact change of every distinct count. ``rebuild`` recomputes everything
from scratch (after a bulk load, or to check the incremental path): ``rebuild.py``.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Date,
    Integer,
    any_,
    bindparam,
    case,
    cast,
    delete,
    except_,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from learning.accounts.models import User
from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.extensions import db, listen_on_session
from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.period_index import WROTE_FACTS_KEY

# The dimensions an enrolment records, in the canonical order of cell keys.
DIMENSIONS: dict[str, str] = {
    "country": "country",
    "sector": "sector",
    "course": "course_id",
    "cohort": "cohort_id",
    "organisation": "organisation_id",
}
NEUTRAL = {"country": "", "sector": "", "course_id": 0, "cohort_id": 0, "organisation_id": 0}
# The grains of a cell's period.
ALL_TIME, YEAR, MONTH = "all", "year", "month"
GRAINS = (ALL_TIME, YEAR, MONTH)
# The dimensions with few values (about 200 countries, a dozen sectors, tens of courses) get cells for
# every combination of at most two of them and every grain: any one filter with any one breakdown, by
# all time, year or month, reads a few hundred cells. Cohorts and organisations number in thousands and
# each holds few people: a cell per cohort (or organisation) for all time and each year answers the
# dashboard's breakdowns; combinations with them, and their months, are counted from the facts through
# an index (a cohort's or an organisation's facts are few), which keeps the rollup about the size of
# the facts instead of ten times it.
COARSE = ("country", "sector", "course")
FINE = ("cohort", "organisation")
CELL_FAMILIES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    *((combo, GRAINS) for size in (0, 1, 2) for combo in itertools.combinations(COARSE, size)),
    *(((name,), (ALL_TIME, YEAR)) for name in FINE),
)
_GRAINS_BY_DIMS = {"+".join(dims): grains for dims, grains in CELL_FAMILIES}
# Below this many people, a refresh is computed in Python (fewer round trips); from it, in one
# set-based statement (a roster import, a cohort's close).
SET_BASED_FROM = 200
# Enrolment columns whose change can change a person's facts.
WATCHED_ENROLMENT = ("user_id", "course_id", "cohort_id", "enrolled_at", "completed_at", "country",
                     "sector", "organisation_id")
WATCHED_CERTIFICATE = ("user_id", "enrolment_id", "issued_at")
PENDING_KEY = "reporting_people_to_refresh"
DEFER_KEY = "reporting_refresh_deferred"  # see ``defer_refresh``
REFRESH_EVENT = "reporting.refresh"

FactKey = tuple  # (user_id, kind, day, country, sector, course_id, cohort_id, organisation_id)
CellKey = tuple  # (kind, dims, period, country, sector, course_id, cohort_id, organisation_id)


def dims_name(subset: Iterable[str]) -> str:
    """The ``dims`` value of the cells keyed by these dimensions (canonical order)."""
    wanted = set(subset)
    return "+".join(name for name in DIMENSIONS if name in wanted)


def has_cells(dims: str, grain: str) -> bool:
    """Whether the rollup keeps cells for this combination of dimensions at this grain."""
    return grain in _GRAINS_BY_DIMS.get(dims, ())


def grain_of(period: int) -> str:
    """The grain of a cell period: 0 is all time, YYYY a year, YYYYMM a month."""
    return ALL_TIME if period == 0 else YEAR if period < 10000 else MONTH


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


def _among(column, dialect: str):
    """``column`` is one of the people passed as the ``people`` parameter: one array on PostgreSQL,
    an expanding IN list elsewhere; statements built with it are built once and reused."""
    if dialect == "postgresql":
        return column == any_(bindparam("people", type_=ARRAY(Integer)))
    return column.in_(bindparam("people", expanding=True))


def facts_query(dialect: str, of_people: bool = False, between: tuple | None = None):
    """Every fact (or, with ``of_people``, those of the ``people`` parameter), computed from
    enrolments and certificates; with ``between=(start, end)`` (UTC datetimes, either None for
    unbounded), only the facts of events at ``start <= moment < end``: a rebuild fills the facts a
    year at a time, on several connections (a fact is one day's, so each falls in one part)."""

    dimension_columns = (
        func.coalesce(Enrolment.country, ""),
        func.coalesce(Enrolment.sector, ""),
        Enrolment.course_id,
        func.coalesce(Enrolment.cohort_id, 0),
        func.coalesce(Enrolment.organisation_id, 0),
    )
    names = ("country", "sector", "course_id", "cohort_id", "organisation_id")

    def grouped(kind: str, day, query, moment):
        grouping = (Enrolment.user_id, day, *dimension_columns)
        query = query.add_columns(
            Enrolment.user_id.label("user_id"), literal(kind).label("kind"), day.label("day"),
            *(column.label(name) for column, name in zip(dimension_columns, names, strict=True)),
            func.count().label("weight"),
        )
        if of_people:
            query = query.where(_among(Enrolment.user_id, dialect))
        if between is not None:
            start, end = between
            if start is not None:
                query = query.where(moment >= start)
            if end is not None:
                query = query.where(moment < end)
        return query.group_by(*grouping)

    reached = grouped("reached", _utc_day(Enrolment.enrolled_at, dialect), select().select_from(Enrolment),
                      Enrolment.enrolled_at)
    trained = grouped("trained", _utc_day(Enrolment.completed_at, dialect),
                      select().select_from(Enrolment).where(Enrolment.completed_at.is_not(None)), Enrolment.completed_at)
    certified = grouped("certified", _utc_day(Certificate.issued_at, dialect),
                        select().select_from(Certificate).join(Enrolment, Enrolment.id == Certificate.enrolment_id),
                        Certificate.issued_at)
    return union_all(reached, trained, certified).subquery("facts")


# --- cells of a set of facts -------------------------------------------------------------

def _period(day: date, grain: str) -> int:
    return 0 if grain == ALL_TIME else day.year if grain == YEAR else day.year * 100 + day.month


def cells_of(facts: Iterable[FactKey], weights: Iterable[int]) -> Counter:
    """The cells these facts contribute to: 1 per person and cell, or the certificates' count."""
    result: Counter = Counter()
    seen: set[tuple] = set()
    for fact, weight in zip(facts, weights, strict=True):
        user_id, kind, day, *values = fact
        row = dict(zip(NEUTRAL, values, strict=True))
        for subset, grains in CELL_FAMILIES:
            columns = {DIMENSIONS[name] for name in subset}
            dims = dims_name(subset)
            values_in_cell = tuple(row[c] if c in columns else NEUTRAL[c] for c in NEUTRAL)
            for grain in grains:
                key = (kind, dims, _period(day, grain), *values_in_cell)
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

FACT_COLUMNS = ("user_id", "kind", "day", "country", "sector", "course_id", "cohort_id", "organisation_id",
                "weight")
CELL_COLUMNS = ("kind", "dims", "period", "country", "sector", "course_id", "cohort_id", "organisation_id")
FACT_INSERT_COLUMNS = ["user_id", "kind", "day", "year", "month", "country", "sector", "course_id", "cohort_id",
                       "organisation_id", "weight"]


def refresh_people(session: Session, user_ids: Iterable[int]) -> int:
    """Bring these people's facts and every cell they touch up to date; returns how many changed."""
    ids = sorted({int(i) for i in user_ids if i is not None})
    if not ids:
        return 0
    dialect = session.get_bind().dialect.name
    statements = _statements(dialect)
    people = {"people": ids}
    # One refresh per person at a time: concurrent transactions queue on the user row.
    session.execute(statements.lock, people)
    # Facts this transaction rewrites are not in the period index until it commits: until then, its
    # own reports count the facts (``period_index.counts_from_index``).
    session.info[WROTE_FACTS_KEY] = session.get_transaction()
    if len(ids) >= SET_BASED_FROM:
        return _refresh_set_based(session, statements, ids)
    old, new = _stored_and_fresh(session.execute(statements.stored_and_fresh, people))
    delta: Counter = Counter()
    changed = [uid for uid in ids if old.get(uid, {}) != new.get(uid, {})]
    if not changed:
        return 0
    for uid in changed:
        before, after = old.get(uid, {}), new.get(uid, {})
        delta.update(cells_of(after.keys(), after.values()))
        delta.subtract(cells_of(before.keys(), before.values()))
    rows = [
        _fact_row(key, weight) for uid in changed for key, weight in sorted(new.get(uid, {}).items())
    ]
    delta = {key: n for key, n in delta.items() if n}
    if dialect == "postgresql":
        _write_in_one_statement(session, changed, rows, delta)
        return len(changed)
    session.execute(statements.delete, {"people": changed})
    if rows:
        session.execute(insert(ReportFact.__table__), rows)
    _apply_cell_delta(session, dialect, delta)
    return len(changed)


def _stored_and_fresh(result) -> tuple[dict[int, dict[FactKey, int]], dict[int, dict[FactKey, int]]]:
    """The stored and the recomputed facts, each by person, from one result marked by ``side``."""
    sides: dict[str, dict[int, dict[FactKey, int]]] = {"stored": {}, "fresh": {}}
    for row in result:
        people = sides[row.side]
        key = _fact_key(row)
        people.setdefault(row.user_id, {})[key] = people.get(row.user_id, {}).get(key, 0) + int(row.weight)
    return sides["stored"], sides["fresh"]


def _write_in_one_statement(session: Session, changed: list[int], rows: list[dict], delta: dict) -> None:
    """PostgreSQL: replace the facts and add the cells' difference in one statement (one round trip).

    Every part of a statement sees the same snapshot, so the DELETE removes only the old facts.
    """
    keys = sorted(delta)
    cells = dict(zip(CELL_COLUMNS, ([list(values) for values in zip(*keys, strict=True)] if keys
                                    else [[] for _ in CELL_COLUMNS]), strict=True))
    session.execute(_WRITE_PG, {
        "changed": changed,
        **{f"f_{name}": [row[name] for row in rows] for name in FACT_INSERT_COLUMNS},
        **{f"c_{name}": values for name, values in cells.items()},
        "c_n": [delta[key] for key in keys],
    })


def _fact_row(key: FactKey, weight: int) -> dict:
    user_id, kind, day, country, sector, course_id, cohort_id, organisation_id = key
    return {"user_id": user_id, "kind": kind, "day": day, "year": day.year, "month": day.year * 100 + day.month,
            "country": country, "sector": sector, "course_id": course_id, "cohort_id": cohort_id,
            "organisation_id": organisation_id, "weight": weight}


def _upsert(dialect: str):
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(ReportCell.__table__)


def _adding_to_cells(statement):
    return statement.on_conflict_do_update(
        index_elements=list(CELL_COLUMNS), set_={"n": ReportCell.__table__.c.n + statement.excluded.n}
    )


def _apply_cell_delta(session: Session, dialect: str, delta: dict[CellKey, int]) -> None:
    """Add ``delta`` to the cells, creating missing ones; keys in a fixed order so upserts never deadlock."""
    rows = [dict(zip(CELL_COLUMNS, key, strict=True), n=delta[key]) for key in sorted(delta)]
    if rows:
        session.execute(_adding_to_cells(_upsert(dialect)), rows)  # compiled once, executed for every row


_FACT_TYPES = {"user_id": "integer", "kind": "varchar", "day": "date", "year": "integer", "month": "integer",
               "country": "varchar", "sector": "varchar", "course_id": "integer", "cohort_id": "integer",
               "organisation_id": "integer", "weight": "integer"}
_CELL_TYPES = {"kind": "varchar", "dims": "varchar", "period": "integer", "country": "varchar", "sector": "varchar",
               "course_id": "integer", "cohort_id": "integer", "organisation_id": "integer", "n": "bigint"}
# While a rebuild builds the rollup aside (``rebuild.rebuild_aside``), every refresh also notes the
# people it refreshed, for the rebuild to refresh them again in the tables it built before swapping
# them in; the rebuild's own catching up sets ``learning.rebuild_catch_up`` so as not to note itself.
# Part of the refresh's existing statements: no round trip of its own.
REBUILD_GATE = 7_265_627_508  # the advisory lock a refresh holds shared and a rebuild exclusively
_WHILE_REBUILDING = ("EXISTS (SELECT 1 FROM report_rebuilds WHERE state = 'building') "
                     "AND current_setting('learning.rebuild_catch_up', true) IS DISTINCT FROM 'on'")
_NOTE_PENDING_PG = ("INSERT INTO report_rebuild_pending (user_id) SELECT DISTINCT unnest(CAST(:{0} AS integer[])) "
                    f"WHERE {_WHILE_REBUILDING} ON CONFLICT DO NOTHING")
# Every process's in-memory period index (``period_index/``) follows the facts through this log: each
# statement rewriting someone's facts also notes them here, in the same statement (no round trip).
_LOG_CHANGES_PG = "INSERT INTO report_changes (user_id) SELECT DISTINCT unnest(CAST(:{0} AS integer[]))"
# The set-based path's note of its people, for a rebuild aside and for the change log, in one statement.
_NOTE_AND_LOG_PG = f"WITH logged AS ({_LOG_CHANGES_PG.format('people')}) {_NOTE_PENDING_PG.format('people')}"
_WRITE_PG = text(
    f"WITH noted AS ({_NOTE_PENDING_PG.format('changed')}), "
    f"logged AS ({_LOG_CHANGES_PG.format('changed')}), "
    "gone AS (DELETE FROM report_facts WHERE user_id = ANY(CAST(:changed AS integer[]))), "
    f"added AS (INSERT INTO report_facts ({', '.join(FACT_INSERT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:f_{name} AS {_FACT_TYPES[name]}[])" for name in FACT_INSERT_COLUMNS) + ")) "
    f"INSERT INTO report_cells ({', '.join(CELL_COLUMNS)}, n) SELECT * FROM unnest("
    + ", ".join(f"CAST(:c_{name} AS {kind}[])" for name, kind in _CELL_TYPES.items()) + ") "
    f"ON CONFLICT ({', '.join(CELL_COLUMNS)}) DO UPDATE SET n = report_cells.n + excluded.n"
)  # the cells arrive sorted by key, so two transactions' upserts never deadlock


# --- set-based maintenance (many people at once) --------------------------------------------

def _refresh_set_based(session: Session, statements: Statements, ids: list[int]) -> int:
    """The same refresh as above in four statements, whatever the number of people.

    Which people changed is an ``EXCEPT`` between their stored and recomputed facts; the cells'
    difference is computed by expanding both sets of facts into the cells they fall in (a join with
    the 25 cell families), counting distinct people per cell on each side and subtracting; the
    upsert then adds it in key order.
    """
    changed = sorted(session.scalars(statements.changed, {"people": ids}))
    if not changed:
        return 0
    people = {"people": changed}
    if statements.note_pending is not None:
        session.execute(statements.note_pending, people)
    session.execute(statements.add_cell_delta, people)
    session.execute(statements.delete, people)
    session.execute(statements.insert_facts, people)
    return len(changed)


@dataclass(frozen=True)
class Statements:
    """The refresh's statements for one dialect, built once (their SQL is then cached by SQLAlchemy)."""

    lock: Executable
    stored_and_fresh: Executable
    delete: Executable
    changed: Executable
    add_cell_delta: Executable
    insert_facts: Executable
    # PostgreSQL: note the people while a rebuild builds aside, and in the change log (always)
    note_pending: Executable | None


@functools.cache
def _statements(dialect: str) -> Statements:
    stored = select(*(getattr(ReportFact, c) for c in FACT_COLUMNS)).where(_among(ReportFact.user_id, dialect))
    recomputed = facts_query(dialect, of_people=True)
    fresh = select(*(recomputed.c[c] for c in FACT_COLUMNS))
    differences = union_all(
        select(except_(fresh, stored).subquery().c.user_id),
        select(except_(stored, fresh).subquery().c.user_id),
    ).subquery("differences")
    lock = select(User.id).where(_among(User.id, dialect)).order_by(User.id).with_for_update()
    if dialect == "postgresql":
        # The refresh holds the rebuild gate shared until its transaction ends (taken once, in the
        # FROM clause): a rebuild raising or lowering its flag waits for the refreshes in flight, and
        # every refresh after it sees the flag from its next statement (READ COMMITTED).
        lock = text(
            "SELECT users.id FROM users, (SELECT pg_advisory_xact_lock_shared(:gate)) AS rebuild_gate "
            "WHERE users.id = ANY(CAST(:people AS integer[])) ORDER BY users.id FOR UPDATE OF users"
        ).bindparams(gate=REBUILD_GATE)
    return Statements(
        lock=lock,
        stored_and_fresh=union_all(
            select(literal("stored").label("side"), *(getattr(ReportFact, c) for c in FACT_COLUMNS))
            .where(_among(ReportFact.user_id, dialect)),
            select(literal("fresh").label("side"), *(recomputed.c[c] for c in FACT_COLUMNS)),
        ),
        # Core tables, not the mapped classes: an ORM INSERT or DELETE given parameters is a bulk one.
        delete=delete(ReportFact.__table__).where(_among(ReportFact.__table__.c.user_id, dialect)),
        changed=select(differences.c.user_id).distinct(),
        add_cell_delta=_adding_to_cells(_upsert(dialect)).from_select([*CELL_COLUMNS, "n"],
                                                                       _cell_delta_select(dialect)),
        insert_facts=insert(ReportFact.__table__).from_select(FACT_INSERT_COLUMNS,
                                                    fact_rows_select(dialect, of_people=True)),
        note_pending=text(_NOTE_AND_LOG_PG) if dialect == "postgresql" else None,
    )




def fact_rows_select(dialect: str, of_people: bool = False, between: tuple | None = None):
    facts = facts_query(dialect, of_people, between)
    day = facts.c.day
    return select(facts.c.user_id, facts.c.kind, facts.c.day, _year(day, dialect), _month(day, dialect),
                  facts.c.country, facts.c.sector, facts.c.course_id, facts.c.cohort_id,
                  facts.c.organisation_id, facts.c.weight)


def _families():
    """The cell families as a small table: dims, grain, and which dimensions the cells keep."""
    rows = [
        select(literal(dims_name(subset)).label("dims"), literal(grain).label("grain"),
               *(literal(int(name in subset)).label(f"keeps_{name}") for name in DIMENSIONS))
        for subset, grains in CELL_FAMILIES for grain in grains
    ]
    return union_all(*rows).subquery("families")


def _cell_delta_select(dialect: str):
    """Per cell, the new minus the old number of these people in it (or of their certificates)."""
    old = select(literal(-1).label("sign"), ReportFact.user_id, ReportFact.kind, ReportFact.year,
                 ReportFact.month, *(getattr(ReportFact, c) for c in NEUTRAL), ReportFact.weight,
                 ).where(_among(ReportFact.user_id, dialect))
    recomputed = facts_query(dialect, of_people=True)
    day = recomputed.c.day
    new = select(literal(1).label("sign"), recomputed.c.user_id, recomputed.c.kind,
                 _year(day, dialect).label("year"), _month(day, dialect).label("month"),
                 *(recomputed.c[c] for c in NEUTRAL), recomputed.c.weight)
    both = union_all(old, new).subquery("both")
    families = _families()
    period = case((families.c.grain == ALL_TIME, 0), (families.c.grain == YEAR, both.c.year), else_=both.c.month)
    kept = [case((families.c[f"keeps_{name}"] == 1, both.c[column]), else_=literal(NEUTRAL[column]))
            .label(column) for name, column in DIMENSIONS.items()]
    expanded = (
        select(both.c.sign, both.c.user_id, both.c.kind, families.c.dims, period.label("period"), *kept,
               both.c.weight)
        .select_from(both.join(families, true()))
        .subquery("expanded")
    )
    cell = [expanded.c[c] for c in CELL_COLUMNS]
    people = (select(expanded.c.sign, expanded.c.user_id, *cell).where(expanded.c.kind != "certified")
              .distinct().subquery("people"))
    people_cell = [people.c[c] for c in CELL_COLUMNS]
    delta = union_all(
        select(*people_cell, func.sum(people.c.sign).label("n")).group_by(*people_cell)
        .having(func.sum(people.c.sign) != 0),
        select(*cell, func.sum(expanded.c.sign * expanded.c.weight).label("n"))
        .where(expanded.c.kind == "certified").group_by(*cell)
        .having(func.sum(expanded.c.sign * expanded.c.weight) != 0),
    ).subquery("delta")
    # WHERE true: SQLite needs it between an INSERT's SELECT and its ON CONFLICT clause.
    # Key order by code point, as Python sorts the per-person path's keys, whatever the database's
    # collation: every transaction upserts cells in the same order, so none can deadlock another.
    def key(name: str):
        column = delta.c[name]
        return column.collate("C") if dialect == "postgresql" and name in _TEXT_KEYS else column

    return select(*delta.c).where(true()).order_by(*(key(c) for c in CELL_COLUMNS))


_TEXT_KEYS = {"kind", "dims", "country", "sector"}


# --- noticing changes --------------------------------------------------------------------------

def install() -> None:
    """Attach the hooks that note whose facts a transaction changes and refresh them before it
    commits, to the app's session (called by ``learning.reporting.init_app``)."""
    listen_on_session("after_flush", _remember_people)
    listen_on_session("do_orm_execute", _remember_people_of_bulk_statements)
    listen_on_session("before_commit", _refresh_before_commit)


def note_changed(session: Session, user_ids: Iterable[int]) -> None:
    """Have these people's facts refreshed before ``session`` commits.

    For writes the hooks cannot see: a set-based INSERT whose rows are not passed as parameters
    (an ``INSERT ... SELECT``, PostgreSQL's ``unnest`` arrays, a multi-row ``VALUES``). Refreshing
    someone whose facts did not change costs a query and changes nothing.
    """
    session.info.setdefault(PENDING_KEY, set()).update(int(i) for i in user_ids if i is not None)


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


def _remember_people(session: Session, flush_context) -> None:
    pending: set[int] = session.info.setdefault(PENDING_KEY, set())
    for collection, fresh in ((session.new, True), (session.deleted, True), (session.dirty, False)):
        for obj in collection:
            if isinstance(obj, Enrolment):
                pending |= _changed_people(obj, WATCHED_ENROLMENT, fresh)
            elif isinstance(obj, Certificate):
                pending |= _changed_people(obj, WATCHED_CERTIFICATE, fresh)


def _user_ids_in_parameters(parameters) -> set[int]:
    """The ``user_id`` values among a statement's parameters (one dict, or a list for executemany)."""
    if isinstance(parameters, dict):
        parameters = [parameters]
    return {int(params["user_id"]) for params in parameters or ()
            if isinstance(params, dict) and params.get("user_id") is not None}


def _every_row_names_its_person(parameters) -> bool:
    """An INSERT's execution parameters give every row's ``user_id`` (the hot path's enrolment):
    compiling the statement to look for them in its ``values`` costs more than the insert itself."""
    rows = [parameters] if isinstance(parameters, dict) else parameters
    return bool(rows) and all(isinstance(row, dict) and row.get("user_id") is not None for row in rows)


def _statement_parameters(statement) -> dict:
    try:
        return statement.compile().params
    except Exception:  # a statement that cannot compile on its own gives nothing to look at
        return {}


def _remember_people_of_bulk_statements(state) -> None:
    """Bulk INSERT/UPDATE/DELETE through the session bypass the flush: note their people.

    An INSERT's people are the ``user_id`` of its rows passed as parameters (an executemany, or one
    row's ``values``); any other INSERT must say whose facts it changed with ``note_changed``. An
    UPDATE that sets a watched column, and a DELETE, concern the people of the rows they match.
    """
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    statement = state.statement
    table = getattr(statement, "table", None)
    watched = {Enrolment.__table__: WATCHED_ENROLMENT, Certificate.__table__: WATCHED_CERTIFICATE}.get(table)
    if watched is None:
        return
    pending: set[int] = state.session.info.setdefault(PENDING_KEY, set())
    if state.is_insert and _every_row_names_its_person(state.parameters):
        pending |= _user_ids_in_parameters(state.parameters)  # the rows are the parameters: nothing to compile
        return
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


def _refresh_before_commit(session: Session) -> None:
    session.flush()
    if session.info.get(DEFER_KEY):
        _queue_refresh(session)
        return
    people = session.info.pop(PENDING_KEY, None)
    if people:
        refresh_people(session, people)

# No clean-up on rollback on purpose: a savepoint's rollback must not forget the
# people changed earlier in the transaction, and refreshing someone whose
# changes were rolled back finds nothing to change.


# --- the refresh deferred to the worker (the learner's hot path) -------------------------------------

def defer_refresh(session: Session) -> None:
    """Have the people this session's transactions change refreshed by the worker, not before commit.

    Set by a request that must answer quickly (a learner enrolling or completing a lesson through the
    API). At the outer commit the people are not refreshed but written as one ``reporting.refresh``
    outbox event in the same transaction (DESIGN.md rule 1: the change and the note that the
    statistics must follow it commit together or not at all); the worker's handler
    (``apply_refresh_events``) then refreshes them. A refresh recomputes a person's facts from the
    source rows under the lock of their user row, so applying an event twice, late, or out of order
    changes nothing more: once the queue is drained the rollup is exactly what a rebuild makes. Until
    then the statistics lag behind by the queue's delay (a few seconds).
    """
    session.info[DEFER_KEY] = True


def refresh_is_deferred(session: Session) -> bool:
    """Whether ``defer_refresh`` was asked for this session's transactions."""
    return bool(session.info.get(DEFER_KEY))


def refresh_event_payload(user_ids: Iterable[int]) -> dict:
    """The payload of the ``reporting.refresh`` event naming these people (``_queue_refresh``'s; a hot
    statement that writes the event itself, ``learning.enrolment.hot``, uses it too)."""
    return {"user_ids": sorted({int(i) for i in user_ids})}


def _queue_refresh(session: Session) -> None:
    """The deferred path of ``_refresh_before_commit``: one outbox event naming the changed people.

    A SAVEPOINT's release also fires ``before_commit``: the people wait for the outer commit, so that a
    transaction writes one event whatever its savepoints."""
    if session.in_nested_transaction():
        return
    people = session.info.pop(PENDING_KEY, None)
    if people:
        from learning.outbox.services import emit_now

        # One Core INSERT now (the flush above is done): no ORM object for the commit to flush.
        emit_now(session, REFRESH_EVENT, refresh_event_payload(people))


def apply_refresh_events(payloads: list[dict]) -> None:
    """Outbox handler of ``reporting.refresh`` events (one or a batch): refresh everyone they name, in
    the caller's transaction, which commits it with the events' done-marks. Idempotent."""
    refresh_people(db.session(), {int(i) for payload in payloads for i in payload.get("user_ids") or ()})


def apply_refresh_event(payload: dict) -> None:
    apply_refresh_events([payload])
