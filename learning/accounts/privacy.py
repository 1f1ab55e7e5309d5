"""A learner's data: everything held on them (export), and erasure that keeps the anonymous facts.

Erasure (DESIGN.md rules 3 and 8) blanks the person's identifying fields and
keeps the user row's id, so enrolments, completions and certificates still
count in past statistics while naming nobody. It runs as a task through the
outbox. The user row is this module's; every other copy of the person (the
certificate's name and PDF, queued mails, audit details, roster files...) is
removed by the feature that wrote it, on the ``user_erased`` signal
(``learning/signals.py``), in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select

from learning.accounts.models import ApiToken, LoginFailure, User, UserRole, UserSession
from learning.accounts.services import end_credentials
from learning.audit.models import AuditEntry
from learning.audit.services import record as audit
from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment, LessonProgress, QuizAttempt
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.services import emit
from learning.reminders.models import ReminderSent
from learning.signals import ErasedPerson, user_erased


def _iso(value):
    return value.isoformat() if value is not None else None


def _knowledge_test_attempts(enrolment_ids: list[int]) -> list[dict]:
    """The person's pre-tests and post-tests (``learning.assessment``), read only."""
    from learning.assessment.models import KnowledgeTestAttempt

    if not enrolment_ids:
        return []
    attempts = db.session.scalars(select(KnowledgeTestAttempt).where(
        KnowledgeTestAttempt.enrolment_id.in_(enrolment_ids)).order_by(KnowledgeTestAttempt.id)).all()
    return [{"enrolment_id": a.enrolment_id, "kind": a.kind, "submitted_at": _iso(a.submitted_at), "score": a.score,
             "answers": a.answers} for a in attempts]


def export_personal_data(user: User) -> dict:
    """Everything the platform holds on this person, as plain JSON-ready data."""
    enrolments = db.session.scalars(select(Enrolment).where(Enrolment.user_id == user.id).order_by(Enrolment.id)).all()
    enrolment_ids = [e.id for e in enrolments]
    progress = db.session.scalars(
        select(LessonProgress).where(LessonProgress.enrolment_id.in_(enrolment_ids))
    ).all() if enrolment_ids else []
    attempts = db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.enrolment_id.in_(enrolment_ids))
    ).all() if enrolment_ids else []
    certificates = db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)).all()
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
    sessions = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                  .order_by(UserSession.created_at)).all()
    reminders = db.session.scalars(select(ReminderSent).where(ReminderSent.user_id == user.id)).all()
    actions = db.session.scalars(select(AuditEntry).where(AuditEntry.actor_id == user.id)).all()
    return {
        "exported_at": _iso(utcnow()),
        "account": {
            "id": user.id, "email": user.email, "full_name": user.full_name, "country": user.country,
            "sector": user.sector, "language": user.language, "timezone": user.timezone,
            "organisation": user.organisation.name if user.organisation else None, "roles": user.roles,
            "reminders_enabled": user.reminders_enabled, "email_verified_at": _iso(user.email_verified_at),
            "created_at": _iso(user.created_at), "last_login_at": _iso(user.last_login_at),
            "two_factor_enabled": bool(user.totp_secret),
        },
        "enrolments": [
            {"id": e.id, "course": e.course.slug, "cohort_id": e.cohort_id, "status": e.status,
             "enrolled_at": _iso(e.enrolled_at), "completed_at": _iso(e.completed_at),
             "withdrawn_at": _iso(e.withdrawn_at), "recorded_country": e.country, "recorded_sector": e.sector,
             "recorded_organisation_id": e.organisation_id, "language": e.language}
            for e in enrolments
        ],
        "lessons_completed": [
            {"enrolment_id": p.enrolment_id, "lesson_id": p.lesson_id, "completed_at": _iso(p.completed_at)}
            for p in progress
        ],
        "quiz_attempts": [
            {"enrolment_id": a.enrolment_id, "submitted_at": _iso(a.submitted_at), "score": a.score,
             "passed": a.passed, "answers": a.answers}
            for a in attempts
        ],
        "knowledge_test_attempts": _knowledge_test_attempts(enrolment_ids),
        "certificates": [
            {"code": c.code, "course_title": c.course_title, "holder_name": c.holder_name,
             "issued_at": _iso(c.issued_at), "expires_at": _iso(c.expires_at), "revoked_at": _iso(c.revoked_at)}
            for c in certificates
        ],
        "api_tokens": [
            {"name": t.name, "created_at": _iso(t.created_at), "expires_at": _iso(t.expires_at),
             "last_used_at": _iso(t.last_used_at), "revoked_at": _iso(t.revoked_at)}
            for t in tokens
        ],
        "sessions": [
            {"created_at": _iso(t.created_at), "last_seen_at": _iso(t.last_seen_at), "expires_at": _iso(t.expires_at),
             "ended_at": _iso(t.ended_at), "browser": t.user_agent}
            for t in sessions
        ],
        "reminders_sent": [
            {"rule": r.rule, "occasion": r.occasion, "sent_at": _iso(r.sent_at)} for r in reminders
        ],
        "actions_in_audit_log": [
            {"at": _iso(a.at), "action": a.action, "target_type": a.target_type, "target_id": a.target_id}
            for a in actions
        ],
        "single_sign_on": _sso_identities(user),
        "evaluations": _evaluations(user),
        "attendance": _attendance(user, enrolment_ids),
        "offline_events": _offline_events(user),
        "learning_platforms": _lti_identities(user),
    }


