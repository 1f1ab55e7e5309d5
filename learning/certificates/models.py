"""Certificates: issued at most once per completed enrolment, never deleted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow


class Certificate(db.Model):
    """A certificate with a snapshot of what it certifies.

    ``enrolment_id`` is unique: the database, not only the task, guarantees one
    certificate per completed enrolment (DESIGN.md rule 2).
    """

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    holder_name: Mapped[str | None] = mapped_column(String(200))  # None once erased
    course_title: Mapped[str] = mapped_column(String(300))
    course_language: Mapped[str] = mapped_column(String(35))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)  # public: shown on the verify page and API
    revocation_note: Mapped[str | None] = mapped_column(Text)  # internal: admins and the audit log only
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    status_list_index: Mapped[int | None] = mapped_column(unique=True)

    def status_at(self, moment: datetime) -> str:
        """``revoked``, ``expired`` or ``valid`` at the given moment."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= moment:
            return "expired"
        return "valid"


class SigningKey(db.Model):
    """An Ed25519 key the platform signs credentials with; old keys stay for verification."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
