"""One place that turns untrusted text into numbers, dates, times and JSON.

Every query string, form field and JSON body reaches the services through these functions, so
the whole class of "bad input answers 500" is closed here rather than string by string:

- Numbers are ASCII digits only (``int("²")`` and ``"٣".isdigit()`` surprise Python code) and
  bounded, so they always fit the database's INTEGER column and an OFFSET.
- Dates and times are bounded to years 1900 to 2999 (every date arithmetic the platform does, a
  day or a few years on either side, stays inside ``datetime``'s range) and a time zone offset
  that would carry a time past year 9999 is an invalid value, not an ``OverflowError``.
- JSON bodies are parsed with a depth limit (the C decoder recurses: 1,000 nested arrays raise
  ``RecursionError``) and refuse lone surrogates (``"\\ud800"``), which no database or e-mail
  can encode; both are a 400 with the API's error body.

Each parser raises ``InvalidInput`` (a ``ValueError``) so that callers keep one ``except``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

MAX_INT = 2**31 - 1  # the largest id an INTEGER column holds
MAX_PAGE = 1_000_000  # page * per_page (at most 500) must stay a number the database takes as an OFFSET
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
MAX_JSON_DEPTH = 64
# For the OpenAPI document: a date or date-time whose year is within MIN_DATE..MAX_DATE.
DATABASE_YEARS_PATTERN = r"^(19[0-9]{2}|2[0-9]{3})-"

_DIGITS = re.compile(r"[0-9]{1,18}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidInput(ValueError):
    """A value from outside is not what its field takes; the message says what would be."""


def parse_int(raw: str | int | None, *, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """An integer written in ASCII digits (an optional leading ``-`` where ``minimum`` is negative),
    between ``minimum`` and ``maximum``."""
    if isinstance(raw, bool):
        raise InvalidInput("Not a number.")
    if isinstance(raw, int):
        value = raw
    else:
        text = (raw or "").strip()
        negative = text.startswith("-") and minimum < 0
        digits = text[1:] if negative else text
        if not _DIGITS.fullmatch(digits):
            raise InvalidInput("Use a whole number written with the digits 0-9.")
        value = -int(digits) if negative else int(digits)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"Use a number from {minimum} to {maximum}.")
    return value


def query_int(args, name: str, default: int, *, minimum: int = 1, maximum: int = MAX_INT) -> int:
    """A number from a page's query string; what is missing or unreadable is ``default`` and what
    is out of range is the nearest bound (a page link followed too far is the last page, not an
    error page)."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse_int(raw, minimum=-(10**18), maximum=10**18)
    except InvalidInput:
        return default
    return min(max(value, minimum), maximum)


def page_number(args, name: str = "page") -> int:
    """The page asked for by an HTML list: 1 when absent or unreadable, at most ``MAX_PAGE``."""
    return query_int(args, name, 1, minimum=1, maximum=MAX_PAGE)


def parse_id(raw: str | int | None) -> int:
    """A row id: a positive integer the database can look up."""
    return parse_int(raw, minimum=1, maximum=MAX_INT)


def is_id(raw: str | None) -> bool:
    """Whether ``raw`` reads as a row id (``parse_id`` would accept it)."""
    try:
        parse_id(raw)
    except InvalidInput:
        return False
    return True


def parse_date(raw: str | date | None) -> date:
    """A calendar date ``YYYY-MM-DD`` between ``MIN_DATE`` and ``MAX_DATE``."""
    if isinstance(raw, datetime):
        raw = raw.date()
    if isinstance(raw, date):
        value = raw
    else:
        text = (raw or "").strip()
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise InvalidInput("Use a date such as 2025-03-31.")
        try:
            value = date.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInput("Use a date such as 2025-03-31.") from exc
    check_date(value)
    return value


def check_date(value: date) -> date:
    """``value`` itself, if it is within the years the platform handles."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise InvalidInput(f"Use a date from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}.")
    return value


def parse_datetime(raw: str | datetime | None, *, require_offset: bool = True) -> datetime:
    """An ISO 8601 date and time with an offset (or naive, read as UTC, when ``require_offset`` is
    off), returned aware in UTC and within the platform's years. An offset that would carry the
    time past the calendar's end is an invalid value, not an overflow."""
    if isinstance(raw, datetime):
        value = raw
    else:
        text = (raw or "").strip()
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.,+\-Zz]+", text):
            raise InvalidInput("Use a date and time such as 2025-03-31T09:00:00-05:00.")
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput("Use a date and time such as 2025-03-31T09:00:00-05:00.") from exc
    if value.tzinfo is None or value.utcoffset() is None:
        if require_offset:
            raise InvalidInput("Use a date and time with an offset, such as 2025-03-31T09:00:00-05:00.")
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(f"Use a time from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}.") from exc
    check_date(value.date())
    return value


# --- JSON --------------------------------------------------------------------------------------------

def loads_json(data: str | bytes) -> object:
    """``json.loads`` for bodies from outside: at most ``MAX_JSON_DEPTH`` levels of arrays and
    objects, and no lone surrogate in any key or string. Raises ``InvalidInput`` (a ``ValueError``,
    which Flask and webargs answer as a malformed body)."""
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise InvalidInput(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput("The body is not UTF-8.") from exc
    check_json(value)
    return value


def check_json(value: object) -> None:
    """Walk a decoded JSON value without recursion, refusing what ``loads_json`` refuses."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise InvalidInput("Text in the body contains a lone surrogate (\\ud800-\\udfff), which is not a character.")
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InvalidInput(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((inner, depth + 1) for inner in item.values())
            else:
                stack.extend((inner, depth + 1) for inner in item)
