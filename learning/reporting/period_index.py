"""An exact, in-memory index of the people facts, answering any period (PostgreSQL).

The cells (``report_cells``) answer whole years and months; any other period used to count distinct
people over ``report_facts`` in PostgreSQL (0.3 s for half a year, 10-20 s for seven years at 1M
enrolments). Each process keeps instead, built from ``report_facts`` in one snapshot:

* **the facts as numpy columns** sorted by (kind, day): user, day, month, country and sector (as small
  codes), course, cohort, organisation, certificates' weight. The ragged days at the ends of a period
  are a slice found by binary search;
* **bitmaps of people** (pyroaring) per family key, kind and year or month, for the families the cells
  have with few values: the total, country, sector and course by year and month, and their pairs by
  year. A period is then its whole years and months (a union of bitmaps) plus the people of its ragged
  ends (a bitmap made from the slice): exact, and a few milliseconds for any length.

Anything else (a cohort or an organisation, three dimensions, a pair by month) is counted from the
numpy columns of the period with masks and ``unique``; certificates are sums of weights (``bincount``).

**Kept exact by a change log.** Every statement that rewrites someone's facts also writes a row to
``report_changes`` (``rollup._WRITE_PG`` and the set-based path's note). Before answering (once per
transaction of the asking session), the index reads in one statement (one snapshot) the people with a
change whose transaction the previous snapshot did not see (an id at least that snapshot's ``xmin``,
and not visible in it), their current facts, the new snapshot and the facts table's
generation (``pg_relation_filenode``: a rebuild in place truncates the table, a rebuild aside swaps in
another table; both give a new file). Each changed person's old facts leave the bitmaps (and are marked
dead in the columns), their new ones are added (the bitmaps, and a small overlay of columns): applying
a change twice changes nothing, and a transaction still in flight at the snapshot is not visible in
it, so it is read once it has committed. A transaction that rewrote facts it has not committed yet
counts its own reports from the facts (``counts_from_index``). A new generation, or a snapshot older than the pruned part
of the log (``report_changes_horizon``), means a full reload. ``prune_changes`` (a beat task) prunes.

Configuration: ``REPORT_PERIOD_INDEX`` (default on for PostgreSQL, never on SQLite, where the facts
path stays); ``REPORT_PERIOD_INDEX_BUILD`` = ``background`` (default: built on first use in a thread,
the facts path answering meanwhile) or ``sync`` (built in the first request: tests and benchmarks).
Memory and build time: docs/PERFORMANCE.md, *Any period, exact: an index in each process*.
"""

from __future__ import annotations

import array
import calendar
import logging
import threading
import time
from collections import defaultdict
from datetime import date, timedelta

import numpy as np
from pyroaring import BitMap
from sqlalchemy import text

log = logging.getLogger(__name__)

EPOCH = date(1970, 1, 1)
KINDS = ("certified", "reached", "trained")  # codes 0, 1, 2: alphabetical, as the facts sort
CERTIFIED, REACHED, TRAINED = 0, 1, 2
PEOPLE = (REACHED, TRAINED)
DAY_BITS = 20  # kd = kind << 20 | day: days since 1970 stay far below 2**20 (year 4840)
# Bitmap families: dimensions (canonical order) -> grains kept. Single dimensions by month too; pairs
# by year only (by month they would be tens of thousands of small bitmaps; their ragged ends are longer
# slices, still small once the pair's filter masks them).
FAMILIES: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("year", "month"),
    ("country",): ("year", "month"),
    ("sector",): ("year", "month"),
    ("course",): ("year", "month"),
    ("country", "sector"): ("year",),
    ("country", "course"): ("year",),
    ("sector", "course"): ("year",),
}
# Certificates (a sum, not distinct people) kept per day for these, so that a period is a slice's sum.
CERTIFIED_FAMILIES = ((), ("country",), ("sector",), ("course",))
DIMENSION_ORDER = ("country", "sector", "course", "cohort", "organisation")
COLUMNS = ("user", "kd", "month", "country", "sector", "course", "cohort", "organisation", "weight")
# More changed people than this in one synchronisation: a full reload is cheaper.
RELOAD_FROM = 100_000
# Compact the columns (merge the overlay, drop dead rows) beyond this many overlay rows.
COMPACT_FROM = 200_000


