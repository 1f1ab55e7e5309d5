"""The cells of a rebuild aside, counted in this process from the facts just built (PostgreSQL).

The SQL statements of ``rebuild._cells_select`` make PostgreSQL hash every people fact once per
family (25 families: ≈ 720 CPU-seconds at 10,000,000 enrolments, most of a rebuild). Here the facts
built aside are read once, a year at a time (through the (kind, day) index; each column as one
``bytea`` of ``int4send`` values, see ``_read_sql``), as int columns; each family's key (kind,
period, its dimensions) and the person are packed into one 64-bit integer, and a sort gives the
distinct (cell, person) pairs, whose runs are the cells' counts (≈ 100-140 CPU-seconds at 10M,
Python and PostgreSQL together; docs/PERFORMANCE.md, *Ten times the scale (helper "scale10m4")*). The all-time cells need the people of every year: each year's distinct
people of an all-time cell are added to that cell's bitmap (pyroaring), whose length is the count
at the end. Certificates are sums of the facts' weights per cell (``bincount``). The cells go back
by COPY into the table built aside.

Exact: the same cells as the SQL statements (``tests/reporting/test_reporting_cell_counts.py``
compares both). When a key would not fit in 64 bits (ids beyond what the bit widths allow),
``count_cells`` returns False and the rebuild runs the SQL statements instead.
"""

from __future__ import annotations

import array
import logging
import queue
import threading
from collections.abc import Callable
from datetime import date

import numpy as np
from pyroaring import BitMap
from sqlalchemy import text
from sqlalchemy.engine import Engine

from learning.reporting.rollup import ALL_TIME, CELL_FAMILIES, DIMENSIONS, MONTH, dims_name

log = logging.getLogger(__name__)

FIELDS = ("user", "kind", "year", "month", "country", "sector", "course", "cohort", "organisation", "weight")
KIND_NAMES = ("reached", "trained", "certified")  # codes 0, 1, 2 in the COPY
CERTIFIED = 2
_COLUMN = {"country": "country", "sector": "sector", "course": "course", "cohort": "cohort",
           "organisation": "organisation"}  # a dimension's name -> its column here


