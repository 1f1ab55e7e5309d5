"""The period index's shared vocabulary: kinds and their codes, the packed (kind, day) column, the
bitmap families, the day and month arithmetic (``learning/reporting/period_index/__init__.py``)."""

from __future__ import annotations

import array
import calendar
from datetime import date

import numpy as np
from pyroaring import BitMap

EPOCH = date(1970, 1, 1)
KINDS = ("certified", "reached", "trained")  # codes 0, 1, 2: alphabetical, as the facts sort
CERTIFIED, REACHED, TRAINED = 0, 1, 2
PEOPLE = (REACHED, TRAINED)
DAY_BITS = 20  # kd = kind << 20 | day: days since 1970 stay far below 2**20 (year 4840)
# Bitmap slots: a grain is a block of whole months, aligned on 1970-01 (its period is the month's index
# divided by its length), each length dividing the next, so that any run of whole months is a few
# blocks: at most two of each length, taken greedily from the largest that fits (``query._segments``).
# 2017-04..2024-08 is a quarter, a half, 4 and 2 years, a half and 2 months: 7 unions instead of 22.
GRAIN_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half": 6, "year": 12, "years2": 24, "years4": 48,
                                "years8": 96}
# Bitmap families: dimensions (canonical order) -> grains kept. Only the pairs, by year: the total and the
# single dimensions are counted by their first facts instead (``firsts.FIRSTS_FAMILIES``: a table sum and two
# short slices for any period, where the union of their 7 blocks' bitmaps per group cost tens of milliseconds
# at 10M; their bitmaps are no longer built). Pairs by month would be tens of thousands of small bitmaps;
# their ragged ends are longer slices, still small once the pair's filter masks them.
FAMILIES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("country", "sector"): ("year",),
    ("country", "course"): ("year",),
    ("sector", "course"): ("year",),
}
# Certificates (a sum, not distinct people) kept per day for these, so that a period is a slice's sum.
CERTIFIED_FAMILIES = ((), ("country",), ("sector",), ("course",))
# ... and per month for these pairs, both ways (a summary filtered on one, grouped by the other).
CERTIFIED_PAIRS = (("country", "sector"), ("country", "course"), ("sector", "course"))
# Dimensions whose rows are also kept grouped by value (``State.rows`` with a filter on one of them).
ROW_ORDERS = ("country", "sector")
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


def _bitmap(users: np.ndarray) -> BitMap:
    return BitMap(array.array("I", np.ascontiguousarray(users, dtype=np.uint32).tobytes()))