def _day(value: date) -> int:
    return (value - EPOCH).days


def _month_index(value: date) -> int:
    return (value.year - 1970) * 12 + value.month - 1


def _month_end(value: date) -> date:
    return date(value.year, value.month, calendar.monthrange(value.year, value.month)[1])


# --- loading ---------------------------------------------------------------------------------

_HEADER_SQL = text(
    "SELECT CAST(pg_current_snapshot() AS text), pg_relation_filenode('report_facts'), "
    "(SELECT CAST(pruned_below AS text) FROM report_changes_horizon WHERE id = 1), "
    # Every value a fact has is in an all-time cell of its dimension (a few hundred rows, not a scan).
    "(SELECT array_agg(DISTINCT country) FROM report_cells WHERE dims = 'country' AND period = 0), "
    "(SELECT array_agg(DISTINCT sector) FROM report_cells WHERE dims = 'sector' AND period = 0)"
)
_COPY_SQL = (
    f"COPY (SELECT user_id, (CASE kind WHEN 'certified' THEN 0 WHEN 'reached' THEN 1 ELSE 2 END) * {1 << DAY_BITS} "
    "+ (day - DATE '1970-01-01'), CAST(COALESCE(c.n, 0) AS integer) - 1, CAST(COALESCE(s.n, 0) AS integer) - 1, "
    "course_id, cohort_id, organisation_id, weight FROM report_facts "
    "LEFT JOIN unnest(%(countries)s::text[]) WITH ORDINALITY AS c (v, n) ON c.v = country "
    "LEFT JOIN unnest(%(sectors)s::text[]) WITH ORDINALITY AS s (v, n) ON s.v = sector) TO STDOUT (FORMAT BINARY)"
)
_VALUES_SQL = text("SELECT (SELECT array_agg(DISTINCT country) FROM report_facts), "
                   "(SELECT array_agg(DISTINCT sector) FROM report_facts)")
_COPY_FIELDS = ("user", "kd", "country", "sector", "course", "cohort", "organisation", "weight")
_COPY_ROW = np.dtype([("n", ">i2")] + [item for name in _COPY_FIELDS for item in ((f"l_{name}", ">i4"),
                                                                                   (name, ">i4"))])

_SYNC_SQL = text(
    "WITH changed AS (SELECT DISTINCT user_id FROM report_changes WHERE xid >= CAST(:w AS xid8) "
    "AND NOT pg_visible_in_snapshot(xid, CAST(:snapshot AS pg_snapshot))), "
    "fresh AS (SELECT user_id, kind, day - DATE '1970-01-01' AS day, country, sector, course_id, cohort_id, "
    "organisation_id, weight FROM report_facts WHERE user_id IN (SELECT user_id FROM changed) "
    f"AND (SELECT count(*) FROM changed) <= {RELOAD_FROM}) "
    "SELECT CAST(pg_current_snapshot() AS text), pg_relation_filenode('report_facts'), "
    "(SELECT CAST(pruned_below AS text) FROM report_changes_horizon WHERE id = 1), "
    "(SELECT count(*) FROM changed), (SELECT array_agg(user_id) FROM changed), "
    "(SELECT json_agg(json_build_array(user_id, kind, day, country, sector, course_id, cohort_id, "
    "organisation_id, weight)) FROM fresh)"
)


def _read_copy(chunks) -> dict[str, np.ndarray]:
    """The rows of a binary COPY of int4 columns, parsed a few megabytes at a time."""
    size = _COPY_ROW.itemsize
    parts: list[np.ndarray] = []
    buffer = bytearray()
    header = 19
    for chunk in chunks:
        buffer += chunk
        if header:
            if len(buffer) < header:
                continue
            del buffer[:header]
            header = 0
        whole = len(buffer) // size * size
        if whole >= 1 << 22:
            parts.append(np.frombuffer(bytes(buffer[:whole]), dtype=_COPY_ROW).copy())
            del buffer[:whole]
    whole = len(buffer) // size * size  # the trailer (two bytes) is left over
    if whole:
        parts.append(np.frombuffer(bytes(buffer[:whole]), dtype=_COPY_ROW))
    rows = np.concatenate(parts) if parts else np.zeros(0, dtype=_COPY_ROW)
    return {name: rows[name].astype(np.int32) for name in _COPY_FIELDS}


