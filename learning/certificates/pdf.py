"""The printable certificate: an A4 landscape PDF with the holder, course, dates, code and a QR code.

Text goes through HarfBuzz (fpdf2's text shaping), so Arabic is joined and
laid out right to left, and accents and Cyrillic come from Noto Sans; the
fonts are shipped in ``static/fonts`` (SIL Open Font License). The QR code is
drawn as vector squares, so it stays sharp at any print size.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import segno
from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _
from fontTools import subset, ttLib
from fpdf import FPDF

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
def _parsed_font(family: str, style: str, file_name: str):
    """A font parsed once per process (parsing is most of the cost of a certificate)."""
    scratch = FPDF()
    scratch.add_font(family, style, str(FONT_DIR / file_name))
    return scratch.fonts[f"{family.lower()}{style}"]


# The characters most certificates are written with. Embedding starts from a copy of the font
# cut down to these (and the glyphs HarfBuzz may substitute for them); a certificate that
# uses any other glyph is embedded from the whole font instead.
CORE_REPERTOIRE = {
    "NotoSans": [(0x20, 0x7E), (0xA0, 0x17F), (0x218, 0x21B), (0x300, 0x30F), (0x400, 0x45F),
                 (0x2010, 0x2027), (0x2030, 0x203A), (0x20AC, 0x20AC)],
    "NotoSansArabic": [(0x20, 0x40), (0x600, 0x6FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
}
_EMBEDDING_DROPS = ("GSUB", "GPOS", "GDEF", "hdmx", "FFTM", "meta")


def _saved(font: ttLib.TTFont) -> bytes:
    for table in _EMBEDDING_DROPS:
        if table in font:
            del font[table]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


@cache
def _whole_font_for_embedding(file_name: str) -> bytes:
    """The font without the layout tables fpdf2 drops when embedding anyway (HarfBuzz has
    shaped the text already, on the full font)."""
    return _saved(ttLib.TTFont(str(FONT_DIR / file_name), recalcTimestamp=False))


@cache
def _core_font_for_embedding(file_name: str) -> tuple[bytes, frozenset[str]]:
    """The font cut down to the core repertoire (glyph names kept), and the names it holds."""
    family = file_name.split("-")[0]
    font = ttLib.TTFont(str(FONT_DIR / file_name), recalcTimestamp=False)
    options = subset.Options(layout_features=["*"], glyph_names=True, notdef_outline=True,
                             recommended_glyphs=True, name_IDs=["*"], name_languages=["*"])
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[u for low, high in CORE_REPERTOIRE[family] for u in range(low, high + 1)])
    subsetter.subset(font)
    names = frozenset(font.getGlyphOrder())
    return _saved(font), names


def _add_font(pdf: FPDF, family: str, style: str, file_name: str) -> None:
    # fpdf2's own copy of a parsed font (as its recorder makes): the glyph map and widths are
    # copied, the parsed tables shared for layout; the file is re-read before output, where
    # fpdf2 subsets the font in place.
    font = copy.deepcopy(_parsed_font(family, style, file_name))
    font.i = len(pdf.fonts) + 1
    pdf.fonts[font.fontkey] = font


def _fresh_tables_for_output(pdf: FPDF) -> None:
    """Give fpdf2 a fresh, small copy of each font to subset and embed (it subsets in place)."""
    for font in pdf.fonts.values():
        file_name = Path(str(font.ttffile)).name
        data, names = _core_font_for_embedding(file_name)
        if not set(font.subset.get_all_glyph_names()) <= names:
            data = _whole_font_for_embedding(file_name)
        font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)


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
    """Draw the QR code of ``url`` as filled squares, one rectangle per run of dark modules."""
    qr = segno.make(url, error="m", micro=False)
    border = 2
    rows = [list(row) for row in qr.matrix]
    count = len(rows) + 2 * border
    module = size / count
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(x + (border + start) * module, y + (border + r) * module,
                         (c - start) * module, module * 1.0, style="F")
            else:
                c += 1


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
    _fresh_tables_for_output(pdf)
    return bytes(pdf.output())
