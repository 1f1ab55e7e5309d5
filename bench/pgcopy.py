"""PostgreSQL's binary COPY format built from numpy columns, for the bulk loads of the benchmarks.

A text COPY costs twice: Python formats every value as text and PostgreSQL parses it back (integers,
timestamps, the escapes of every field). In the binary format (``COPY ... WITH (FORMAT binary)``)
a row is an int16 field count, then for each field an int32 length (-1 for NULL) and the value in
network byte order: an ``integer`` is 4 bytes, a ``timestamptz`` 8 (microseconds since
2000-01-01 UTC), a ``boolean`` 1, a ``varchar`` its UTF-8 bytes. Here whole columns are laid out at
once (``numpy``; no Python loop over rows): see ``rows()``.

    data = rows(n, [int4(ids), timestamp(us), text(codes, ["active", "completed"]), int4(org, null=org == 0)])
    copy.write(SIGNATURE + data)   # in a ``COPY t (...) FROM STDIN WITH (FORMAT binary)``; TRAILER at the end
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the header: signature, flags, no extension
TRAILER = b"\xff\xff"  # the field count -1 that ends the data
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's timestamps count microseconds from here


@dataclass
class Field:
    """One column: ``data`` (rows × width bytes, or 1 × width for a constant) and each row's length
    (an int for a constant width, else an array; -1 for NULL)."""

    data: np.ndarray
    length: int | np.ndarray

    @property
    def fixed(self) -> bool:
        return isinstance(self.length, int)


def _big_endian(values: np.ndarray, dtype: str, null: np.ndarray | None, width: int) -> Field:
    data = np.ascontiguousarray(values, dtype=dtype).view(np.uint8).reshape(-1, width)
    if null is None:
        return Field(data, width)
    return Field(data, np.where(null, -1, width).astype(np.int64))


def int4(values: np.ndarray, null: np.ndarray | None = None) -> Field:
    """An ``integer`` column (NULL where ``null``)."""
    return _big_endian(values, ">i4", null, 4)


def timestamp(microseconds: np.ndarray, null: np.ndarray | None = None) -> Field:
    """A ``timestamptz`` column from microseconds since 2000-01-01 UTC (``EPOCH``)."""
    return _big_endian(microseconds, ">i8", null, 8)


def constant(value: bytes | str | bool | int, kind: str = "text") -> Field:
    """The same value in every row: text (UTF-8), or ``kind`` "bool" or "int4"."""
    if kind == "bool":
        raw = b"\x01" if value else b"\x00"
    elif kind == "int4":
        raw = int(value).to_bytes(4, "big", signed=True)
    else:
        raw = value.encode() if isinstance(value, str) else bytes(value)
    return Field(np.frombuffer(raw, dtype=np.uint8).reshape(1, -1), len(raw))


def text(codes: np.ndarray, choices: list[str], null: np.ndarray | None = None) -> Field:
    """A text column whose row i is ``choices[codes[i]]`` (NULL where ``null``)."""
    encoded = [choice.encode() for choice in choices]
    width = max(len(value) for value in encoded)
    table = np.zeros((len(encoded), width), dtype=np.uint8)
    for i, value in enumerate(encoded):
        table[i, :len(value)] = np.frombuffer(value, dtype=np.uint8)
    lengths = np.array([len(value) for value in encoded], dtype=np.int64)
    if width == int(lengths.min()) and null is None:
        return Field(table[codes], width)
    length = lengths[codes]
    if null is not None:
        length = np.where(null, -1, length)
    return Field(table[codes], length)


def numbered(prefix: str, numbers: np.ndarray, suffix: str = "", digits: int = 0) -> Field:
    """Text ``f"{prefix}{n}{suffix}"`` for each non-negative n; ``digits`` > 0 pads n with zeros to that
    width (``f"{n:0{digits}d}"``, n below 10**digits)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    most = max(digits, len(str(int(numbers.max()))) if len(numbers) else 1)
    head, tail = prefix.encode(), suffix.encode()
    powers = 10 ** np.arange(most - 1, -1, -1, dtype=np.int64)
    padded = (numbers[:, None] // powers % 10 + 48).astype(np.uint8)  # zero-padded to ``most`` digits
    width = len(head) + most + len(tail)
    data = np.empty((len(numbers), width), dtype=np.uint8)
    data[:, :len(head)] = np.frombuffer(head, dtype=np.uint8)
    if digits:  # one width for every row
        data[:, len(head):len(head) + most] = padded
        data[:, len(head) + most:] = np.frombuffer(tail, dtype=np.uint8)
        return Field(data, width)
    count = np.ones(len(numbers), dtype=np.int64)  # the digits of each number (0 has one)
    for power in range(1, most):
        count += numbers >= 10 ** power
    for size in np.unique(count):
        rows = count == size
        end = len(head) + int(size)
        data[rows, len(head):end] = padded[rows, most - int(size):]
        data[rows, end:end + len(tail)] = np.frombuffer(tail, dtype=np.uint8)
    return Field(data, len(head) + len(tail) + count)


def rows(n: int, fields: list[Field]) -> bytes:
    """The binary COPY data of ``n`` rows (without ``SIGNATURE`` and ``TRAILER``).

    Each row is first laid out at the widest (every field at its widest value, so that each field
    is one member of a structured array: one strided copy per field), beside a mask of the bytes
    that are really there (all of a fixed field's, the first ``length`` of a varying one's); the
    mask then packs the rows end to end (one boolean selection)."""
    if n == 0:
        return b""
    layout = [("count", ">i2")]
    for i, field in enumerate(fields):
        layout += [(f"length{i}", ">i4"), (f"data{i}", f"V{field.data.shape[1]}")]
    matrix = np.empty(n, dtype=np.dtype(layout))
    keep = np.ones((n, matrix.dtype.itemsize), dtype=np.bool_)
    keep_fields = keep.view(np.dtype([(name, f"V{matrix.dtype.fields[name][0].itemsize}") for name, _ in layout]))[:, 0]
    matrix["count"] = len(fields)
    for i, field in enumerate(fields):
        size = field.data.shape[1]
        matrix[f"length{i}"] = field.length
        matrix[f"data{i}"] = field.data.view(f"V{size}")[:, 0]
        if not field.fixed:
            visible = np.arange(size) < np.arange(-1, size + 1)[:, None]  # row k + 1: the first k bytes
            keep_fields[f"data{i}"] = visible.view(f"V{size}")[:, 0][field.length + 1]
    return matrix.view(np.uint8)[keep.ravel()].tobytes()
