"""bench/pgcopy.py: PostgreSQL's binary COPY rows built from numpy columns (used by the seed at scale)."""

from __future__ import annotations

import struct
from datetime import timedelta

import numpy as np
import pytest

from bench import pgcopy

CHOICES = ["active", "completed", "Côte d'Ivoire", ""]


def columns(seed: int, n: int) -> tuple[list[pgcopy.Field], list[tuple]]:
    """Random columns of every kind of field, and the rows they must make."""
    rng = np.random.default_rng(seed)
    numbers = rng.integers(0, 10 ** rng.integers(1, 10, n))
    numbers[: min(n, 3)] = [0, 9, 10][: min(n, 3)]
    codes = rng.integers(0, len(CHOICES), n)
    null = rng.random(n) < 0.3
    microseconds = rng.integers(-10**15, 10**15, n)
    fields = [pgcopy.int4(numbers), pgcopy.numbered("p", numbers, "@example.org"),
              pgcopy.numbered("B", numbers, digits=15), pgcopy.text(codes, CHOICES),
              pgcopy.text(codes % 2, CHOICES[:2], null=null), pgcopy.int4(numbers, null=null),
              pgcopy.timestamp(microseconds, null=~null), pgcopy.constant("en"), pgcopy.constant(True, "bool"),
              pgcopy.constant(-7, "int4"), pgcopy.timestamp(microseconds)]
    expected = [(int(numbers[i]), f"p{numbers[i]}@example.org", f"B{numbers[i]:015d}", CHOICES[codes[i]],
                 None if null[i] else CHOICES[codes[i] % 2], None if null[i] else int(numbers[i]),
                 int(microseconds[i]) if null[i] else None, "en", True, -7, int(microseconds[i]))
                for i in range(n)]
    return fields, expected


def decode(data: bytes, kinds: str) -> list[tuple]:
    """Read binary COPY rows back: i (int4), q (timestamp, microseconds), t (text), b (bool)."""
    rows, at = [], 0
    while at < len(data):
        (count,), at = struct.unpack_from("!h", data, at), at + 2
        assert count == len(kinds)
        row = []
        for kind in kinds:
            (length,), at = struct.unpack_from("!i", data, at), at + 4
            if length == -1:
                row.append(None)
                continue
            raw, at = data[at:at + length], at + length
            row.append({"i": lambda r: struct.unpack("!i", r)[0], "q": lambda r: struct.unpack("!q", r)[0],
                        "t": lambda r: r.decode(), "b": lambda r: r == b"\x01"}[kind](raw))
        rows.append(tuple(row))
    return rows


@pytest.mark.parametrize(("seed", "n"), [(1, 1), (2, 7), (3, 2000)])
def test_rows_decode_to_the_columns_they_were_built_from(seed, n):
    fields, expected = columns(seed, n)
    assert decode(pgcopy.rows(n, fields), "ittttiqtbiq") == expected


def test_no_rows_is_no_data():
    assert pgcopy.rows(0, [pgcopy.int4(np.array([], dtype=np.int64))]) == b""


def test_postgresql_reads_the_rows_as_written(base_config):
    url = base_config["DATABASE_URL"]
    if not url.startswith("postgresql"):
        pytest.skip("binary COPY is PostgreSQL's")
    import psycopg

    fields, expected = columns(4, 3000)
    data = pgcopy.rows(3000, fields)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute("CREATE TEMPORARY TABLE pgcopy_rows (a int, b varchar(64), c varchar(32), d text, e text, f int, "
                     "g timestamptz, h varchar(35), i boolean, j int, k timestamptz)")
        with conn.cursor().copy("COPY pgcopy_rows FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(pgcopy.SIGNATURE)
            copy.write(data[:len(data) // 3])  # any cut: the server reassembles the stream
            copy.write(data[len(data) // 3:])
            copy.write(pgcopy.TRAILER)
        got = conn.execute("SELECT * FROM pgcopy_rows").fetchall()
    def moment(us: int | None):
        return None if us is None else pgcopy.EPOCH + timedelta(microseconds=us)

    assert got == [(*row[:6], moment(row[6]), *row[7:10], moment(row[10])) for row in expected]
