"""The printable certificate: an A4 landscape PDF with the holder, course, dates, code and a QR code.

Text goes through HarfBuzz (fpdf2's text shaping), so Arabic is joined and
laid out right to left, and accents and Cyrillic come from Noto Sans; the
fonts are shipped in ``static/fonts`` (SIL Open Font License). The QR code is
drawn as vector squares, so it stays sharp at any print size.

Rendering takes a few milliseconds (docs/PERFORMANCE.md, "Certificates"):

* fonts are parsed once per process and shared by every document, and each
  document's font subset is cut from raw glyph bytes (:mod:`learning.pdf`, shared with the sign-in sheets)
  (fpdf2 would have fontTools decompile, subset and recompile the font);
* what every certificate of a course shows (frame, issuer, labels, course
  title) is drawn once per language, issuer and course, and its content-stream
  operators are copied into each document, in three parts between which the
  certificate's own text is drawn, so the text stays in reading order;
* the QR code has a fixed mask pattern and is one filled path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

import segno
from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import PDFResourceType

from learning.i18n import interface_language, is_rtl
from learning.pdf import needs_arabic, new_document, set_font, to_bytes

log = logging.getLogger(__name__)
PAGE_W, PAGE_H = 297.0, 210.0
INK = (33, 37, 41)
BRAND = (11, 85, 99)
ACCENT = (214, 160, 60)
MUTED = (95, 99, 104)
QR_MASK = 4


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


@cache
def _labels(language: str) -> dict[str, str]:
    """The printed words that are the same on every certificate in ``language``."""
    with force_locale(language):
        return {
            "title": _("Certificate of completion"),
            "certifies": _("This certifies that"),
            "completed": _("has successfully completed the course"),
            "verify": _("Verify this certificate at"),
            "withheld": _("Name withheld at the holder's request"),
        }


def _texts(face: CertificateFace, language: str) -> dict[str, str]:
    with force_locale(language):
        return {
            **_labels(language),
            "issued": _("Issued on %(date)s", date=_date(face.issued_at, language)),
            "expires": (_("Valid until %(date)s", date=_date(face.expires_at, language))
                        if face.expires_at else _("Does not expire")),
            "code": _("Certificate code: %(code)s", code=face.code),
        }


def _issuer_label(issuer_name: str, language: str) -> str:
    """The band's issuer name: the platform's own name is translated; a configured one is a proper name."""
    from learning.certificates.credentials import DEFAULT_ISSUER_NAME

    if issuer_name != DEFAULT_ISSUER_NAME:
        return issuer_name
    with force_locale(language):
        return _("Child Protection Learning")


def _qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR code of ``url`` on a white square: one filled path, a rectangle per run of dark modules.

    The mask pattern is fixed rather than chosen by scoring all eight (segno's default, which
    takes three quarters of the time of a certificate's QR code): every mask is valid and read
    by any reader, and pattern 4 is the one the scoring picks most often for verify URLs.
    """
    qr = segno.make(url, error="m", micro=False, mask=QR_MASK)
    border = 2
    module = size / (qr.symbol_size(border=0)[0] + 2 * border)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    # The rectangles as one path filled once (fpdf2's rect() writes the same operator per rectangle).
    pdf._out(_qr_path(qr.matrix, x, y, module, border, pdf.k, pdf.h))


_DARK_RUN = re.compile(rb"[^\x00]+")  # a run of dark modules in a row of segno's matrix (0 is light)


def _qr_path(matrix, x: float, y: float, module: float, border: int, k: float, page_h: float) -> str:
    """The ``re`` operators of the QR code's dark runs, a rectangle per run of dark modules in a row.

    Each number is the one the straightforward loop would format (the same expressions, so the same
    rounding); what is saved is formatting each column's position and each run's width again for
    every run: they are formatted once per code, and runs are found by a regular expression."""
    width = len(matrix[0]) if matrix else 0
    lefts = [f"{(x + (border + start) * module) * k:.2f} " for start in range(width)]
    lengths = [f" {length * module * k:.2f} {-module * k:.2f} re" for length in range(width + 1)]
    runs = []
    for r, row in enumerate(matrix):
        top = f"{(page_h - (y + (border + r) * module)) * k:.2f}"
        for run in _DARK_RUN.finditer(row):
            start, end = run.span()
            runs.append(lefts[start] + top + lengths[end - start])
    return "\n".join(runs) + " f"


