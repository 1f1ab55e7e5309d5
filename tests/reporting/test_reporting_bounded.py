"""The bounded two-way protection against the unbounded one it replaced (helper "export2").

``UnboundedTwoWay`` below is ``disclosure.TwoWay`` as it was before the bound,
verbatim but for its name: it re-protects every line after every change and
checks every small cell again from the first. The bounded one must publish
exactly what it publishes whenever its budget suffices (always, at the default
budget, on tables this small), and, when a budget is too small, publish nothing
the unbounded one withholds. A large sparse table shaped like organisation ×
month (thousands of rows, about a hundred columns, most cells small) must be
protected within the default budget, and be safe by the module's own checks
(every line by ``line_is_safe``, every small cell movable).
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning.reporting import disclosure
from learning.reporting.disclosure import (
    COLUMN,
    COMPLEMENT,
    INFINITY,
    SMALL,
    WITHHELD,
    Cell,
    Total,
    _order,
    line_is_safe,
    mark_small,
    protect_line,
    protect_one_way,
)
from tests.reporting.random_tables import LARGE_COLUMNS, LARGE_ROWS, THRESHOLDS, tables

# --- the unbounded reference (learning/reporting/disclosure.py before helper "export2") ------

class UnboundedTwoWay:
    """The protection of a two-way table of one figure, held sparsely: only its non-zero cells.

    A zero cell is inert in every step of the protection: it is never small,
    never a candidate to withhold (only figures above zero are), adds nothing
    to a line's sum, and, being published, cannot move; so a line of zeros is
    always safe and is not built. The grid of every combination is
    materialised only to list a table withheld whole (``combinations``).
    The steps and their order (lines, then the whole-table check on small
    cells in row-major order, ties broken by position) are those of the dense
    grid, so the outcome is the same: ``tests/reporting/test_reporting_sparse.py``
    compares both on random tables.
    """

    def __init__(self, values: dict[tuple[Hashable, Hashable], int], row_totals: dict[Hashable, int],
                 column_totals: dict[Hashable, int], total: int, threshold: int):
        self.threshold = threshold
        self.rows = sorted({key[0] for key in values} | set(row_totals), key=_order)
        self.columns = sorted({key[1] for key in values} | set(column_totals), key=_order)
        row_index = {key: index for index, key in enumerate(self.rows)}
        column_index = {key: index for index, key in enumerate(self.columns)}
        self.position = lambda key: (row_index[key[0]], column_index[key[1]])
        self.cells = {key: Cell(value) for key, value in sorted(
            ((key, value) for key, value in values.items() if value), key=lambda item: self.position(item[0]))}
        mark_small(self.cells.values(), threshold)
        self.in_row: dict[Hashable, list] = {}
        self.in_column: dict[Hashable, list] = {}
        for key in self.cells:  # row-major: each row's keys by column, each column's by row
            self.in_row.setdefault(key[0], []).append(key)
            self.in_column.setdefault(key[1], []).append(key)
        self.row_lines: dict[Hashable, tuple[list[Cell], Total]] = {}
        self.column_lines: dict[Hashable, tuple[list[Cell], Total]] = {}
        for margins, keys, members, target in ((row_totals, self.rows, self.in_row, self.row_lines),
                                               (column_totals, self.columns, self.in_column, self.column_lines)):
            shown, margins_withheld = protect_one_way([margins.get(key, 0) for key in keys], total, threshold)
            for key, margin in zip(keys, shown, strict=True):
                if key not in members:
                    continue
                cells = [self.cells[k] for k in members[key]]
                target[key] = (cells, Total.published(margin, margins.get(key, 0), sum(c.value for c in cells),
                                                      threshold, margins_withheld))
        self.withheld = self._protect()

    def _marked(self) -> int:
        return sum(cell.mark is not None for cell in self.cells.values())

    def _protect(self) -> bool:
        """Whether the table must be withheld whole (the cells' marks are set as the dense grid sets them)."""
        lines = [*self.row_lines.values(), *self.column_lines.values()]
        while True:
            before = self._marked()
            for line, line_total in lines:
                if not protect_line(line, line_total, self.threshold, ordered=False):
                    return True
            if self._marked() != before:
                continue
            # Lines one by one are safe; a small cell must also be movable in the table as a whole.
            stuck = next((key for key, cell in self.cells.items()
                          if cell.mark == SMALL and not self._movable(key)), None)
            if stuck is None:
                return False
            near = sorted(set(self.in_row[stuck[0]]) | set(self.in_column[stuck[1]]), key=self.position)
            candidates = [self.cells[key] for key in near if self.cells[key].mark is None]
            if not candidates:
                return True
            min(candidates, key=lambda cell: cell.value).mark = COMPLEMENT

    def published(self, key) -> int | str:
        cell = self.cells.get(key)
        return cell.published(self.threshold) if cell is not None else 0

    def combinations(self) -> Iterator[tuple[Hashable, Hashable]]:
        return ((row, column) for row in self.rows for column in self.columns)

    def _movable(self, key: tuple) -> bool:
        """Whether another table, consistent with everything published, has a different value in this cell.

        A sufficient test (it finds such a table or answers no): change the cell
        by one alone, or with one other withheld cell of its row or column, or
        around a rectangle of four withheld cells, keeping every cell within what
        its mark says and every line within what its total says. Only withheld
        cells can change, so only those are tried.
        """
        threshold, cells = self.threshold, self.cells

        def fits(changes: dict[tuple, int]) -> bool:
            for cell_key, delta in changes.items():
                cell = cells[cell_key]
                low, high = (1, threshold - 1) if cell.mark == SMALL else (
                    (0, INFINITY) if cell.mark == COLUMN else (threshold, INFINITY))
                if not low <= cell.value + delta <= high:
                    return False
            for lines, position in ((self.row_lines, 0), (self.column_lines, 1)):
                moved: dict = {}
                for cell_key, delta in changes.items():
                    moved[cell_key[position]] = moved.get(cell_key[position], 0) + delta
                for line_key, delta in moved.items():
                    if delta:
                        line, total = lines[line_key]
                        current = sum(cell.value for cell in line)
                        if not total.low <= current + delta <= total.high:
                            return False
            return True

        r, c = key
        in_row = [k for k in self.in_row[r] if k != key and cells[k].mark is not None]
        in_column = [k for k in self.in_column[c] if k != key and cells[k].mark is not None]
        for delta in (1, -1):
            if fits({key: delta}):
                return True
            for other in in_row:
                if fits({key: delta, other: -delta}):
                    return True
            for other in in_column:
                if fits({key: delta, other: -delta}):
                    return True
            for across in in_column:
                for along in in_row:
                    corner = (across[0], along[1])
                    if corner in cells and cells[corner].mark is not None and fits(
                            {key: delta, along: -delta, across: -delta, corner: delta}):
                        return True
        return False


def unbounded_protect_two_way(values: dict, row_totals: dict, column_totals: dict, total: int,
                              threshold: int) -> tuple[dict, bool]:
    """``disclosure.protect_two_way`` as it was, on the unbounded reference."""
    table = UnboundedTwoWay(values, row_totals, column_totals, total, threshold)
    if table.withheld:
        return dict.fromkeys(table.combinations(), WITHHELD), True
    return {key: table.published(key) for key in values}, False


def bounded_protect_two_way(values: dict, row_totals: dict, column_totals: dict, total: int, threshold: int,
                            budget: int | None = None) -> tuple[dict, bool, disclosure.TwoWay]:
    table = disclosure.TwoWay(values, row_totals, column_totals, total, threshold, budget=budget)
    if table.withheld:
        return dict.fromkeys(table.combinations(), WITHHELD), True, table
    return {key: table.published(key) for key in values}, False, table


def assert_withholds_at_least(bounded: dict, unbounded: dict, threshold: int) -> None:
    """Every cell is published as the unbounded protection publishes it, or withheld ("x")."""
    for key, shown in unbounded.items():
        assert bounded.get(key, 0) in (shown, WITHHELD), (key, bounded.get(key), shown)
    for key, shown in bounded.items():  # a table withheld whole lists every combination
        assert key in unbounded or shown in (0, WITHHELD), (key, shown)


# --- equal at the default budget, never less withheld at any ---------------------------------

@given(table=tables(), threshold=THRESHOLDS)
@settings(max_examples=400, deadline=None)
def test_bounded_equals_unbounded_on_small_tables(table, threshold):
    values, rows, columns, total = table
    shown, withheld, bounded = bounded_protect_two_way(values, rows, columns, total, threshold)
    assert not bounded.over_budget
    assert (shown, withheld) == unbounded_protect_two_way(values, rows, columns, total, threshold)
    assert (shown, withheld) == disclosure.protect_two_way(values, rows, columns, total, threshold)


@given(table=tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS, high=9, max_size=120), threshold=THRESHOLDS)
@settings(max_examples=80, deadline=None)
def test_bounded_equals_unbounded_on_larger_tables(table, threshold):
    values, rows, columns, total = table
    shown, withheld, bounded = bounded_protect_two_way(values, rows, columns, total, threshold)
    assert not bounded.over_budget
    assert (shown, withheld) == unbounded_protect_two_way(values, rows, columns, total, threshold)


