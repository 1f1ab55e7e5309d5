"""The reminder sent-log and the daily digests that carry reminders to learners.

``ReminderSent`` holds one row per rule, learner and occasion, ever: the unique
constraint is what makes a reminder exactly-once. A row is *claimed* when its
rule finds it due, joins that learner's digest for the day, and becomes *sent*
only once the SMTP server has accepted the digest (or *cancelled* when it no
longer applies by the time it would be sent).

``ReminderDigest`` is one e-mail. A *reminders* digest (``kind = "reminders"``) is at most one per
learner per local day (a partial unique index). A *notification* (``kind = "notification"``) tells
the learner about something they just did ("your certificate is ready"); it goes out within a
minute of the event, in daytime, and does not count towards the day's digest (docs/REMINDERS.md).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

ITEM_STATUSES = ("claimed", "sent", "cancelled")
DIGEST_STATUSES = ("pending", "sending", "sent", "cancelled")
OPEN_DIGEST_STATUSES = ("pending", "sending")
DIGEST_KINDS = ("reminders", "notification")
# The predicate of the partial unique index "one reminders digest per learner and local day";
# an upsert naming (user_id, local_date) as its conflict target must repeat it (``index_where``).
REMINDERS_PER_DAY = text("kind = 'reminders'")


class ReminderDigest(db.Model):
    """One e-mail to one learner combining the reminders due together on one local day."""

    __tablename__ = "reminder_digests"
    __table_args__ = (
        Index("uq_reminder_digests_reminders_per_day", "user_id", "local_date", unique=True,
              postgresql_where=REMINDERS_PER_DAY, sqlite_where=REMINDERS_PER_DAY),
        Index("ix_reminder_digests_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Looked up through the unique (user_id, local_date) index; no index of its own.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16), default="reminders", server_default="reminders")
    local_date: Mapped[date] = mapped_column(Date)  # the learner's day it was made for
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_on: Mapped[date | None] = mapped_column(Date)  # the learner's day it was actually sent
    language: Mapped[str | None] = mapped_column(String(35))
    message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[ReminderSent]] = relationship(back_populates="digest", order_by="ReminderSent.id")


class ReminderSent(db.Model):
    """A reminder claimed for sending; the unique constraint makes sending exactly-once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("rule", "user_id", "occasion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    occasion: Mapped[str] = mapped_column(String(128))  # e.g. "enrolment:42:inactive:7d"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="claimed", server_default="claimed")
    # What the occasion is about: an enrolment, a certificate or a cohort, depending on the rule.
    subject_id: Mapped[int | None] = mapped_column()
    due_on: Mapped[date | None] = mapped_column(Date)  # the learner's local day it fell due
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_digests.id"), index=True)

    digest: Mapped[ReminderDigest | None] = relationship(back_populates="items")
