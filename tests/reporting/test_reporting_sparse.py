"""Sparse two-way protection equals the dense grid it replaced, on random tables (issue 16).

``disclosure.TwoWay`` holds only the non-zero cells of a table; the grid of
every combination is built only to list a table withheld whole. The dense
implementation it replaced is kept below, verbatim but for its names, as the
reference: for one-way and two-way tables, small and larger, with margins that
count people in several cells or in none, and several thresholds, both must
publish exactly the same cells and withhold the same figures. ``withheld_by_a_row``
(the export's early answer) must never say "withheld" of a table the grid publishes.
"""

from __future__ import annotations

from collections.abc import Hashable

from hypothesis import given, settings
from hypothesis import strategies as st

from learning.reporting import disclosure
from learning.reporting.disclosure import (
    COLUMN,
    COMPLEMENT,
    FIGURES,
    INFINITY,
    SMALL,
    Cell,
    Total,
    _order,
    mark_small,
    protect_line,
    protect_one_way,
    withhold_all,
)
from learning.reporting.queries import CountRow
from tests.reporting.random_tables import (
    LARGE_COLUMNS,
    LARGE_ROWS,
    THRESHOLDS,
    count_tables,
    tables,
)

# --- the dense reference (learning/reporting/disclosure.py before issue 16) ------------------

def dense_protect_two_way(values: dict[tuple[Hashable, Hashable], int], row_totals: dict[Hashable, int],
                    column_totals: dict[Hashable, int], total: int,
                    threshold: int) -> tuple[dict[tuple[Hashable, Hashable], int | str], bool]:
    """A two-way table of one figure (absent cells are zero, as a reader sees them).

    Returns the published cells (every combination of a row and a column when
    the table is withheld whole), and whether it was.

    The margins are what the one-way tables of the same filter publish (this
    module protects those too); rows and columns are protected against them
    until no line changes.
    """
    rows = sorted({key[0] for key in values} | set(row_totals), key=_order)
    columns = sorted({key[1] for key in values} | set(column_totals), key=_order)
    grid = {(r, c): Cell(values.get((r, c), 0)) for r in rows for c in columns}
    mark_small(grid.values(), threshold)
    lines = []
    for margins, keys, line_of in ((row_totals, rows, lambda r: [(r, c) for c in columns]),
                                   (column_totals, columns, lambda c: [(r, c) for r in rows])):
        shown, margins_withheld = protect_one_way([margins.get(key, 0) for key in keys], total, threshold)
        for key, margin in zip(keys, shown, strict=True):
            cells = [grid[k] for k in line_of(key)]
            lines.append((cells, Total.published(margin, margins.get(key, 0), sum(cell.value for cell in cells),
                                                 threshold,
                                                 margins_withheld)))
    row_lines = dict(zip(rows, lines[:len(rows)], strict=True))
    column_lines = dict(zip(columns, lines[len(rows):], strict=True))
    withheld = False
    while not withheld:
        before = sum(cell.mark is not None for cell in grid.values())
        for line, line_total in lines:
            if not protect_line(line, line_total, threshold, ordered=False):
                withheld = True
                break
        if withheld or sum(cell.mark is not None for cell in grid.values()) != before:
            continue
        # Lines one by one are safe; a small cell must also be movable in the table as a whole.
        stuck = next((key for key, cell in grid.items() if cell.mark == SMALL
                      and not dense_movable(grid, rows, columns, key, row_lines, column_lines, threshold)), None)
        if stuck is None:
            break
        candidates = [grid[key] for key in grid if (key[0] == stuck[0] or key[1] == stuck[1])
                      and grid[key].mark is None and grid[key].value > 0]
        if not candidates:
            withheld = True
        else:
            min(candidates, key=lambda cell: cell.value).mark = COMPLEMENT
    if withheld:
        # Every combination is listed: were the empty ones left out, a reader would know them as zeros and
        # could solve a small table from its margins.
        withhold_all(grid.values())
        return {key: cell.published(threshold) for key, cell in grid.items()}, withheld
    return {key: grid[key].published(threshold) for key in values}, withheld


