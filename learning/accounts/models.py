"""Users, their roles, partner organisations and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

ROLES = ("learner", "trainer", "org_manager", "admin")


class Organisation(db.Model):
    """A partner organisation: a police academy, a ministry, a bank."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    sector: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(UserMixin, db.Model):
    """A person with an account. Erasure blanks the personal fields and keeps the row."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased by the services, so the unique constraint is case-blind.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    sector: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(35), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last 30-second step whose code was accepted: a code is good once, never twice (RFC 6238 §5.2).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Wrong codes in a row, and when the last one came: each one after a few makes the next wait longer.
    totp_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    totp_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the owner was last told by e-mail that their account sees many failed sign-ins (once per burst).
    sign_in_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped whenever credentials change (password, two-factor, erasure) so that e-mailed links die.
    session_version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="user"
    )
    # The organisations an ``org_manager`` steers; empty for everyone else.
    managed_organisations: Mapped[list[Organisation]] = relationship(
        secondary="organisation_managers", lazy="selectin", order_by="Organisation.name"
    )

    @property
    def roles(self) -> list[str]:
        """Role names, always including ``learner``, in a stable order."""
        names = {row.role for row in self.role_rows} | {"learner"}
        return [role for role in ROLES if role in names]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return self.has_role("admin")

    @property
    def is_trainer(self) -> bool:
        return self.has_role("trainer")

    @property
    def is_org_manager(self) -> bool:
        return self.has_role("org_manager")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active and self.erased_at is None

    # The server-side session this object was signed in through (set by accounts.sessions, never stored).
    session_key = None

    def get_id(self) -> str:  # Flask-Login: what the session and remember-me cookies carry
        if not self.session_key:
            raise RuntimeError("Sign people in with accounts.sessions.sign_in, which opens a server-side session.")
        return f"{self.id}:{self.session_key}"


class UserRole(db.Model):
    """A role granted to a user beyond ``learner``, which everyone has."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="role_rows")


class OrganisationManager(db.Model):
    """An ``org_manager``'s scope: one organisation they manage."""

    __tablename__ = "organisation_managers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(db.Model):
    """A bearer token for the API. Only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A signed-in browser, known to the server so that it can be ended from anywhere.

    The cookie holds a random key; only its SHA-256 hash is stored. Sign-out, "sign out
    everywhere", a password change or reset and two-factor changes end rows here, and a cookie
    whose row has ended (or expired) signs nobody in, however it was kept.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """A failed sign-in, kept for an hour to slow guessing per account and per address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(64), index=True)
    note: Mapped[str | None] = mapped_column(Text)
