"""The platform's PDF documents (certificates, sessions' sign-in sheets): what they share.

Fonts for every script the platform writes: Noto Sans (Latin, accents, Cyrillic, Greek), and
Noto Sans Arabic embedded only in a document where Arabic is written; both shipped in
``static/fonts`` (SIL Open Font License). Text goes through HarfBuzz (fpdf2's text shaping), so
Arabic is joined and laid out right to left. Fonts are parsed once per process and each document
embeds the subset it uses (:mod:`learning.pdf.fonts`, cut by :mod:`learning.pdf.fontprogram`).

A document starts with ``new_document`` (A4, millimetres, its language, its fonts), selects fonts
with ``set_font`` and ends with ``to_bytes``. What is drawn on the page, and its mirroring for
right-to-left languages, is each document's own (``learning.certificates.pdf``,
``learning.cohorts.sign_in_sheet_pdf``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fpdf import FPDF

from learning.pdf.fonts import SubsetOutput, add_font

_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def needs_arabic(texts: Iterable[str | None]) -> bool:
    """Whether any of the texts is written (partly) in Arabic script: the document then embeds Noto Sans Arabic."""
    return any(_ARABIC.search(text) for text in texts if text)


def add_fonts(pdf: FPDF, arabic: bool) -> None:
    """Noto Sans (regular, bold) with text shaping; Noto Sans Arabic as its fallback where ``arabic``."""
    add_font(pdf, "NotoSans", "", "NotoSans-Regular.ttf")
    add_font(pdf, "NotoSans", "B", "NotoSans-Bold.ttf")
    # Only embed the Arabic fonts where Arabic is written: most documents never need them.
    if arabic:
        add_font(pdf, "NotoSansArabic", "", "NotoSansArabic-Regular.ttf")
        add_font(pdf, "NotoSansArabic", "B", "NotoSansArabic-Bold.ttf")
        pdf.set_fallback_fonts(["NotoSansArabic"])
    pdf.set_text_shaping(True)


def set_font(pdf: FPDF, style: str, size: float) -> None:
    """Select Noto Sans; always written to the page, even when it looks current.

    fpdf2 skips a ``set_font`` that matches what it thinks is current, but after a fallback
    font (Arabic) wrote a run the page is really on the fallback: the next Latin text would be
    drawn with the wrong font. Setting another size first forces the switch.
    """
    pdf.set_font("NotoSans", style, size + 1)
    pdf.set_font("NotoSans", style, size)


def new_document(language: str, arabic: bool, orientation: str = "P", margin: float | None = None) -> FPDF:
    """An A4 document in millimetres, in ``language`` (the PDF's declared language), with its fonts
    (``add_fonts``) and no automatic page breaks (each document lays out its own pages); no page yet."""
    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_lang(language)
    if margin is not None:
        pdf.set_margins(margin, margin, margin)
    add_fonts(pdf, arabic)
    return pdf


def to_bytes(pdf: FPDF) -> bytes:
    """The finished document, its fonts embedded as subsets (``fonts.SubsetOutput``)."""
    return bytes(pdf.output(output_producer_class=SubsetOutput))