@given(table=tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS[:4], high=40, max_size=60), threshold=THRESHOLDS)
@settings(max_examples=80, deadline=None)
def test_bounded_equals_unbounded_on_tables_that_mostly_publish(table, threshold):
    """Large cells: complements, the whole-table check on small cells and its rectangles at work."""
    values, rows, columns, total = table
    shown, withheld, bounded = bounded_protect_two_way(values, rows, columns, total, threshold)
    assert not bounded.over_budget
    assert (shown, withheld) == unbounded_protect_two_way(values, rows, columns, total, threshold)


@given(table=tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS, high=9, max_size=120), threshold=THRESHOLDS,
       budget=st.integers(0, 3000))
@settings(max_examples=150, deadline=None)
def test_a_budget_too_small_withholds_more_never_less(table, threshold, budget):
    """Whatever the budget: the same output as unbounded when it suffices; else the table withheld whole,
    which withholds every figure the unbounded protection withholds; the same for the same data."""
    values, rows, columns, total = table
    shown, withheld, bounded = bounded_protect_two_way(values, rows, columns, total, threshold, budget)
    reference, reference_withheld = unbounded_protect_two_way(values, rows, columns, total, threshold)
    assert_withholds_at_least(shown, reference, threshold)
    if bounded.over_budget:
        assert withheld and set(shown.values()) <= {WITHHELD}
    else:
        assert (shown, withheld) == (reference, reference_withheld)
    assert bounded_protect_two_way(values, rows, columns, total, threshold, budget)[:2] == (shown, withheld)