def _months_of(kd: np.ndarray) -> np.ndarray:
    days = (kd & ((1 << DAY_BITS) - 1)).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int32)  # months since 1970-01
    return months


def _bitmap(users: np.ndarray) -> BitMap:
    return BitMap(array.array("I", np.ascontiguousarray(users, dtype=np.uint32).tobytes()))


class State:
    """One snapshot of the facts plus the changes applied since: columns, overlay and bitmaps."""

    def __init__(self, header, columns: dict[str, np.ndarray], countries: list[str], sectors: list[str]):
        self.snapshot, self.generation, self.pruned_below = header
        self.countries = list(countries)
        self.sectors = list(sectors)
        self.codes = {"country": {v: i for i, v in enumerate(self.countries)},
                      "sector": {v: i for i, v in enumerate(self.sectors)}}
        order = np.argsort(columns["kd"], kind="stable")
        self.base = {name: columns[name][order] for name in _COPY_FIELDS}
        self.base["month"] = _months_of(self.base["kd"])
        self.dead = np.zeros(len(order), dtype=bool)
        self.dead_count = 0
        by_user = np.argsort(self.base["user"], kind="stable")
        self.by_user = by_user.astype(np.int32)
        self.user_sorted = self.base["user"][by_user]
        self.overlay: dict[int, list[tuple]] = {}
        self._overlay_columns: dict[str, np.ndarray] | None = None
        self.bitmaps: dict[tuple, dict[tuple, BitMap]] = {}
        self._matching: dict[tuple, dict] = {}  # see ``matching``; dropped when a slot gains a key
        self._build_bitmaps()
        self._build_certified_sums()

    @property
    def xmin(self) -> int:
        """The oldest transaction in flight at the snapshot (``xmin:xmax:xip``): every change not yet
        seen has an id from it on, and is one the snapshot did not see."""
        return int(self.snapshot.split(":", 1)[0])

    # -- building -----------------------------------------------------------------------------

    def _build_bitmaps(self) -> None:
        base = self.base
        for kind in PEOPLE:
            lo, hi = self._kind_range(kind)
            if hi == lo:
                continue
            users = base["user"][lo:hi]
            order = np.argsort(users, kind="stable")
            users = users[order]
            months = base["month"][lo:hi][order].astype(np.int64)
            values = {name: base[name][lo:hi][order].astype(np.int64) for name in ("country", "sector", "course")}
            for family, grains in FAMILIES.items():
                for grain in grains:
                    period = months if grain == "month" else months // 12
                    gid = period.copy()
                    radices = []
                    for name in family:
                        radix = int(values[name].max(initial=0)) + 1
                        radices.append(radix)
                        gid = gid * radix + values[name]
                    by_group = np.argsort(gid, kind="stable")  # users stay sorted within a group
                    gid_sorted = gid[by_group]
                    users_sorted = users[by_group]
                    starts = np.flatnonzero(np.r_[True, gid_sorted[1:] != gid_sorted[:-1]])
                    ends = np.r_[starts[1:], len(gid_sorted)]
                    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                        rest = int(gid_sorted[start])
                        key = []
                        for radix in reversed(radices):
                            rest, value = divmod(rest, radix)
                            key.append(value)
                        key.reverse()
                        slot = self.bitmaps.setdefault((family, kind, grain, rest), {})
                        slot[tuple(key)] = _bitmap(users_sorted[start:end])

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

    def _certified_offset(self, day: int) -> int:
        """The position of ``day`` in the certificates' arrays, which grow (by a year at least) to hold it."""
        offset = day - self.cert_origin
        if 0 <= offset < self.cert_span:
            return offset
        before = -offset + 366 if offset < 0 else 0
        after = offset - self.cert_span + 367 if offset >= self.cert_span else 0
        for table in self.cert_sums.values():
            for key, values in table.items():
                table[key] = np.concatenate([np.zeros(before, np.int64), values, np.zeros(after, np.int64)])
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

    def certified_sums(self, first: int, last: int, group: tuple[str, ...]) -> dict[tuple, int] | None:
        """Certificates per group on days ``first..last`` from the daily sums, for the total, one of
        country, sector and course, or the year (None for any other grouping)."""
        family = () if group == ("year",) else group
        table = self.cert_sums.get(family)
        if table is None:
            return None
        lo = max(first - self.cert_origin, 0)
        hi = min(last - self.cert_origin, self.cert_span - 1) + 1
        if hi <= lo:
            return {}
        if group != ("year",):
            return {key: int(values[lo:hi].sum()) for key, values in table.items()}
        values, sums = table[()], {}
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
        for user_id, kind, day, country, sector, course, cohort, organisation, weight in facts:
            fresh[int(user_id)].append((KINDS.index(kind), int(day), self.code("country", country),
                                        self.code("sector", sector), int(course), int(cohort),
                                        int(organisation), int(weight)))
        for user_id in users:
            user_id = int(user_id)
            for row in self._current_rows(user_id):
                self._touch_bitmaps(user_id, row, add=False)
            lo = int(self.user_sorted.searchsorted(np.int32(user_id)))
            hi = int(self.user_sorted.searchsorted(np.int32(user_id), side="right"))
            if hi > lo:
                positions = self.by_user[lo:hi]
                self.dead_count += int((~self.dead[positions]).sum())
                self.dead[positions] = True
            rows = fresh.get(user_id, [])
            for row in rows:
                self._touch_bitmaps(user_id, row, add=True)
            if rows:
                self.overlay[user_id] = rows
            else:
                self.overlay.pop(user_id, None)
        self._overlay_columns = None
        if sum(len(rows) for rows in self.overlay.values()) > COMPACT_FROM:
            self._compact()

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

    def _touch_bitmaps(self, user_id: int, row: tuple, add: bool) -> None:
        kind, day, country, sector, course = row[:5]
        if kind == CERTIFIED:
            self._touch_certified(row, add)
            return
        moment = EPOCH + timedelta(days=day)
        month = _month_index(moment)
        values = {"country": country, "sector": sector, "course": course}
        for family, grains in FAMILIES.items():
            key = tuple(values[name] for name in family)
            for grain in grains:
                period = month if grain == "month" else month // 12
                slot = self.bitmaps.setdefault((family, kind, grain, period), {})
                if add:
                    if key not in slot:
                        slot[key] = BitMap()
                        self._matching = {}
                    slot[key].add(user_id)
                elif key in slot:
                    slot[key].discard(user_id)

    def matching(self, slot_key: tuple, fixed: tuple, width: int) -> list[tuple[tuple, BitMap]]:
        """The (key, bitmap) pairs of a slot whose key has the ``fixed`` (position, value) pairs: a
        look-up when every position is fixed, else a list kept per slot and fixed positions."""
        slot = self.bitmaps[slot_key]
        if len(fixed) == width:
            key = tuple(value for _, value in fixed)
            return [(key, slot[key])] if key in slot else []
        if not fixed:
            return list(slot.items())
        positions = tuple(position for position, _ in fixed)
        cached = self._matching.get((slot_key, positions))
        if cached is None:
            cached = defaultdict(list)
            for key, bitmap in slot.items():
                cached[tuple(key[p] for p in positions)].append((key, bitmap))
            self._matching[(slot_key, positions)] = cached
        return cached.get(tuple(value for _, value in fixed), [])

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
        self.__init__((self.snapshot, self.generation, self.pruned_below), columns, self.countries, self.sectors)

    # -- reading ------------------------------------------------------------------------------

    def rows(self, kind: int, first: int, last: int) -> dict[str, np.ndarray]:
        """The live facts of a kind on days ``first..last``: a slice of the columns and the overlay's."""
        kd = self.base["kd"]
        # A scalar of the array's own type: a Python int would make numpy convert the whole column first.
        lo = int(kd.searchsorted(np.int32((kind << DAY_BITS) + first)))
        hi = int(kd.searchsorted(np.int32((kind << DAY_BITS) + last), side="right"))
        names = ("user", "month", "country", "sector", "course", "cohort", "organisation", "weight")
        part = {name: self.base[name][lo:hi] for name in names}
        if self.dead_count:
            live = ~self.dead[lo:hi]
            if not live.all():
                part = {name: values[live] for name, values in part.items()}
        if self.overlay:
            overlay = self._overlay()
            chosen = (overlay["kd"] >= (kind << DAY_BITS) + first) & (overlay["kd"] <= (kind << DAY_BITS) + last)
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


