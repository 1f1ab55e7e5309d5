"""An exact, in-memory index of the people facts, answering any period (PostgreSQL).

The cells (``report_cells``) answer whole years and months; any other period used to count distinct
people over ``report_facts`` in PostgreSQL (0.3 s for half a year, 10-20 s for seven years at 1M
enrolments). Each process keeps instead, built from ``report_facts`` in one snapshot:

* **the facts as numpy columns** sorted by (kind, day): user, day, month, country and sector (as small
  codes), course, cohort, organisation, certificates' weight. The ragged days at the ends of a period
  are a slice found by binary search;
* **the people's first facts** (``firsts``) for the total and any of country, sector and course (each,
  in pairs, all three), per kind: a table of how many of a group's facts in each month had their
  person's previous fact in the group in each earlier month, and for every fact the day of its person's
  previous and next fact in the group. Distinct people over any period are the facts whose person's
  previous fact is before it: a sum over the table for its whole months, two short slices for its
  ragged days; exact, and a few milliseconds for any length;
* **row orders** for country, sector, organisation and cohort: the rows' positions grouped by value, so
  that a filter's rows are two binary searches away.

Anything else (a cohort or an organisation) is counted from the numpy columns of the period (through a
row order when filtered) with one sort; certificates are sums of weights (daily and monthly sums kept).

**Kept exact by a change log.** Every statement that rewrites someone's facts also writes a row to
``report_changes`` (``rollup._WRITE_PG`` and the set-based path's note). Before answering (once per
transaction of the asking session), the index reads in one statement (one snapshot) the people with a
change whose transaction the previous snapshot did not see (an id at least that snapshot's ``xmin``,
and not visible in it), their current facts, the new snapshot and the facts table's
generation (``pg_relation_filenode``: a rebuild in place truncates the table, a rebuild aside swaps in
another table; both give a new file). Each changed person's old facts leave the first facts' tables (and are marked
dead in the columns), their new ones go to a small overlay of columns, counted apart: applying
a change twice changes nothing, and a transaction still in flight at the snapshot is not visible in
it, so it is read once it has committed. A transaction that rewrote facts it has not committed yet
counts its own reports from the facts (``counts_from_index``). A new generation, or a snapshot older than the pruned part
of the log (``report_changes_horizon``), means a full reload. ``prune_changes`` (a beat task) prunes.
Once the overlay is large (``COMPACT_FROM`` rows), a fresh state is built from the database in a thread
and swapped in, the current one answering meanwhile (with ``REPORT_PERIOD_INDEX_BUILD=sync`` the state
compacts itself in place instead).

Configuration: ``REPORT_PERIOD_INDEX`` (default on for PostgreSQL, never on SQLite, where the facts
path stays); ``REPORT_PERIOD_INDEX_BUILD`` = ``background`` (default: built on first use in a thread,
the facts path answering meanwhile) or ``sync`` (built in the first request: tests and benchmarks).
Memory and build time: docs/PERFORMANCE.md, *Any period, exact: an index in each process*.

The package: ``common`` (kinds, families, day arithmetic), ``state`` (the columns, overlay, first facts
of one snapshot, and applying changes to them), ``build`` (loading a snapshot), ``changes`` (the change
log's catch-up and pruning), ``query`` (answering a report), ``process`` (the index of a process, its
installation and ``counts_from_index``). Every name is importable from here as before.
"""

from __future__ import annotations

from learning.reporting.period_index.build import load
from learning.reporting.period_index.changes import PRUNE_SQL, prune_changes, sync
from learning.reporting.period_index.common import (
    CERTIFIED,
    CERTIFIED_FAMILIES,
    COLUMNS,
    COMPACT_FROM,
    DAY_BITS,
    DIMENSION_ORDER,
    EPOCH,
    KINDS,
    KINDS_CODES,
    PEOPLE,
    REACHED,
    RELOAD_FROM,
    TRAINED,
    _day,
    _month_end,
    _month_index,
)
from learning.reporting.period_index.process import (
    SYNCED_KEY,
    WROTE_FACTS_KEY,
    PeriodIndex,
    counts_from_index,
    enabled,
    init_app,
)
from learning.reporting.period_index.query import answer
from learning.reporting.period_index.state import State

__all__ = [
    "CERTIFIED", "CERTIFIED_FAMILIES", "COLUMNS", "COMPACT_FROM", "DAY_BITS", "DIMENSION_ORDER", "EPOCH",
    "KINDS", "KINDS_CODES", "PEOPLE", "PRUNE_SQL", "REACHED", "RELOAD_FROM", "SYNCED_KEY",
    "TRAINED", "WROTE_FACTS_KEY", "PeriodIndex", "State", "_day", "_month_end", "_month_index", "answer",
    "counts_from_index", "enabled", "init_app", "load", "prune_changes", "sync",
]
