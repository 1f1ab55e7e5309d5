"""One rule for serving a language tag: interface languages, e-mails, PDFs, credentials and course titles."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from learning.i18n import interface_language, is_rtl, negotiate_language, primary_language


@pytest.mark.parametrize(("wanted", "available", "expected"), [
    ("pt", ["en", "pt"], "pt"),
    ("pt-BR", ["en", "pt"], "pt"),          # served by its primary language
    ("pt", ["en", "pt-BR"], "pt-BR"),       # or by a regional form of it
    ("pt-BR", ["en", "pt-PT"], "pt-PT"),
    ("PT-br", ["en", "pt-BR"], "pt-BR"),    # without regard to case; the available spelling
    ("de", ["en", "pt"], None),
    ("", ["en"], None),
    (None, ["en"], None),
])
def test_negotiate_language(wanted, available, expected):
    assert negotiate_language(wanted, available) == expected
    assert negotiate_language(wanted, available, "fallback") == (expected or "fallback")


def test_primary_language_and_direction():
    assert primary_language("ar-EG") == "ar" and primary_language(None) == ""
    assert is_rtl("ar-EG") and is_rtl("he") and not is_rtl("en") and not is_rtl("fr-CA")


def test_interface_language_is_one_of_the_languages_the_platform_speaks(app):
    with app.app_context():
        assert [interface_language(tag) for tag in ("es-419", "ar", "de", None, "PT-BR")] == ["es", "ar", "en", "en", "pt"]


def test_a_certificate_prints_the_title_a_learner_reads():
    """The certificate's title and the catalogue's follow the same rule (a learner reading ``pt``
    is shown the ``pt-BR`` title, and gets it on the certificate too)."""
    from learning.catalogue.texts import course_text
    from learning.certificates.services import _title_among

    translations = [("en", "Safeguarding"), ("pt-BR", "Proteção")]
    course = SimpleNamespace(language="en", slug="safeguarding",
                             translations=[SimpleNamespace(language=lang, title=title, summary="")
                                           for lang, title in translations])
    facts = SimpleNamespace(slug="safeguarding", course_language="en")
    for wanted in ("pt", "pt-BR", "en", "de", None):
        shown = course_text(course, wanted)
        assert _title_among(translations, facts, wanted) == (shown.title, shown.language)
    assert _title_among([], facts, "pt") == ("safeguarding", "en")
