"""One snapshot of the facts in memory (``State``): numpy columns sorted by (kind, day), a small overlay
of the people changed since, the people's first facts (``firsts.FirstFacts``) and certificates' daily
sums; the changes of people applied to all of them (``State.apply``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from learning.reporting.period_index.common import (
    _COPY_FIELDS,
    CERTIFIED,
    CERTIFIED_FAMILIES,
    CERTIFIED_PAIRS,
    COMPACT_FROM,
    DAY_BITS,
    EPOCH,
    KINDS,
    KINDS_CODES,
    PEOPLE,
    ROW_ORDERS,
    _day,
    _month_index,
    _months_of,
)
from learning.reporting.period_index.firsts import FirstFacts

_ROW_NAMES = ("user", "month", "country", "sector", "course", "cohort", "organisation", "weight")


class State:
    """One snapshot of the facts plus the changes applied since: columns, overlay, first facts and sums."""

    # Beyond ``COMPACT_FROM`` overlay rows the state compacts itself in ``apply`` (a rebuild from its own
    # columns, in the caller's thread); a process building in the background sets this False on its state
    # and builds a fresh one from the database aside instead (``PeriodIndex.answer``).
    compact_in_place = True

    def __init__(self, header, columns: dict[str, np.ndarray], countries: list[str], sectors: list[str],
                 numbering: Numbering | None = None):
        self.snapshot, self.generation, self.pruned_below = header
        self.countries = list(countries)
        self.sectors = list(sectors)
        self.codes = {"country": {v: i for i, v in enumerate(self.countries)},
                      "sector": {v: i for i, v in enumerate(self.sectors)}}
        if numbering is None:  # the columns hold user ids: number the people (a compaction keeps its numbers)
            numbering = Numbering(columns)
            columns = {**columns, "user": numbering.local_of(columns["user"])}
        self.numbering = numbering
        order = np.argsort(columns["kd"], kind="stable")
        self.base = {name: columns[name][order] for name in _COPY_FIELDS}
        self.base["month"] = _months_of(self.base["kd"])
        self.dead = np.zeros(len(order), dtype=bool)
        self.dead_count = 0
        by_user = np.argsort(self.base["user"], kind="stable")
        self.by_user = by_user.astype(np.int32)
        self.user_sorted = self.base["user"][by_user]
        self._build_row_orders()
        self.overlay: dict[int, list[tuple]] = {}
        self._overlay_columns: dict[str, np.ndarray] | None = None
        self._build_firsts()
        self._build_certified_sums()

    @property
    def xmin(self) -> int:
        """The oldest transaction in flight at the snapshot (``xmin:xmax:xip``): every change not yet
        seen has an id from it on, and is one the snapshot did not see."""
        return int(self.snapshot.split(":", 1)[0])

    # -- building -----------------------------------------------------------------------------

    def _build_firsts(self) -> None:
        """The first facts' tables and neighbours of the total and the single dimensions
        (``firsts.FirstFacts``)."""
        kinds = {}
        for kind in PEOPLE:
            lo, hi = self._kind_range(kind)
            columns = {name: self.base[name][lo:hi] for name in ("user", "month", "country", "sector", "course")}
            columns["day"] = self.base["kd"][lo:hi] & ((1 << DAY_BITS) - 1)
            kinds[kind] = (lo, columns)
        self.firsts = FirstFacts(kinds)

    def positions(self, kind: int, first: int, last: int) -> tuple[int, int]:
        """The positions ``lo..hi-1`` of the base's facts of a kind on days ``first..last`` (searched with
        scalars of the column's own type: a Python int would make numpy convert the whole column first)."""
        kd = self.base["kd"]
        return (int(kd.searchsorted(np.int32((kind << DAY_BITS) + first))),
                int(kd.searchsorted(np.int32((kind << DAY_BITS) + last), side="right")))

    def _build_row_orders(self) -> None:
        """For each dimension of ``ROW_ORDERS``, the rows' positions grouped by its value (ascending within a
        value, so in (kind, day) order too) and where each value's positions start: a period's rows with one
        value are then found by two binary searches, not by masking all of the period's rows (helper
        period10m2; an int32 per row and dimension)."""
        self.row_orders: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in ROW_ORDERS:
            values = self.base[name].astype(np.int64) + 1  # a missing value is code -1
            order = np.argsort(values, kind="stable").astype(np.int32)
            starts = np.r_[0, np.cumsum(np.bincount(values, minlength=1))]
            self.row_orders[name] = (order, starts)

    def _positions_with(self, name: str, code: int, lo: int, hi: int) -> np.ndarray:
        """The positions ``lo..hi-1`` of the columns whose ``name`` is ``code`` (ascending)."""
        order, starts = self.row_orders[name]
        if not 0 <= code + 1 < len(starts) - 1:
            return order[:0]
        block = order[starts[code + 1]:starts[code + 2]]
        return block[int(block.searchsorted(np.int32(lo))):int(block.searchsorted(np.int32(hi)))]

    def _kind_range(self, kind: int) -> tuple[int, int]:
        kd = self.base["kd"]
        return int(kd.searchsorted(np.int32(kind << DAY_BITS))), int(kd.searchsorted(np.int32((kind + 1) << DAY_BITS)))

    def _build_certified_sums(self) -> None:
        """Certificates per day for the total and each country, sector and course, as dense arrays: a
        sum of weights is additive, so any period's figure is a slice's sum (no pass over the
        period's certificate facts, which for a long period are most of them)."""
        lo, hi = self._kind_range(CERTIFIED)
        days = (self.base["kd"][lo:hi] & ((1 << DAY_BITS) - 1)).astype(np.int64)
        weight = self.base["weight"][lo:hi].astype(np.int64)
        today = _day(date.today())
        self.cert_origin = (int(days.min()) if len(days) else today) - 366
        self.cert_span = max(int(days.max()) if len(days) else today, today) - self.cert_origin + 367
        offsets = days - self.cert_origin
        self.cert_sums: dict[tuple, dict[tuple, np.ndarray]] = {}
        for family in CERTIFIED_FAMILIES:
            if not family:
                total = np.bincount(offsets, weights=weight, minlength=self.cert_span)
                self.cert_sums[family] = {(): np.rint(total).astype(np.int64)}
                continue
            values = self.base[family[0]][lo:hi].astype(np.int64)
            keys, inverse = np.unique(values, return_inverse=True)
            flat = np.bincount(inverse * self.cert_span + offsets, weights=weight,
                               minlength=len(keys) * self.cert_span)
            table = np.rint(flat).astype(np.int64).reshape(len(keys), self.cert_span)
            self.cert_sums[family] = {(int(key),): table[position] for position, key in enumerate(keys.tolist())}
        self._build_certified_pair_months(lo, hi)

    def _build_certified_pair_months(self, lo: int, hi: int) -> None:
        """Certificates per month for each pair of country, sector and course (``CERTIFIED_PAIRS``), as one
        array of months per pair of values (a few MB at 10M enrolments), and for each (filter, other)
        orientation the other's values per filter value: a summary filtered on one of them and grouped by
        another sums its whole months here, and only its ragged days from the rows (helper period10m)."""
        origin_day = EPOCH + timedelta(days=self.cert_origin)
        self.cert_month_origin = _month_index(origin_day)
        self.cert_month_span = _month_index(origin_day + timedelta(days=self.cert_span - 1)) - self.cert_month_origin + 1
        months = self.base["month"][lo:hi].astype(np.int64) - self.cert_month_origin
        weight = self.base["weight"][lo:hi].astype(np.int64)
        self.cert_pair_months: dict[tuple, dict[tuple, np.ndarray]] = {}
        self.cert_pair_values: dict[tuple, dict[int, set]] = {}
        for pair in CERTIFIED_PAIRS:
            first, second = (self.base[name][lo:hi].astype(np.int64) for name in pair)
            radix = int(second.max(initial=0)) + 1
            keys, inverse = np.unique(first * radix + second, return_inverse=True)
            flat = np.bincount(inverse * self.cert_month_span + months, weights=weight,
                               minlength=len(keys) * self.cert_month_span)
            table = np.rint(flat).astype(np.int64).reshape(len(keys), self.cert_month_span)
            self.cert_pair_months[pair] = {}
            self.cert_pair_values[pair] = defaultdict(set)
            self.cert_pair_values[pair[::-1]] = defaultdict(set)
            for position, key in enumerate(keys.tolist()):
                self._add_certified_pair(pair, divmod(key, radix), table[position])

    def _add_certified_pair(self, pair: tuple, values: tuple, months: np.ndarray) -> None:
        self.cert_pair_months[pair][values] = months
        self.cert_pair_values[pair][values[0]].add(values[1])
        self.cert_pair_values[pair[::-1]][values[1]].add(values[0])

    def _certified_month_offset(self, month: int) -> int:
        """The position of ``month`` in the pairs' monthly arrays, which grow (by a year at least) to hold it."""
        offset = month - self.cert_month_origin
        if 0 <= offset < self.cert_month_span:
            return offset
        before, after = _grow(self.cert_pair_months.values(), offset, self.cert_month_span, 12)
        self.cert_month_origin -= before
        self.cert_month_span += before + after
        return month - self.cert_month_origin

    def certified_pair_months(self, name: str, code: int, other: str, first_month: int,
                              last_month: int) -> dict[tuple, int] | None:
        """Certificates of months ``first_month..last_month`` (month indexes) with ``name`` = ``code``, by
        ``other``: {(other's value,): sum}. None when (name, other) is not one of the pairs kept."""
        pair = (name, other) if (name, other) in self.cert_pair_months else (other, name)
        table = self.cert_pair_months.get(pair)
        if table is None:
            return None
        lo = max(first_month - self.cert_month_origin, 0)
        hi = min(last_month - self.cert_month_origin + 1, self.cert_month_span)
        sums = {}
        if hi <= lo:
            return sums
        for value in self.cert_pair_values[(name, other)].get(code, ()):
            months = table[(code, value) if pair[0] == name else (value, code)]
            sums[(value,)] = int(months[lo:hi].sum())
        return sums

    def certified_pair_total(self, conditions: dict[str, int], first_month: int, last_month: int,
                             by_year: bool = False) -> dict[tuple, int] | None:
        """Certificates of months ``first_month..last_month`` with both of ``conditions`` (two of country,
        sector and course, a pair kept): {(): sum}, or by year {(year - 1970,): sum}. None for another pair."""
        pair = next((pair for pair in CERTIFIED_PAIRS if set(pair) == set(conditions)), None)
        if pair is None:
            return None
        months = self.cert_pair_months[pair].get(tuple(conditions[name] for name in pair))
        lo = max(first_month - self.cert_month_origin, 0)
        hi = min(last_month - self.cert_month_origin + 1, self.cert_month_span)
        if months is None or hi <= lo:
            return {}
        if not by_year:
            return {(): int(months[lo:hi].sum())}
        sums = {}
        for start in range(lo, hi):
            year = (start + self.cert_month_origin) // 12
            sums[(year,)] = sums.get((year,), 0) + int(months[start])
        return sums

    def _certified_offset(self, day: int) -> int:
        """The position of ``day`` in the certificates' arrays, which grow (by a year at least) to hold it."""
        offset = day - self.cert_origin
        if 0 <= offset < self.cert_span:
            return offset
        before, after = _grow(self.cert_sums.values(), offset, self.cert_span, 366)
        self.cert_origin -= before
        self.cert_span += before + after
        return day - self.cert_origin

    def _touch_certified(self, row: tuple, add: bool) -> None:
        _kind, day, country, sector, course = row[:5]
        weight = row[7] if add else -row[7]
        offset = self._certified_offset(day)
        values = {"country": country, "sector": sector, "course": course}
        for family, table in self.cert_sums.items():
            key = tuple(values[name] for name in family)
            if key not in table:
                table[key] = np.zeros(self.cert_span, np.int64)
            table[key][offset] += weight
        month_offset = self._certified_month_offset(_month_index(EPOCH + timedelta(days=day)))
        for pair, table in self.cert_pair_months.items():
            key = tuple(values[name] for name in pair)
            if key not in table:
                self._add_certified_pair(pair, key, np.zeros(self.cert_month_span, np.int64))
            table[key][month_offset] += weight

    def certified_sums(self, first: int, last: int, group: tuple[str, ...],
                       conditions: dict[str, int] | None = None) -> dict[tuple, int] | None:
        """Certificates per group on days ``first..last`` from the daily sums: with no filter, for the
        total, one of country, sector and course, or the year; with one filter on one of those, for the
        total, the year or that same dimension (its one value's daily sums). None for anything else."""
        if conditions:
            if len(conditions) != 1:
                return None
            [(name, code)] = conditions.items()
            table = self.cert_sums.get((name,))
            if table is None or group not in ((), ("year",), (name,)):
                return None
            values = table.get((code,))
            if values is None:
                return {}
            sums = self._sum_days(values, first, last, group == ("year",))
            if group == (name,):
                return {(code,): sums[()]} if sums else {}
            return sums
        family = () if group == ("year",) else group
        table = self.cert_sums.get(family)
        if table is None:
            return None
        if group != ("year",):
            return {key: n for key, values in table.items() for n in self._sum_days(values, first, last).values()}
        return self._sum_days(table[()], first, last, by_year=True)

    def _sum_days(self, values: np.ndarray, first: int, last: int, by_year: bool = False) -> dict[tuple, int]:
        """The sum of one daily array over days ``first..last``: {(): sum}, or by year {(year - 1970,): sum}."""
        lo = max(first - self.cert_origin, 0)
        hi = min(last - self.cert_origin, self.cert_span - 1) + 1
        if hi <= lo:
            return {}
        if not by_year:
            return {(): int(values[lo:hi].sum())}
        sums = {}
        year = (EPOCH + timedelta(days=lo + self.cert_origin)).year
        while True:
            start = max(_day(date(year, 1, 1)) - self.cert_origin, lo)
            end = min(_day(date(year, 12, 31)) - self.cert_origin + 1, hi)
            if start >= hi:
                break
            sums[(year - 1970,)] = int(values[start:end].sum())
            year += 1
        return sums

    def code(self, name: str, value: str) -> int:
        codes = self.codes[name]
        if value not in codes:
            table = self.countries if name == "country" else self.sectors
            codes[value] = len(table)
            table.append(value)
        return codes[value]

    # -- changes ------------------------------------------------------------------------------

    def apply(self, users: list[int], facts: list[list]) -> None:
        """Replace these people's facts by ``facts`` (rows of the sync query): idempotent."""
        fresh: dict[int, list[tuple]] = defaultdict(list)
        number = self.numbering.number
        for user_id, kind, day, country, sector, course, cohort, organisation, weight in facts:
            fresh[number(int(user_id))].append((KINDS.index(kind), int(day), self.code("country", country),
                                        self.code("sector", sector), int(course), int(cohort),
                                        int(organisation), int(weight)))
        for user_id in users:
            user_id = number(int(user_id))  # the person's number in the index, from here on
            old = self._current_rows(user_id)
            for row in old:
                if row[0] == CERTIFIED:
                    self._touch_certified(row, add=False)
            lo = int(self.user_sorted.searchsorted(np.int32(user_id)))
            hi = int(self.user_sorted.searchsorted(np.int32(user_id), side="right"))
            if hi > lo:
                positions = self.by_user[lo:hi]
                self.dead_count += int((~self.dead[positions]).sum())
                self.dead[positions] = True
            if user_id not in self.overlay:  # their live facts of the base die below (the overlay counts apart)
                self.firsts.remove(_people_rows(old))
            rows = fresh.get(user_id, [])
            for row in rows:
                if row[0] == CERTIFIED:
                    self._touch_certified(row, add=True)
            if rows:
                self.overlay[user_id] = rows
            else:
                self.overlay.pop(user_id, None)
        self._overlay_columns = None
        if self.compact_in_place and self.overlay_rows() > COMPACT_FROM:
            self._compact()

    def overlay_rows(self) -> int:
        """How many rows the overlay holds (its columns, kept for the queries until the next change)."""
        return len(self._overlay()["user"]) if self.overlay else 0

    def _current_rows(self, user_id: int) -> list[tuple]:
        if user_id in self.overlay:
            return self.overlay[user_id]
        lo = int(self.user_sorted.searchsorted(np.int32(user_id)))
        hi = int(self.user_sorted.searchsorted(np.int32(user_id), side="right"))
        rows = []
        base = self.base
        for position in self.by_user[lo:hi].tolist():
            if self.dead[position]:
                continue
            kd = int(base["kd"][position])
            rows.append((kd >> DAY_BITS, kd & ((1 << DAY_BITS) - 1), int(base["country"][position]),
                         int(base["sector"][position]), int(base["course"][position]),
                         int(base["cohort"][position]), int(base["organisation"][position]),
                         int(base["weight"][position])))
        return rows

    def _overlay(self) -> dict[str, np.ndarray]:
        if self._overlay_columns is None:
            rows = [row for rows in self.overlay.values() for row in rows]
            users = [user_id for user_id, rows in self.overlay.items() for _row in rows]
            matrix = np.array(rows, dtype=np.int64).reshape(-1, 8)
            columns = {"user": np.array(users, dtype=np.int32),
                       "kd": ((matrix[:, 0] << DAY_BITS) + matrix[:, 1]).astype(np.int32)}
            for position, name in enumerate(("country", "sector", "course", "cohort", "organisation", "weight"), 2):
                columns[name] = matrix[:, position].astype(np.int32)
            columns["month"] = _months_of(columns["kd"])
            self._overlay_columns = columns
        return self._overlay_columns

    def _compact(self) -> None:
        live = ~self.dead
        overlay = self._overlay()
        columns = {name: np.concatenate([self.base[name][live], overlay[name]]) for name in _COPY_FIELDS}
        self.__init__((self.snapshot, self.generation, self.pruned_below), columns, self.countries, self.sectors,
                      self.numbering)

    # -- reading ------------------------------------------------------------------------------

    def rows(self, kind: int, first: int, last: int, conditions: dict[str, int] | None = None,
             names: tuple[str, ...] = _ROW_NAMES) -> dict[str, np.ndarray]:
        """The live facts of a kind on days ``first..last``: a slice of the columns and the overlay's. With
        ``conditions`` on a dimension of ``ROW_ORDERS``, only (at least) the rows meeting the most selective
        such condition, found through its row order and masked by the other conditions before only the
        columns ``names`` (which must include the conditions' dimensions) are gathered; the caller still
        masks by all its conditions (the overlay's rows are only masked by the chosen one)."""
        lo, hi = self.positions(kind, first, last)
        where = None
        for name in ROW_ORDERS:
            if conditions and name in conditions:
                positions = self._positions_with(name, conditions[name], lo, hi)
                if where is None or len(positions) < len(where[2]):
                    where = (name, conditions[name], positions)
        if where is None:
            names = _ROW_NAMES  # slices cost nothing
            part = {name: self.base[name][lo:hi] for name in names}
            dead = self.dead[lo:hi] if self.dead_count else None
        else:
            positions = where[2]
            for name, code in conditions.items():  # the other filters before gathering the columns
                if name != where[0] and len(positions):
                    positions = positions[self.base[name][positions] == code]
            part = {name: self.base[name][positions] for name in names}
            dead = self.dead[positions] if self.dead_count else None
        if dead is not None and dead.any():
            live = ~dead
            part = {name: values[live] for name, values in part.items()}
        if self.overlay:
            overlay = self._overlay()
            chosen = (overlay["kd"] >= (kind << DAY_BITS) + first) & (overlay["kd"] <= (kind << DAY_BITS) + last)
            if where is not None:
                chosen &= overlay[where[0]] == where[1]
            if chosen.any():
                part = {name: np.concatenate([part[name], overlay[name][chosen]]) for name in names}
        return part

    def day_range(self) -> tuple[int, int] | None:
        days = []
        for kind in KINDS_CODES:
            lo, hi = self._kind_range(kind)
            if hi > lo:
                days += [int(self.base["kd"][lo]) & ((1 << DAY_BITS) - 1), int(self.base["kd"][hi - 1]) & ((1 << DAY_BITS) - 1)]
        if self.overlay:
            overlay = self._overlay()["kd"] & ((1 << DAY_BITS) - 1)
            days += [int(overlay.min()), int(overlay.max())]
        return (min(days), max(days)) if days else None


