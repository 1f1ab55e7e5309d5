"""Aggregation in SQL: exact distinct counts of people by any grouping.

Two ways to the same numbers:

* the **cells** (``report_cells``), when the period is all time, one calendar
  year or one month and the filters plus the grouping name at most two
  dimensions: a handful of rows read by primary key;
* the process's **period index** (``period_index/``, PostgreSQL) otherwise: an
  exact in-memory copy of the facts, kept current by a change log;
* the **facts** (``report_facts``) when there is no index (SQLite, or not built
  yet): ``COUNT(DISTINCT user_id)`` over the narrow, de-duplicated history.

The property tests check both against a brute-force recount.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select, union_all

from learning.extensions import db
from learning.reporting.models import ReportCell, ReportFact
from learning.reporting.period_index import counts_from_index
from learning.reporting.rollup import DIMENSIONS, MONTH, YEAR, dims_name, grain_of, has_cells

KINDS = ("reached", "trained", "certified")
# The kinds counted as distinct people, named (not "not certified") so that PostgreSQL reads a period's
# facts as two ranges of the covering index on (kind, day).
PEOPLE_KINDS = ("reached", "trained")
TIME_GROUPS = ("year", "month")
GROUPS = (*DIMENSIONS, *TIME_GROUPS)


@dataclass(frozen=True)
class ReportFilter:
    """Which enrolments a report covers: a period (UTC dates, inclusive) and recorded dimensions."""

    date_from: date | None = None
    date_to: date | None = None
    country: str | None = None
    sector: str | None = None
    course: int | None = None
    cohort: int | None = None
    organisation: int | None = None
    labels: dict = field(default_factory=dict, compare=False, hash=False)

    def dimensions(self) -> dict[str, object]:
        """The dimension filters that are set, by dimension name."""
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


@dataclass
class CountRow:
    """One group of a report: its key (one value per grouping) and its three figures."""

    key: tuple
    reached: int = 0
    trained: int = 0
    certified: int = 0


def aligned_period(date_from: date | None, date_to: date | None) -> int | None:
    """The cell period equal to this range: 0 (all time), YYYY, YYYYMM, or None if there is none."""
    if date_from is None and date_to is None:
        return 0
    if date_from is None or date_to is None or date_from.day != 1:
        return None
    if date_from.month == 1 and date_to == date(date_from.year, 12, 31):
        return date_from.year
    last = calendar.monthrange(date_from.year, date_from.month)[1]
    if date_to == date(date_from.year, date_from.month, last):
        return date_from.year * 100 + date_from.month
    return None


def counts(report: ReportFilter, group: tuple[str, ...] = ()) -> Iterator[CountRow]:
    """Distinct people reached and trained, and certificates issued, per group, ordered by key."""
    unknown = [g for g in group if g not in GROUPS]
    if unknown or len(group) != len(set(group)) or sum(g in TIME_GROUPS for g in group) > 1:
        raise ValueError(f"unsupported grouping {group!r}")
    plan = _cell_plan(report, group)
    if plan:
        return _pivot(_from_cells(report, group, *plan))
    answered = counts_from_index(report, group)
    if answered is not None:
        return iter(answered)
    return _pivot(_from_facts(report, group))


def _cell_plan(report: ReportFilter, group: tuple[str, ...]):
    """(dims, period condition, time-key expression) when the cells answer exactly, else None."""
    subset = set(report.dimensions()) | {g for g in group if g in DIMENSIONS}
    if len(subset) > 2:
        return None
    period = aligned_period(report.date_from, report.date_to)
    if period is None:
        return None
    dims = dims_name(subset)
    time_group = next((g for g in group if g in TIME_GROUPS), None)
    grain = {None: grain_of(period), "year": YEAR, "month": MONTH}[time_group]
    if not has_cells(dims, grain) or (time_group == "year" and grain_of(period) == MONTH):
        return None
    column = ReportCell.period
    if time_group is None:
        condition, key = column == period, None
    elif time_group == "year":
        condition = column.between(1, 9999) if period == 0 else column == period
        key = column
    else:
        if period == 0:
            condition = column >= 100000
        elif period < 10000:
            condition = column.between(period * 100 + 1, period * 100 + 12)
        else:
            condition = column == period
        key = column
    return dims, condition, key


def _group_columns(model, group: tuple[str, ...], time_key=None) -> list:
    columns = []
    for name in group:
        if name in DIMENSIONS:
            columns.append(getattr(model, DIMENSIONS[name]))
        else:
            columns.append(time_key if time_key is not None else getattr(model, name))
    return columns


def _filter_conditions(model, report: ReportFilter) -> list:
    return [getattr(model, DIMENSIONS[name]) == value for name, value in report.dimensions().items()]


def _from_cells(report: ReportFilter, group, dims: str, period_condition, time_key):
    keys = _group_columns(ReportCell, group, time_key)
    statement = (
        select(*keys, ReportCell.kind, ReportCell.n)
        .where(ReportCell.kind.in_(KINDS), ReportCell.dims == dims, period_condition, ReportCell.n > 0,
               *_filter_conditions(ReportCell, report))
        .order_by(*keys, ReportCell.kind)
    )
    return db.session.execute(statement)


def _from_facts(report: ReportFilter, group):
    """Counted from the facts: distinct people as DISTINCT then COUNT (a hash aggregation, where
    ``COUNT(DISTINCT ...)`` would sort every fact of the period), certificates as a sum."""
    keys = [column.label(f"key{position}") for position, column in enumerate(_group_columns(ReportFact, group))]
    conditions = _filter_conditions(ReportFact, report)
    if report.date_from is not None:
        conditions.append(ReportFact.day >= report.date_from)
    if report.date_to is not None:
        conditions.append(ReportFact.day <= report.date_to)
    people = (
        select(*keys, ReportFact.kind, ReportFact.user_id)
        .where(*conditions, _people_kinds(report))
        .distinct()
        .subquery("people")
    )
    people_keys = [people.c[key.name] for key in keys]
    certified_keys = [key.element for key in keys]
    counted = union_all(
        select(*people_keys, people.c.kind, func.count().label("n")).group_by(*people_keys, people.c.kind),
        select(*keys, ReportFact.kind, func.sum(ReportFact.weight).label("n"))
        .where(*conditions, ReportFact.kind == "certified").group_by(*certified_keys, ReportFact.kind),
    ).subquery("counted")
    ordering = [counted.c[key.name] for key in keys]
    statement = select(*ordering, counted.c.kind, counted.c.n).order_by(*ordering, counted.c.kind)
    return db.session.execute(statement.execution_options(yield_per=2000))


# Filters that have an index of their own on ``report_facts`` (``(dimension, day)``).
INDEXED_FILTERS = ("country", "course", "cohort", "organisation")


def _people_kinds(report: ReportFilter):
    """The condition selecting the facts counted as people, written for the index it should use.

    Both forms select the same rows. Named kinds (``IN``) make a period two ranges of the covering
    ``(kind, day)`` index, which is best when no filter narrows the facts through an index of its own;
    with such a filter, "not certified" leaves the planner that filter's ``(dimension, day)`` index,
    which reads a fraction of the period's facts (measured at 1M enrolments: docs/PERFORMANCE.md)."""
    if any(name in INDEXED_FILTERS for name in report.dimensions()):
        return ReportFact.kind != "certified"
    return ReportFact.kind.in_(PEOPLE_KINDS)


def _pivot(rows) -> Iterator[CountRow]:
    """Rows of (key..., kind, n) ordered by key become one CountRow per key, without holding them all."""
    current: CountRow | None = None
    for row in rows:
        *key, kind, n = tuple(row)
        key = tuple(key)
        if current is None or current.key != key:
            if current is not None:
                yield current
            current = CountRow(key)
        setattr(current, kind, int(n or 0))
    if current is not None:
        yield current
