"""Argon2 password hashing and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

MIN_LENGTH = 10
# The most common passwords that still pass a length rule; a full list is issue 8's.
COMMON_PASSWORDS = frozenset(
    """
    password123 1234567890 123456789a qwertyuiop password1234 iloveyou123 passw0rd123
    1q2w3e4r5t qwerty12345 abcdefghij 0123456789 1111111111 aaaaaaaaaa letmein123
    welcome123 administrator changeme123 football123 monkey12345 dragon12345
    """.split()
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, email: str = "") -> list[str]:
    """Reasons a password is refused; empty when it is acceptable."""
    problems = []
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
        return problems
    if len(password) > 256:
        problems.append("Use at most 256 characters.")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("This password is too common.")
    if email and password.lower() == email.lower():
        problems.append("The password must not be your e-mail address.")
    return problems