class Numbering:
    """The index's own numbers for people, a bijection from user ids onto 0..n-1 (small numbers pack into
    fewer bits in the sorts of ``firsts`` and ``query``): the people sorted by the country, sector and
    organisation of one of their facts (it made their bitmaps dense when the index kept bitmaps). A count
    of distinct people does not depend on the numbering. People first seen after the build get the numbers
    past the end; a number is never given twice (an erased person's number stays theirs, with no facts)."""

    def __init__(self, columns: dict[str, np.ndarray]):
        users = columns["user"]
        ids, first = np.unique(users, return_index=True)
        order = np.lexsort((ids, columns["organisation"][first], columns["sector"][first], columns["country"][first]))
        self.ids = ids.astype(np.int64)  # sorted user ids known at the build
        self.numbers = np.empty(len(ids), dtype=np.int32)  # their numbers, in the same order
        self.numbers[order] = np.arange(len(ids), dtype=np.int32)
        self.later: dict[int, int] = {}  # user ids first seen after the build: their numbers
        self.size = len(ids)

    def local_of(self, users: np.ndarray) -> np.ndarray:
        """The numbers of user ids all known at the build."""
        return self.numbers[np.searchsorted(self.ids, users)]

    def number(self, user_id: int) -> int:
        """A user id's number, a new one past the end for someone not seen before."""
        position = int(np.searchsorted(self.ids, user_id))
        if position < len(self.ids) and int(self.ids[position]) == user_id:
            return int(self.numbers[position])
        number = self.later.get(user_id)
        if number is None:
            number = self.later[user_id] = self.size
            self.size += 1
        return number


def _people_rows(rows: list[tuple]) -> list[tuple]:
    """(kind, month, country, sector, course) of the rows of people (``FirstFacts.replace``)."""
    return [(row[0], _month_index(EPOCH + timedelta(days=row[1])), row[2], row[3], row[4])
            for row in rows if row[0] in PEOPLE]


def _grow(tables, offset: int, span: int, margin: int) -> tuple[int, int]:
    """Zeros put before and after every array of ``tables`` (each ``span`` long) so that position ``offset``
    (from their start) fits, with ``margin`` more to spare: how many were put (before, after)."""
    before = -offset + margin if offset < 0 else 0
    after = offset - span + margin + 1 if offset >= span else 0
    for table in tables:
        for key, values in table.items():
            table[key] = np.concatenate([np.zeros(before, np.int64), values, np.zeros(after, np.int64)])
    return before, after