def _read_sql(schema: str, where: str) -> str:
    """The facts' int columns, each as one bytea of big-endian int4 (``int4send``): one row per
    year, not one COPY message per fact (the driver's per-message cost was most of the read)."""
    values = ("user_id", "CASE kind WHEN 'reached' THEN 0 WHEN 'trained' THEN 1 ELSE 2 END", "year", "month",
              "CAST(COALESCE(c.n, 0) AS integer) - 1", "CAST(COALESCE(s.n, 0) AS integer) - 1", "course_id",
              "cohort_id", "organisation_id", "weight")
    return (
        f"SELECT count(*), {', '.join(f'string_agg(int4send({value}), {chr(39)}{chr(39)})' for value in values)} "
        f"FROM {schema}.report_facts "
        "LEFT JOIN unnest(CAST(%(countries)s AS text[])) WITH ORDINALITY AS c (v, n) ON c.v = country "
        "LEFT JOIN unnest(CAST(%(sectors)s AS text[])) WITH ORDINALITY AS s (v, n) ON s.v = sector "
        f"WHERE kind IN ('reached', 'trained', 'certified') {where}"
    )


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort, then the changes: ``numpy.unique`` hashes, slower here)."""
    values = np.sort(values)
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


class _Unsupported(Exception):
    """A key does not fit in 64 bits: the SQL statements count these cells."""


class _Missing(Exception):
    """A country or sector not in the dictionaries: read them from the facts and start again."""


def _bits(span: int) -> int:
    return max(1, int(span).bit_length())


class _Counter:
    """Counts the cells of the facts of one schema; ``run`` returns the rows of ``report_cells``."""

    def __init__(self, engine: Engine, schema: str, countries: list[str], sectors: list[str], bounds: dict,
                 spans: list[tuple[int | None, int | None]], workers: int):
        self.engine, self.schema, self.spans, self.workers = engine, schema, spans, workers
        self.countries, self.sectors = countries, sectors
        self.escaped = ([_escape(value) for value in countries], [_escape(value) for value in sectors])
        # Offsets and bit widths of the columns that keep their values across years (all-time keys).
        self.offset = {"user": bounds["user"][0], "course": bounds["course"][0], "cohort": bounds["cohort"][0],
                       "organisation": bounds["organisation"][0], "country": 0, "sector": 0}
        self.width = {name: _bits(high - low) for name, (low, high) in bounds.items()}
        self.width.update(country=_bits(len(countries)), sector=_bits(len(sectors)))
        if self.width["user"] > 32 or self.offset["user"] < 0:
            raise _Unsupported("user ids beyond 32 bits")  # the bitmaps hold 32-bit people
        self.all_time_people: dict[tuple, dict[int, BitMap]] = {}
        self.all_time_sums: dict[tuple, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.rows: list[str] = []  # COPY text, a block per family, grain and year
        self.lock = threading.Lock()

    # --- per span ---

    def read(self, span: tuple[int | None, int | None]) -> dict[str, np.ndarray]:
        first, last = span
        where, params = "", {"countries": self.countries, "sectors": self.sectors}
        if first is not None:
            where += f" AND year >= {int(first)} AND day >= DATE '{date(first, 1, 1)}'"
        if last is not None:
            where += f" AND year <= {int(last)} AND day < DATE '{date(last + 1, 1, 1)}'"
        with self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            with raw.cursor(binary=True) as cursor:
                cursor.execute(_read_sql(self.schema, where), params)
                rows, *blobs = cursor.fetchone()
            connection.rollback()
        columns = {name: (np.frombuffer(blob, dtype=">i4").astype(np.int32) if rows else np.zeros(0, np.int32))
                   for name, blob in zip(FIELDS, blobs, strict=True)}
        if len(columns["user"]) and ((columns["country"] < 0).any() or (columns["sector"] < 0).any()):
            raise _Missing()
        return columns

    def count_span(self, span) -> None:
        columns = self.read(span)
        if not len(columns["user"]):
            return
        columns = {name: values - self.offset[name] if name in self.offset else values
                   for name, values in columns.items()}
        # The grains' names are the columns of their periods: "year", and "month" as months since year 0.
        columns[MONTH] = columns[MONTH] // 100 * 12 + columns[MONTH] % 100 - 1
        is_people = columns["kind"] != CERTIFIED
        people = {name: values[is_people] for name, values in columns.items()}  # masked once, not per family
        certified = {name: values[~is_people] for name, values in columns.items()}
        del columns
        part_rows: list[str] = []
        for subset, grains in CELL_FAMILIES:
            for grain in grains:
                self._people_cells(people, subset, grain, part_rows)
                self._certified_cells(certified, subset, grain, part_rows)
        with self.lock:
            self.rows += part_rows

    def _key(self, columns, names: list[str], grain: str, with_kind: bool
             ) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
        """The packed keys of the rows; the layout (name, shift, width) to unpack them."""
        parts: list[tuple[str, np.ndarray, int]] = []
        if with_kind:
            parts.append(("kind", columns["kind"], 1))
        low = 0
        if grain != ALL_TIME:
            values = columns[grain]
            low = int(values.min()) if len(values) else 0
            parts.append(("period", values - low, _bits(int(values.max()) - low) if len(values) else 1))
        for name in names:
            parts.append((name, columns[name], self.width[name]))
        if sum(width for *_rest, width in parts) > 63:
            raise _Unsupported(f"{names} {grain}: key beyond 63 bits")
        key = np.zeros(len(columns["user"]), dtype=np.int64)
        layout, shift = [], 0
        for name, values, width in reversed(parts):  # int32 columns, widened as they are shifted
            if shift:
                key |= values.astype(np.int64) << shift
            else:
                key |= values
            layout.append((name, shift, width))
            shift += width
        return key, [*layout, ("period_low", low, 0)]

    def _people_cells(self, columns, subset, grain, out: list[str]) -> None:
        if not len(columns["user"]):
            return
        names = [_COLUMN[name] for name in subset]
        cell_key, layout = self._key(columns, names, grain, with_kind=True)
        user_width = self.width["user"]
        if sum(width for _n, _s, width in layout) + user_width > 63:
            raise _Unsupported(f"{subset} {grain}: key and person beyond 63 bits")
        cell_key <<= user_width
        cell_key |= columns["user"]
        pairs = _distinct(cell_key)
        cells = pairs >> user_width
        starts = np.flatnonzero(np.diff(cells, prepend=-1))
        if grain == ALL_TIME:
            users = (pairs & ((1 << user_width) - 1)).astype(np.uint32)
            ends = [*starts[1:].tolist(), len(pairs)]
            bitmaps = {}
            for cell, start, end in zip(cells[starts].tolist(), starts.tolist(), ends, strict=True):
                bitmaps[cell] = BitMap(array.array("I", users[start:end].tobytes()))
            with self.lock:
                kept = self.all_time_people.setdefault((subset, tuple(layout)), {})
                for cell, bitmap in bitmaps.items():
                    if cell in kept:
                        kept[cell] |= bitmap
                    else:
                        kept[cell] = bitmap
            return
        counts = np.diff(np.append(starts, len(pairs)))
        out.append(self._format(subset, grain, layout, cells[starts], counts, None))

    def _certified_cells(self, columns, subset, grain, out: list[str]) -> None:
        if not len(columns["user"]):
            return
        names = [_COLUMN[name] for name in subset]
        key, layout = self._key(columns, names, grain, with_kind=False)
        cells, inverse = np.unique(key, return_inverse=True)
        sums = np.bincount(inverse, weights=columns["weight"]).astype(np.int64)
        if grain == ALL_TIME:
            with self.lock:
                self.all_time_sums.setdefault((subset, tuple(layout)), []).append((cells, sums))
            return
        out.append(self._format(subset, grain, layout, cells, sums, CERTIFIED))

    def finish(self) -> None:
        """The all-time cells, once every year has been counted."""
        for (subset, layout), bitmaps in self.all_time_people.items():
            cells = np.fromiter(bitmaps.keys(), dtype=np.int64, count=len(bitmaps))
            counts = np.fromiter((len(bitmap) for bitmap in bitmaps.values()), dtype=np.int64, count=len(bitmaps))
            self.rows.append(self._format(subset, ALL_TIME, list(layout), cells, counts, None))
        for (subset, layout), parts in self.all_time_sums.items():
            cells, inverse = np.unique(np.concatenate([c for c, _s in parts]), return_inverse=True)
            sums = np.bincount(inverse, weights=np.concatenate([s for _c, s in parts])).astype(np.int64)
            self.rows.append(self._format(subset, ALL_TIME, list(layout), cells, sums, CERTIFIED))

    def _format(self, subset, grain, layout, cells: np.ndarray, counts: np.ndarray, kind: int | None) -> str:
        """COPY text of these cells (``report_cells`` columns: kind, dims, period, the five values, n)."""
        values: dict[str, list] = {}
        period_low = 0
        for name, shift, width in layout:
            if name == "period_low":
                period_low = shift
                continue
            values[name] = (cells >> shift) & ((1 << width) - 1)
        size = len(cells)
        kinds = [KIND_NAMES[kind]] * size if kind is not None else [KIND_NAMES[k] for k in values["kind"].tolist()]
        if grain == ALL_TIME:
            periods = ["0"] * size
        else:
            period = values["period"] + period_low
            if grain == MONTH:
                period = period // 12 * 100 + period % 12 + 1
            periods = list(map(str, period.tolist()))
        countries, sectors = self.escaped
        country = [countries[c] for c in values["country"].tolist()] if "country" in values else [""] * size
        sector = [sectors[s] for s in values["sector"].tolist()] if "sector" in values else [""] * size
        ids = {name: (list(map(str, (values[name] + self.offset[name]).tolist())) if name in values else ["0"] * size)
               for name in ("course", "cohort", "organisation")}
        dims = dims_name(subset)
        return "".join(f"{k}\t{dims}\t{p}\t{c}\t{s}\t{co}\t{ch}\t{o}\t{n}\n" for k, p, c, s, co, ch, o, n in zip(
            kinds, periods, country, sector, ids["course"], ids["cohort"], ids["organisation"], counts.tolist(),
            strict=True))

    def run(self) -> None:
        pending: queue.Queue = queue.Queue()
        for span in self.spans:
            pending.put(span)
        errors: list[BaseException] = []

        def work() -> None:
            while not errors:
                try:
                    span = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    self.count_span(span)
                except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                    errors.append(error)

        threads = [threading.Thread(target=work, name=f"cells-{n}") for n in range(max(1, self.workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        self.finish()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def count_cells(engine: Engine, schema: str, spans: list[tuple[int | None, int | None]], workers: int = 2,
                say: Callable[[str], None] | None = None) -> bool:
    """Fill ``<schema>.report_cells`` (empty) from ``<schema>.report_facts``; False (nothing written)
    when the keys would not fit in 64 bits, for the caller to run the SQL statements instead.
    ``spans``: (first year, last year) parts, either None for unbounded, covering every year once."""
    assert all(name in _COLUMN for name in DIMENSIONS)
    with engine.connect() as connection:
        bounds_row = connection.execute(text(
            f"SELECT min(user_id), max(user_id), min(course_id), max(course_id), min(cohort_id), max(cohort_id), "
            f"min(organisation_id), max(organisation_id) FROM {schema}.report_facts")).one()
        if bounds_row[0] is None:
            return True  # no facts, no cells
        bounds = dict(zip(("user", "course", "cohort", "organisation"),
                          zip(bounds_row[::2], bounds_row[1::2], strict=True), strict=True))
        # Every value a fact has is, in a rollup that was right, in an all-time cell of its dimension.
        countries, sectors = connection.execute(text(
            "SELECT (SELECT array_agg(DISTINCT country) FROM public.report_cells WHERE dims = 'country' "
            "AND period = 0), (SELECT array_agg(DISTINCT sector) FROM public.report_cells "
            "WHERE dims = 'sector' AND period = 0)")).one()
        connection.rollback()
    for attempt in range(2):
        try:
            counter = _Counter(engine, schema, sorted(countries or []), sorted(sectors or []), bounds, spans,
                               workers)
            counter.run()
            break
        except _Missing:
            if attempt:
                raise
            (say or log.info)("cells: a country or sector the live cells lack; reading them from the facts")
            with engine.connect() as connection:
                countries, sectors = connection.execute(text(
                    f"SELECT array_agg(DISTINCT country), array_agg(DISTINCT sector) "
                    f"FROM {schema}.report_facts")).one()
                connection.rollback()
        except _Unsupported as reason:
            (say or log.info)(f"cells: counted by SQL ({reason})")
            return False
    with engine.begin() as connection:  # its commit commits the COPY made on the driver's connection
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {schema}.report_cells (kind, dims, period, country, sector, course_id, "
                             "cohort_id, organisation_id, n) FROM STDIN") as copy:
                while counter.rows:
                    copy.write(counter.rows.pop())
    return True
