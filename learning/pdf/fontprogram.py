"""The fonts embedded in the platform's PDFs: a subset of the shipped font, cut in well under a millisecond.

fpdf2 embeds a font by handing it to fontTools, which decompiles the glyph,
metrics and name tables, subsets them and compiles a new font for every
document: a quarter of a second per certificate. Here each font file is read
once per process, into the raw bytes of every glyph outline and the few
tables an embedded TrueType font needs; a document's font is then put together
from the bytes of the glyphs it uses (and the glyphs those are built from),
**keeping their glyph numbers**: unused glyphs are empty and the font ends
after the highest glyph used, so no outline has to be rewritten.

The result is an ordinary TrueType font for a ``CIDFontType2`` with a
``CIDToGIDMap`` (ISO 32000-1, 9.9): ``glyf``, ``loca``, ``head``, ``hhea``,
``hmtx``, ``maxp``, the hinting tables (``cvt``, ``fpgm``, ``prep``), ``OS/2``,
``name`` (names 0-6) and ``post`` (version 3, no glyph names). No ``cmap``: a
CIDFont's glyphs are reached through the ``CIDToGIDMap``, and text extraction
through the ``ToUnicode`` map fpdf2 writes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from functools import cache
from itertools import accumulate
from pathlib import Path

from fontTools import ttLib

# Composite glyph flags (OpenType "glyf" table).
_ARG_1_AND_2_ARE_WORDS = 0x0001
_WE_HAVE_A_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_WE_HAVE_AN_X_AND_Y_SCALE = 0x0040
_WE_HAVE_A_TWO_BY_TWO = 0x0080

_COPIED_TABLES = ("OS/2", "cvt ", "fpgm", "gasp", "prep")


def components_of(outline: bytes) -> tuple[int, ...]:
    """The glyph numbers a composite glyph is built from (none for a simple or empty glyph)."""
    if len(outline) < 10 or struct.unpack_from(">h", outline)[0] >= 0:
        return ()
    found = []
    pos = 10
    while True:
        flags, glyph = struct.unpack_from(">HH", outline, pos)
        found.append(glyph)
        pos += 4 + (4 if flags & _ARG_1_AND_2_ARE_WORDS else 2)
        if flags & _WE_HAVE_A_SCALE:
            pos += 2
        elif flags & _WE_HAVE_AN_X_AND_Y_SCALE:
            pos += 4
        elif flags & _WE_HAVE_A_TWO_BY_TWO:
            pos += 8
        if not flags & _MORE_COMPONENTS:
            return tuple(found)


def _checksum(data: bytes) -> int:
    """The OpenType table checksum: the sum of the (zero-padded) big-endian 32-bit words."""
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}I", data)) & 0xFFFFFFFF


class FontProgram:
    """One TrueType font file, read once, from which subsets are cut by glyph name."""

    def __init__(self, path: str | Path):
        font = ttLib.TTFont(str(path), recalcTimestamp=False, recalcBBoxes=False)
        if "glyf" not in font:
            raise ValueError(f"{path}: only TrueType outlines (glyf) are supported")
        order = font.getGlyphOrder()
        self.glyph_ids: dict[str, int] = {name: gid for gid, name in enumerate(order)}
        glyf = font.reader["glyf"]
        offsets = font["loca"].locations
        self.outlines: list[bytes] = [glyf[offsets[g]:offsets[g + 1]] for g in range(len(order))]
        self.components: list[tuple[int, ...]] = [components_of(o) for o in self.outlines]
        self.number_of_h_metrics: int = font["hhea"].numberOfHMetrics
        self.hmtx: bytes = font.reader["hmtx"]
        self.head: bytes = font.reader["head"]
        self.hhea: bytes = font.reader["hhea"]
        self.maxp: bytes = font.reader["maxp"]
        post = font.reader["post"]
        post = struct.pack(">I", 0x00030000) + post[4:32]  # version 3: no glyph names
        name = font["name"]
        name.names = [record for record in name.names if record.nameID <= 6]
        tables = {tag: font.reader[tag] for tag in _COPIED_TABLES if tag in font.reader}
        tables["name"] = name.compile(font)
        tables["post"] = post
        # The tables every subset shares, with their checksums.
        self.tables: dict[str, tuple[bytes, int]] = {tag: (data, _checksum(data)) for tag, data in tables.items()}
        font.close()

    def glyph_closure(self, names: Iterable[str]) -> set[int]:
        """Glyph numbers of ``names`` (unknown names are skipped), .notdef and every component."""
        wanted: set[int] = set()
        stack = [0, *(self.glyph_ids[n] for n in names if n in self.glyph_ids)]
        while stack:
            glyph = stack.pop()
            if glyph not in wanted:
                wanted.add(glyph)
                stack.extend(self.components[glyph])
        return wanted

    def subset(self, names: Iterable[str]) -> bytes:
        """A TrueType font holding the glyphs ``names`` at their own glyph numbers."""
        wanted = self.glyph_closure(names)
        count = max(wanted) + 1
        sizes = [0] * count
        for glyph in wanted:
            sizes[glyph] = len(self.outlines[glyph])
        hmetrics = min(count, self.number_of_h_metrics)
        tables = dict(self.tables)
        for tag, data in (
            ("glyf", b"".join(self.outlines[glyph] for glyph in sorted(wanted))),
            ("loca", struct.pack(f">{count + 1}I", *accumulate(sizes, initial=0))),
            ("hmtx", self.hmtx[:4 * hmetrics] + self.hmtx[4 * self.number_of_h_metrics:][:2 * (count - hmetrics)]),
            ("hhea", self.hhea[:34] + struct.pack(">H", hmetrics) + self.hhea[36:]),
            ("maxp", self.maxp[:4] + struct.pack(">H", count) + self.maxp[6:]),
            # checkSumAdjustment zero until the whole font is summed; long (32-bit) loca offsets.
            ("head", self.head[:8] + b"\0\0\0\0" + self.head[12:50] + struct.pack(">h", 1) + self.head[52:]),
        ):
            tables[tag] = (data, _checksum(data))
        return _assemble(tables)


def _assemble(tables: dict[str, tuple[bytes, int]]) -> bytes:
    """The font file: the table directory, then the tables (each padded to 4 bytes), with the
    ``head`` table's checkSumAdjustment set so that the whole file sums to 0xB1B0AFBA."""
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, count * 16 - power * 16)
    directory = []
    body = []
    offset = 12 + 16 * count
    head_offset = 0
    total = 0
    for tag in tags:
        data, checksum = tables[tag]
        if tag == "head":
            head_offset = offset
        directory.append(struct.pack(">4sIII", tag.encode("latin-1"), checksum, offset, len(data)))
        body.append(data + b"\0" * (-len(data) % 4))
        offset += len(body[-1])
        total += checksum
    start = header + b"".join(directory)
    # The file's sum is the sum of its words: the header and directory's, and each table's checksum.
    adjustment = (0xB1B0AFBA - _checksum(start) - total) & 0xFFFFFFFF
    font = bytearray(start + b"".join(body))
    font[head_offset + 8:head_offset + 12] = struct.pack(">I", adjustment)
    return bytes(font)


@cache
def font_program(path: str) -> FontProgram:
    """The font file at ``path``, read once per process."""
    return FontProgram(path)
