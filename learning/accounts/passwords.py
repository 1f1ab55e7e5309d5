"""Argon2 password hashing and the password policy.

The policy follows NIST SP 800-63B: a minimum length, no composition rules,
and a check against common and guessable passwords (zxcvbn's dictionaries of
leaked passwords, names and keyboard patterns).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, current_app
from flask_babel import gettext as _
from zxcvbn import zxcvbn

from learning.i18n import current_language


def make_hasher(profile: str = "") -> PasswordHasher:
    """Argon2id with the library's recommended cost; the test suite asks for a cheap profile.

    ``ARGON2_PROFILE = "fast"`` (``LEARNING_ARGON2_PROFILE=fast``, set by tests/conftest.py only)
    keeps Argon2id but with minimal cost, so that hundreds of test accounts do not take minutes to hash.
    """
    if profile == "fast":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def init_app(app: Flask) -> None:
    """The app's hasher, built once from its configuration (``ARGON2_PROFILE``)."""
    app.extensions["password_hasher"] = make_hasher(app.config.get("ARGON2_PROFILE", ""))


def _hasher() -> PasswordHasher:
    return current_app.extensions["password_hasher"]


MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_STRENGTH = 2  # zxcvbn score 0-4: 2 means "somewhat guessable" (about 10^8 guesses) or better


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def password_problems(password: str, email: str = "", name: str = "") -> list[str]:
    """Reasons a password is refused; empty when it is acceptable."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return [_("Use at least %(n)d characters.", n=MIN_LENGTH)]
    if len(password) > MAX_LENGTH:
        return [_("Use at most %(n)d characters.", n=MAX_LENGTH)]
    folded = password.casefold()
    local_part = email.split("@")[0].casefold()
    squashed_name = "".join(name.split()).casefold()
    if (len(local_part) >= 4 and local_part in folded) or (len(squashed_name) >= 4 and squashed_name in folded):
        return [_("The password must not contain your name or e-mail address.")]
    personal = [part.casefold() for part in (email, local_part, name, *name.split()) if part]
    # zxcvbn's cost grows with length; the first 64 characters decide it anyway.
    result = zxcvbn(password[:64], user_inputs=personal)
    if result["score"] < MIN_STRENGTH:
        warning = result["feedback"].get("warning")
        # zxcvbn's warning is English only: other languages get the sentence without it.
        if warning and current_language() == "en":
            return [_("This password is too easy to guess: %(warning)s.", warning=warning)]
        return [_("This password is too easy to guess.")]
    return []
