"""The certificate PDF as issued quickly: fonts cut from glyph bytes, a cached page background, a
fixed QR mask; and an issue that renders and stores the PDF with the row or not at all."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
import segno
from fontTools import ttLib
from pypdf import PdfReader
from sqlalchemy import select

from learning.certificates import pdf as certificate_pdf
from learning.certificates import services
from learning.certificates.codes import new_code
from learning.certificates.models import Certificate
from learning.certificates.storage import get_storage
from learning.extensions import db
from learning.pdf.fontprogram import FontProgram, _checksum, components_of
from learning.pdf.fonts import FONT_DIR
from tests import factories_certificates as certs

FONTS = ["NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf"]


def _text(data: bytes) -> str:
    return PdfReader(io.BytesIO(data)).pages[0].extract_text()


def _qr_in(data: bytes, tmp_path) -> str:
    if not shutil.which("pdftoppm") or not shutil.which("zbarimg"):
        pytest.fail("Reading the QR code needs pdftoppm (poppler-utils) and zbarimg (zbar-tools).")
    (tmp_path / "c.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(tmp_path / "c.pdf"), str(tmp_path / "page")],
                   check=True)
    return subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "page.png")],
                          capture_output=True, text=True, check=True).stdout.strip()


def _face(**fields) -> certificate_pdf.CertificateFace:
    code = fields.pop("code", "7KQ4-M2XD-9PRT-V")
    values = {"holder_name": "Zoë Ñúñez", "course_title": "Protecting children online", "language": "en",
              "issued_at": datetime(2024, 1, 31, tzinfo=UTC), "expires_at": datetime(2026, 1, 31, tzinfo=UTC),
              "code": code, "verify_url": f"http://127.0.0.1:5000/verify/{code}",
              "issuer_name": "Child Protection Learning"}
    return certificate_pdf.CertificateFace(**{**values, **fields})


# --- the font subsets ------------------------------------------------------------------------

@pytest.mark.parametrize("file_name", FONTS)
def test_composite_glyphs_name_the_same_components_as_fonttools_reads(file_name):
    path = FONT_DIR / file_name
    program = FontProgram(path)
    font = ttLib.TTFont(str(path))
    glyf = font["glyf"]
    composites = 0
    for glyph_id, name in enumerate(font.getGlyphOrder()):
        glyph = glyf[name]
        expected = tuple(font.getGlyphID(c) for c in glyph.getComponentNames(glyf)) if glyph.isComposite() else ()
        assert program.components[glyph_id] == expected, name
        composites += bool(expected)
    assert composites > 0  # the fonts do have composite glyphs (accented letters), so this checked something


@pytest.mark.parametrize("file_name", FONTS)
def test_a_subset_keeps_the_glyph_numbers_outlines_and_widths_and_sums_correctly(file_name):
    path = FONT_DIR / file_name
    original = ttLib.TTFont(str(path))
    cmap = original.getBestCmap()
    wanted = [cmap[ord(c)] for c in "Zoë Ñúñez-Nguyễn Олена Ковалéнко فاطمة الزهراء 2024" if ord(c) in cmap]
    assert len(wanted) > 5
    data = FontProgram(path).subset(wanted)

    subset = ttLib.TTFont(io.BytesIO(data), checkChecksums=2)  # a wrong table checksum raises
    assert _checksum(data) == 0xB1B0AFBA  # the head table's checkSumAdjustment is right
    assert "cmap" not in subset and subset["post"].formatType == 3.0
    assert subset["maxp"].numGlyphs == 1 + max(original.getGlyphID(name) for name in wanted
                                               for name in [name, *_components(original, name)])
    order = original.getGlyphOrder()
    for name in wanted:
        glyph_id = original.getGlyphID(name)
        for table in ("glyf", "hmtx"):
            ours = subset[table][subset.getGlyphName(glyph_id)]
            theirs = original[table][order[glyph_id]]
            if table == "glyf":
                assert ours.getCoordinates(subset["glyf"]) == theirs.getCoordinates(original["glyf"]), name
            else:
                assert ours == theirs, name
    # Glyphs not asked for are empty.
    unused = next(g for g in range(1, subset["maxp"].numGlyphs) if order[g] not in wanted
                  and original["glyf"][order[g]].numberOfContours > 0
                  and all(order[g] not in _components(original, n) for n in wanted))
    assert subset["glyf"][subset.getGlyphName(unused)].numberOfContours == 0


def _components(font, name) -> list[str]:
    glyph = font["glyf"][name]
    return glyph.getComponentNames(font["glyf"]) if glyph.isComposite() else []


def test_components_of_reads_every_argument_and_transform_form():
    def component(flags: int, glyph: int, args: bytes, transform: bytes = b"") -> bytes:
        return flags.to_bytes(2, "big") + glyph.to_bytes(2, "big") + args + transform

    header = (-1).to_bytes(2, "big", signed=True) + bytes(8)
    outline = header + b"".join([
        component(0x0001 | 0x0008 | 0x0020, 7, bytes(4), bytes(2)),   # word arguments, one scale
        component(0x0040 | 0x0020, 8, bytes(2), bytes(4)),            # byte arguments, x and y scales
        component(0x0080, 9, bytes(2), bytes(8)),                     # a 2x2 matrix, the last one
    ])
    assert components_of(outline) == (7, 8, 9)
    assert components_of(b"") == () and components_of((1).to_bytes(2, "big") + bytes(20)) == ()


# --- what the page shows ---------------------------------------------------------------------------

def test_an_arabic_name_with_a_cyrillic_course_title_reads_back_with_its_qr_code(make, client, tmp_path):
    learner = make.user(full_name="فاطمة الزهراء", language="en")
    certificate = certs.certificate(learner, title="Безопасность детей в сети")
    data = client.get(f"/certificates/{certificate.code}.pdf").data
    text = _text(data)
    for words in ("فاطمة", "الزهراء", "Безопасность детей в сети", "Certificate of completion",
                  "This certifies that", certificate.code):
        assert words in text
    assert _qr_in(data, tmp_path) == f"http://127.0.0.1:5000/verify/{certificate.code}"


def test_the_text_comes_in_reading_order(app_context):
    lines = _text(certificate_pdf.render_pdf(_face(holder_name="Олена Коваленко"))).splitlines()
    assert lines[:6] == ["CHILD PROTECTION LEARNING", "Certificate of completion", "This certifies that",
                         "Олена Коваленко", "has successfully completed the course", "Protecting children online"]
    assert lines[6:] == ["Verify this certificate at", "http://127.0.0.1:5000/verify/7KQ4-M2XD-9PRT-V",
                         "Issued on January 31, 2024", "Valid until January 31, 2026",
                         "Certificate code: 7KQ4-M2XD-9PRT-V"]


def test_each_language_gets_its_own_labels_whatever_was_rendered_before(app_context):
    english = _text(certificate_pdf.render_pdf(_face()))
    spanish = _text(certificate_pdf.render_pdf(_face(language="es")))
    arabic = _text(certificate_pdf.render_pdf(_face(language="ar", holder_name="فاطمة الزهراء")))
    english_again = _text(certificate_pdf.render_pdf(_face(holder_name="Kwame Mensah")))
    assert "This certifies that" in english and "This certifies that" in english_again
    assert "Kwame Mensah" in english_again and "Zoë Ñúñez" not in english_again
    assert "Se certifica que" in spanish and "This certifies that" not in spanish
    assert "نشهد" in arabic and "الزهراء" in arabic


@pytest.mark.parametrize(("language", "band"), [
    ("es", "FORMACIÓN EN PROTECCIÓN INFANTIL"), ("fr", "FORMATION À LA PROTECTION DE L'ENFANCE"),
    ("pt", "CAPACITAÇÃO EM PROTEÇÃO INFANTIL"),
])
def test_the_platforms_name_in_the_band_is_in_the_certificates_language(app_context, language, band):
    lines = _text(certificate_pdf.render_pdf(_face(language=language))).splitlines()
    assert lines[0] == band
    assert not any("Child Protection" in line or "CHILD PROTECTION" in line for line in lines)


def test_arabic_certificates_name_the_platform_in_arabic(app_context):
    text = _text(certificate_pdf.render_pdf(_face(language="ar", holder_name="فاطمة الزهراء")))
    assert "CHILD PROTECTION" not in text and "Child Protection" not in text


def test_a_configured_issuer_keeps_its_own_name(app_context):
    lines = _text(certificate_pdf.render_pdf(_face(language="es", issuer_name="Fundación Niñez Segura"))).splitlines()
    assert lines[0] == "FUNDACIÓN NIÑEZ SEGURA"


def _pixels(data: bytes, tmp_path, name: str) -> bytes:
    if not shutil.which("pdftoppm"):
        pytest.fail("Rendering a PDF needs pdftoppm (poppler-utils).")
    (tmp_path / f"{name}.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "60", "-singlefile", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)],
                   check=True)
    return (tmp_path / f"{name}.ppm").read_bytes()


@pytest.mark.parametrize("fields", [
    {"holder_name": "Nguyễn Thị Lan"},
    {"holder_name": "Олена Коваленко", "course_title": "حماية الطفل"},  # Arabic only in the cached part
    {"holder_name": "فاطمة الزهراء", "course_title": "Безопасность детей в сети", "language": "ar"},
])
def test_the_cached_background_looks_exactly_as_drawing_it_afresh(app_context, monkeypatch, tmp_path, fields):
    face = _face(**fields)
    cached = certificate_pdf.render_pdf(face)
    monkeypatch.setattr(certificate_pdf, "_copied_background", lambda pdf, background: None)
    drawn = certificate_pdf.render_pdf(face)
    assert _text(drawn) == _text(cached)
    assert _pixels(drawn, tmp_path, "drawn") == _pixels(cached, tmp_path, "cached")
    fonts = 4 if "course_title" in fields else 2
    assert drawn.count(b"/FontFile2") == cached.count(b"/FontFile2") == fonts


def test_a_name_longer_than_a_line_wraps_onto_the_next(app_context):
    name = "Maria da Conceição Albuquerque Vasconcelos de Oliveira Figueiredo Nascimento " * 2
    text = _text(certificate_pdf.render_pdf(_face(holder_name=name.strip())))
    assert "Figueiredo" in text and "Nascimento" in text
    assert len([line for line in text.splitlines() if "Conceição" in line or "Nascimento" in line]) >= 2


def test_qr_codes_with_the_fixed_mask_decode_for_many_codes(tmp_path):
    if not shutil.which("zbarimg"):
        pytest.fail("Reading QR codes needs zbarimg (zbar-tools).")
    urls = [f"https://learning.example.org/verify/{new_code()}" for _ in range(12)]
    for index, url in enumerate(urls):
        qr = segno.make(url, error="m", micro=False, mask=certificate_pdf.QR_MASK)
        assert qr.mask == certificate_pdf.QR_MASK
        qr.save(str(tmp_path / f"{index}.png"), scale=4)
    result = subprocess.run(["zbarimg", "--quiet", "--raw", *(str(tmp_path / f"{i}.png") for i in range(len(urls)))],
                            capture_output=True, text=True, check=True)
    assert sorted(result.stdout.split()) == sorted(urls)


def _qr_path_module_by_module(matrix, x, y, module, border, k, page_h) -> str:
    """The QR code's path as first written: each row walked module by module, each number formatted in place."""
    runs = []
    for r, row in enumerate(matrix):
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
    return "\n".join(runs) + " f"