KINDS_CODES = (CERTIFIED, REACHED, TRAINED)


def load(connection) -> State:
    """The whole index from one REPEATABLE READ snapshot of ``connection`` (a SQLAlchemy connection
    whose transaction has not begun)."""
    connection = connection.execution_options(isolation_level="REPEATABLE READ")
    with connection.begin():
        snapshot, generation, pruned_below, countries, sectors = connection.execute(_HEADER_SQL).one()
        for attempt in range(2):
            countries, sectors = sorted(countries or []), sorted(sectors or [])
            raw = connection.connection.driver_connection
            with raw.cursor() as cursor:
                with cursor.copy(_COPY_SQL, {"countries": countries, "sectors": sectors}) as copy:
                    columns = _read_copy(bytes(block) for block in copy)
            if attempt or not ((columns["country"] < 0).any() or (columns["sector"] < 0).any()):
                break
            # A value the cells do not have (they should): the values from the facts themselves.
            countries, sectors = connection.execute(_VALUES_SQL).one()
    return State((snapshot, int(generation), int(pruned_below or 0)), columns, countries, sectors)


def sync(state: State, connection) -> bool:
    """Apply the changes logged since ``state``'s snapshot; False when only a full reload will do."""
    snapshot, generation, pruned_below, count, users, facts = connection.execute(
        _SYNC_SQL, {"w": str(state.xmin), "snapshot": state.snapshot}).one()
    connection.rollback()
    if int(generation) != state.generation or state.xmin < int(pruned_below or 0) or count > RELOAD_FROM:
        return False
    if users:
        state.apply(users, facts or [])
    state.snapshot = snapshot
    return True