QR_SIZE = 42.0
QR_Y = PAGE_H - 20 - QR_SIZE - 10


def _qr_x(rtl: bool) -> float:
    # Details on one side, the QR code on the other (mirrored for right-to-left languages).
    return 20.0 if rtl else PAGE_W - 20 - QR_SIZE


def _new_document(language: str, arabic: bool) -> FPDF:
    pdf = new_document(language, arabic, orientation="L")
    pdf.add_page()
    return pdf


def _centred(pdf: FPDF, text: str, y: float, size: float, style: str, colour, height: float) -> None:
    pdf.set_text_color(*colour)
    set_font(pdf, style, size)
    pdf.set_xy(20, y)
    if pdf.get_string_width(text) <= PAGE_W - 40 - 2 * pdf.c_margin:
        # One line (the usual case): a cell looks the same as a one-line paragraph, and
        # spares fpdf2's line breaking, which measures the text a character at a time.
        pdf.cell(PAGE_W - 40, height, text, align="C")
    else:
        pdf.multi_cell(PAGE_W - 40, height, text, align="C", max_line_height=height)


def _draw_background(pdf: FPDF, language: str, issuer_name: str, course_title: str) -> Iterator[None]:
    """Draw what every certificate of a course in ``language`` from this issuer shows (frame,
    issuer, labels, course title) in three parts, pausing after each, so that the page's text
    comes in reading order."""
    labels = _labels(language)
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
    set_font(pdf, "B", 11)
    pdf.set_xy(0, 3.5)
    pdf.cell(PAGE_W, 7, issuer_name.upper(), align="C")

    _centred(pdf, labels["title"], 34, 30, "B", BRAND, 14)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.8)
    pdf.line(PAGE_W / 2 - 30, 52, PAGE_W / 2 + 30, 52)
    _centred(pdf, labels["certifies"], 58, 13, "", MUTED, 8)
    yield  # the holder's name
    _centred(pdf, labels["completed"], 86, 13, "", MUTED, 8)
    _centred(pdf, course_title, 96, 20, "B", BRAND, 10)
    yield  # the QR code
    pdf.set_text_color(*MUTED)
    set_font(pdf, "", 7)
    pdf.set_xy(_qr_x(is_rtl(language)) - 20, QR_Y + QR_SIZE + 1)
    pdf.cell(QR_SIZE + 40, 3.4, labels["verify"], align="C")
    yield  # the URL, dates and code


def _draw_certificate(pdf: FPDF, face: CertificateFace, texts: dict[str, str], rtl: bool,
                      background: Iterator[None]) -> None:
    """Draw this certificate's own text (holder, QR code and URL, dates and code) between the
    parts of the ``background``.

    Each part of the background and each of these sections is drawn in a local graphics state
    (q ... Q, and fpdf2's own idea of colours, line width and font restored after it), so every
    part starts from the page's initial state whatever came before it: a part copied from a
    cached background draws exactly as when it was recorded.
    """
    next(background)
    with pdf.local_context():
        if face.holder_name:
            _centred(pdf, face.holder_name, 68, 28, "B", INK, 13)
        else:  # the holder's data was erased: say so rather than leave a blank that looks like a fault
            _centred(pdf, texts["withheld"], 68, 16, "", MUTED, 13)
    next(background)
    qr_x = _qr_x(rtl)
    with pdf.local_context():
        _qr(pdf, face.verify_url, qr_x, QR_Y, QR_SIZE)
    next(background)
    with pdf.local_context():
        # The URL in a cell of its own under the label: it stays left to right under a
        # right-to-left label. (set_font writes the font even when fpdf2 believes it current:
        # after a fallback font wrote Arabic, fpdf2 would otherwise shape the next text with
        # the fallback's glyphs.)
        pdf.set_text_color(*MUTED)
        set_font(pdf, "", 7)
        pdf.set_xy(qr_x - 20, QR_Y + QR_SIZE + 1 + 3.4)
        pdf.cell(QR_SIZE + 40, 3.4, face.verify_url, align="C")

        details_x = PAGE_W - 20 - 150 if rtl else 24.0
        align = "R" if rtl else "L"
        pdf.set_text_color(*INK)
        y = QR_Y + 6
        for key, size, style in (("issued", 12, ""), ("expires", 12, ""), ("code", 12, "B")):
            set_font(pdf, style, size)
            pdf.set_xy(details_x, y)
            pdf.cell(150, 8, texts[key], align=align)
            y += 10


