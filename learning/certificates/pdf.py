"""The printable certificate: an A4 landscape PDF with the holder, course, dates, code and a QR code.

Text goes through HarfBuzz (fpdf2's text shaping), so Arabic is joined and
laid out right to left, and accents and Cyrillic come from Noto Sans; the
fonts are shipped in ``static/fonts`` (SIL Open Font License). The QR code is
drawn as vector squares, so it stays sharp at any print size.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import segno
from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, PDFFontStream
from fpdf.syntax import Name, PDFArray, PDFContentStream

from learning.certificates.fontprogram import font_program

log = logging.getLogger(__name__)
FONT_DIR = Path(__file__).resolve().parent.parent.parent / "static" / "fonts"
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
PAGE_W, PAGE_H = 297.0, 210.0
INK = (33, 37, 41)
BRAND = (11, 85, 99)
ACCENT = (214, 160, 60)
MUTED = (95, 99, 104)


@dataclass(frozen=True)
class CertificateFace:
    """Everything printed on a certificate."""

    holder_name: str
    course_title: str
    language: str
    issued_at: datetime
    expires_at: datetime | None
    code: str
    verify_url: str
    issuer_name: str


def _date(moment: datetime, language: str) -> str:
    try:
        return format_date(moment.date(), format="long", locale=language.replace("-", "_"))
    except Exception:  # an unknown locale: fall back to English rather than fail to issue
        return format_date(moment.date(), format="long", locale="en")


def _texts(face: CertificateFace, language: str) -> dict[str, str]:
    with force_locale(language):
        return {
            "title": _("Certificate of completion"),
            "certifies": _("This certifies that"),
            "completed": _("has successfully completed the course"),
            "issued": _("Issued on %(date)s", date=_date(face.issued_at, language)),
            "expires": (_("Valid until %(date)s", date=_date(face.expires_at, language))
                        if face.expires_at else _("Does not expire")),
            "code": _("Certificate code: %(code)s", code=face.code),
            "verify": _("Verify this certificate at"),
        }


def _is_rtl(language: str) -> bool:
    return language.split("-")[0].lower() in {"ar", "fa", "he", "ur"}


@cache
def _parsed_font(family: str, style: str, file_name: str) -> TTFFont:
    """A font parsed by fpdf2 once per process (parsing is most of the cost of adding a font)."""
    scratch = FPDF()
    scratch.add_font(family, style, str(FONT_DIR / file_name))
    return scratch.fonts[f"{family.lower()}{style}"]


def _add_font(pdf: FPDF, family: str, style: str, file_name: str) -> None:
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


class _CertificateOutput(OutputProducer):
    """fpdf2's PDF writer, embedding each font as a subset cut by :mod:`fontprogram`.

    The PDF objects are those fpdf2 writes for a TrueType font (Type0 font, CIDFontType2
    with widths, ToUnicode map, CIDToGIDMap, descriptor, font file); only the font file
    differs: the used glyphs keep their glyph numbers instead of being renumbered by
    fontTools, so the CIDToGIDMap maps each code to the glyph's number in the font file.
    """

    def _add_fonts(self, *args, **kwargs):
        fonts = self.fpdf.fonts.values()
        if not all(isinstance(font, TTFFont) and not font.color_font and not font.is_cff for font in fonts):
            raise RuntimeError("certificate PDFs embed TrueType (glyf) fonts only")
        font_objs_per_index = {}
        for font in sorted(fonts, key=lambda font: font.i):
            program = font_program(str(font.ttffile))
            if font.missing_glyphs:
                log.warning("certificate PDF: font %s has no glyph for %s", font.name,
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

            font_file = PDFFontStream(program.subset(glyph.glyph_name for glyph, _code in font.subset.items()
                                                     if glyph is not None))
            self._add_pdf_obj(font_file, "fonts")
            descriptor.font_file2 = font_file
        # fpdf2's glyph caches are kept per function, not per document: empty them as it does.
        SubsetMap.pick.cache_clear()
        SubsetMap.get_glyph.cache_clear()
        return font_objs_per_index


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


def _add_fonts(pdf: FPDF, texts: list[str]) -> None:
    _add_font(pdf, "NotoSans", "", "NotoSans-Regular.ttf")
    _add_font(pdf, "NotoSans", "B", "NotoSans-Bold.ttf")
    # Only embed the Arabic fonts where Arabic is written: most certificates never need them.
    if any(_ARABIC.search(text) for text in texts):
        _add_font(pdf, "NotoSansArabic", "", "NotoSansArabic-Regular.ttf")
        _add_font(pdf, "NotoSansArabic", "B", "NotoSansArabic-Bold.ttf")
        pdf.set_fallback_fonts(["NotoSansArabic"])
    pdf.set_text_shaping(True)


def _set_font(pdf: FPDF, style: str, size: float) -> None:
    """Select Noto Sans; always written to the page, even when it looks current.

    fpdf2 skips a ``set_font`` that matches what it thinks is current, but after a fallback
    font (Arabic) wrote a run the page is really on the fallback: the next Latin text would be
    drawn with the wrong font. Setting another size first forces the switch.
    """
    pdf.set_font("NotoSans", style, size + 1)
    pdf.set_font("NotoSans", style, size)


def _qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR code of ``url`` on a white square: one filled path, a rectangle per run of dark modules."""
    qr = segno.make(url, error="m", micro=False)
    border = 2
    module = size / (qr.symbol_size(border=0)[0] + 2 * border)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    k, page_h = pdf.k, pdf.h
    runs = []
    for r, row in enumerate(qr.matrix):
        top = (page_h - (y + (border + r) * module)) * k
        c, width = 0, len(row)
        while c < width:
            if row[c]:
                start = c
                while c < width and row[c]:
                    c += 1
                runs.append(f"{(x + (border + start) * module) * k:.2f} {top:.2f} "
                            f"{(c - start) * module * k:.2f} {-module * k:.2f} re")
            else:
                c += 1
    # The rectangles as one path filled once (fpdf2's rect() writes the same operator per rectangle).
    pdf._out("\n".join(runs) + " f")


