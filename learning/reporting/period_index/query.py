"""Answering a report from the index (``answer``): people of the total and of any of country, sector and
course by their first facts (``firsts``), every other grouping (cohorts, organisations) from the numpy
columns, certificates from their daily and monthly sums."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import numpy as np

from learning.reporting.period_index.common import (
    CERTIFIED,
    DAY_BITS,
    DIMENSION_ORDER,
    EPOCH,
    PEOPLE,
    _day,
    _month_end,
    _month_index,
)
from learning.reporting.period_index.firsts import FIRSTS_FAMILIES
from learning.reporting.period_index.state import _ROW_NAMES, State


def _month_start(month: int) -> date:
    return date(1970 + month // 12, month % 12 + 1, 1)


def _whole_months(first: date, last: date) -> tuple[int, int]:
    """The first and last whole months (indexes since 1970-01) of the days ``first..last``: the first is
    after the last when there is none."""
    return (_month_index(first) + (0 if first.day == 1 else 1),
            _month_index(last) - (0 if last == _month_end(last) else 1))


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


def _time_columns(part: dict[str, np.ndarray], time_group: str | None) -> None:
    if time_group == "year":
        part["year"] = part["month"] // 12
    elif time_group == "month":
        part["month_key"] = part["month"]


def _masked(state: State, part: dict[str, np.ndarray], conditions: dict[str, int],
            group: tuple[str, ...] = (), kept: tuple[str, ...] = ("user", "month", "weight")) -> dict[str, np.ndarray]:
    """The rows meeting the filters, with only the columns a count reads (``kept``: by default the user,
    the month and the weight, and the grouping's dimensions): selecting every column of a long period
    costs more."""
    if not conditions:
        return part
    chosen = None
    for name, code in conditions.items():
        if chosen is None:
            chosen = part[name] == code
        else:
            chosen &= part[name] == code
    rows = np.flatnonzero(chosen)
    return {name: part[name][rows] for name in {*kept, *group} if name in part}


def _rows(state: State, kind: int, first: int, last: int, conditions: dict[str, int], group: tuple[str, ...],
          kept: tuple[str, ...] = ("user", "month", "weight")) -> dict[str, np.ndarray]:
    """The live rows of a kind on days ``first..last`` meeting the filters, with the columns ``_masked``
    keeps (a filter on a dimension with a row order reads only that value's rows: ``State.rows``)."""
    wanted = {*kept, *group, *conditions}
    names = tuple(name for name in _ROW_NAMES if name in wanted)
    return _masked(state, state.rows(kind, first, last, conditions, names), conditions, group, kept)


def _distinct_by_group(part, names) -> dict[tuple, int]:
    """Distinct users per group: one sort of (group, user) packed in an int64, the first of each run
    kept, then the groups' runs counted (already in order). ``np.unique`` takes numpy 2's hash path
    here, about 25 times slower on these pairs than the sort (helper period10m)."""
    if not len(part["user"]):
        return {}
    users = part["user"].astype(np.int64)
    if names:
        gid, radices = _group_ids(part, names)
        user_bits = max(int(users.max()).bit_length(), 1)
        if int(gid.max()).bit_length() + user_bits <= 32:  # one uint32 per pair: a faster sort
            pairs = np.sort((gid.astype(np.uint32) << np.uint32(user_bits)) | users.astype(np.uint32))
            groups = (pairs[np.r_[True, pairs[1:] != pairs[:-1]]] >> np.uint32(user_bits)).astype(np.int64)
        elif int(gid.max()) >= 1 << 31:
            order = np.lexsort((users, gid))
            gid, users = gid[order], users[order]
            fresh = np.r_[True, (gid[1:] != gid[:-1]) | (users[1:] != users[:-1])]
            groups = gid[fresh]
        else:
            pairs = np.sort((gid << 32) | users)
            groups = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] >> 32
    else:
        radices = []
        users = np.sort(users)
        groups = np.zeros(int(np.count_nonzero(np.r_[True, users[1:] != users[:-1]])), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    counts = np.diff(np.r_[starts, len(groups)])
    return dict(zip(_split_all(groups[starts], radices), counts.tolist(), strict=True))


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
        return dict(zip(_split_all(groups, radices), np.rint(sums[groups]).astype(np.int64).tolist(), strict=True))
    groups, inverse = np.unique(gid, return_inverse=True)
    sums = np.bincount(inverse, weights=weight)
    return dict(zip(_split_all(groups, radices), np.rint(sums).astype(np.int64).tolist(), strict=True))


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
    first, last = EPOCH + timedelta(days=first_day), EPOCH + timedelta(days=last_day)
    figures: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kind in PEOPLE:
        if dims in FIRSTS_FAMILIES:
            counted = _people_from_firsts(state, kind, dims, first, last, conditions, group, time_group)
        else:
            part = _rows(state, kind, first_day, last_day, conditions, group, ("user", "month") if time_group else ("user",))
            _time_columns(part, time_group)
            counted = _distinct_by_group(part, names)
        for key, n in counted.items():
            if n:
                figures[key][kind] = n
    sums = state.certified_sums(first_day, last_day, group, conditions)
    if sums is None:
        sums = _certified_by_pair(state, first, last, conditions, group)
    if sums is None:
        part = _rows(state, CERTIFIED, first_day, last_day, conditions, group)
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


def _certified_by_pair(state: State, first: date, last: date, conditions: dict[str, int],
                       group: tuple[str, ...]) -> dict[tuple, int] | None:
    """Certificates filtered on one of country, sector and course and grouped by another, or filtered on
    two of them (in total or by year): the period's whole months from the pair's monthly sums, its ragged
    days (at most a month at each end) from the rows. None for anything else, or a period without a
    whole month."""
    first_month, last_month = _whole_months(first, last)
    if first_month > last_month:
        return None
    if len(conditions) == 1 and len(group) == 1:
        [(name, code)] = conditions.items()
        sums = state.certified_pair_months(name, code, group[0], first_month, last_month)
    elif len(conditions) == 2 and group in ((), ("year",)):
        sums = state.certified_pair_total(conditions, first_month, last_month, by_year=bool(group))
    else:
        return None
    if sums is None:
        return None
    ragged = []
    if first.day != 1:
        ragged.append(_rows(state, CERTIFIED, _day(first), _day(_month_start(first_month)) - 1, conditions, group))
    if last != _month_end(last):
        ragged.append(_rows(state, CERTIFIED, _day(_month_start(last_month + 1)), _day(last), conditions, group))
    for rows in ragged:
        _time_columns(rows, "year" if group == ("year",) else None)
        for key, n in _sums_by_group(rows, list(group)).items():
            sums[key] = sums.get(key, 0) + n
    return sums


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


def _split_all(gids: np.ndarray, radices: list[int]) -> list[tuple]:
    """``_split`` of many group ids at once."""
    columns = []
    for radix in reversed(radices):
        gids, values = np.divmod(gids, radix)
        columns.append(values.tolist())
    columns.reverse()
    return list(zip(*columns, strict=True)) if columns else [() for _ in range(len(gids))]


def _buckets(first: date, last: date, time_group: str | None):
    """The period cut by the time grouping: (time value, first day, last day) for each year or month it
    touches (the year's or month's index since 1970), or the period itself."""
    if time_group is None:
        yield None, first, last
        return
    cursor = first
    while cursor <= last:
        if time_group == "year":
            value, end = cursor.year - 1970, date(cursor.year, 12, 31)
        else:
            value, end = _month_index(cursor), _month_end(cursor)
        yield value, cursor, min(end, last)
        cursor = end + timedelta(days=1)


def _people_from_firsts(state: State, kind: int, dims: tuple[str, ...], first: date, last: date,
                        conditions: dict[str, int], group: tuple[str, ...], time_group: str | None):
    """Distinct people per group for the total or any of country, sector and course (filtered or grouped),
    by counting first facts (``firsts``): in each time group, its whole months from the tables and its
    ragged days from two short slices of the neighbours; then the overlay's people (changed since the
    snapshot, none of whom has a live fact in the base) from its rows."""
    firsts = state.firsts
    fixed = {name: conditions[name] for name in dims if name in conditions}
    grouped = tuple(name for name in group if name not in ("year", "month"))
    time_at = next((i for i, name in enumerate(group) if name in ("year", "month")), None)
    previous, following = firsts.previous[(dims, kind)], firsts.following[(dims, kind)]
    offset = firsts.offsets[kind]
    counts: dict[tuple, int] = defaultdict(int)

    def keyed(key: tuple, time_value) -> tuple:
        return key if time_at is None else (*key[:time_at], time_value, *key[time_at:])

    def ragged(time_value, days: tuple[int, int], since: int, whole: tuple[int, int] | None = None) -> None:
        """The facts on ``days`` whose previous fact is before day ``since``, less (``whole``) those whose
        next fact is in the whole months' days (that one is the person's first there, and counted)."""
        lo, hi = state.positions(kind, *days)
        if hi <= lo:
            return
        keep = ~state.dead[lo:hi] if state.dead_count else None
        for name, code in fixed.items():
            same = state.base[name][lo:hi] == code
            keep = same if keep is None else keep & same
        chosen = previous[lo - offset:hi - offset] < firsts.relative(since)
        signs = [(1, chosen)]
        if whole is not None:
            after = following[lo - offset:hi - offset]
            signs.append((-1, (after >= firsts.relative(whole[0])) & (after <= firsts.relative(whole[1]))))
        for sign, mask in signs:
            if keep is not None:
                mask &= keep
            if not grouped:
                counts[keyed((), time_value)] += sign * int(np.count_nonzero(mask))
                continue
            rows = np.flatnonzero(mask) + lo
            if not len(rows):
                continue
            gid, radices = _group_ids({"user": rows, **{name: state.base[name][rows] for name in grouped}},
                                      list(grouped))
            tally = np.bincount(gid)
            present = np.flatnonzero(tally)
            for key, n in zip(_split_all(present, radices), tally[present].tolist(), strict=True):
                counts[keyed(key, time_value)] += sign * n

    for time_value, start, end in _buckets(first, last, time_group):
        first_month, last_month = _whole_months(start, end)
        if first_month > last_month:
            ragged(time_value, (_day(start), _day(end)), _day(start))
            continue
        for key, n in firsts.distinct(dims, kind, first_month, last_month, fixed, grouped).items():
            counts[keyed(key, time_value)] += n
        whole = (_day(_month_start(first_month)), _day(_month_end(_month_start(last_month))))
        if start.day != 1:
            ragged(time_value, (_day(start), whole[0] - 1), _day(start), whole)
        if end != _month_end(end):
            ragged(time_value, (whole[1] + 1, _day(end)), _day(start))
    if state.overlay:
        overlay = state._overlay()
        chosen = (overlay["kd"] >= (kind << DAY_BITS) + _day(first)) & (overlay["kd"] <= (kind << DAY_BITS) + _day(last))
        for name, code in fixed.items():
            chosen &= overlay[name] == code
        if chosen.any():
            part = {column: overlay[column][chosen] for column in ("user", "month", *grouped)}
            _time_columns(part, time_group)
            for key, n in _distinct_by_group(part, [("month_key" if g == "month" else g) for g in group]).items():
                counts[key] += n
    return {key: n for key, n in counts.items() if n}
