"""Slowing down guessing without locking anyone out.

A lock after N failures is a weapon: anyone who knows an admin's address can keep them out. So
nothing here locks. Failed sign-ins are counted for an hour, per account and per address; past a
few free failures each new one must wait longer than the last (5 s, 10 s, 20 s ... up to 15
minutes), and an attempt made while the wait runs is refused *without* checking the password, so
an attacker gets a handful of guesses an hour instead of thousands. The per-account wait does not
apply to a browser the owner has already signed in with (a signed "device cookie", OWASP's
defence against lockout abuse): a stranger's failures cannot keep the owner out of their own
browser. The owner is told by e-mail once per burst of failures.

Wrong two-factor codes slow down the same way, per account (``twofactor.py`` keeps that count on
the user, since only someone who knows the password gets that far).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import format_timedelta
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select

from learning.accounts.models import LoginFailure, User
from learning.errors import DomainError
from learning.extensions import db
from learning.models_base import utcnow

WINDOW = timedelta(hours=1)
DEFAULTS = {
    "SIGN_IN_FREE_FAILURES": 5,  # per account, in WINDOW, before any wait
    "SIGN_IN_FREE_FAILURES_PER_ADDRESS": 20,  # per client address, in WINDOW, whatever the accounts
    "SIGN_IN_FIRST_DELAY_SECONDS": 5,  # the first wait; each failure after it doubles it
    "SIGN_IN_MAX_DELAY_SECONDS": 900,  # the longest wait
}
DEVICE_COOKIE = "lp_device"
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (RFC 6265bis)


class TooManyAttempts(DomainError):
    """Too many failures lately: wait ``retry_after`` seconds. Nothing was checked or changed."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def delay_after(failures: int, free: int) -> timedelta:
    """How long to wait after ``failures`` failures when the first ``free`` cost nothing."""
    if failures < free:
        return timedelta(0)
    first, longest = setting("SIGN_IN_FIRST_DELAY_SECONDS"), setting("SIGN_IN_MAX_DELAY_SECONDS")
    exponent = min(failures - free, 30)  # 2**30 seconds is past any cap: no overflow
    return timedelta(seconds=min(first * 2**exponent, longest))


def wait_message(seconds: int) -> str:
    """"Try again in 40 seconds" in the reader's language, never rounded down."""
    if seconds >= 120:
        seconds = math.ceil(seconds / 60) * 60
    wait = format_timedelta(timedelta(seconds=seconds), granularity="second", threshold=2, add_direction=False)
    return _("Too many failed attempts. Try again in %(wait)s.", wait=wait)


def _remaining(failures: int, last: datetime | None, free: int, now: datetime) -> int:
    if last is None:
        return 0
    left = (last + delay_after(failures, free) - now).total_seconds()
    return math.ceil(left) if left > 0 else 0


def check_sign_in_allowed(email: str, ip: str | None, known_device: bool) -> None:
    """Refuse (``TooManyAttempts``) while a wait runs for this account or this address."""
    now = utcnow()
    since = now - WINDOW
    waits = []
    if not known_device:
        count, last = db.session.execute(
            select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.email == email, LoginFailure.at >= since)
        ).one()
        waits.append(_remaining(count, last, setting("SIGN_IN_FREE_FAILURES"), now))
    if ip:
        count, last = db.session.execute(
            select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.ip == ip, LoginFailure.at >= since)
        ).one()
        waits.append(_remaining(count, last, setting("SIGN_IN_FREE_FAILURES_PER_ADDRESS"), now))
    wait = max(waits, default=0)
    if wait:
        raise TooManyAttempts(wait_message(wait), wait)


def record_sign_in_failure(email: str, ip: str | None, user: User | None) -> None:
    """Count a failure; the first time an account's failures reach the free limit, tell its owner."""
    now = utcnow()
    db.session.add(LoginFailure(email=email, ip=ip, at=now))
    db.session.flush()
    if user is None or not user.is_active:
        return
    count = db.session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.email == email,
                                                             LoginFailure.at >= now - WINDOW)
    )
    already_told = user.sign_in_alert_at is not None and user.sign_in_alert_at >= now - WINDOW
    if count >= setting("SIGN_IN_FREE_FAILURES") and not already_told:
        from learning.mail.services import queue_email

        user.sign_in_alert_at = now
        link = f"{current_app.config['PUBLIC_BASE_URL']}/account/profile"
        queue_email(user.email, "sign_in_failures", user.language, user_name=user.full_name, count=count, link=link)


def forget_failures(email: str) -> None:
    """The owner got in (or proved the address by a reset link): their account's count starts again."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))


# --- the device cookie ------------------------------------------------------------------------------

def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="learning.device")


def device_cookie_for(user: User) -> str:
    """A signed note that this browser has signed in as ``user`` with the right password."""
    return _device_serializer().dumps({"u": user.id})


def device_knows(cookie: str | None, email: str) -> bool:
    """Whether ``cookie`` is a device cookie of the account with this address."""
    if not cookie:
        return False
    try:
        data = _device_serializer().loads(cookie, max_age=DEVICE_COOKIE_MAX_AGE)
    except BadSignature:
        return False
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) and isinstance(data.get("u"), int) else None
    return user is not None and user.email == email
