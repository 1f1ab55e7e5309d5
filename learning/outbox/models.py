"""Outbox events, written in the same transaction as the change they announce."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "done", "failed")


class OutboxEvent(db.Model):
    """Something that happened and must be handled in the background, at least once."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
