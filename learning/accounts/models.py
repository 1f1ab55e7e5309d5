"""Users, their roles, partner organisations and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, String, Text
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
    # Bumped on password change or erasure so that old sessions and links die.
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

    def get_id(self) -> str:  # Flask-Login: a changed version logs old sessions out
        return f"{self.id}:{self.session_version}"


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


class LoginFailure(db.Model):
    """A failed sign-in, kept briefly to throttle guessing per account."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
