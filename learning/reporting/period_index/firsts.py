"""Distinct people over any period (``FirstFacts``), for the total and any of country, sector and course
(``FIRSTS_FAMILIES``: each one, each pair and the three), by counting first facts.

A person is counted once in a period ``a..b`` of a group: by their first fact in it, the one fact of
theirs in the period whose previous fact in the group (if any) is before ``a``. So the number of distinct
people is the number of the group's facts in the period whose person's previous fact in the group is
before ``a``, or who have none. For the whole months ``A..B`` inside a period that is a sum over a table
of how many of a month's facts had their previous one in each earlier month (``tables``); the ragged days
before ``A`` and after ``B`` are short slices of the columns, each fact with the day of its person's
previous and next fact in the group (``previous``, ``following``):

    people(a..b) = ragged facts before A whose previous fact is before a
                 - ragged facts before A whose next fact is in A..B (their next fact is counted there,
                   with a previous fact on or after a)
                 + facts in A..B whose previous fact is before A (the table)
                 + ragged facts after B whose previous fact is before a

Exact for any period; a table sum and two slices, where the union of up to eight bitmaps per group (the
index's earlier way) cost tens of milliseconds for a course's people over a long period at 10M
enrolments (docs/PERFORMANCE.md, *Any period at 10M, third pass*).

The tables and the neighbours are of the snapshot's live facts (the columns' base). A changed person's
facts all die there at once (``State.apply``): their entries leave the tables (``remove``) and their
dead facts are masked out of the slices, so nobody else's neighbours change; their new facts are in the
overlay, counted apart (``query._people_from_firsts``). A compaction rebuilds all of it.

``tables[(family, kind)]`` is, in effect, an int32 array ``[group, month, 1 + month]``: ``[g, m, 0]``
counts the facts of group ``g`` in month ``m`` whose person has no earlier fact in ``g``, ``[g, m, 1 + k]``
those whose person's previous fact in ``g`` is in month ``k`` (months from ``origin``). Dense for the total
and single dimensions; for the pairs and the three (thousands of groups, most entries zero), its non-zero
entries only, sorted by position.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

FIRSTS_FAMILIES: tuple[tuple[str, ...], ...] = (
    (), ("country",), ("sector",), ("course",),
    ("country", "sector"), ("country", "course"), ("sector", "course"), ("country", "sector", "course"))
DENSE_UP_TO = 1 << 23  # table entries (groups x months x (1 + months)) kept as a dense array; more: sparse


class FirstFacts:
    """The tables and neighbours of one snapshot's live facts. ``keys[name]``: the codes of a dimension
    (a group of a family is its values' positions there, combined in the family's order); ``origin``: the
    month (index since 1970-01) of the tables' position 0; ``day_origin``: the day (since 1970-01-01)
    before the first fact's, from which the neighbours count, ``NO_PREVIOUS`` and ``NO_NEXT`` standing for
    none. A family's table is dense (``[group, month, 1 + month]``) while small, else sparse: its non-zero
    entries' flat positions in that array, sorted, and their counts."""

    def __init__(self, kinds: dict[int, tuple[int, dict[str, np.ndarray]]]):
        """``kinds``: for each kind of people, the position of its first fact in the columns and its
        facts' columns ``user``, ``day``, ``month`` and the dimensions' (in the columns' order)."""
        present = [columns for _, columns in kinds.values() if len(columns["user"])]
        self.origin = min(int(c["month"].min()) for c in present) if present else 0
        self.span = (max(int(c["month"].max()) for c in present) if present else 0) - self.origin + 1
        self.day_origin = (min(int(c["day"].min()) for c in present) if present else 0) - 1
        days = (max(int(c["day"].max()) for c in present) if present else 0) - self.day_origin + 1
        dtype = np.int16 if days < np.iinfo(np.int16).max - 1 else np.int32
        self.NO_PREVIOUS, self.NO_NEXT = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
        self.keys = {name: sorted({int(code) for c in present for code in np.unique(c[name]).tolist()})
                     for name in ("country", "sector", "course")}
        self.positions = {name: {code: position for position, code in enumerate(codes)}
                          for name, codes in self.keys.items()}
        self.offsets = {kind: offset for kind, (offset, _) in kinds.items()}
        self.tables: dict[tuple, np.ndarray | tuple[np.ndarray, np.ndarray]] = {}
        self.previous: dict[tuple, np.ndarray] = {}
        self.following: dict[tuple, np.ndarray] = {}
        for kind, (_, columns) in kinds.items():
            for family in FIRSTS_FAMILIES:
                self._build(family, kind, columns, dtype)

    def nbytes(self) -> int:
        """The memory the tables and neighbours hold."""
        tables = sum(t.nbytes if isinstance(t, np.ndarray) else t[0].nbytes + t[1].nbytes for t in self.tables.values())
        return tables + sum(a.nbytes for a in (*self.previous.values(), *self.following.values()))

    def groups(self, family: tuple[str, ...]) -> int:
        return int(np.prod([len(self.keys[name]) for name in family], dtype=np.int64))

    def _group_of(self, family: tuple[str, ...], columns: dict[str, np.ndarray]) -> np.ndarray:
        group = np.zeros(len(columns["user"]), dtype=np.int64)
        for name in family:
            group = group * len(self.keys[name]) + np.searchsorted(
                np.asarray(self.keys[name], dtype=np.int64), columns[name].astype(np.int64))
        return group

    def _build(self, family: tuple[str, ...], kind: int, columns: dict[str, np.ndarray], dtype) -> None:
        groups, span, n = self.groups(family), self.span, len(columns["user"])
        self.previous[(family, kind)] = np.full(n, self.NO_PREVIOUS, dtype=dtype)
        self.following[(family, kind)] = np.full(n, self.NO_NEXT, dtype=dtype)
        if not n:
            self.tables[(family, kind)] = (np.zeros(0, np.int64), np.zeros(0, np.int32))
            return
        group = self._group_of(family, columns)
        day = columns["day"].astype(np.int64) - self.day_origin
        user = columns["user"].astype(np.int64)
        day_bits = int(day.max()).bit_length()
        user_bits = max(int(user.max()).bit_length(), 1)
        if max(groups, 1).bit_length() + user_bits + day_bits <= 62:
            order = np.argsort((group << (user_bits + day_bits)) | (user << day_bits) | day)
        else:  # beyond any size seen: ordered by three keys instead of one packed integer
            order = np.lexsort((day, user, group))
        group, user, day = group[order], user[order], day[order]
        same = (user[1:] == user[:-1]) & (group[1:] == group[:-1])  # the same person in the same group
        neighbour = np.full(n, self.NO_PREVIOUS, dtype=dtype)
        neighbour[1:][same] = day[:-1][same]
        self.previous[(family, kind)][order] = neighbour
        neighbour = np.full(n, self.NO_NEXT, dtype=dtype)
        neighbour[:-1][same] = day[1:][same]
        self.following[(family, kind)][order] = neighbour
        month = columns["month"][order].astype(np.int64) - self.origin
        previous = np.zeros(n, dtype=np.int64)  # 0: no earlier fact; 1 + k: month k
        previous[1:][same] = month[:-1][same] + 1
        flat = (group * span + month) * (span + 1) + previous
        if groups * span * (span + 1) <= DENSE_UP_TO:
            table = np.bincount(flat, minlength=groups * span * (span + 1)).astype(np.int32)
            self.tables[(family, kind)] = table.reshape(groups, span, span + 1)
        else:
            entries, counts = np.unique(flat, return_counts=True)
            self.tables[(family, kind)] = (entries, counts.astype(np.int32))

    # -- reading ------------------------------------------------------------------------------

    def distinct(self, family: tuple[str, ...], kind: int, first_month: int, last_month: int,
                 fixed: dict[str, int], grouped: tuple[str, ...]) -> dict[tuple, int]:
        """Distinct people with a live fact of the base in months ``first_month..last_month`` (indexes
        since 1970-01), in each group of ``family`` whose dimensions are ``fixed`` (name: code) or
        ``grouped``: {(the grouped dimensions' codes, in that order): n}."""
        start = first_month - self.origin
        lo, hi = max(start, 0), min(last_month - self.origin, self.span - 1) + 1
        if hi <= lo:
            return {}
        before = min(max(start, 0), self.span) + 1  # entries 0..start: no earlier fact, or one before the run
        choices = []  # per dimension of the family: the positions of the codes wanted
        for name in family:
            if name in fixed:
                position = self.positions[name].get(fixed[name])
                if position is None:
                    return {}
                choices.append(np.array([position], dtype=np.int64))
            else:
                choices.append(np.arange(len(self.keys[name]), dtype=np.int64))
        wanted = np.zeros(1, dtype=np.int64)
        for name, chosen in zip(family, choices, strict=True):
            wanted = (wanted[:, None] * len(self.keys[name]) + chosen[None, :]).ravel()
        table = self.tables[(family, kind)]
        if isinstance(table, np.ndarray):
            every = not fixed  # all groups, in order: a view of the table, not a copy of its rows
            sums = (table if every else table[wanted])[:, lo:hi, :before].sum(axis=(1, 2))
        else:
            sums = self._sparse_sums(table, wanted, lo, hi, before)
        found = np.flatnonzero(sums)
        if not len(found):
            return {}
        # Each wanted group's codes for the grouped dimensions, from its position in the product.
        codes = {}
        rest = wanted[found]
        for name in reversed(family):
            rest, position = np.divmod(rest, len(self.keys[name]))
            codes[name] = np.asarray(self.keys[name], dtype=np.int64)[position].tolist()
        columns = [codes[name] for name in grouped]
        keys = list(zip(*columns, strict=True)) if columns else [() for _ in range(len(found))]
        return dict(zip(keys, sums[found].tolist(), strict=True))

    def _sparse_sums(self, table, wanted: np.ndarray, lo: int, hi: int, before: int) -> np.ndarray:
        """Per wanted group, the sum of its entries in months ``lo..hi-1`` with a previous month below
        ``before - 1`` (or none)."""
        entries, counts = table
        span = self.span
        starts = np.searchsorted(entries, (wanted * span + lo) * (span + 1))
        ends = np.searchsorted(entries, (wanted * span + hi) * (span + 1))
        lengths = ends - starts
        total = int(lengths.sum())
        if not total:
            return np.zeros(len(wanted), dtype=np.int64)
        owner = np.repeat(np.arange(len(wanted)), lengths)
        index = np.arange(total) + np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        kept = entries[index] % (span + 1) < before
        return np.bincount(owner[kept], weights=counts[index][kept], minlength=len(wanted)).astype(np.int64)

    def relative(self, day: int) -> int:
        """A day as the neighbours count it, within their type's range."""
        return int(min(max(day - self.day_origin, self.NO_PREVIOUS + 1), self.NO_NEXT - 1))

    # -- changes ------------------------------------------------------------------------------

    def remove(self, rows: list[tuple]) -> None:
        """A person's live facts of the base leave the tables (their person changed; the columns mark
        them dead): rows (kind, month, country, sector, course) of the kinds of people."""
        span = self.span
        for family in FIRSTS_FAMILIES:
            by_group: dict[tuple, list[int]] = defaultdict(list)
            for kind, month, country, sector, course in rows:
                values = {"country": country, "sector": sector, "course": course}
                group = 0
                for name in family:
                    group = group * len(self.keys[name]) + self.positions[name][int(values[name])]
                by_group[(kind, group)].append(month)
            for (kind, group), months in by_group.items():
                table = self.tables[(family, kind)]
                previous = 0
                for month in sorted(months):
                    offset = month - self.origin
                    if isinstance(table, np.ndarray):
                        table[group, offset, previous] -= 1
                    else:
                        entries, counts = table
                        counts[int(np.searchsorted(entries, (group * span + offset) * (span + 1) + previous))] -= 1
                    previous = offset + 1
