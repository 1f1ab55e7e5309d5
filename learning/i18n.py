"""Languages, countries, sectors and time zones: validated codes, translated names.

Countries are ISO 3166-1 alpha-2 codes (pycountry), languages BCP 47 tags
(Babel parses them), names are shown in the reader's language (Babel's CLDR data).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import available_timezones

import pycountry
from babel import Locale, UnknownLocaleError, negotiate_locale
from flask import current_app, has_request_context, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

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


# The visitor's choice, kept across pages (and after signing out) by the browser.
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


def requested_language() -> str | None:
    """The interface language asked for in the address (``?lang=es``), if it is one we speak."""
    if not request.query_string:  # most requests (the API's all): no arguments to parse
        return None
    code = request.args.get("lang")
    return code if code in UI_LANGUAGES else None


def profile_language() -> str | None:
    """The signed-in person's language (``pt-BR`` reads as ``pt``), if the interface speaks it."""
    if current_user and getattr(current_user, "is_authenticated", False):
        lang = negotiate_language(current_user.language, UI_LANGUAGES)
        if lang is not None:
            return lang
    return None


def browser_language() -> str:
    """The best of the browser's Accept-Language for our languages, by Babel's negotiation."""
    preferred = [tag for tag, _quality in request.accept_languages]
    return negotiate_locale(preferred, UI_LANGUAGES, sep="-") or "en"


def select_locale() -> str:
    """``?lang=`` first, then the person's profile, then the visitor's cookie, then the browser."""
    if not has_request_context():
        return "en"  # tasks choose a language explicitly with force_locale
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    return (requested_language() or profile_language()
            or (cookie if cookie in UI_LANGUAGES else None) or browser_language())


def remember_language(response, code: str):
    """Keep ``code`` in the visitor's cookie, so the next page (and the next visit) uses it."""
    response.set_cookie(
        LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_MAX_AGE, samesite="Lax", httponly=True,
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return response


def address_without_language() -> str:
    """This page's path and query without ``lang``: where the switcher sends people back."""
    from urllib.parse import urlencode

    path = request.script_root + request.path
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{path}?{urlencode(args)}" if args else path


def select_timezone() -> str:
    if not has_request_context():
        return "UTC"
    if current_user and getattr(current_user, "is_authenticated", False):
        return current_user.timezone or "UTC"
    return "UTC"


def current_language() -> str:
    locale = get_locale()
    return str(locale.language) if locale else "en"


def primary_language(tag: str | None) -> str:
    """The primary language subtag of a BCP 47 tag, in lower case: ``pt-BR`` gives ``pt``."""
    return (tag or "").split("-")[0].lower()


def negotiate_language(wanted: str | None, available: Iterable[str], fallback: str | None = None) -> str | None:
    """The one rule for serving a language tag from those ``available`` (interface languages, a
    course's translations): the tag itself, else its primary language (Babel's ``negotiate_locale``:
    ``pt-BR`` is served by ``pt``), else the first available tag of the same primary language (``pt``
    by ``pt-BR``), else ``fallback``. Tags compare without regard to case; the available spelling is
    returned."""
    available = [tag for tag in available if tag]
    if wanted:
        found = negotiate_locale([wanted], available, sep="-", aliases=None)
        if found is not None:
            return next(tag for tag in available if tag.lower() == found.lower())
        base = primary_language(wanted)
        for tag in available:
            if primary_language(tag) == base:
                return tag
    return fallback


def interface_language(tag: str | None) -> str:
    """The interface language (``LANGUAGES``) that serves ``tag``: e-mails, PDFs, credentials."""
    return negotiate_language(tag, current_app.config.get("LANGUAGES", ["en"]), "en")


def is_rtl(language: str | None = None) -> bool:
    """Whether ``language`` (default: the reader's) is written right to left."""
    return primary_language(language or current_language()) in RTL_LANGUAGES


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


def isolate(text: str | None) -> str:
    """Plain text (a flash message, an e-mail) holding a name or title from people or courses:
    Unicode's first-strong isolate, the plain-text <bdi>, so "Ana." stays "Ana." in Arabic."""
    return f"\u2068{text or ''}\u2069"


def percent(value: float | int | None) -> Markup:
    """A percentage (0-100) in the reader's format ("80 %" in French), isolated so that in a
    right-to-left page the sign stays beside its number."""
    from flask_babel import format_percent

    return Markup("<bdi>%s</bdi>") % format_percent((value or 0) / 100)


def number(value: int | float | None) -> Markup:
    """A number in the reader's format (1,234 / 1.234 / 1 234), isolated from the text around it."""
    from flask_babel import format_number

    return Markup("<bdi>%s</bdi>") % format_number(value or 0)


def localised_ngettext(singular: str, plural: str, n):
    """The plural form for ``n`` with ``n`` written in the reader's number format
    ("1.000.000 de problemas", "1 000 000 de problèmes"), for templates."""
    from flask_babel import format_number, get_translations

    text = get_translations().ungettext(singular, plural, n)
    if isinstance(n, int) and not isinstance(n, bool):
        text = text.replace("%(num)d", format_number(n).replace("%", "%%"))
    return text


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
        address_without_language=address_without_language,
        percent=percent,
        number=number,
    )
    app.jinja_env.globals["config_languages"] = lambda: current_app.config["LANGUAGES"]
    from flask_babel import get_translations

    # As Flask-Babel installs them, except that plural messages write their number in the
    # reader's format.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: get_translations().ugettext(s),
        ngettext=localised_ngettext,
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
    )


def register_language_choice(app) -> None:
    """``?lang=`` is honoured and remembered: in the cookie, and in a signed-in person's profile."""

    @app.before_request
    def save_requested_language():
        code = requested_language()
        if not code or request.path.startswith("/api/"):
            return  # and the signed-in person is not even loaded: the view decides when
        if getattr(current_user, "is_authenticated", False) and profile_language() != code:
            from learning.accounts.services import choose_language

            choose_language(current_user, code)

    @app.after_request
    def keep_requested_language(response):
        code = requested_language()
        if code and request.cookies.get(LANGUAGE_COOKIE) != code:
            remember_language(response, code)
        return response