def dense_movable(grid: dict, rows: list, columns: list, key: tuple, row_lines: dict, column_lines: dict,
             threshold: int) -> bool:
    """Whether another table, consistent with everything published, has a different value in this cell.

    A sufficient test (it finds such a table or answers no): change the cell
    by one alone, or with one other withheld cell of its row or column, or
    around a rectangle of four withheld cells, keeping every cell within what
    its mark says and every line within what its total says.
    """
    def fits(changes: dict[tuple, int]) -> bool:
        for cell_key, delta in changes.items():
            cell = grid[cell_key]
            if cell.mark is None:
                return False
            low, high = (1, threshold - 1) if cell.mark == SMALL else (
                (0, INFINITY) if cell.mark == COLUMN else (threshold, INFINITY))
            if not low <= cell.value + delta <= high:
                return False
        for lines, position in ((row_lines, 0), (column_lines, 1)):
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
    for delta in (1, -1):
        if fits({key: delta}):
            return True
        for other in columns:
            if other != c and fits({key: delta, (r, other): -delta}):
                return True
        for other in rows:
            if other != r and fits({key: delta, (other, c): -delta}):
                return True
        for other_row in rows:
            for other_column in columns:
                if other_row != r and other_column != c and fits(
                        {key: delta, (r, other_column): -delta, (other_row, c): -delta,
                         (other_row, other_column): delta}):
                    return True
    return False


def dense_publish_rows(group: tuple[str, ...], rows: list[CountRow], total: CountRow, row_margins: dict,
                       column_margins: dict, threshold: int) -> tuple[list[CountRow], list[dict], set[str]]:
    """The old ``publish_rows`` (dense), its total and margins given."""
    withheld: set[str] = set()
    if len(group) == 1:
        published: list[dict] = [{} for _ in rows]
        # In one canonical order, so that ties are broken as the margins of a two-way table break them.
        order = sorted(range(len(rows)), key=lambda index: _order(rows[index].key[0]))
        for figure in FIGURES:
            cells, whole = protect_one_way([getattr(rows[index], figure) for index in order],
                                           getattr(total, figure), threshold)
            for index, cell in zip(order, cells, strict=True):
                published[index][figure] = cell
            if whole:
                withheld.add(figure)
        return rows, published, withheld
    if len(group) != 2:
        raise ValueError(f"unsupported grouping {group!r}")
    by_figure = {}
    for figure in FIGURES:
        by_figure[figure], whole = dense_protect_two_way(
            {row.key: getattr(row, figure) for row in rows},
            {key: getattr(row, figure) for key, row in row_margins.items()},
            {key: getattr(row, figure) for key, row in column_margins.items()},
            getattr(total, figure), threshold)
        if whole:
            withheld.add(figure)
    if withheld:
        known = {row.key: row for row in rows}
        keys = set(known).union(*(set(cells) for cells in by_figure.values()))
        rows = [known.get(key) or CountRow(key) for key in sorted(keys, key=lambda k: (_order(k[0]), _order(k[1])))]
    published = [{figure: by_figure[figure].get(row.key, 0) for figure in FIGURES} for row in rows]
    return rows, published, withheld


@given(table=tables(), threshold=THRESHOLDS)
@settings(max_examples=400, deadline=None)
def test_sparse_equals_dense_on_small_tables(table, threshold):
    values, rows, columns, total = table
    assert disclosure.protect_two_way(values, rows, columns, total, threshold) == dense_protect_two_way(
        values, rows, columns, total, threshold)


@given(table=tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS, high=9, max_size=120), threshold=THRESHOLDS)
@settings(max_examples=60, deadline=None)
def test_sparse_equals_dense_on_larger_tables(table, threshold):
    values, rows, columns, total = table
    assert disclosure.protect_two_way(values, rows, columns, total, threshold) == dense_protect_two_way(
        values, rows, columns, total, threshold)


@given(table=tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS[:4], high=40, max_size=60), threshold=THRESHOLDS)
@settings(max_examples=60, deadline=None)
def test_sparse_equals_dense_on_tables_that_mostly_publish(table, threshold):
    """Large cells: complements, the whole-table check on small cells and its rectangles at work."""
    values, rows, columns, total = table
    assert disclosure.protect_two_way(values, rows, columns, total, threshold) == dense_protect_two_way(
        values, rows, columns, total, threshold)