def test_a_budget_too_small_withholds_the_table_whole_and_exports_refuse_it(monkeypatch):
    values = {(row, column): 1 + (row * 7 + column) % 9 for row in range(20) for column in range(10)}
    rows = {row: sum(v for (r, _), v in values.items() if r == row) for row in range(20)}
    columns = {column: sum(v for (_, c), v in values.items() if c == column) for column in range(10)}
    total = sum(values.values())
    shown, withheld, bounded = bounded_protect_two_way(values, rows, columns, total, 5, budget=10)
    assert bounded.over_budget and withheld and set(shown.values()) == {WITHHELD}
    assert len(shown) == 200
    # At the default budget the same table publishes.
    assert not bounded_protect_two_way(values, rows, columns, total, 5)[2].over_budget
    # Through publish_two_way (the exports), every figure is then withheld whole: refused with suggestions.
    from learning.reporting.queries import CountRow
    monkeypatch.setattr(disclosure, "STEP_BUDGET", 10)
    count_rows = [CountRow(key, value, value, value) for key, value in values.items()]
    margins = ({key: CountRow((key,), v, v, v) for key, v in rows.items()},
               {key: CountRow((key,), v, v, v) for key, v in columns.items()})
    _rows, published, withheld_figures = disclosure.publish_two_way(
        count_rows, CountRow((), total, total, total), *margins, 5)
    assert withheld_figures == set(disclosure.FIGURES)
    assert all(cell == WITHHELD for row in published for cell in row.values())