# --- answering -----------------------------------------------------------------------------------

def _segments(first: date, last: date, grains: tuple[str, ...], by_month: bool) -> list[tuple]:
    """The period as whole years, whole months (as far as ``grains`` has them) and runs of days;
    every segment lies within one year, and within one month unless the family has no months."""
    segments: list[tuple] = []
    cursor = first
    while cursor <= last:
        if ("year" in grains and not by_month and cursor.month == 1 and cursor.day == 1
                and date(cursor.year, 12, 31) <= last):
            segments.append(("year", cursor.year - 1970))
            cursor = date(cursor.year + 1, 1, 1)
            continue
        end = _month_end(cursor)
        if "month" in grains and cursor.day == 1 and end <= last:
            segments.append(("month", _month_index(cursor)))
            cursor = end + timedelta(days=1)
            continue
        if "month" not in grains and not by_month:
            end = date(cursor.year, 12, 31)
        end = min(end, last)
        segments.append(("days", _day(cursor), _day(end)))
        cursor = end + timedelta(days=1)
    return segments


def _group_ids(part: dict[str, np.ndarray], names: list[str]) -> tuple[np.ndarray, list[int]]:
    """One int64 per row combining the grouping columns, and the radices to split it again."""
    gid = np.zeros(len(part["user"]), dtype=np.int64)
    radices = []
    for name in names:
        values = part[name].astype(np.int64)
        radix = int(values.max(initial=0)) + 1
        radices.append(radix)
        gid = gid * radix + values
    return gid, radices


def _split(gid: int, radices: list[int]) -> tuple:
    key = []
    for radix in reversed(radices):
        gid, value = divmod(gid, radix)
        key.append(value)
    return tuple(reversed(key))


