"""Building the index: the facts in one snapshot, read by a binary COPY into numpy columns (``load``)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from learning.reporting.period_index.common import _COPY_FIELDS, DAY_BITS
from learning.reporting.period_index.state import State

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
_COPY_ROW = np.dtype([("n", ">i2")] + [item for name in _COPY_FIELDS for item in ((f"l_{name}", ">i4"),
                                                                                   (name, ">i4"))])


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