def _attendance(user: User, enrolment_ids: list[int]) -> list[dict]:
    """The person's marks on their cohorts' registers (learning/cohorts): check-ins, the trainer's marks."""
    from learning.cohorts.models import Attendance, TrainingSession

    if not enrolment_ids:
        return []
    rows = db.session.execute(select(Attendance, TrainingSession).join(
        TrainingSession, TrainingSession.id == Attendance.session_id).where(
        Attendance.enrolment_id.in_(enrolment_ids)).order_by(TrainingSession.starts_at, TrainingSession.id)).all()
    return [{"enrolment_id": a.enrolment_id, "cohort_id": s.cohort_id, "session_id": s.id, "session_title": s.title,
             "session_starts_at": _iso(s.starts_at), "present": a.present, "excused": a.excused,
             "recorded_at": _iso(a.recorded_at), "checked_in_yourself": a.recorded_by_id == user.id}
            for a, s in rows]


def _offline_events(user: User) -> list[dict]:
    """The events the person's devices sent (``POST /api/v1/sync``, learning/enrolment/sync)."""
    from learning.enrolment.models import DeviceEvent

    rows = db.session.scalars(select(DeviceEvent).where(DeviceEvent.user_id == user.id)
                              .order_by(DeviceEvent.occurred_at, DeviceEvent.id)).all()
    return [{"id": e.id, "type": e.event_type, "enrolment_id": e.enrolment_id, "occurred_at": _iso(e.occurred_at),
             "applied_at": _iso(e.applied_at)} for e in rows]


def _lti_identities(user: User) -> list[dict]:
    """The partners' LMSs (LTI 1.3 platforms) the person launched from (learning/lti), and who they are there."""
    from learning.lti.models import LtiIdentity, LtiPlatform

    rows = db.session.execute(select(LtiIdentity, LtiPlatform).join(
        LtiPlatform, LtiPlatform.id == LtiIdentity.platform_id).where(LtiIdentity.user_id == user.id)
        .order_by(LtiIdentity.id)).all()
    return [{"platform": platform.name or platform.issuer, "issuer": platform.issuer, "subject": identity.subject,
             "linked_at": _iso(identity.created_at), "last_launch_at": _iso(identity.last_launch_at)}
            for identity, platform in rows]


def _sso_identities(user: User) -> list[dict]:
    """The organisation sign-ins linked to the account (learning/sso): which IdP and who there."""
    from learning.sso.models import SsoIdentity, SsoProvider

    rows = db.session.execute(select(SsoIdentity, SsoProvider.name).join(
        SsoProvider, SsoProvider.id == SsoIdentity.provider_id).where(SsoIdentity.user_id == user.id)).all()
    return [{"provider": name, "subject": identity.subject, "linked_at": _iso(identity.created_at),
             "last_used_at": _iso(identity.last_used_at)} for identity, name in rows]