def _time_columns(part: dict[str, np.ndarray], time_group: str | None) -> None:
    if time_group == "year":
        part["year"] = part["month"] // 12
    elif time_group == "month":
        part["month_key"] = part["month"]


def _masked(state: State, part: dict[str, np.ndarray], conditions: dict[str, int],
            group: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The rows meeting the filters, with only the columns a count reads (the user, the month, the
    weight and the grouping's dimensions): selecting every column of a long period costs more."""
    if not conditions:
        return part
    chosen = np.ones(len(part["user"]), dtype=bool)
    for name, code in conditions.items():
        chosen &= part[name] == code
    rows = np.flatnonzero(chosen)
    kept = {"user", "month", "weight", *group}
    return {name: values[rows] for name, values in part.items() if name in kept}


def _users_by_group(part, names) -> dict[tuple, np.ndarray]:
    """The users (sorted, possibly repeated) of each group of these rows."""
    if not len(part["user"]):
        return {}
    gid, radices = _group_ids(part, names)
    order = np.lexsort((part["user"], gid))
    gid, users = gid[order], part["user"][order]
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    ends = np.r_[starts[1:], len(gid)]
    return {_split(int(gid[s]), radices): users[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)}


def _distinct_by_group(part, names) -> dict[tuple, int]:
    if not len(part["user"]):
        return {}
    if not names:
        return {(): int(len(np.unique(part["user"])))}
    gid, radices = _group_ids(part, names)
    pairs = np.unique((gid << 32) | part["user"].astype(np.int64))
    groups, counts = np.unique(pairs >> 32, return_counts=True)
    return {_split(int(g), radices): int(n) for g, n in zip(groups.tolist(), counts.tolist(), strict=True)}


def _sums_by_group(part, names) -> dict[tuple, int]:
    if not len(part["user"]):
        return {}
    weight = part["weight"].astype(np.int64)
    if not names:
        return {(): int(weight.sum())}
    gid, radices = _group_ids(part, names)
    size = int(np.prod(radices, dtype=np.int64))
    if size <= 4_000_000:
        sums = np.bincount(gid, weights=weight, minlength=0)
        present = np.bincount(gid, minlength=0)
        groups = np.flatnonzero(present)
        return {_split(int(g), radices): int(round(sums[g])) for g in groups.tolist()}
    groups, inverse = np.unique(gid, return_inverse=True)
    sums = np.bincount(inverse, weights=weight)
    return {_split(int(g), radices): int(round(s)) for g, s in zip(groups.tolist(), sums.tolist(), strict=True)}


def answer(state: State, report, group: tuple[str, ...]) -> list | None:
    """The rows ``queries.counts`` would give, or None when the index cannot say (it then falls back)."""
    from learning.reporting.queries import CountRow

    bounds = state.day_range()
    if bounds is None:
        return []
    first_day = _day(report.date_from) if report.date_from is not None else bounds[0]
    last_day = _day(report.date_to) if report.date_to is not None else bounds[1]
    first_day, last_day = max(first_day, bounds[0]), min(last_day, bounds[1])
    if first_day > last_day:
        return []
    filters = report.dimensions()
    conditions: dict[str, int] = {}
    for name, value in filters.items():
        if name in ("country", "sector"):
            code = state.codes[name].get(value)
            if code is None:
                return []  # no fact has it
            conditions[name] = code
        else:
            conditions[name] = int(value)
    time_group = next((g for g in group if g in ("year", "month")), None)
    names = [("month_key" if g == "month" else g) for g in group]
    dims = tuple(name for name in DIMENSION_ORDER if name in filters or name in group)
    grains = FAMILIES.get(dims)
    use_bitmaps = grains is not None and (time_group != "month" or "month" in grains)
    first, last = EPOCH + timedelta(days=first_day), EPOCH + timedelta(days=last_day)
    figures: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind in PEOPLE:
        if use_bitmaps:
            counted = _people_from_bitmaps(state, kind, dims, grains, first, last, conditions, group, time_group)
        else:
            part = _masked(state, state.rows(kind, first_day, last_day), conditions, group)
            _time_columns(part, time_group)
            counted = _distinct_by_group(part, names)
        for key, n in counted.items():
            if n:
                figures[key][kind] = n
    sums = None if conditions else state.certified_sums(first_day, last_day, group)
    if sums is None:
        part = _masked(state, state.rows(CERTIFIED, first_day, last_day), conditions, group)
        _time_columns(part, time_group)
        sums = _sums_by_group(part, names)
    for key, n in sums.items():
        if n:
            figures[key][CERTIFIED] = n
    rows = []
    for key, (certified, reached, trained) in figures.items():
        rows.append(CountRow(_decode(state, group, key), reached, trained, certified))
    rows.sort(key=lambda row: row.key)
    return rows


def _decode(state: State, group: tuple[str, ...], key: tuple) -> tuple:
    values = []
    for name, value in zip(group, key, strict=True):
        if name == "country":
            values.append(state.countries[value])
        elif name == "sector":
            values.append(state.sectors[value])
        elif name == "year":
            values.append(value + 1970)
        elif name == "month":
            values.append((value // 12 + 1970) * 100 + value % 12 + 1)
        else:
            values.append(value)
    return tuple(values)


def _people_from_bitmaps(state: State, kind: int, dims, grains, first: date, last: date,
                         conditions: dict[str, int], group: tuple[str, ...], time_group: str | None):
    """Distinct people per group: the union of the whole years' and months' bitmaps, to which the
    people of the ragged days are added (one slice for both ends, grouped once)."""
    fixed = tuple((position, conditions[name]) for position, name in enumerate(dims) if name in conditions)
    key_positions = {name: position for position, name in enumerate(dims)}
    pieces: dict[tuple, list[BitMap]] = defaultdict(list)
    ends: list[dict[str, np.ndarray]] = []
    for segment in _segments(first, last, grains, time_group == "month"):
        if segment[0] == "days":
            ends.append(_masked(state, state.rows(kind, segment[1], segment[2]), conditions, group))
            continue
        grain, period = segment
        slot_key = (dims, kind, grain, period)
        if slot_key not in state.bitmaps:
            continue
        if time_group == "year":
            time_value = period if grain == "year" else period // 12
        else:
            time_value = period
        for key, bitmap in state.matching(slot_key, fixed, len(dims)):
            group_key = tuple((time_value if name in ("year", "month") else key[key_positions[name]])
                              for name in group)
            pieces[group_key].append(bitmap)
    added: dict[tuple, np.ndarray] = {}
    if ends:
        part = ends[0] if len(ends) == 1 else {name: np.concatenate([end[name] for end in ends]) for name in ends[0]}
        _time_columns(part, time_group)
        added = _users_by_group(part, [("month_key" if g == "month" else g) for g in group])
    counts = {}
    for key in set(pieces) | set(added):
        bitmaps = pieces.get(key, [])
        users = added.get(key)
        if users is None:
            counts[key] = len(bitmaps[0]) if len(bitmaps) == 1 else len(BitMap.union(*bitmaps))
            continue
        union = BitMap.union(*bitmaps) if len(bitmaps) > 1 else BitMap(bitmaps[0]) if bitmaps else BitMap()
        union.update(array.array("I", np.ascontiguousarray(users, dtype=np.uint32).tobytes()))
        counts[key] = len(union)
    return counts


# --- the index of a process ------------------------------------------------------------------------

class PeriodIndex:
    """The process's index: built once (in a thread, or in the first request), synchronised with the
    change log before each answer, one request at a time (a lock: an answer takes milliseconds)."""

    def __init__(self, app, background: bool = True):
        self.app = app
        self.background = background
        self.state: State | None = None
        self.lock = threading.Lock()
        self.building: threading.Thread | None = None
        self.build_seconds: float | None = None
        self.error: BaseException | None = None

    def engine(self):
        from learning.extensions import db

        with self.app.app_context():
            return db.engine

    def reset(self) -> None:
        """Forget everything (the next use builds again): tests emptying the tables use it."""
        with self.lock:
            self.state = None

    def _build(self) -> State:
        started = time.perf_counter()
        with self.engine().connect() as connection:
            state = load(connection)
        _give_memory_back()  # the COPY's buffers and the sorts' temporaries
        self.build_seconds = time.perf_counter() - started
        log.info("period index built in %.1f s", self.build_seconds)
        return state

    def _build_in_background(self) -> None:
        if self.building is not None and self.building.is_alive():
            return

        def work() -> None:
            try:
                state = self._build()
            except BaseException as error:  # logged; the facts path keeps answering
                self.error = error
                log.exception("period index build failed")
                return
            with self.lock:
                self.state = state

        self.building = threading.Thread(target=work, name="period-index", daemon=True)
        self.building.start()

    def answer(self, report, group, synced: bool = False):
        """The rows of ``counts(report, group)``, or None (not built yet: the caller counts the facts).
        ``synced``: the caller's transaction has had the log read already (a summary's five counts)."""
        with self.lock:
            if self.state is None and not self.background:
                self.state = self._build()
            if self.state is not None and not synced:
                with self.engine().connect() as connection:
                    if not sync(self.state, connection):
                        self.state = None
                        if not self.background:
                            self.state = self._build()
            if self.state is None:
                self._build_in_background()
                return None
            return answer(self.state, report, group)


def _give_memory_back() -> None:
    """Return the heap freed after a build to the system (glibc keeps it otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def enabled(app) -> bool:
    setting = app.config.get("REPORT_PERIOD_INDEX")
    if setting is None or setting == "auto":
        return app.config.get("SQLALCHEMY_DATABASE_URI", "").startswith("postgresql")
    return bool(setting)


def init_app(app) -> None:
    if enabled(app):
        app.extensions["period_index"] = PeriodIndex(
            app, background=app.config.get("REPORT_PERIOD_INDEX_BUILD", "background") != "sync")


WROTE_FACTS_KEY = "reporting_wrote_facts_in"
SYNCED_KEY = "reporting_period_index_synced_in"


def counts_from_index(report, group):
    """``queries.counts`` asks here first for a period the cells do not answer: None means "count the
    facts" (no index in this process, not built yet, or this transaction rewrote facts it has not
    committed, which the index, reading committed rows only, cannot see)."""
    from flask import current_app, has_app_context

    from learning.extensions import db

    if not has_app_context():
        return None
    index = current_app.extensions.get("period_index")
    if index is None:
        return None
    session = db.session()
    transaction = session.get_transaction()
    if session.info.get(WROTE_FACTS_KEY) is not None and session.info[WROTE_FACTS_KEY] is transaction:
        return None
    # The log is read once per transaction of the asking session (a request, or a test's step): the
    # counts of one summary come from one synchronisation, as the facts path's come from one request.
    synced = transaction is not None and session.info.get(SYNCED_KEY) is transaction and index.state is not None
    rows = index.answer(report, group, synced=synced)
    if transaction is not None:
        session.info[SYNCED_KEY] = transaction
    return rows


# --- pruning the log ----------------------------------------------------------------------------------

PRUNE_SQL = text(
    "WITH horizon AS (SELECT COALESCE((SELECT min(xid) FROM report_changes "
    "WHERE at >= now() - make_interval(hours => :hours)), pg_snapshot_xmax(pg_current_snapshot())) AS below), "
    "raised AS (INSERT INTO report_changes_horizon (id, pruned_below) SELECT 1, below FROM horizon "
    "ON CONFLICT (id) DO UPDATE SET pruned_below = GREATEST(report_changes_horizon.pruned_below, excluded.pruned_below)) "
    "DELETE FROM report_changes WHERE xid < (SELECT below FROM horizon)"
)


def prune_changes(session, hours: int = 24) -> int:
    """Delete the change rows older than ``hours``: every row (committed, so visible) whose transaction
    id is below the horizon, the oldest id of a row written in that window (or, with none, the next
    id). The horizon is raised in the same statement: a process whose snapshot's ``xmin`` is below it
    may have missed a pruned row, so it reloads; a transaction still in flight keeps its rows."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return session.execute(PRUNE_SQL, {"hours": hours}).rowcount