# --- a large sparse table: organisation × month ---------------------------------------------

def organisation_by_month(organisations: int, months: int, seed: int) -> tuple[dict, dict, dict, int]:
    """A synthetic table shaped like the bench's organisation × month: most cells small, a few larger,
    many empty; a person counted once per month (the columns add up) and in an organisation once (the rows'
    margins a little below their sums: people enrolled in several months, or equal to them)."""
    rng = random.Random(seed)
    values: dict = {}
    for organisation in range(organisations):
        size = rng.choice([0.5, 1, 1, 2, 4, 10])
        for month in range(months):
            if rng.random() < 0.6:
                value = max(0, int(rng.expovariate(1 / (2.5 * size))))
                if value:
                    values[(f"org {organisation:05d}", month)] = value
    rows: dict = {}
    columns: dict = {}
    for (organisation, month), value in values.items():
        rows[organisation] = rows.get(organisation, 0) + value
        columns[month] = columns.get(month, 0) + value
    largest: dict = {}
    for (organisation, _), value in values.items():
        largest[organisation] = max(largest.get(organisation, 0), value)
    # Organisations with a large cell: half of them with each person in one month (the row adds up: there
    # the complements are needed); the others, and every small one, with people in several months.
    rows = {key: value if largest[key] >= 10 and rng.random() < 0.5 else
            value - rng.randint(1, max(1, value // 5)) if value > 1 else value for key, value in rows.items()}
    total = sum(rows.values())
    return values, rows, columns, total


def assert_safe(table: disclosure.TwoWay, sample: int = 200) -> None:
    """Every line safe alone (``line_is_safe``); every small cell movable in the table as a whole (the
    bounded check on all, the unbounded one on a sample: both are the module's test of deducibility)."""
    for line, total in [*table.row_lines.values(), *table.column_lines.values()]:
        assert line_is_safe(line, total, table.threshold, ordered=False)
    small = [key for key, cell in table.cells.items() if cell.mark == SMALL]
    assert all(table._movable(key) for key in small)
    for key in random.Random(0).sample(small, min(sample, len(small))):
        assert UnboundedTwoWay._movable(table, key)


@pytest.mark.parametrize("organisations,months,seed", [(3000, 100, 1), (1500, 124, 3)])
def test_a_large_sparse_table_is_protected_within_the_budget_and_safe(organisations, months, seed):
    values, rows, columns, total = organisation_by_month(organisations, months, seed)
    table = disclosure.TwoWay(values, rows, columns, total, 5)
    assert not table.over_budget and not table.withheld
    assert table.steps <= disclosure.STEP_BUDGET
    small = sum(cell.mark == SMALL for cell in table.cells.values())
    assert small > len(values) / 2  # many small cells
    assert sum(cell.mark == COMPLEMENT for cell in table.cells.values()) > 0
    assert_safe(table)
    # The same data, the same output.
    again = disclosure.TwoWay(values, rows, columns, total, 5)
    assert {k: again.published(k) for k in values} == {k: table.published(k) for k in values}


@given(seed=st.integers(0, 10_000), threshold=THRESHOLDS)
@settings(max_examples=10, deadline=None)
def test_sparse_tables_of_a_few_hundred_rows_equal_the_unbounded_protection(seed, threshold):
    values, rows, columns, total = organisation_by_month(150, 30, seed)
    shown, withheld, bounded = bounded_protect_two_way(values, rows, columns, total, threshold)
    assert not bounded.over_budget
    assert (shown, withheld) == unbounded_protect_two_way(values, rows, columns, total, threshold)
    if not withheld:
        assert_safe(bounded, sample=50)