@pytest.mark.parametrize("base", ["https://learning.example.org", "http://127.0.0.1:5000",
                                  "https://a-much-longer-host-name.example.co.uk:8443/learning"])
def test_the_qr_path_is_the_one_a_module_by_module_walk_writes(base):
    for x in (certificate_pdf._qr_x(False), certificate_pdf._qr_x(True)):
        for _ in range(40):
            qr = segno.make(f"{base}/verify/{new_code()}", error="m", micro=False, mask=certificate_pdf.QR_MASK)
            module = certificate_pdf.QR_SIZE / (qr.symbol_size(border=0)[0] + 4)
            args = (qr.matrix, x, certificate_pdf.QR_Y, module, 2, 72 / 25.4, certificate_pdf.PAGE_H)
            assert certificate_pdf._qr_path(*args) == _qr_path_module_by_module(*args)


# --- issuing -------------------------------------------------------------------------------------

def test_the_row_is_written_with_its_pdf_path_and_the_pdf_is_stored(make):
    certificate = certs.certificate()
    key = f"certificates/{certificate.code}.pdf"
    assert certificate.pdf_path == key
    assert "Certificate of completion" in _text(get_storage().get(key))


def test_a_pdf_that_cannot_be_rendered_leaves_no_certificate(make, monkeypatch):
    enrolment = certs.completion()

    def broken(face):
        raise RuntimeError("renderer down")

    monkeypatch.setattr(services, "render_pdf", broken)
    with pytest.raises(RuntimeError):
        services.issue_certificate(enrolment.id)
    db.session.rollback()
    assert db.session.scalar(select(Certificate).where(Certificate.enrolment_id == enrolment.id)) is None
    monkeypatch.undo()
    certificate = services.issue_certificate(enrolment.id)
    assert get_storage().exists(certificate.pdf_path)


