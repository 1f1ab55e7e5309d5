"""Bulk loading on PostgreSQL: load tables bare, then put back every index and constraint.

Maintaining seven B-trees and five foreign-key checks row by row is most of the
cost of a COPY into an indexed table; building each index once from the loaded
rows (a sort) and validating each foreign key once (one anti-join) is several
times cheaper. ``strip()`` records the definitions the migrations created and
drops them, ``restore()`` recreates them from that record on two connections at
once, and ``schema_snapshot()`` lets the caller check that the result is
identical to the migrated schema.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field

import psycopg

# Session settings for the connections that load and rebuild: index builds sort in memory, and the
# foreign-key check query runs with maintenance_work_mem (PostgreSQL raises work_mem to it).
SESSION = ("SET synchronous_commit = off", "SET maintenance_work_mem = '512MB'",
           "SET max_parallel_maintenance_workers = 0")  # the two connections already use both cores
# ... except for the index builds, whose sorts cost less CPU in small runs merged from temporary files
# (kept in the page cache) than in one large in-memory sort: at 10M rows, one index 30-45 % less
# at 16 MB than at 512 MB (docs/PERFORMANCE.md, helper "seed10m").
INDEX_BUILD = ("SET maintenance_work_mem = '16MB'",)


@dataclass
class Stripped:
    """What ``strip()`` dropped, in the order ``restore()`` puts it back."""

    indexes: list[tuple[str, str]] = field(default_factory=list)  # (table, CREATE INDEX ...)
    keys: list[tuple[str, str, str, str]] = field(default_factory=list)  # (table, name, PRIMARY KEY|UNIQUE, index)
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (table, name, definition)


def schema_snapshot(conn: psycopg.Connection) -> dict[str, set[tuple]]:
    """Every index and constraint of the public schema, as definitions that can be compared."""
    indexes = conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'").fetchall()
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), convalidated, "
        "condeferrable, condeferred FROM pg_constraint WHERE connamespace = 'public'::regnamespace").fetchall()
    return {"indexes": set(indexes), "constraints": set(constraints)}


def strip(conn: psycopg.Connection, tables: list[str]) -> Stripped:
    """Drop the indexes and keys of ``tables`` and every foreign key from or to them."""
    stripped = Stripped()
    stripped.foreign_keys = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND (conrelid::regclass::text = ANY(%(t)s) OR confrelid::regclass::text = ANY(%(t)s)) "
        "ORDER BY 1, 2", {"t": tables}).fetchall()
    stripped.keys = conn.execute(
        "SELECT conrelid::regclass::text, conname, CASE contype WHEN 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, "
        "conindid::regclass::text FROM pg_constraint "
        "WHERE contype IN ('p', 'u') AND conrelid::regclass::text = ANY(%(t)s) ORDER BY 1, 2", {"t": tables}).fetchall()
    unexpected = conn.execute(
        "SELECT conname FROM pg_constraint WHERE contype NOT IN ('p', 'u', 'f', 'c', 'n') "
        "AND conrelid::regclass::text = ANY(%(t)s)", {"t": tables}).fetchall()
    if unexpected:  # exclusion constraints and the like would need their own rebuild
        raise RuntimeError(f"strip() does not know how to rebuild {unexpected}")
    stripped.indexes = conn.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%(t)s) "
        "ORDER BY 1, indexname", {"t": tables}).fetchall()
    with conn.transaction():
        for table, name, _definition in stripped.foreign_keys:
            conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for table, name, _kind, _index in stripped.keys:
            conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')  # drops its index too
        backing = {index for *_rest, index in stripped.keys}
        for _table, definition in stripped.indexes:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            if name not in backing:
                conn.execute(f'DROP INDEX "{name}"')
    return stripped


def restore(url: str, stripped: Stripped, sizes: dict[str, int], mark=None) -> dict:
    """Recreate what ``strip()`` dropped, on two connections; returns the seconds of each phase.

    ``mark(phase)``, if given, is called at the end of each phase (the caller records its CPU)."""
    timings: dict = {}
    mark = mark or (lambda phase: None)
    started = time.perf_counter()
    # Largest tables first, so that the two connections finish at about the same time.
    builds = sorted(stripped.indexes, key=lambda item: -sizes.get(item[0], 0))
    cpu: dict[str, float] = {}
    durations = run_parallel(url, [definition for _table, definition in builds], settings=INDEX_BUILD, cpu=cpu)
    timings["create_indexes_s"] = time.perf_counter() - started
    timings["slowest_index_builds_s"] = {  # name: seconds, or (seconds, CPU seconds) when measured
        statement.split(" INDEX ", 1)[1].split(" ON ", 1)[0]:
            (round(seconds, 2), round(cpu[statement], 2)) if statement in cpu else round(seconds, 2)
        for statement, seconds in sorted(durations.items(), key=lambda item: -item[1])[:8]}
    timings["index_builds_cpu_s"] = round(sum(cpu.values()), 1)
    mark("indexes")

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in SESSION:
            conn.execute(statement)
        with conn.transaction():
            # The unique indexes exist already: the keys only adopt them, instantly.
            for table, name, kind, index in stripped.keys:
                conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {kind} USING INDEX "{index}"')
            # Added NOT VALID (no scan), then validated below: validation takes only a SHARE UPDATE
            # EXCLUSIVE lock on the referencing table, so two tables can be checked at the same time.
            for table, name, definition in stripped.foreign_keys:
                conn.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition} NOT VALID')
        # A foreign key whose columns lead an index of the referencing table is checked by a merge
        # join of two index scans, both in key order: at 10M rows 4-5 times less CPU than the hash
        # join the planner picks (a hash table of 2.5M people probed 10M times).
        indexed = {name for (name,) in conn.execute(
            "SELECT c.conname FROM pg_constraint c WHERE c.contype = 'f' AND c.conname = ANY(%s) AND EXISTS ("
            "SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid "
            "AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey)",
            ([name for _table, name, _definition in stripped.foreign_keys],))}
    by_table: dict[str, list[str]] = {}
    for table, name, _definition in stripped.foreign_keys:
        by_table.setdefault(table, []).extend((
            f"SET enable_hashjoin = {'off' if name in indexed else 'on'}",
            f'ALTER TABLE "{table}" VALIDATE CONSTRAINT "{name}"'))
    groups = sorted(by_table.values(), key=lambda group: -sizes.get(group[1].split('"')[1], 0))
    cpu = {}
    durations = run_parallel(url, groups, cpu=cpu)
    timings["validations_cpu_s"] = round(sum(cpu.values()), 1)
    timings["slowest_validations_s"] = {
        statement.split('"')[3]: (round(seconds, 2), round(cpu.get(statement, 0), 2))
        for statement, seconds in sorted(durations.items(), key=lambda item: -item[1])[:4] if '"' in statement}
    timings["add_keys_and_validate_foreign_keys_s"] = time.perf_counter() - started
    mark("keys")
    return timings


def backend_cpu(pid: int) -> float:
    """CPU seconds of a PostgreSQL backend on this host (0 if it cannot be read)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_parallel(url: str, jobs: list, connections: int = 2, settings: tuple[str, ...] = (),
                 cpu: dict[str, float] | None = None) -> dict[str, float]:
    """Run the statements (or lists of statements run in order) on ``connections`` connections,
    each set up with ``SESSION`` then ``settings``.

    Returns the seconds each statement took; ``cpu``, if given, receives the CPU seconds of each
    statement's backend (when the server runs on this host).
    """
    durations: dict[str, float] = {}
    pending: queue.Queue = queue.Queue()
    for job in jobs:
        pending.put([job] if isinstance(job, str) else job)
    errors: list[BaseException] = []

    def work() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in SESSION + settings:
                conn.execute(statement)
            pid = conn.info.backend_pid
            while not errors:
                try:
                    statements = pending.get_nowait()
                except queue.Empty:
                    return
                try:
                    for statement in statements:
                        started, used = time.perf_counter(), backend_cpu(pid)
                        conn.execute(statement)
                        durations[statement] = time.perf_counter() - started
                        if cpu is not None:
                            cpu[statement] = backend_cpu(pid) - used
                except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                    errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return durations
