"""Disclosure control for published tables: primary and complementary (secondary) suppression.

Every figure the platform publishes outside itself (the impact page and its
API, the CSV and XLSX exports of any grouping) goes through this module, so the
rule lives in one place.

* **Primary suppression**: a count from 1 to ``threshold - 1`` is published as
  ``"<5"`` (zero stays zero).
* **Complementary suppression**: a table with an exact total and one ``"<5"``
  cell gives that cell away by subtraction. For every line of a table (all the
  cells that add up to one total: the whole of a one-way table; each row and
  each column of a two-way table) we work out what a reader can deduce from the
  total and the published cells, knowing this algorithm: a ``"<5"`` cell is
  between 1 and 4, a complementary ``"x"`` cell is at least the threshold (and,
  in a one-way table, at most the smallest figure still published), a zero is
  zero. While a small
  cell could be narrowed (when the line's total is exact, it must still be able
  to take every value from 1 to 4; otherwise it must not be pinned to a single
  value), the smallest figure still published in that line is withheld as
  ``"x"``. Two-way tables repeat this over rows and columns until nothing
  changes.
* **Withholding**: a line that no pattern can protect (a tiny table: five
  people in five countries) has its whole column withheld as ``"x"``.

A line's total is what a reader may know: the distinct people of the line, as
published elsewhere. If it counts each person once (the cells add up to it),
the reader knows the cells' sum exactly (from the threshold up) or as
``"<5"``; if people are in several cells, the reader only knows the sum is at
least the total. ``reached``, ``trained`` and ``certified`` are protected each
on its own: none of them bounds another in a period (people trained this year
may have enrolled in an earlier one), so a reader learns nothing about one
column from another in the same row.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from learning.reporting.queries import CountRow, ReportFilter, counts

WITHHELD = "x"
INFINITY = float("inf")

# Marks a cell can carry.
SMALL = "small"  # primary: 0 < value < threshold, published as "<5"
COMPLEMENT = "complement"  # secondary: withheld so that a small cell cannot be derived, published as "x"
COLUMN = "column"  # the whole column withheld: nothing about the cell is published, "x"


def small_marker(threshold: int) -> str:
    return f"<{threshold}"


@dataclass
class Cell:
    """One figure of a table, with the mark that says how it is published."""

    value: int
    mark: str | None = None

    def published(self, threshold: int) -> int | str:
        if self.mark is None:
            return self.value
        return small_marker(threshold) if self.mark == SMALL else WITHHELD


@dataclass(frozen=True)
class Total:
    """What a reader may know of the sum of a line's cells: at least ``low``, at most ``high``."""

    low: float
    high: float

    @classmethod
    def published(cls, shown: int | str, value: int, cells_sum: int, threshold: int,
                  whole_column_withheld: bool = False) -> Total:
        """The reader's bounds on the cells' sum from how a line's distinct total is published (``shown``).

        When each person is in one cell, the cells add up to the total. When
        people are in several cells, they add up to more: only a lower bound.
        When some people are in no cell shown (the impact page leaves out
        "not recorded"), the total says nothing about the cells.
        """
        if isinstance(shown, int):
            low, high = shown, shown
        elif shown == small_marker(threshold):
            low, high = 1, threshold - 1
        elif whole_column_withheld:
            low, high = 0, INFINITY
        else:
            low, high = threshold, INFINITY
        if cells_sum > value:
            return cls(low, INFINITY)
        if cells_sum < value:
            return cls(0, INFINITY)
        return cls(low, high)

    def exact(self) -> bool:
        return self.low == self.high


def cell_bounds(cell: Cell, threshold: int, complement_ceiling: float) -> tuple[float, float]:
    """What a reader knows of one cell from its published form alone.

    ``complement_ceiling``: in a whole one-way table the complements are its
    smallest figures, so none is above the smallest figure still published.
    """
    if cell.mark is None:
        return cell.value, cell.value
    if cell.mark == SMALL:
        return 1, threshold - 1
    if cell.mark == COLUMN:
        return 0, INFINITY
    return threshold, complement_ceiling