def test_a_certificate_issued_before_its_pdf_was_stored_gets_it_on_the_next_ask(make):
    certificate = certs.certificate()
    certificate.pdf_path = None
    db.session.commit()
    again = services.issue_certificate(certificate.enrolment_id)
    assert again.id == certificate.id and again.pdf_path == f"certificates/{certificate.code}.pdf"
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).pdf_path == again.pdf_path


def test_the_title_falls_back_to_the_courses_language_then_to_any_translation(make):
    learner = make.user(language="pt-BR")
    course = make.course(title="Child safeguarding", language="en",
                         translations={"pt": {"title": "Proteção infantil", "summary": "Resumo"}})
    certificate = certs.certificate(learner, course)
    assert (certificate.course_title, certificate.course_language) == ("Proteção infantil", "pt")
    other = certs.certificate(make.user(language="fr"), course)
    assert (other.course_title, other.course_language) == ("Child safeguarding", "en")


def test_the_fpdf2_internals_the_font_embedding_replaces_are_still_there():
    """The guard of the ``fpdf2<2.9`` pin (pyproject.toml): every private piece of fpdf2 that
    ``learning/pdf/fonts.py`` overrides or copies, and a document that embeds the subset ``fontprogram``
    cut (a Type0 font whose CIDFontType2 maps CIDs to the font's own glyph numbers)."""
    from fpdf import FPDF
    from fpdf.fonts import SubsetMap, TTFFont
    from fpdf.output import CIDSystemInfo, OutputProducer, PDFFont, PDFFontStream

    from learning.pdf import fonts as pdf_fonts

    assert callable(OutputProducer._add_fonts) and callable(OutputProducer._add_pdf_obj)
    assert {"ttffile", "subset", "desc", "i", "fontkey", "missing_glyphs", "biggest_size_pt"} <= set(TTFFont.__slots__)
    assert callable(SubsetMap.pick.cache_clear) and callable(SubsetMap.get_glyph.cache_clear)
    assert all(isinstance(cls, type) for cls in (CIDSystemInfo, PDFFont, PDFFontStream))
    pdf = FPDF()
    pdf.add_page()
    pdf_fonts.add_font(pdf, "Noto", "", "NotoSans-Regular.ttf")
    pdf.set_font("Noto", size=12)
    pdf.cell(text="Zoë")
    data = bytes(pdf.output(output_producer_class=pdf_fonts.SubsetOutput))
    reader = PdfReader(io.BytesIO(data))
    font = reader.pages[0]["/Resources"]["/Font"]
    descendant = next(iter(font.values())).get_object()["/DescendantFonts"][0].get_object()
    assert descendant["/Subtype"] == "/CIDFontType2" and "/CIDToGIDMap" in descendant
    assert "Zoë" in reader.pages[0].extract_text()
