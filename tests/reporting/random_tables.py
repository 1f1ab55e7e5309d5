"""Random tables for the disclosure tests (Hypothesis strategies), shared by
``test_reporting_sparse.py`` and ``test_reporting_bounded.py``: two-way tables of one figure with margins
that count each person once, fewer or more times (``tables``), and the same as ``counts`` rows of the
three figures (``count_tables``)."""

from __future__ import annotations

from hypothesis import strategies as st

from learning.reporting.disclosure import FIGURES, _order
from learning.reporting.queries import CountRow

ROWS = ["a", "b", "c", "d", None]
COLUMNS = ["p", "q", "r", "s", "t", None]


@st.composite
def tables(draw, rows=ROWS, columns=COLUMNS, high=12, max_size=14):
    """(values, row margins, column margins, total) of one figure: margins that count each person
    once (the cells add up), fewer (people in several cells) or more (people in no cell shown)."""
    values = draw(st.dictionaries(st.tuples(st.sampled_from(rows), st.sampled_from(columns)),
                                  st.integers(0, high), min_size=1, max_size=max_size))

    def margins(position: int, keys: list) -> dict:
        sums: dict = {}
        for key, value in values.items():
            sums[key[position]] = sums.get(key[position], 0) + value
        for extra in draw(st.lists(st.sampled_from(keys), max_size=2)):
            sums.setdefault(extra, 0)  # a margin with no cell in the table
        return {key: max(0, value + draw(st.sampled_from([0, 0, 0, -1, -3, 1, 2]))) for key, value in sums.items()}

    row_margins, column_margins = margins(0, rows), margins(1, columns)
    total = max(0, sum(values.values()) + draw(st.sampled_from([0, 0, -2, 3])))
    return values, row_margins, column_margins, total


THRESHOLDS = st.sampled_from([2, 3, 5])


LARGE_ROWS = [f"cohort {i:02d}" for i in range(25)] + [None]
LARGE_COLUMNS = list(range(202301, 202313)) + list(range(202401, 202407))


def count_rows(draw, rows, columns, high, max_size):
    """Three figures of the same keys, and their margins and total, as ``counts`` gives them."""
    keys = draw(st.lists(st.tuples(st.sampled_from(rows), st.sampled_from(columns)), min_size=1, max_size=max_size,
                         unique=True))
    figures = {figure: {key: draw(st.integers(0, high)) for key in keys} for figure in FIGURES}
    table = [CountRow(key, *(figures[f][key] for f in FIGURES))
             for key in sorted(keys, key=lambda k: (_order(k[0]), _order(k[1])))]
    margins = []
    for position in (0, 1):
        sums: dict = {}
        for row in table:
            margin = sums.setdefault(row.key[position], CountRow((row.key[position],)))
            for figure in FIGURES:
                setattr(margin, figure, getattr(margin, figure) + getattr(row, figure))
        for margin in sums.values():
            for figure in FIGURES:
                setattr(margin, figure, max(0, getattr(margin, figure) - draw(st.sampled_from([0, 0, 1, 2]))))
        margins.append(sums)
    total = CountRow((), *(sum(figures[f].values()) - draw(st.sampled_from([0, 0, 1])) for f in FIGURES))
    return table, total, margins[0], margins[1]


@st.composite
def count_tables(draw, rows=ROWS, columns=COLUMNS, high=12, max_size=14):
    return count_rows(draw, rows, columns, high, max_size)