@given(table=count_tables(), threshold=THRESHOLDS)
@settings(max_examples=200, deadline=None)
def test_published_rows_are_those_of_the_dense_grid(table, threshold):
    rows, total, row_margins, column_margins = table
    assert disclosure.publish_two_way(rows, total, row_margins, column_margins, threshold) == dense_publish_rows(
        ("r", "c"), rows, total, row_margins, column_margins, threshold)


@given(table=count_tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS, high=7, max_size=150), threshold=THRESHOLDS)
@settings(max_examples=40, deadline=None)
def test_published_rows_of_larger_tables_are_those_of_the_dense_grid(table, threshold):
    rows, total, row_margins, column_margins = table
    assert disclosure.publish_two_way(rows, total, row_margins, column_margins, threshold) == dense_publish_rows(
        ("r", "c"), rows, total, row_margins, column_margins, threshold)


@given(values=st.lists(st.integers(0, 30), min_size=1, max_size=9), threshold=THRESHOLDS,
       overlap=st.integers(-3, 3))
@settings(max_examples=200, deadline=None)
def test_one_way_rows_are_published_as_before(values, threshold, overlap):
    rows = [CountRow((f"k{i}",), v, max(0, v - 1), v // 2) for i, v in enumerate(values)]
    total = CountRow((), *(max(0, sum(getattr(r, f) for r in rows) - overlap) for f in FIGURES))
    assert disclosure.publish_one_way(rows, total, threshold) == dense_publish_rows(
        ("k",), rows, total, {}, {}, threshold)


@given(table=count_tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS, high=7, max_size=150), threshold=THRESHOLDS,
       probed=st.lists(st.sampled_from(LARGE_ROWS[:-1]), max_size=8, unique=True))
@settings(max_examples=100, deadline=None)
def test_a_row_that_cannot_be_protected_withholds_the_table_whole(table, threshold, probed):
    """The export's early answer is exact: when some probed row cannot be protected on its own, the
    full protection withholds that figure whole (the converse is not claimed)."""
    rows, total, row_margins, column_margins = table
    _rows, _published, withheld = dense_publish_rows(("r", "c"), rows, total, row_margins, column_margins, threshold)
    for figure in FIGURES:
        row_values = {key: {row.key[1]: getattr(row, figure) for row in rows if row.key[0] == key}
                      for key in probed if key in row_margins}
        if disclosure.withheld_by_a_row(row_values, {k: getattr(r, figure) for k, r in row_margins.items()},
                                        getattr(total, figure), threshold):
            assert figure in withheld, figure


@given(table=count_tables(rows=LARGE_ROWS, columns=LARGE_COLUMNS, high=7, max_size=150), threshold=THRESHOLDS,
       probed=st.lists(st.sampled_from(LARGE_COLUMNS), max_size=8, unique=True))
@settings(max_examples=100, deadline=None)
def test_a_column_that_cannot_be_protected_withholds_the_table_whole(table, threshold, probed):
    """The same for a column judged at its most withheld (``withheld_by_a_column``), whatever the rows did."""
    rows, total, row_margins, column_margins = table
    _rows, _published, withheld = dense_publish_rows(("r", "c"), rows, total, row_margins, column_margins, threshold)
    for figure in FIGURES:
        column_values = {key: {row.key[0]: getattr(row, figure) for row in rows if row.key[1] == key}
                         for key in probed if key in column_margins}
        if disclosure.withheld_by_a_column(column_values, {k: getattr(r, figure) for k, r in column_margins.items()},
                                           getattr(total, figure), threshold):
            assert figure in withheld, figure


def test_a_cohort_of_six_over_two_months_is_settled_by_its_row_or_its_column():
    """Three and three under an exact six: the cohort's line cannot be protected, as a row or a column."""
    cells = {"January": 3, "February": 3}
    assert disclosure.withheld_by_a_row({"Bogotá": cells}, {"Bogotá": 6, "Lima": 40}, 46, 5)
    assert disclosure.withheld_by_a_column({"Bogotá": cells}, {"Bogotá": 6, "Lima": 40}, 46, 5)
    assert not disclosure.withheld_by_a_column({"Lima": {"January": 20, "February": 20}}, {"Bogotá": 6, "Lima": 40},
                                               46, 5)