def render_pdf(face: CertificateFace) -> bytes:
    """The certificate as PDF bytes, in the course's language where the platform speaks it."""
    from flask import current_app

    languages = current_app.config.get("LANGUAGES", ["en"])
    language = face.language.split("-")[0].lower()
    language = language if language in languages else "en"
    texts = _texts(face, language)
    rtl = _is_rtl(language)

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"{texts['title']} {face.code}")
    pdf.set_author(face.issuer_name)
    pdf.set_creator(face.issuer_name)
    pdf.set_lang(language)
    pdf.add_page()
    _add_fonts(pdf, [*texts.values(), face.holder_name, face.course_title, face.issuer_name])

    # Frame: a brand band at the top and a double border.
    pdf.set_fill_color(*BRAND)
    pdf.rect(0, 0, PAGE_W, 14, style="F")
    pdf.set_draw_color(*BRAND)
    pdf.set_line_width(1.2)
    pdf.rect(8, 20, PAGE_W - 16, PAGE_H - 28)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.4)
    pdf.rect(11, 23, PAGE_W - 22, PAGE_H - 34)

    pdf.set_text_color(255, 255, 255)
    _set_font(pdf, "B", 11)
    pdf.set_xy(0, 3.5)
    pdf.cell(PAGE_W, 7, face.issuer_name.upper(), align="C")

    def centred(text: str, y: float, size: float, style: str = "", colour=INK, height: float = 10) -> None:
        pdf.set_text_color(*colour)
        _set_font(pdf, style, size)
        pdf.set_xy(20, y)
        if pdf.get_string_width(text) <= PAGE_W - 40 - 2 * pdf.c_margin:
            # One line (the usual case): a cell looks the same as a one-line paragraph, and
            # spares fpdf2's line breaking, which measures the text a character at a time.
            pdf.cell(PAGE_W - 40, height, text, align="C")
        else:
            pdf.multi_cell(PAGE_W - 40, height, text, align="C", max_line_height=height)

    centred(texts["title"], 34, 30, "B", BRAND, 14)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.8)
    pdf.line(PAGE_W / 2 - 30, 52, PAGE_W / 2 + 30, 52)
    centred(texts["certifies"], 58, 13, "", MUTED, 8)
    centred(face.holder_name, 68, 28, "B", INK, 13)
    centred(texts["completed"], 86, 13, "", MUTED, 8)
    centred(face.course_title, 96, 20, "B", BRAND, 10)

    # Details on one side, the QR code on the other (mirrored for right-to-left languages).
    qr_size = 42.0
    qr_x = 20.0 if rtl else PAGE_W - 20 - qr_size
    qr_y = PAGE_H - 20 - qr_size - 10
    _qr(pdf, face.verify_url, qr_x, qr_y, qr_size)
    pdf.set_text_color(*MUTED)
    # Two cells rather than one paragraph: the URL stays left-to-right under a right-to-left label.
    # The font is set again for each (after a fallback font wrote Arabic, fpdf2 would otherwise
    # shape the next text with the fallback's glyph numbers).
    for line, text in enumerate((texts["verify"], face.verify_url)):
        _set_font(pdf, "", 7)
        pdf.set_xy(qr_x - 20, qr_y + qr_size + 1 + 3.4 * line)
        pdf.cell(qr_size + 40, 3.4, text, align="C")

    details_x = PAGE_W - 20 - 150 if rtl else 24.0
    align = "R" if rtl else "L"
    pdf.set_text_color(*INK)
    y = qr_y + 6
    for key, size, style in (("issued", 12, ""), ("expires", 12, ""), ("code", 12, "B")):
        _set_font(pdf, style, size)
        pdf.set_xy(details_x, y)
        pdf.cell(150, 8, texts[key], align=align)
        y += 10
    return bytes(pdf.output(output_producer_class=_CertificateOutput))
