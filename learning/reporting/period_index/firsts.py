"""Distinct people over any period without a union of bitmaps (``FirstFacts``), for the total and each
single dimension (``FIRSTS_FAMILIES``): a count of first facts.

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

Exact for any period; a table sum and two slices instead of the union of up to eight bitmaps per group
(tens of milliseconds for a course's people over a long period at 10M enrolments: docs/PERFORMANCE.md,
*Any period at 10M, third pass*).

The tables and the neighbours are of the snapshot's live facts (the columns' base). A changed person's
facts all die there at once (``State.apply``): their entries leave the tables (``remove``) and their
dead facts are masked out of the slices, so nobody else's neighbours change; their new facts are in the
overlay, counted apart (``query._people_from_firsts``). A compaction rebuilds all of it.

``tables[(family, kind)]`` is an int32 array ``[group, month, 1 + month]``: ``[g, m, 0]`` counts the
facts of group ``g`` in month ``m`` whose person has no earlier fact in ``g``, ``[g, m, 1 + k]`` those
whose person's previous fact in ``g`` is in month ``k`` (months from ``origin``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

FIRSTS_FAMILIES: tuple[tuple[str, ...], ...] = ((), ("country",), ("sector",), ("course",))


class FirstFacts:
    """The tables and neighbours of one snapshot's live facts. ``keys[family]``: its groups' codes (a
    group's position is its code's, ``positions``); ``origin``: the month (index since 1970-01) of the
    tables' position 0; ``day_origin``: the day (since 1970-01-01) before the first fact's, from which the
    neighbours count, ``NO_PREVIOUS`` and ``NO_NEXT`` standing for none."""

    def __init__(self, kinds: dict[int, tuple[int, dict[str, np.ndarray]]]):
        """``kinds``: for each kind of people, the position of its first fact in the columns and its
        facts' columns ``user``, ``day``, ``month`` and the dimensions' (in the columns' order)."""
        present = [columns for _, columns in kinds.values() if len(columns["user"])]
        self.origin = min(int(c["month"].min()) for c in present) if present else 0
        self.span = (max(int(c["month"].max()) for c in present) if present else 0) - self.origin + 1
        self.day_origin = (min(int(c["day"].min()) for c in present) if present else 0) - 1
        days = (max(int(c["day"].max()) for c in present) if present else 0) - self.day_origin + 1
        dtype = np.int16 if days < np.iinfo(np.int16).max - 1 else np.int32
        self.NO_PREVIOUS, self.NO_NEXT = np.iinfo(dtype).min, np.iinfo(dtype).max
        self.keys: dict[tuple, list[int]] = {}
        self.positions: dict[tuple, dict[int, int]] = {}
        for family in FIRSTS_FAMILIES:
            codes = sorted({int(code) for c in present for code in (np.unique(c[family[0]]).tolist() if family else [0])})
            self.keys[family] = codes
            self.positions[family] = {code: position for position, code in enumerate(codes)}
        self.offsets = {kind: offset for kind, (offset, _) in kinds.items()}
        self.tables: dict[tuple, np.ndarray] = {}
        self.previous: dict[tuple, np.ndarray] = {}
        self.following: dict[tuple, np.ndarray] = {}
        for kind, (_, columns) in kinds.items():
            for family in FIRSTS_FAMILIES:
                self._build(family, kind, columns, dtype)

    def _build(self, family: tuple[str, ...], kind: int, columns: dict[str, np.ndarray], dtype) -> None:
        groups, span, n = len(self.keys[family]), self.span, len(columns["user"])
        self.previous[(family, kind)] = np.full(n, self.NO_PREVIOUS, dtype=dtype)
        self.following[(family, kind)] = np.full(n, self.NO_NEXT, dtype=dtype)
        if not n:
            self.tables[(family, kind)] = np.zeros((groups, span, span + 1), dtype=np.int32)
            return
        if family:
            group = np.searchsorted(np.asarray(self.keys[family], dtype=np.int64), columns[family[0]].astype(np.int64))
        else:
            group = np.zeros(n, dtype=np.int64)
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
        flat = np.bincount((group * span + month) * (span + 1) + previous, minlength=groups * span * (span + 1))
        self.tables[(family, kind)] = flat.astype(np.int32).reshape(groups, span, span + 1)

    # -- reading ------------------------------------------------------------------------------

    def distinct(self, family: tuple[str, ...], kind: int, first_month: int, last_month: int,
                 code: int | None = None) -> dict[tuple, int]:
        """Distinct people of each group of ``family`` with a live fact of the base in months
        ``first_month..last_month`` (indexes since 1970-01): {(code,): n} ({(): n} for the total);
        only group ``code`` when given."""
        table = self.tables[(family, kind)]
        start = first_month - self.origin
        lo, hi = max(start, 0), min(last_month - self.origin, self.span - 1) + 1
        if hi <= lo:
            return {}
        before = min(max(start, 0), self.span) + 1  # entries 0..start: no earlier fact, or one before the run
        if code is not None:
            position = self.positions[family].get(code)
            if position is None:
                return {}
            n = int(table[position, lo:hi, :before].sum())
            return {(code,) if family else (): n} if n else {}
        sums = table[:, lo:hi, :before].sum(axis=(1, 2))
        if not family:
            return {(): int(sums[0])} if len(sums) and sums[0] else {}
        keys = self.keys[family]
        return {(keys[position],): int(n) for position, n in enumerate(sums.tolist()) if n}

    def relative(self, day: int) -> int:
        """A day as the neighbours count it, within their type's range."""
        return int(min(max(day - self.day_origin, self.NO_PREVIOUS + 1), self.NO_NEXT - 1))

    # -- changes ------------------------------------------------------------------------------

    def remove(self, rows: list[tuple]) -> None:
        """A person's live facts of the base leave the tables (their person changed; the columns mark
        them dead): rows (kind, month, country, sector, course) of the kinds of people."""
        for family in FIRSTS_FAMILIES:
            by_group: dict[tuple, list[int]] = defaultdict(list)
            for kind, month, country, sector, course in rows:
                value = {"country": country, "sector": sector, "course": course}[family[0]] if family else 0
                by_group[(kind, value)].append(month)
            for (kind, value), months in by_group.items():
                table = self.tables[(family, kind)]
                position = self.positions[family][value]
                previous = 0
                for month in sorted(months):
                    table[position, month - self.origin, previous] -= 1
                    previous = month - self.origin + 1