def deducible(line: list[Cell], total: Total, threshold: int, ordered: bool = True) -> list[tuple[float, float]]:
    """For each cell of a line, the range of values a reader can deduce it lies in (the line alone)."""
    ceiling = min((cell.value for cell in line if cell.mark is None and cell.value > 0),
                  default=INFINITY) if ordered else INFINITY
    bounds = [cell_bounds(cell, threshold, ceiling) for cell in line]
    total_low, total_high = total.low, total.high
    sum_low = sum(low for low, _ in bounds)
    finite_high = sum(high for _, high in bounds if high != INFINITY)
    unbounded = sum(high == INFINITY for _, high in bounds)
    ranges = []
    for low, high in bounds:
        others_low = sum_low - low
        if unbounded - (high == INFINITY) > 0:
            others_high = INFINITY
        else:
            others_high = finite_high - (high if high != INFINITY else 0)
        deduced_low = low if others_high == INFINITY else max(low, total_low - others_high)
        deduced_high = high if total_high == INFINITY else min(high, total_high - others_low)
        ranges.append((deduced_low, deduced_high))
    return ranges


def line_is_safe(line: list[Cell], total: Total, threshold: int, ordered: bool = True) -> bool:
    """No withheld cell of the line can be pinned down; small ones keep their full range when the total is exact."""
    exact_total = total.exact() and total.low >= threshold
    for cell, (low, high) in zip(line, deducible(line, total, threshold, ordered), strict=True):
        if cell.mark is None:
            continue
        if cell.mark == SMALL and exact_total:
            if low > 1 or high < threshold - 1:
                return False
        elif low >= high:
            return False
    return True


def protect_line(line: list[Cell], total: Total, threshold: int, ordered: bool = True) -> bool:
    """Withhold the line's smallest published figures until it is safe; False if nothing can make it so."""
    while not line_is_safe(line, total, threshold, ordered):
        candidates = [cell for cell in line if cell.mark is None and cell.value > 0]
        if not candidates:
            return False
        min(candidates, key=lambda cell: cell.value).mark = COMPLEMENT
    return True


def mark_small(cells: Iterable[Cell], threshold: int) -> None:
    for cell in cells:
        if 0 < cell.value < threshold:
            cell.mark = SMALL


def withhold_all(cells: Iterable[Cell]) -> None:
    for cell in cells:
        cell.mark = COLUMN


def protect_one_way(values: list[int], total: int, threshold: int) -> tuple[list[int | str], bool]:
    """A one-way table of one figure: its published cells, and whether the column had to be withheld whole."""
    line = [Cell(value) for value in values]
    mark_small(line, threshold)
    known = Total.published(publish_count(total, threshold), total, sum(values), threshold)
    withheld = not protect_line(line, known, threshold)
    if withheld:
        withhold_all(line)
    return [cell.published(threshold) for cell in line], withheld


def protect_two_way(values: dict[tuple[Hashable, Hashable], int], row_totals: dict[Hashable, int],
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
                      and not _movable(grid, rows, columns, key, row_lines, column_lines, threshold)), None)
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


def _movable(grid: dict, rows: list, columns: list, key: tuple, row_lines: dict, column_lines: dict,
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


def publish_count(value: int, threshold: int) -> int | str:
    """A total as published on its own: exact from the threshold up, ``"<5"`` below it, zero as zero."""
    return small_marker(threshold) if 0 < value < threshold else value


def _order(key) -> tuple:
    """A stable order for keys that may mix None with values."""
    return (key is not None, str(key) if key is not None else "")


# --- tables of the reports ------------------------------------------------------------------

FIGURES = ("reached", "trained", "certified")


def publish_rows(report: ReportFilter, group: tuple[str, ...], rows: list[CountRow],
                 threshold: int) -> tuple[list[CountRow], list[dict], set[str]]:
    """The rows of a grouping (one or two names) as published: each with its figures, and the figures
    withheld whole. A two-way table withheld whole lists every combination of its rows and columns.

    The totals a reader may hold (the filter's total, and for two names each
    margin) are counted again here, distinct people as everywhere.
    """
    total = next(iter(counts(report)), CountRow(()))
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
    row_margins = {row.key[0]: row for row in counts(report, (group[0],))}
    column_margins = {row.key[0]: row for row in counts(report, (group[1],))}
    by_figure = {}
    for figure in FIGURES:
        by_figure[figure], whole = protect_two_way(
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
