"""Certificate codes: unguessable, easy to read aloud and to type, with a check character.

A code is 12 random symbols of Crockford's base32 (60 bits from ``secrets``)
and one check symbol, shown in groups: ``7KQ4-M2XD-9PRT-V``. The alphabet has
no I, L, O or U, so what a person reads is what they type; when typing,
case, spaces, dashes and the look-alikes (O for 0, I and L for 1) are
forgiven. The check symbol (Luhn mod 32) catches every single mistyped
symbol and every swap of two neighbouring symbols
(but that of 0 and Z, which Luhn mod N cannot tell apart).
"""

from __future__ import annotations

import secrets

from flask_babel import gettext as _

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS = 12
GROUP = 4
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class InvalidCode(ValueError):
    """The text typed is not a well-formed certificate code."""


def check_symbol(symbols: str) -> str:
    """The Luhn mod 32 check symbol of ``symbols`` (all from ``ALPHABET``)."""
    total = 0
    factor = 2
    for symbol in reversed(symbols):
        addend = factor * _VALUE[symbol]
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def format_code(symbols: str) -> str:
    """Group 13 symbols for reading: ``XXXX-XXXX-XXXX-C``."""
    return "-".join(symbols[i:i + GROUP] for i in range(0, len(symbols), GROUP))


def new_code() -> str:
    """A fresh random code, formatted, with its check symbol."""
    body = "".join(secrets.choice(ALPHABET) for _position in range(RANDOM_SYMBOLS))
    return format_code(body + check_symbol(body))


def normalise_code(text: str) -> str:
    """The canonical form of a typed code, or ``InvalidCode`` saying what is wrong."""
    cleaned = "".join(ch for ch in (text or "").upper() if ch not in " -_.\t").translate(_LOOK_ALIKES)
    if len(cleaned) != RANDOM_SYMBOLS + 1:
        raise InvalidCode(_("A certificate code has %(count)d characters.", count=RANDOM_SYMBOLS + 1))
    if any(ch not in _VALUE for ch in cleaned):
        raise InvalidCode(_("A certificate code uses only digits and the letters A-Z without I, L, O and U."))
    if check_symbol(cleaned[:-1]) != cleaned[-1]:
        raise InvalidCode(_("This code has a typo: its last character does not match the others."))
    return format_code(cleaned)
