"""A cohort's completion: the trainer signs a member off, or closes the cohort, signing off every
member who met its attendance rule; certificates follow through the outbox (``enrolment.completed``).
Both serialise on the cohort (``_lock_cohort``) and happen once however many requests arrive."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, func, select

from learning.accounts.models import User
from learning.audit.services import record as audit
from learning.cohorts.models import ATTENDANCE_DECIDES, Attendance, Cohort, TrainingSession
from learning.cohorts.services import Member, get_member, members_of, require_open
from learning.enrolment.models import Enrolment
from learning.enrolment.services import mark_completed
from learning.errors import NotFound
from learning.extensions import db
from learning.models_base import utcnow


def _lock_cohort(cohort: Cohort) -> None:
    """Serialise the trainers' actions on one cohort (sign-offs, closing): a row lock on PostgreSQL,
    taken before anything is read, so that a request that waited sees what the one before it committed.
    SQLite serialises writers anyway."""
    db.session.execute(
        select(Cohort).where(Cohort.id == cohort.id).with_for_update(of=Cohort)
        .execution_options(populate_existing=True)
    ).scalar_one()


def sign_off(actor: User, cohort: Cohort, user_id: int) -> Member:
    """The trainer confirms a member met the requirements: the enrolment is completed (and certified).

    Idempotent: signing off a member already completed answers the member and writes nothing (no second
    completion event, no second audit entry), however many requests arrive at once.
    """
    _lock_cohort(cohort)
    require_open(cohort)
    # Locked too: the learner may be completing the last lesson at this very moment (that path locks it).
    enrolment = db.session.scalar(
        select(Enrolment).where(
            Enrolment.cohort_id == cohort.id, Enrolment.user_id == user_id, Enrolment.status != "withdrawn")
        .with_for_update(of=Enrolment).execution_options(populate_existing=True))
    if enrolment is None:
        raise NotFound(_("This person is not a member of the cohort."))
    if enrolment.status == "active":
        mark_completed(enrolment, signed_off_by=actor.id)
        audit(actor.id, "cohort.member_signed_off", "enrolment", enrolment.id, cohort_id=cohort.id)
        db.session.flush()
    return get_member(cohort, user_id)


def eligible_enrolment_ids(cohort: Cohort) -> list[int]:
    """Active members who meet the cohort's attendance rule ("none" signs off nobody by itself)."""
    if cohort.attendance_rule not in ATTENDANCE_DECIDES:
        return []
    sessions = db.session.scalar(
        select(func.count(TrainingSession.id)).where(TrainingSession.cohort_id == cohort.id)) or 0
    if sessions == 0:
        return []
    needed = sessions if cohort.attendance_rule == "all_sessions" else (
        -(-sessions * (cohort.attendance_min_percent or 100) // 100))  # ceiling
    present = func.count(Attendance.session_id)
    return list(db.session.scalars(
        select(Enrolment.id)
        .join(Attendance, and_(Attendance.enrolment_id == Enrolment.id, Attendance.present.is_(True)))
        .join(TrainingSession, and_(TrainingSession.id == Attendance.session_id,
                                    TrainingSession.cohort_id == cohort.id))
        .where(Enrolment.cohort_id == cohort.id, Enrolment.status == "active")
        .group_by(Enrolment.id).having(present >= needed)
    ))


def below_rule(cohort: Cohort) -> list[Member]:
    """Active members who do not meet the attendance rule now: the trainer sees them before closing,
    to correct a register or sign someone off by hand. Empty when the rule is trainer sign-off only."""
    if cohort.attendance_rule not in ATTENDANCE_DECIDES:
        return []
    eligible = set(eligible_enrolment_ids(cohort))
    members, _total = members_of(cohort)
    return [m for m in members if m.status == "active" and m.enrolment_id not in eligible]


@dataclass(frozen=True)
class CloseResult:
    signed_off: int
    still_active: int


def close_cohort(actor: User, cohort: Cohort) -> CloseResult:
    """Sign off every member who met the attendance rule, then close; certificates follow through the outbox.

    Happens once: of several requests at once, the first closes and the others get ``CohortClosed`` (409).
    """
    _lock_cohort(cohort)
    require_open(cohort)
    ids = eligible_enrolment_ids(cohort)
    eligible = db.session.scalars(
        select(Enrolment).where(Enrolment.id.in_(ids)).order_by(Enrolment.id)
        .with_for_update(of=Enrolment).execution_options(populate_existing=True)) if ids else []
    signed_off = 0
    for enrolment in eligible:
        if enrolment.status == "active":  # the learner may have completed while we waited for the lock
            mark_completed(enrolment, signed_off_by=actor.id)
            signed_off += 1
    cohort.status = "closed"
    cohort.closed_at = utcnow()
    db.session.flush()
    still_active = db.session.scalar(select(func.count(Enrolment.id)).where(
        Enrolment.cohort_id == cohort.id, Enrolment.status == "active"))
    audit(actor.id, "cohort.closed", "cohort", cohort.id, signed_off=signed_off, still_active=still_active)
    return CloseResult(signed_off, still_active)