@dataclass(frozen=True)
class _Background:
    """The background of a page, drawn once: the content-stream operators of each part and,
    for each font, the glyphs it uses in the order they were given codes (a document that
    takes the same glyphs in the same order gives them the same codes)."""

    parts: tuple[bytes, ...]
    glyphs: tuple[tuple, ...]
    codes: tuple[dict, ...]


@lru_cache(maxsize=256)
def _background(language: str, issuer_name: str, course_title: str, arabic: bool) -> _Background:
    pdf = _new_document(language, arabic)
    contents = pdf.pages[pdf.page].contents
    parts = []
    drawing = _draw_background(pdf, language, issuer_name, course_title)
    while True:
        start = len(contents)
        # Each part in a local graphics state, as render_pdf draws the certificate's own sections:
        # each starts from the page's initial state, in the stream and in fpdf2's mind.
        with pdf.local_context():
            finished = next(drawing, True)
        if finished:
            break
        parts.append(bytes(contents[start:]))
    fonts = sorted(pdf.fonts.values(), key=lambda font: font.i)
    return _Background(
        parts=tuple(parts),
        glyphs=tuple(tuple(glyph for glyph, _code in font.subset.items()) for font in fonts),
        codes=tuple(dict(font.subset.items()) for font in fonts),
    )


def _copied_background(pdf: FPDF, background: _Background) -> Iterator[None] | None:
    """The background's parts, written into ``pdf`` one at a time; None (and nothing written)
    if fpdf2 would not give the background's glyphs the same codes in this document."""
    fonts = sorted(pdf.fonts.values(), key=lambda font: font.i)
    if len(fonts) != len(background.glyphs):
        return None
    for font, glyphs in zip(fonts, background.glyphs, strict=True):
        for glyph in glyphs:
            font.subset.pick_glyph(glyph)
    if any(dict(font.subset.items()) != codes for font, codes in zip(fonts, background.codes, strict=True)):
        return None
    # The page's resources name every font the background draws with (what fpdf2 records when
    # it writes a font selection to the page).
    for font in fonts:
        pdf._resource_catalog.add(PDFResourceType.FONT, font.i, pdf.page)

    def parts() -> Iterator[None]:
        for part in background.parts:
            pdf._out(part)
            yield

    return parts()


def render_pdf(face: CertificateFace) -> bytes:
    """The certificate as PDF bytes, in the course's language where the platform speaks it.

    The background (frame, issuer, labels, course title) is drawn once per language, issuer
    and course and copied into each document; fonts are embedded by :class:`learning.pdf.fonts.SubsetOutput`.
    """
    language = interface_language(face.language)
    texts = _texts(face, language)
    rtl = is_rtl(language)
    issuer = _issuer_label(face.issuer_name, language)
    arabic = needs_arabic([*texts.values(), face.holder_name, face.course_title, issuer])

    pdf = _new_document(language, arabic)
    background = _copied_background(pdf, _background(language, issuer, face.course_title, arabic))
    if background is None:
        log.warning("certificate PDF: the cached page background did not fit; drawing it afresh")
        pdf = _new_document(language, arabic)
        background = _draw_background(pdf, language, issuer, face.course_title)
    pdf.set_title(f"{texts['title']} {face.code}")
    pdf.set_author(issuer)
    pdf.set_creator(issuer)
    _draw_certificate(pdf, face, texts, rtl, background)
    return to_bytes(pdf)


def warm_up() -> float:
    """Render two throwaway certificates (Latin, Arabic) so that this process has parsed its fonts
    and loaded fpdf2, HarfBuzz and the locales before its first real one; the seconds it took.

    A worker calls it as it starts (``learning.certificates.init_app``), before it says it is ready:
    otherwise the first learner whose certificate it issues waits for all of that (1.4 s on a
    quiet machine, several under load; docs/PERFORMANCE.md, "The newcomer's first certificate")."""
    import time

    started = time.perf_counter()
    moment = datetime(2000, 1, 1)
    for language, holder in (("en", "Warm Up"), ("ar", "تجربة")):
        render_pdf(CertificateFace(holder_name=holder, course_title="Warm up", language=language,
                                   issued_at=moment, expires_at=None, code="WARM-UP", verify_url="https://warm.up/",
                                   issuer_name="Warm up"))
    _background.cache_clear()  # keep no page of a course that does not exist
    return time.perf_counter() - started
