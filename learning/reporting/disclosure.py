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

import heapq
from collections.abc import Hashable, Iterable, Iterator
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
    table = TwoWay(values, row_totals, column_totals, total, threshold)
    if table.withheld:
        # Every combination is listed: were the empty ones left out, a reader would know them as zeros and
        # could solve a small table from its margins.
        return dict.fromkeys(table.combinations(), WITHHELD), True
    return {key: table.published(key) for key in values}, False


# The work of one two-way table's protection is bounded in steps (cells looked at), not seconds, so that the
# same data always give the same output. A table whose exact protection would take more is withheld whole:
# every figure the exact protection could publish or withhold is then withheld (see ``TwoWay``).
STEP_BUDGET = 4_000_000


class TwoWay:
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

    The work is near-linear in the cells (``tests/reporting/test_reporting_bounded.py``
    compares it with the unbounded implementation it replaced):

    * lines are protected again only when one of their cells was withheld
      since they were last found safe (a line's safety depends on its own
      cells alone), in the order in which a full pass would reach them;
    * a small cell found movable stays movable (cells are only ever withheld
      more, which only widens what a reader must allow), so the whole-table
      check never looks at it again and resumes at the cell it stopped at;
    * the sums of the lines are worked out once (the values never change),
      and the rectangles through a cell are searched from the side with fewer
      cells to look at.

    ``budget``: the steps (cells looked at) the protection may take. Past it the
    table is withheld whole (``over_budget``), which withholds every figure the
    exact protection would withhold, and more: conservative, and the same for
    the same data whatever the machine's speed.
    """

    def __init__(self, values: dict[tuple[Hashable, Hashable], int], row_totals: dict[Hashable, int],
                 column_totals: dict[Hashable, int], total: int, threshold: int, budget: int | None = None):
        self.threshold = threshold
        self.budget = STEP_BUDGET if budget is None else budget
        self.steps = 0
        self.over_budget = False
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
        # The sums of the lines' cells (what a change is added to), and the order of the lines in a pass.
        self.row_sums = {key: sum(cell.value for cell in line) for key, (line, _) in self.row_lines.items()}
        self.column_sums = {key: sum(cell.value for cell in line) for key, (line, _) in self.column_lines.items()}
        self.versions: dict = {}  # (axis, line key) -> how many of the line's cells were withheld since built
        self.ends: dict = {}  # see _movable_ends
        self.withheld = self._protect()

    def _spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.budget:
            raise _OverBudget

    def _protect(self) -> bool:
        try:
            return self._protect_exactly()
        except _OverBudget:
            self.over_budget = True
            return True

    def _protect_exactly(self) -> bool:
        """Whether the table must be withheld whole (the cells' marks are set as the dense grid sets them)."""
        # Lines by their place in a pass: rows first, then columns, each in key order.
        order = [(0, key) for key in self.row_lines] + [(1, key) for key in self.column_lines]
        self.line_index = {line: index for index, line in enumerate(order)}
        self.order = order
        if not self._settle(set(range(len(order)))):
            return True
        # Lines one by one are safe; a small cell must also be movable in the table as a whole.
        small = [key for key, cell in self.cells.items() if cell.mark == SMALL]
        at = 0
        while at < len(small):
            stuck = small[at]
            if self._movable(stuck):
                at += 1
                continue
            near = [*self.in_row[stuck[0]], *self.in_column[stuck[1]]]
            self._spend(len(near))
            candidates = [key for key in near if self.cells[key].mark is None]
            if not candidates:
                return True
            chosen = min(candidates, key=lambda key: (self.cells[key].value, self.position(key)))
            self._withhold(chosen)
            if not self._settle({self.line_index[(0, chosen[0])], self.line_index[(1, chosen[1])]}):
                return True
        return False

    def _settle(self, dirty: set[int]) -> bool:
        """Protect the lines that may be unsafe (``dirty``, by place in a pass) as repeated full passes would:
        in order, a line withheld into by a later one waiting for the next pass. False if one cannot be."""
        while dirty:
            queue = sorted(dirty)
            heapq.heapify(queue)
            queued, dirty = set(queue), set()
            while queue:
                index = heapq.heappop(queue)
                queued.discard(index)
                position, key = self.order[index]
                line, line_total = (self.row_lines if position == 0 else self.column_lines)[key]
                members = (self.in_row if position == 0 else self.in_column)[key]
                while True:
                    self._spend(len(line))
                    if line_is_safe(line, line_total, self.threshold, ordered=False):
                        break
                    candidates = [k for k in members if self.cells[k].mark is None]
                    if not candidates:
                        return False
                    chosen = min(candidates, key=lambda k: self.cells[k].value)  # the first of the smallest
                    self._withhold(chosen)
                    other = self.line_index[(1 - position, chosen[1 - position])]
                    if other > index:
                        if other not in queued:
                            queued.add(other)
                            heapq.heappush(queue, other)
                    else:
                        dirty.add(other)
        return True

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
        cells can change, so only those are tried. (The same changes as the
        implementation before the bound, tried in another order: the answer is
        whether any fits.)
        """
        threshold, cells = self.threshold, self.cells

        def can(cell_key: tuple, delta: int) -> bool:
            """The cell, withheld, can take its value plus delta."""
            cell = cells[cell_key]
            if cell.mark is None:
                return False
            if cell.mark == SMALL:
                return 1 <= cell.value + delta <= threshold - 1
            return cell.value + delta >= (0 if cell.mark == COLUMN else threshold)

        def row_can(row, delta: int) -> bool:
            total = self.row_lines[row][1]
            return total.low <= self.row_sums[row] + delta <= total.high

        def column_can(column, delta: int) -> bool:
            total = self.column_lines[column][1]
            return total.low <= self.column_sums[column] + delta <= total.high

        def scan(keys: list, test) -> bool:
            """Whether a key passes the test, the keys looked at until then spent."""
            looked = 0
            for other in keys:
                looked += 1
                if other != key and test(other):
                    self._spend(looked)
                    return True
            self._spend(looked)
            return False

        r, c = key
        self._spend(1)
        for delta in (1, -1):
            if not can(key, delta):  # every change tried moves the cell itself
                continue
            row_ok, column_ok = row_can(r, delta), column_can(c, delta)
            if row_ok and column_ok:
                return True
            # With another withheld cell of its row: the row's sum stays, two columns move; of its column, the same.
            if column_ok and scan(self.in_row[r], lambda other, d=-delta: can(other, d) and column_can(other[1], d)):
                return True
            if row_ok and scan(self.in_column[c], lambda other, d=-delta: can(other, d) and row_can(other[0], d)):
                return True
            # Around a rectangle: every line's sum stays; the corner opposite the cell must be withheld. The
            # movable cells of the shorter line through the cell are gathered; the longer is walked, and
            # through each of its movable cells the corner is looked up (or the crossing line walked).
            short, long_, axis = ((self.in_row[r], self.in_column[c], 1) if len(self.in_row[r]) <= len(self.in_column[c])
                                  else (self.in_column[c], self.in_row[r], 0))
            ends = self._movable_ends(axis, key[1 - axis], short, -delta, can)
            if not ends or list(ends) == [key[axis]]:
                continue
            crossing = self.in_row if axis == 1 else self.in_column
            for other in long_:
                self._spend(1)
                if other == key or not can(other, -delta):
                    continue
                line = crossing[other[1 - axis]]
                looked = 0  # the steps are the cells looked at, in a fixed order (``ends`` keeps the line's)
                if len(ends) <= len(line):
                    for end in ends:
                        looked += 1
                        corner = (other[0], end) if axis == 1 else (end, other[1])
                        if end != key[axis] and corner in cells and can(corner, delta):
                            self._spend(looked)
                            return True
                else:
                    for corner in line:
                        looked += 1
                        if corner[axis] in ends and corner[axis] != key[axis] and can(corner, delta):
                            self._spend(looked)
                            return True
                self._spend(looked)
        return False

    def _movable_ends(self, axis: int, line_key, line: list, delta: int, can) -> dict:
        """The columns (``axis`` 1: of a row's cells) or rows (0: of a column's) of the line's cells that can
        move by delta: kept until a cell of the line is withheld (it depends on the marks alone)."""
        version = self.versions.get((axis, line_key), 0)
        known = self.ends.get((axis, line_key, delta))
        if known is not None and known[0] == version:
            return known[1]
        self._spend(len(line))
        ends = dict.fromkeys(other[axis] for other in line if can(other, delta))  # in the line's order
        self.ends[(axis, line_key, delta)] = (version, ends)
        return ends

    def _withhold(self, key: tuple) -> None:
        """Withhold a published cell as a complement."""
        self.cells[key].mark = COMPLEMENT
        for axis in (0, 1):  # a row's cells are given by their columns (axis 1), a column's by their rows
            line = (axis, key[1 - axis])
            self.versions[line] = self.versions.get(line, 0) + 1


class _OverBudget(Exception):
    """The protection of a table took more steps than its budget."""


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
    if len(group) == 1:
        return publish_one_way(rows, total, threshold)
    if len(group) != 2:
        raise ValueError(f"unsupported grouping {group!r}")
    row_margins = {row.key[0]: row for row in counts(report, (group[0],))}
    column_margins = {row.key[0]: row for row in counts(report, (group[1],))}
    return publish_two_way(rows, total, row_margins, column_margins, threshold)


def publish_one_way(rows: list[CountRow], total: CountRow,
                    threshold: int) -> tuple[list[CountRow], list[dict], set[str]]:
    """``publish_rows`` of one name, its total given."""
    withheld: set[str] = set()
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


def publish_two_way(rows: list[CountRow], total: CountRow, row_margins: dict[Hashable, CountRow],
                    column_margins: dict[Hashable, CountRow],
                    threshold: int) -> tuple[list[CountRow], list[dict], set[str]]:
    """``publish_rows`` of two names, its total and margins (one-way tables, by key) given."""
    tables = {figure: TwoWay({row.key: getattr(row, figure) for row in rows},
                             {key: getattr(row, figure) for key, row in row_margins.items()},
                             {key: getattr(row, figure) for key, row in column_margins.items()},
                             getattr(total, figure), threshold) for figure in FIGURES}
    withheld = {figure for figure, table in tables.items() if table.withheld}
    if withheld:
        # Every combination of the rows and columns (the same for each figure: the keys of the counts
        # and of the margins), in key order.
        table = tables[next(iter(withheld))]
        known = {row.key: row for row in rows}
        rows = [known.get(key) or CountRow(key) for key in table.combinations()]

    def shown(figure: str, key) -> int | str:
        table = tables[figure]
        return WITHHELD if table.withheld else table.published(key)

    published = [{figure: shown(figure, row.key) for figure in FIGURES} for row in rows]
    return rows, published, withheld


def protect_margins(row_totals: dict[Hashable, int], total: int, threshold: int) -> tuple[dict, bool]:
    """The one-way table of a two-way table's margins as published (by key), and whether it was withheld
    whole: what ``TwoWay`` protects its lines against."""
    keys = sorted(row_totals, key=_order)
    shown, margins_withheld = protect_one_way([row_totals[key] for key in keys], total, threshold)
    return dict(zip(keys, shown, strict=True)), margins_withheld


def withheld_by_a_row(row_values: dict[Hashable, dict[Hashable, int]], row_totals: dict[Hashable, int],
                      total: int, threshold: int, margins: tuple[dict, bool] | None = None) -> bool:
    """Whether the two-way table of one figure is withheld whole because one of the rows given
    (``row_values``: a row key -> its cells by column) cannot be protected.

    ``row_totals``: the margins of every row of the table (``margins``: their ``protect_margins``, if
    already worked out). Exact, not a guess: in the first pass of ``TwoWay`` each row line is protected
    from the marks of small cells alone (rows do not share cells, and columns come after them), so a
    row that cannot be protected alone makes the table withheld whole, whatever the other rows and
    columns hold. (Answering False proves nothing.)
    """
    margin_shown, margins_withheld = margins or protect_margins(row_totals, total, threshold)
    for key, values in row_values.items():
        line = [Cell(value) for column, value in sorted(values.items(), key=lambda item: _order(item[0])) if value]
        mark_small(line, threshold)
        known = Total.published(margin_shown[key], row_totals[key], sum(cell.value for cell in line), threshold,
                                margins_withheld)
        if not protect_line(line, known, threshold, ordered=False):
            return True
    return False


def withheld_by_a_column(column_values: dict[Hashable, dict[Hashable, int]], column_totals: dict[Hashable, int],
                         total: int, threshold: int, margins: tuple[dict, bool] | None = None) -> bool:
    """Whether the two-way table of one figure is withheld whole because one of the columns given
    (a column key -> its cells by row) cannot be protected whatever the rows have withheld in it.

    A column is protected after the rows, from the complements they placed, so it is judged at the
    most withheld it can ever be: every figure of it withheld (``"<5"`` or ``"x"``). Withholding one
    more figure of a line only widens what a reader can deduce of the others (a complement lets the
    sum of the others be anything upwards, and its lower bound is the threshold, below its value), so
    a small cell narrowed even then is narrowed in every state the column can reach: that line cannot
    be protected, and the table is withheld whole. Exact when it answers yes (and only then used).
    """
    margin_shown, margins_withheld = margins or protect_margins(column_totals, total, threshold)
    for key, values in column_values.items():
        line = [Cell(value, SMALL if value < threshold else COMPLEMENT) for value in values.values() if value > 0]
        known = Total.published(margin_shown[key], column_totals[key], sum(cell.value for cell in line), threshold,
                                margins_withheld)
        exact_total = known.exact() and known.low >= threshold
        for cell, (low, high) in zip(line, deducible(line, known, threshold, ordered=False), strict=True):
            if cell.mark == SMALL and ((exact_total and (low > 1 or high < threshold - 1)) or low >= high):
                return True
    return False
