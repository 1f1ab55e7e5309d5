"""Published tables cannot be undone by subtraction: complementary suppression, proved by an attacker.

The attacker here is independent of ``learning/reporting/disclosure.py``: it
enumerates every table consistent with what is published (the exact or
"<5" totals, the published cells, what "<5", "x" and 0 mean, and that the
smallest figures are the ones withheld) and reports what each withheld cell
could be. A withheld cell must never be pinned to one value, and when a
line's total is exact a "<5" cell must still be able to be any of 1..4.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning.extensions import db
from learning.reporting import disclosure, exports, services
from learning.reporting.queries import CountRow, ReportFilter, counts
from tests import factories_reporting as rf

X = disclosure.WITHHELD


# --- the attacker ---------------------------------------------------------------------------

def total_bounds(total: int, cells_sum: int, threshold: int, cap: int) -> tuple[int, int]:
    """What a reader knows of the sum of a line's cells from its published total: the sum itself when
    the cells add up to it (the reader assumes so, and is right), at least the total when people are
    in several cells, nothing when some are in no cell shown."""
    if cells_sum < total:
        return 0, cap
    if total == 0:
        return (0, 0) if cells_sum == 0 else (0, cap)
    low, high = (total, total) if total >= threshold else (1, threshold - 1)
    return (low, high) if cells_sum == total else (low, cap)


def cell_bounds(line: list, threshold: int, whole_column_withheld: bool, cap: int, ordered: bool = True) -> list:
    smallest_published = min((v for v in line if isinstance(v, int) and v > 0), default=cap)
    bounds = []
    for value in line:
        if isinstance(value, int):
            bounds.append((value, value))
        elif value == f"<{threshold}":
            bounds.append((1, threshold - 1))
        elif whole_column_withheld:
            bounds.append((0, cap))
        else:
            bounds.append((threshold, smallest_published if ordered else cap))
    return bounds


def feasible(bounds: list[tuple[int, int]], total: tuple[int, int]) -> list[set[int]]:
    """For each cell, every value it can take in some table consistent with the bounds and the total."""
    result = []
    for i, (low, high) in enumerate(bounds):
        sums = {0}
        for j, (other_low, other_high) in enumerate(bounds):
            if j != i:
                sums = {s + v for s in sums for v in range(other_low, other_high + 1) if s + v <= total[1]}
        result.append({v for v in range(low, high + 1) if any(total[0] <= v + s <= total[1] for s in sums)})
    return result


def assert_line_protected(true: list[int], shown: list, total: int, threshold: int, withheld: bool) -> None:
    cap = max(sum(true), total) + 3 * threshold + 5
    additive = sum(true) == total
    bounds = cell_bounds(shown, threshold, withheld, cap)
    known_total = total_bounds(total, sum(true), threshold, cap)
    values = feasible(bounds, known_total)
    exact_total = additive and total >= threshold
    for value, published, possible in zip(true, shown, values, strict=False):
        if isinstance(published, int):
            assert published == value and not 0 < value < threshold
            continue
        assert value in possible, (true, shown, total)
        if 0 < value < threshold or not withheld:
            assert len(possible) > 1, f"cell {value} derivable from {shown} with total {total}"
        if published == f"<{threshold}":
            assert 0 < value < threshold
            if exact_total:
                assert set(range(1, threshold)) <= possible, (true, shown, total, possible)


def assert_grid_protected(true: dict, shown: dict, row_totals: dict, column_totals: dict, margins_shown: tuple,
                          threshold: int, withheld: bool) -> None:
    """Brute force over every grid consistent with the published cells and every published margin.

    ``margins_shown``: how the one-way tables publish the row and column
    margins, ``({row: shown}, rows withheld whole, {column: shown}, columns withheld whole)``.
    """
    rows = sorted({key[0] for key in true} | set(row_totals), key=str)
    columns = sorted({key[1] for key in true} | set(column_totals), key=str)
    cap = sum(true.values()) + 3 * threshold
    cells = {(r, c): (true.get((r, c), 0), shown.get((r, c), 0)) for r in rows for c in columns}
    lines = [[(r, c) for c in columns] for r in rows] + [[(r, c) for r in rows] for c in columns]
    totals = [row_totals.get(r, 0) for r in rows] + [column_totals.get(c, 0) for c in columns]
    row_shown, rows_withheld, column_shown, columns_withheld = margins_shown
    published_margins = [(row_shown.get(r, 0), rows_withheld) for r in rows] + [
        (column_shown.get(c, 0), columns_withheld) for c in columns]
    line_bounds = []
    for line, total, (margin, margin_withheld) in zip(lines, totals, published_margins, strict=True):
        cells_sum = sum(cells[k][0] for k in line)
        low, high = cell_bounds([margin], threshold, margin_withheld, cap, ordered=False)[0]
        line_bounds.append((0, cap) if cells_sum < total else (low, high if cells_sum == total else cap))
    bounds = {}
    for key, (_value, published) in cells.items():
        low, high = cell_bounds([published], threshold, withheld, cap, ordered=False)[0]
        for line, (_, line_high) in zip(lines, line_bounds, strict=True):
            if key in line:
                high = min(high, line_high)
        bounds[key] = (low, high)
    unknown = [key for key, (_, published) in cells.items() if not isinstance(published, int)]

    def line_ok(assignment: dict) -> bool:
        for line, (low, high) in zip(lines, line_bounds, strict=True):
            if any(k in unknown and k not in assignment for k in line):
                if sum(assignment.get(k, bounds[k][0]) for k in line) > high:
                    return False
                continue
            if not low <= sum(assignment.get(k, cells[k][1]) for k in line) <= high:
                return False
        return True

    def exists(assignment: dict, index: int = 0) -> bool:
        """Some grid consistent with everything published extends this assignment."""
        if index == len(unknown):
            return True
        key = unknown[index]
        if key in assignment:
            return exists(assignment, index + 1) if line_ok(assignment) else False
        low, high = bounds[key]
        for value in range(low, min(high, cap) + 1):
            assignment[key] = value
            if line_ok(assignment) and exists(assignment, index + 1):
                del assignment[key]
                return True
        del assignment[key]
        return False

    for key in unknown:
        value = cells[key][0]
        if 0 < value < threshold:  # a small count (a withheld zero or large count gives nobody away)
            # The values a cell can take form an interval (the constraints are a transportation
            # polytope), so it is pinned exactly when neither neighbour of the truth is possible.
            others = [v for v in (value - 1, value + 1) if bounds[key][0] <= v <= bounds[key][1]]
            assert any(exists({key: v}) for v in others), f"cell {key}={value} derivable from {shown}"


# --- the engine, on random tables -----------------------------------------------------------

ENGINE = settings(max_examples=200, deadline=None)


@given(values=st.lists(st.integers(0, 30), min_size=1, max_size=7), overlap=st.integers(-3, 3),
       threshold=st.sampled_from([3, 5]))
@ENGINE
def test_no_small_cell_of_a_one_way_table_can_be_derived(values, overlap, threshold):
    total = max(sum(values) - overlap, max(values))  # people in several cells (or in none shown)
    shown, withheld = disclosure.protect_one_way(values, total, threshold)
    assert_line_protected(values, shown, total, threshold, withheld)


@given(values=st.lists(st.integers(1, 4), min_size=2, max_size=7))
@ENGINE
def test_many_small_cells_with_an_exact_total_keep_their_full_range(values):
    shown, withheld = disclosure.protect_one_way([*values, 40], sum(values) + 40, 5)
    assert_line_protected([*values, 40], shown, sum(values) + 40, 5, withheld)


@given(grid=st.dictionaries(st.tuples(st.sampled_from("ab"), st.sampled_from("pqr")), st.integers(0, 9),
                            min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)
def test_no_small_cell_of_a_two_way_table_can_be_derived_from_its_margins(grid):
    rows, columns = {}, {}
    for (r, c), value in grid.items():
        rows[r] = rows.get(r, 0) + value
        columns[c] = columns.get(c, 0) + value
    total = sum(grid.values())
    shown, withheld = disclosure.protect_two_way(grid, rows, columns, total, 5)
    row_keys, column_keys = sorted(rows), sorted(columns)
    row_shown, rows_withheld = disclosure.protect_one_way([rows[k] for k in row_keys], total, 5)
    column_shown, columns_withheld = disclosure.protect_one_way([columns[k] for k in column_keys], total, 5)
    assert_line_protected([rows[k] for k in row_keys], row_shown, total, 5, rows_withheld)
    assert_line_protected([columns[k] for k in column_keys], column_shown, total, 5, columns_withheld)
    margins = (dict(zip(row_keys, row_shown, strict=True)), rows_withheld,
               dict(zip(column_keys, column_shown, strict=True)), columns_withheld)
    assert_grid_protected(grid, shown, rows, columns, margins, 5, withheld)


def test_the_example_of_the_attack_is_closed():
    """The impact page showed 2,600 in all and every country but one: now a second cell is withheld."""
    shown, withheld = disclosure.protect_one_way([2, 37, 120, 2441], 2600, 5)
    assert shown == ["<5", X, 120, 2441] and not withheld
    assert 2600 - 120 - 2441 == 39  # what a reader can still say: Kenya and the withheld cell make 39


def test_a_table_no_pattern_can_protect_is_withheld_whole():
    shown, withheld = disclosure.protect_one_way([1, 1, 1, 1, 1], 5, 5)
    assert withheld and shown == [X] * 5


# --- the published tables, on random histories ----------------------------------------------

COUNTRIES = ["CO", "KE", "FR", None]
SECTORS = ["law_enforcement", "health", "education"]

histories = st.lists(
    st.fixed_dictionaries({
        "person": st.integers(0, 9),
        "course": st.integers(0, 1),
        "country": st.sampled_from(COUNTRIES),
        "sector": st.sampled_from(SECTORS),
        "enrolled": st.integers(0, 400),
        "completed_after": st.one_of(st.none(), st.integers(0, 60)),
        "certified": st.booleans(),
    }),
    max_size=20,
)
START = date(2024, 1, 1)
PUBLISHED_GROUPINGS = [("country",), ("sector",), ("course",), ("year",), ("month",), ("country", "sector")]
TABLES = settings(max_examples=30, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def write(history) -> None:
    courses = [rf.course() for _ in range(2)]
    people = [rf.person() for _ in range(10)]
    for spec in history:
        enrolled = START + timedelta(days=spec["enrolled"])
        completed = enrolled + timedelta(days=spec["completed_after"]) if spec["completed_after"] is not None else None
        rf.enrolment(people[spec["person"]], courses[spec["course"]], enrolled, completed,
                     completed if completed and spec["certified"] else None,
                     country=spec["country"], sector=spec["sector"])
    db.session.commit()


FIGURE_COLUMNS = {"reached": "professionals_reached", "trained": "professionals_trained",
                  "certified": "certificates_issued"}


@given(history=histories)
@TABLES
def test_no_published_figure_can_be_derived_by_subtraction(app_context, history):
    """The impact page (its totals, countries and sectors) and the exports of every grouping."""
    rf.wipe()
    write(history)
    threshold = services.small_cell_threshold()
    for year in (2024, 2025):
        report = ReportFilter(date_from=date(year, 1, 1), date_to=date(year, 12, 31))
        page = services.impact(year)
        total = next(iter(counts(report)), CountRow(()))
        for name in ("country", "sector"):
            true = {row.key[0]: row for row in counts(report, (name,))}
            shown_rows = page[f"by_{name}"]
            assert shown_rows == sorted(shown_rows, key=lambda r: (*services._rank(r["trained"]),
                                                                   *services._rank(r["reached"]), str(r[name])))
            for figure in ("reached", "trained"):
                shown = [row[figure] for row in shown_rows]
                values = [getattr(true[row[name]], figure) for row in shown_rows]
                withheld = bool(shown) and all(value == X for value in shown)
                # Rows without a country or sector are not shown. A reader who assumes the shown cells add
                # up to the total is right whenever they do: this attacker knows when.
                assert_line_protected(values, shown, getattr(total, figure), threshold, withheld)
        for figure in ("reached", "trained"):
            assert page[f"professionals_{figure}"] == services.suppress(getattr(total, figure), threshold)

        published = {group: list(exports.rows(report, group, "en")) for group in PUBLISHED_GROUPINGS}
        for group in PUBLISHED_GROUPINGS:
            table = list(counts(report, group))
            header = exports.header(group)
            for figure, column in FIGURE_COLUMNS.items():
                position = header.index(column)
                shown = [row[position] for row in published[group]]
                true = [getattr(row, figure) for row in table]  # one-way tables list the same rows
                withheld = bool(shown) and all(value == X for value in shown)
                if len(group) == 1:
                    assert_line_protected(true, shown, getattr(total, figure), threshold, withheld)
                    continue
                margins, margins_shown = [], []
                for name in group:
                    keyed = list(counts(report, (name,)))
                    values = [row[position - len(exports.header(group)) + len(exports.header((name,)))]
                              for row in published[(name,)]]
                    margins.append({row.key[0] or "": getattr(row, figure) for row in keyed})
                    margins_shown += [{row.key[0] or "": value for row, value in zip(keyed, values, strict=True)},
                                      bool(values) and all(value == X for value in values)]
                keys = [(row[0], row[2]) for row in published[group]]  # country and sector codes, or ""
                assert_grid_protected({(row.key[0] or "", row.key[1] or ""): getattr(row, figure) for row in table},
                                      dict(zip(keys, shown, strict=True)),
                                      margins[0], margins[1], tuple(margins_shown), threshold, withheld)


def test_the_impact_page_no_longer_gives_the_small_country_away(api, app_context):
    course = rf.course()
    for country, size in (("CO", 30), ("PE", 12), ("KE", 2)):
        for _ in range(size):
            rf.enrolment(rf.person(country), course, date(2024, 3, 1), date(2024, 4, 1))
    db.session.commit()
    body = api.get("impact/2024").json
    assert body["professionals_trained"] == 44
    trained = {row["country"]: row["trained"] for row in body["by_country"]}
    assert trained == {"CO": 30, "PE": X, "KE": "<5"}
    assert [row["country"] for row in body["by_country"]] == ["CO", "KE", "PE"]  # by what is shown only


@pytest.mark.parametrize("group_by", ["country", "country,sector"])
def test_exports_withhold_the_complement(api, make, app_context, group_by):
    course = rf.course()
    for country, size in (("CO", 30), ("PE", 12), ("KE", 2)):
        for _ in range(size):
            rf.enrolment(rf.person(country, "health"), course, date(2024, 3, 1), date(2024, 4, 1), date(2024, 4, 1))
    db.session.commit()
    text = api.as_user(make.admin()).get(f"reports/export.csv?group_by={group_by}").get_data(as_text=True)
    lines = {line.split(",")[0]: line for line in text.splitlines()[1:]}
    assert lines["KE"].endswith("<5,<5,<5") and lines["PE"].endswith("x,x,x") and lines["CO"].endswith("30,30,30")


def test_the_admin_summary_stays_exact(api, make, app_context):
    course = rf.course()
    for country, size in (("CO", 30), ("KE", 2)):
        for _ in range(size):
            rf.enrolment(rf.person(country), course, date(2024, 3, 1), date(2024, 4, 1))
    db.session.commit()
    body = api.as_user(make.admin()).get("reports/summary?from=2024-01-01&to=2024-12-31").json
    assert {row["country"]: row["trained"] for row in body["by_country"]} == {"CO": 30, "KE": 2}
