"""The reminder sent-log: one row per rule, learner and occasion, ever."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow


class ReminderSent(db.Model):
    """A reminder claimed for sending; the unique constraint makes sending exactly-once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("rule", "user_id", "occasion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    occasion: Mapped[str] = mapped_column(String(128))  # e.g. "enrolment:42:7d"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(255))
