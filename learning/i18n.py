"""Languages, countries, sectors and time zones: validated codes, translated names.

Countries are ISO 3166-1 alpha-2 codes (pycountry), languages BCP 47 tags
(Babel parses them), names are shown in the reader's language (Babel's CLDR data).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from zoneinfo import available_timezones

import pycountry
from babel import Locale, UnknownLocaleError
from flask import current_app, has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

UI_LANGUAGES = ("en", "es", "fr", "pt", "ar")
RTL_LANGUAGES = {"ar", "fa", "he", "ur"}

SECTORS: dict[str, object] = {
    "law_enforcement": _l("Law enforcement"),
    "justice": _l("Justice"),
    "education": _l("Education"),
    "health": _l("Health"),
    "social_services": _l("Social services"),
    "financial": _l("Financial services"),
    "technology": _l("Technology"),
    "government": _l("Government"),
    "civil_society": _l("Civil society"),
    "academia": _l("Academia"),
    "other": _l("Other"),
}


def select_locale() -> str:
    """The user's own setting first, then the browser's preference, then English."""
    if not has_request_context():
        return "en"  # tasks choose a language explicitly with force_locale
    if current_user and getattr(current_user, "is_authenticated", False):
        lang = (current_user.language or "").split("-")[0]
        if lang in UI_LANGUAGES:
            return lang
    override = request.args.get("lang")
    if override in UI_LANGUAGES:
        return override
    return request.accept_languages.best_match(UI_LANGUAGES) or "en"


def select_timezone() -> str:
    if not has_request_context():
        return "UTC"
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.timezone or "UTC"
    return "UTC"


def current_language() -> str:
    locale = get_locale()
    return str(locale.language) if locale else "en"


def is_rtl() -> bool:
    return current_language() in RTL_LANGUAGES


def is_country_code(code: str | None) -> bool:
    return bool(code) and len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


@lru_cache(maxsize=64)
def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def country_name(code: str | None, lang: str | None = None) -> str:
    """The country's name in ``lang`` (default: the reader's language)."""
    if not code:
        return ""
    locale = _locale(lang or current_language())
    return locale.territories.get(code.upper()) or code.upper()


def country_choices(lang: str | None = None) -> list[tuple[str, str]]:
    """Every ISO country as (code, translated name), sorted by name in that language."""
    lang = lang or current_language()
    items = [(c.alpha_2, country_name(c.alpha_2, lang)) for c in pycountry.countries]
    return sorted(items, key=lambda item: _sort_key(item[1]))


def _sort_key(text: str) -> str:
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch)
    )


@lru_cache(maxsize=1)
def _country_name_index() -> dict[str, str]:
    """Country names in English, Spanish, French and Portuguese, folded, to codes."""
    index: dict[str, str] = {}
    for lang in ("en", "es", "fr", "pt"):
        loc = Locale.parse(lang)
        for country in pycountry.countries:
            name = loc.territories.get(country.alpha_2)
            if name:
                index[_sort_key(name)] = country.alpha_2
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                index.setdefault(_sort_key(value), country.alpha_2)
        index.setdefault(_sort_key(country.alpha_3), country.alpha_2)
    return index


def parse_country(value: str | None) -> str | None:
    """A country code from a code or a name (English, Spanish, French, Portuguese), else None."""
    if not value:
        return None
    value = value.strip()
    if is_country_code(value):
        return value.upper()
    return _country_name_index().get(_sort_key(value))


def is_sector(code: str | None) -> bool:
    return code in SECTORS


def sector_label(code: str | None) -> str:
    return str(SECTORS.get(code or "", code or ""))


def sector_choices() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in SECTORS.items()]


def normalise_language(tag: str | None) -> str | None:
    """A valid BCP 47 tag in canonical form (``pt-BR``), or None if it is not one."""
    if not tag or not isinstance(tag, str) or len(tag) > 35:
        return None
    try:
        locale = Locale.parse(tag.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    parts = [locale.language]
    if locale.script:
        parts.append(locale.script)
    if locale.territory:
        parts.append(locale.territory)
    return "-".join(parts)


def language_name(tag: str | None, lang: str | None = None) -> str:
    if not tag:
        return ""
    try:
        return Locale.parse(tag, sep="-").get_display_name(_locale(lang or current_language())) or tag
    except (UnknownLocaleError, ValueError):
        return tag


def language_choices() -> list[tuple[str, str]]:
    return [(code, language_name(code, code)) for code in UI_LANGUAGES]


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str | None) -> bool:
    return bool(name) and name in timezones()


def format_moment(value) -> str:
    """A date and time as people read them, without seconds ("3 Mar 2025, 09:30"), in the page's
    locale and the reader's time zone: the locale's medium date joined to its short time."""
    from babel.dates import get_datetime_format
    from flask_babel import format_date, format_time

    if value is None:
        return ""
    pattern = get_datetime_format("medium", locale=get_locale())
    return pattern.replace("{1}", format_date(value, "medium")).replace("{0}", format_time(value, "short"))


def register_template_helpers(app) -> None:
    app.jinja_env.filters["moment"] = format_moment
    app.jinja_env.globals.update(
        country_name=country_name,
        sector_label=sector_label,
        language_name=language_name,
        is_rtl=is_rtl,
        current_language=current_language,
        ui_languages=UI_LANGUAGES,
        sector_choices=sector_choices,
    )
    app.jinja_env.globals["config_languages"] = lambda: current_app.config["LANGUAGES"]
