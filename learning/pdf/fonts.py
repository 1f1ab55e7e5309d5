"""Fonts in the platform's PDFs (certificates, sign-in sheets): fpdf2's parsed fonts shared by every
document, and each document's fonts embedded as subsets cut by :mod:`fontprogram` instead of by fontTools.

Relies on fpdf2 internals (``TTFFont`` slots, ``SubsetMap``, ``OutputProducer._add_fonts``), hence
the upper bound on fpdf2 in ``pyproject.toml``. ``test_the_fpdf2_internals_the_font_embedding_replaces_are_still_there``
(``tests/certificates/test_certificate_pdf.py``) names each internal; the rest of that file checks the result.
"""

from __future__ import annotations

import copy
import logging
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, PDFFontStream
from fpdf.syntax import Name, PDFArray, PDFContentStream

from learning.pdf.fontprogram import font_program

log = logging.getLogger(__name__)
FONT_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "fonts"


@cache
def _parsed_font(family: str, style: str, file_name: str) -> TTFFont:
    """A font parsed by fpdf2 once per process (parsing is most of the cost of adding a font)."""
    scratch = FPDF()
    scratch.add_font(family, style, str(FONT_DIR / file_name))
    return scratch.fonts[f"{family.lower()}{style}"]


def add_font(pdf: FPDF, family: str, style: str, file_name: str) -> None:
    """Add the process's parsed font to ``pdf``: the metrics, glyph maps and HarfBuzz font are
    shared (read only while rendering); what a document changes is its own (the glyphs it
    uses, the glyphs found missing, its font descriptor object)."""
    parsed = _parsed_font(family, style, file_name)
    font = TTFFont.__new__(TTFFont)
    for slot in TTFFont.__slots__:
        if hasattr(parsed, slot):
            setattr(font, slot, getattr(parsed, slot))
    font.i = len(pdf.fonts) + 1
    font.desc = copy.copy(parsed.desc)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font


class SubsetOutput(OutputProducer):
    """fpdf2's PDF writer, embedding each font as a subset cut by :mod:`fontprogram`.

    The PDF objects are those fpdf2 writes for a TrueType font (Type0 font, CIDFontType2
    with widths, ToUnicode map, CIDToGIDMap, descriptor, font file); only the font file
    differs: the used glyphs keep their glyph numbers instead of being renumbered by
    fontTools, so the CIDToGIDMap maps each code to the glyph's number in the font file.
    """

    def _add_fonts(self, *args, **kwargs):
        fonts = self.fpdf.fonts.values()
        if not all(isinstance(font, TTFFont) and not font.color_font and not font.is_cff for font in fonts):
            raise RuntimeError("the platform's PDFs embed TrueType (glyf) fonts only")
        font_objs_per_index = {}
        for font in sorted(fonts, key=lambda font: font.i):
            program = font_program(str(font.ttffile))
            if font.missing_glyphs:
                log.warning("PDF: font %s has no glyph for %s", font.name,
                            ", ".join(f"U+{u:04X}" for u in font.missing_glyphs[:10]))
            fontname = f"{_subset_tag(font.i)}+{font.name}"
            code_to_glyph = {code: program.glyph_ids.get(glyph.glyph_name, 0)
                             for glyph, code in font.subset.items() if glyph is not None}
            composite = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
            self._add_pdf_obj(composite, "fonts")
            font_objs_per_index[font.i] = composite
            cid_font = PDFFont(subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width,
                               w=_widths(font))
            self._add_pdf_obj(cid_font, "fonts")
            composite.descendant_fonts = PDFArray([cid_font])

            to_unicode = PDFContentStream(_to_unicode_cmap(font).encode("latin-1"), compress=True)
            self._add_pdf_obj(to_unicode, "fonts")
            composite.to_unicode = to_unicode

            system_info = CIDSystemInfo()
            self._add_pdf_obj(system_info, "fonts")
            cid_font.c_i_d_system_info = system_info

            descriptor = font.desc
            descriptor.font_name = Name(fontname)
            self._add_pdf_obj(descriptor, "fonts")
            cid_font.font_descriptor = descriptor

            cid_to_gid = bytearray(2 * (max(code_to_glyph, default=0) + 1))
            for code, glyph in code_to_glyph.items():
                cid_to_gid[2 * code:2 * code + 2] = glyph.to_bytes(2, "big")
            cid_to_gid_map = PDFContentStream(bytes(cid_to_gid), compress=True)
            self._add_pdf_obj(cid_to_gid_map, "fonts")
            cid_font.c_i_d_to_g_i_d_map = cid_to_gid_map

            font_file = _FontFile(program.subset(glyph.glyph_name for glyph, _code in font.subset.items()
                                                     if glyph is not None))
            self._add_pdf_obj(font_file, "fonts")
            descriptor.font_file2 = font_file
        # fpdf2's glyph caches are kept per function, not per document: empty them as it does.
        SubsetMap.pick.cache_clear()
        SubsetMap.get_glyph.cache_clear()
        return font_objs_per_index


class _FontFile(PDFFontStream):
    """A font file stream compressed at zlib level 1: a third faster than fpdf2's level 6 and
    under 5 % larger on these subsets."""

    _COMPRESSION_LEVEL = 1


def _subset_tag(index: int) -> str:
    """Six capital letters naming a font subset, distinct for each font of a document."""
    return "CERT" + chr(ord("A") + (index // 26) % 26) + chr(ord("A") + index % 26)


def _widths(font: TTFFont) -> str:
    """The CIDFont's W array: the width of each code, one bracket per run of consecutive codes."""
    widths = sorted((code, glyph.glyph_width) for glyph, code in font.subset.items() if glyph is not None)
    runs: list[tuple[int, list[int]]] = []
    for code, width in widths:
        if runs and runs[-1][0] + len(runs[-1][1]) == code:
            runs[-1][1].append(width)
        else:
            runs.append((code, [width]))
    return "[" + " ".join(f"{start} [{' '.join(map(str, run))}]" for start, run in runs) + "]"


def _to_unicode_cmap(font: TTFFont) -> str:
    """The ToUnicode map: which text each code stands for (search, copy and extraction)."""
    entries = []
    for glyph, code in font.subset.items():
        if glyph is None or not isinstance(glyph.unicode, tuple) or not glyph.unicode:
            continue
        text = "".join(chr(u) for u in glyph.unicode).encode("utf-16-be").hex().upper()
        entries.append(f"<{code:04X}> <{text}>\n")
    # At most 100 mappings per block (Adobe Technical Note #5014).
    blocks = "".join(f"{len(entries[i:i + 100])} beginbfchar\n{''.join(entries[i:i + 100])}endbfchar\n"
                     for i in range(0, len(entries), 100))
    return ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo\n<</Registry (Adobe)\n/Ordering (UCS)\n/Supplement 0\n>> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"{blocks}"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend")
