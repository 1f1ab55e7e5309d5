"""Notifications: "your certificate is ready" within a minute of the certificate, not at the next beat run.

A *notification* tells a learner about something they have just done; a *reminder* nudges them about
something they have not. How the two combine (docs/REMINDERS.md):

- The notification of a certificate and the ``certificate_issued`` reminder are **one occasion**:
  both claim ``certificate:<id>:issued`` in the sent-log, whose unique (rule, user_id, occasion)
  decides which path announces it. A certificate is announced at most once, whichever comes first.
- **Quiet hours hold**: if it is night where the learner lives, nothing is claimed now; the beat
  run's ``certificate_issued`` rule claims it after 08:00 local, in that morning's reminders digest
  (one e-mail with whatever else is due).
- **In daytime** the notification is an e-mail of its own (a digest of kind ``notification``) sent at
  once. It does not count towards the one *reminders* digest a day, and the day's reminders do not
  hold it back: the learner asked for the certificate by finishing the course.
- The learner's e-mail preference (``reminders_enabled``) and account state apply as for reminders,
  and so does the rule's switch (``REMINDER_RULES["certificate_issued"]["enabled"]``) and window
  (``within_days``). Delivery re-checks all of it, as it does for a digest.

The certificates feature emits ``certificate.issued`` in the transaction that issues the certificate
(DESIGN rule 1); ``tasks.on_certificates_issued`` runs ``notify_certificates_issued``. Running it
twice, or after a worker died half-way, claims nothing twice and sends only what is still pending.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update

from learning.accounts.models import User
from learning.certificates.models import Certificate
from learning.extensions import db
from learning.reminders.models import ReminderDigest, ReminderSent
from learning.reminders.rules import rule_settings
from learning.reminders.services import _insert, is_daytime, local_date

RULE = "certificate_issued"


def occasion_of(certificate_id: int) -> str:
    """The sent-log key shared with the ``certificate_issued`` reminder rule."""
    return f"certificate:{certificate_id}:issued"


def claim_notifications(certificate_ids: list[int], now: datetime) -> list[int]:
    """Claim the announcement of each certificate whose holder may be written to now, one notification
    digest per holder; commit; the ids of the notification digests of these certificates still to send.

    A holder at night, opted out, disabled or erased gets nothing now (the beat's rule decides later);
    a certificate already announced (by an earlier run or by the beat) is not claimed again.
    """
    settings = rule_settings()[RULE]
    if not settings.get("enabled", True) or not certificate_ids:
        return []
    since = now - timedelta(days=settings["within_days"])
    rows = db.session.execute(
        select(Certificate.id, Certificate.user_id, User.timezone)
        .join(User, User.id == Certificate.user_id)
        .where(Certificate.id.in_(certificate_ids), Certificate.revoked_at.is_(None),
               Certificate.issued_at > since,
               User.active.is_(True), User.erased_at.is_(None), User.reminders_enabled.is_(True))
        .order_by(Certificate.id)
    ).all()
    daytime = [row for row in rows if is_daytime(row.timezone, now)]
    if daytime:
        claimed = db.session.execute(
            _insert(ReminderSent.__table__)
            .values([{"rule": RULE, "user_id": row.user_id, "occasion": occasion_of(row.id), "subject_id": row.id,
                      "due_on": local_date(row.timezone, now), "status": "claimed", "created_at": now}
                     for row in daytime])
            .on_conflict_do_nothing(index_elements=["rule", "user_id", "occasion"])
            .returning(ReminderSent.__table__.c.id, ReminderSent.__table__.c.user_id)
        ).all()
        by_user: dict[int, list[int]] = defaultdict(list)
        for claim_id, user_id in claimed:
            by_user[user_id].append(claim_id)
        zones = {row.user_id: row.timezone for row in daytime}
        for user_id, claim_ids in sorted(by_user.items()):
            digest = ReminderDigest(user_id=user_id, kind="notification", local_date=local_date(zones[user_id], now),
                                    status="pending", attempts=0, next_attempt_at=now, created_at=now)
            db.session.add(digest)
            db.session.flush()
            db.session.execute(update(ReminderSent).where(ReminderSent.id.in_(claim_ids)).values(digest_id=digest.id),
                               execution_options={"synchronize_session": False})
    db.session.commit()
    # Those of these certificates' notifications still waiting: the ones just made, or ones a worker
    # that died after committing them never sent.
    if not rows:
        return []
    return list(db.session.scalars(
        select(ReminderDigest.id).distinct()
        .join(ReminderSent, ReminderSent.digest_id == ReminderDigest.id)
        .where(ReminderDigest.kind == "notification", ReminderDigest.status == "pending",
               ReminderSent.rule == RULE, ReminderSent.user_id.in_({row.user_id for row in rows}),
               ReminderSent.occasion.in_([occasion_of(row.id) for row in rows]))
        .order_by(ReminderDigest.id)
    ))
