"""Every plural message reads right for 0, 1, 2, 5 and 1,000,000 in every language.

Spanish, French and Portuguese have a third form (CLDR's ``many``) for multiples of a
million ("1000000 de problemas"); it was once stored where the ordinary plural belongs, so
"2 de problemas" was shown. The compiled catalogues are used exactly as the application
uses them, and the form each number picks is checked against Babel's CLDR plural rules
and against the shape of the text.
"""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[2] / "learning" / "translations"
NUMBERS = (0, 1, 2, 5, 11, 100, 1_000_000)

# The catalogue index of each CLDR plural category, as the Plural-Forms headers order them.
CATEGORY_INDEX = {
    "es": {"one": 0, "many": 1, "other": 2},
    "fr": {"one": 0, "many": 1, "other": 2},
    "pt": {"one": 0, "many": 1, "other": 2},
    "ar": {"zero": 0, "one": 1, "two": 2, "few": 3, "many": 4, "other": 5},
}


def plural_messages(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return [m for m in read_po(fh, locale=lang) if m.id and m.pluralizable]


def translations(lang: str) -> gettext.GNUTranslations:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        return gettext.GNUTranslations(fh)


@pytest.mark.parametrize("lang", sorted(CATEGORY_INDEX))
def test_the_catalogue_picks_the_cldr_form_for_every_number(lang):
    compiled = translations(lang)
    locale = Locale.parse(lang)
    messages = plural_messages(lang)
    assert len(messages) >= 10
    wrong = []
    for message in messages:
        singular, plural = message.id
        for n in NUMBERS:
            expected = message.string[CATEGORY_INDEX[lang][locale.plural_form(n)]]
            if compiled.ngettext(singular, plural, n) != expected:
                wrong.append((singular, n))
    assert not wrong


@pytest.mark.parametrize("lang", ["es", "fr", "pt"])
def test_only_the_million_form_puts_de_before_the_noun(lang):
    compiled = translations(lang)
    wrong = []
    for message in plural_messages(lang):
        singular, plural = message.id
        for n in (0, 1, 2, 5, 1_000_000):
            text = compiled.ngettext(singular, plural, n) % {"num": n}
            has_de = f"{n} de " in text
            if has_de != (n == 1_000_000):
                wrong.append(text)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("lang", ["es", "fr", "pt"])
def test_two_and_five_read_alike(lang):
    compiled = translations(lang)
    for message in plural_messages(lang):
        singular, plural = message.id
        two = compiled.ngettext(singular, plural, 2) % {"num": 2}
        five = compiled.ngettext(singular, plural, 5) % {"num": 5}
        assert two.replace("2", "5") == five, (lang, singular)


def test_arabic_uses_words_for_one_and_two_and_digits_from_three():
    compiled = translations("ar")
    for message in plural_messages("ar"):
        singular, plural = message.id
        forms = {n: compiled.ngettext(singular, plural, n) % {"num": n} for n in (1, 2, 5, 11, 100, 1_000_000)}
        assert "1" not in forms[1] and "2" not in forms[2], singular
        for n in (5, 11, 100, 1_000_000):
            assert str(n) in forms[n], (singular, n)
        # 3-10 take the plural noun, 11-99 the singular: the few and many forms differ.
        assert message.string[3] != message.string[4], singular


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "1,000,000 problems"), ("es", "1.000.000 de problemas"), ("fr", "1\u202f000\u202f000 de problèmes"),
    ("pt", "1.000.000 de problemas"), ("es", "2 problemas"),
])
def test_pages_write_the_number_of_a_plural_message_in_the_readers_format(app, lang, expected):
    from flask import render_template_string

    count = 2 if expected.startswith("2 ") else 1_000_000
    with app.test_request_context(f"/?lang={lang}"):
        assert render_template_string('{{ ngettext("%(num)d problem", "%(num)d problems", n) }}', n=count) == expected