def _evaluations(user: User) -> list[dict]:
    """The course evaluations the person gave (learning/evaluations), with their answers."""
    from learning.evaluations.services import answers_as_data, evaluations_of_person

    return [{"enrolment_id": e.enrolment_id, "submitted_at": _iso(e.submitted_at), "answers": answers_as_data(e)}
            for e in evaluations_of_person(user.id)]


def request_erasure(user: User, actor_id: int | None = None, *, by_system: bool = False) -> None:
    """Lock the account at once and queue the erasure (idempotent).

    The audit log names the admin who asked, else the person themself, or no one
    when the retention policy asked (``by_system``).
    """
    if user.erased_at is not None:
        return
    user.active = False
    end_credentials(user)  # every session, token and e-mailed link ends now
    actor = None if by_system else (actor_id if actor_id is not None else user.id)
    audit(actor, "user.erasure_requested", "user", user.id)
    emit("account.erasure_requested", {"user_id": user.id})


def erase_user(user_id: int) -> bool:
    """Remove the person's data and keep anonymous facts; repeating it changes nothing."""
    user = db.session.get(User, user_id)
    if user is None or user.erased_at is not None:
        return False
    person = ErasedPerson(user_id=user.id, email=user.email, full_name=user.full_name or "")
    user.email = f"erased-{user.id}@erased.invalid"
    user.full_name = ""
    user.password_hash = None
    user.totp_secret = None
    user.country = None
    user.sector = None
    user.organisation_id = None
    user.timezone = "UTC"
    user.active = False
    user.reminders_enabled = False
    user.email_verified_at = None
    user.last_login_at = None
    user.erased_at = utcnow()
    user.role_rows = []
    db.session.flush()
    user_erased.send(person)  # every feature removes its own copies, in this transaction
    audit(None, "user.erased", "user", user.id)
    db.session.commit()
    return True


def _forget_credentials(person: ErasedPerson) -> None:
    """Accounts' own copies besides the user row: API tokens, sessions, and failed sign-ins naming the address."""
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == person.user_id))
    db.session.execute(delete(UserSession).where(UserSession.user_id == person.user_id))
    db.session.execute(delete(LoginFailure).where(func.lower(LoginFailure.email) == person.email.lower()))


def connect_erasure() -> None:
    user_erased.connect(_forget_credentials)


def inactive_account_ids(now: datetime, days: int, limit: int = 500) -> list[int]:
    """Learners with no sign-in and no learning activity for ``days`` days (staff are never chosen)."""
    cutoff = now - timedelta(days=days)
    last_learning = (
        select(Enrolment.user_id,
               func.max(func.coalesce(Enrolment.last_activity_at, Enrolment.completed_at,
                                      Enrolment.enrolled_at)).label("at"))
        .group_by(Enrolment.user_id)
        .subquery()
    )
    staff = select(UserRole.user_id)
    query = (
        select(User.id)
        .outerjoin(last_learning, last_learning.c.user_id == User.id)
        .where(
            User.erased_at.is_(None),
            User.active.is_(True),  # an account already locked for erasure is not chosen twice
            User.id.not_in(staff),
            User.created_at < cutoff,
            or_(User.last_login_at.is_(None), User.last_login_at < cutoff),
            or_(last_learning.c.at.is_(None), last_learning.c.at < cutoff),
        )
        .order_by(User.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def apply_retention(now: datetime | None = None) -> int:
    """Erase accounts inactive for longer than ``ACCOUNT_RETENTION_DAYS`` (0 turns this off).

    Each erasure goes through the outbox like a self-service one, so the
    anonymous statistics stay; returns how many were queued in this run.
    """
    days = int(current_app.config.get("ACCOUNT_RETENTION_DAYS") or 0)
    if days <= 0:
        return 0
    ids = inactive_account_ids(now or utcnow(), days)
    for user in db.session.scalars(select(User).where(User.id.in_(ids))):
        audit(None, "user.retention_expired", "user", user.id, inactive_days=days)
        request_erasure(user, by_system=True)
    db.session.commit()
    return len(ids)
