"""Browser sessions the server can end: sign-in, sign-out, "sign out everywhere".

Flask's session is a signed cookie: signing out clears it in one browser, but a copy kept from
before (or a remember-me cookie) would still be valid. So each sign-in opens a ``UserSession``
row and the cookies carry only ``"<user id>:<random key>"``; Flask-Login's loader accepts a
cookie only while its row is open and unexpired. Ending the row ends that session everywhere
it was copied. (Bumping one counter per user, ``session_version``, could only end *all* of a
person's sessions at once: signing out on a shared computer would sign them out of their phone.)
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from flask_login import login_user, logout_user
from sqlalchemy import delete, or_, select, update
from werkzeug.local import LocalProxy

from learning.accounts.models import LoginFailure, User, UserSession
from learning.extensions import db
from learning.models_base import utcnow

DEFAULT_SESSION_HOURS = 12  # a session without "keep me signed in" ends after this long unused
DEFAULT_REMEMBER_DAYS = 30  # "keep me signed in" lasts this long from sign-in
TOUCH_EVERY = timedelta(minutes=5)  # last_seen_at is written at most this often


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _idle_lifetime() -> timedelta:
    return timedelta(hours=int(current_app.config.get("SESSION_LIFETIME_HOURS", DEFAULT_SESSION_HOURS)))


def remember_lifetime() -> timedelta:
    return timedelta(days=int(current_app.config.get("REMEMBER_ME_DAYS", DEFAULT_REMEMBER_DAYS)))


def sign_in(user: User, remember: bool = False) -> UserSession:
    """Open a server-side session for ``user`` and give this browser its cookie.

    ``user`` must be the User itself: Flask-Login keeps what it is given as the request's user,
    and a ``current_user`` proxy kept there resolves to itself forever (a crash of the process).
    """
    if isinstance(user, LocalProxy):
        user = user._get_current_object()
    if not isinstance(user, User):
        raise TypeError(f"sign_in needs a User, not {type(user).__name__}")
    key = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        user_id=user.id, key_hash=_hash(key), remember=bool(remember), created_at=now, last_seen_at=now,
        expires_at=now + (remember_lifetime() if remember else _idle_lifetime()),
        user_agent=(request.user_agent.string or "")[:200] or None,
    )
    db.session.add(row)
    db.session.flush()
    user.session_key = key
    login_user(user, remember=remember, duration=remember_lifetime() if remember else None)
    return row


def renew(user: User) -> UserSession:
    """A new key for this browser's session (the old one ends), as after a change of privilege,
    so that a key someone planted or saw before cannot ride on the stronger sign-in."""
    key = getattr(user, "session_key", None)
    row = db.session.scalar(select(UserSession).where(UserSession.key_hash == _hash(key))) if key else None
    if row is not None:
        row.ended_at = utcnow()
    return sign_in(user, remember=row.remember if row is not None else False)


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: ``"<id>:<key>"`` names an open session, or nobody."""
    if not isinstance(session_id, str) or ":" not in session_id:
        return None
    user_id, key = session_id.split(":", 1)
    if not user_id.isdigit() or len(user_id) > 9 or not key:
        return None
    now = utcnow()
    row = db.session.scalar(select(UserSession).where(UserSession.key_hash == _hash(key)))
    if row is None or row.user_id != int(user_id) or row.ended_at is not None or row.expires_at <= now:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        if not row.remember:
            row.expires_at = now + _idle_lifetime()
    user.session_key = key
    return user


def current_session_id(user: User) -> int | None:
    """The id of the session ``user`` (the signed-in person of this request) came through."""
    key = getattr(user, "session_key", None)
    if not key:
        return None
    return db.session.scalar(select(UserSession.id).where(UserSession.key_hash == _hash(key)))


def sign_out(user) -> None:
    """End this browser's session on the server, then forget it in the browser."""
    key = getattr(user, "session_key", None)
    if key:
        db.session.execute(update(UserSession).where(UserSession.key_hash == _hash(key),
                                                     UserSession.ended_at.is_(None)).values(ended_at=utcnow()))
    logout_user()


def end_sessions(user: User, keep_current: bool = False) -> int:
    """End every open session of ``user`` (but this request's, with ``keep_current``); how many ended."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    key = getattr(user, "session_key", None)
    if keep_current and key:
        query = query.where(UserSession.key_hash != _hash(key))
    return db.session.execute(query.values(ended_at=utcnow())).rowcount


def open_sessions(user: User) -> list[UserSession]:
    """The person's sessions that still sign them in, newest first."""
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
                                  UserSession.expires_at > utcnow()).order_by(UserSession.created_at.desc())
    ))


def prune_sign_in_records(now=None) -> int:
    """Delete what no longer protects anyone: failed sign-ins older than the throttling window (they
    name addresses and IPs) and sessions ended or expired over a day ago. Commits; how many rows went."""
    from learning.accounts.throttling import WINDOW

    now = now or utcnow()
    failures = db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW)).rowcount
    finished = db.session.execute(delete(UserSession).where(or_(
        UserSession.ended_at < now - timedelta(days=1), UserSession.expires_at < now - timedelta(days=1)))).rowcount
    db.session.commit()
    return failures + finished
