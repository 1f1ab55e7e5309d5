"""The period index's shared vocabulary: kinds and their codes, the packed (kind, day) column, the
certificates' families, the row orders, the day and month arithmetic (``learning/reporting/period_index/__init__.py``)."""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np

EPOCH = date(1970, 1, 1)
KINDS = ("certified", "reached", "trained")  # codes 0, 1, 2: alphabetical, as the facts sort
CERTIFIED, REACHED, TRAINED = 0, 1, 2
PEOPLE = (REACHED, TRAINED)
DAY_BITS = 20  # kd = kind << 20 | day: days since 1970 stay far below 2**20 (year 4840)
# Certificates (a sum, not distinct people) kept per day for these, so that a period is a slice's sum.
CERTIFIED_FAMILIES = ((), ("country",), ("sector",), ("course",))
# ... and per month for these pairs, both ways (a summary filtered on one, grouped by the other).
CERTIFIED_PAIRS = (("country", "sector"), ("country", "course"), ("sector", "course"))
# Dimensions whose rows are also kept grouped by value (``State.rows`` with a filter on one of them: its
# rows are two binary searches away, not a mask over all of the period's rows). An int32 per row each.
ROW_ORDERS = ("country", "sector", "organisation", "cohort")
DIMENSION_ORDER = ("country", "sector", "course", "cohort", "organisation")
COLUMNS = ("user", "kd", "month", "country", "sector", "course", "cohort", "organisation", "weight")
# More changed people than this in one synchronisation: a full reload is cheaper.
RELOAD_FROM = 100_000
# Compact the columns (merge the overlay, drop dead rows) beyond this many overlay rows.
COMPACT_FROM = 200_000
_COPY_FIELDS = ("user", "kd", "country", "sector", "course", "cohort", "organisation", "weight")
# Kinds in code order (certificates, then the two kinds of people).
KINDS_CODES = (CERTIFIED, REACHED, TRAINED)


def _day(value: date) -> int:
    return (value - EPOCH).days


def _month_index(value: date) -> int:
    return (value.year - 1970) * 12 + value.month - 1


def _month_end(value: date) -> date:
    return date(value.year, value.month, calendar.monthrange(value.year, value.month)[1])


def _months_of(kd: np.ndarray) -> np.ndarray:
    days = (kd & ((1 << DAY_BITS) - 1)).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int32)  # months since 1970-01
    return months

