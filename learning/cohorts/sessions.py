"""A cohort's sessions (date, time, place) and who attended each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select

from learning.audit.services import record as audit
from learning.cohorts.models import Attendance, Cohort, TrainingSession
from learning.cohorts.services import require_open
from learning.enrolment.models import Enrolment
from learning.errors import Conflict, NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.parsing import InvalidInput, parse_datetime
from learning.signals import LearningEvent, learning_event
from learning.text import single_line


def add_session(actor_id: int, cohort: Cohort, data: dict) -> TrainingSession:
    """Schedule a session; its time must carry a time zone and is stored in UTC."""
    require_open(cohort)
    errors: dict[str, list[str]] = {}
    try:
        starts_at = parse_datetime(data.get("starts_at"))
    except InvalidInput:
        starts_at = None
        errors["starts_at"] = [_("Use a date and time with an offset, such as 2025-03-31T09:00:00-05:00.")]
    texts = {}
    for name, limit in (("title", 200), ("place", 300), ("notes", 5000)):
        value = data.get(name) or ""
        if not isinstance(value, str) or len(value) > limit:
            errors[name] = [_("Use text of at most %(limit)d characters.", limit=limit)]
        else:
            texts[name] = value.strip() if name == "notes" else single_line(value)  # title and place: one line
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    session = TrainingSession(cohort_id=cohort.id, starts_at=starts_at, **texts)
    db.session.add(session)
    db.session.flush()
    audit(actor_id, "cohort.session_added", "cohort", cohort.id, session_id=session.id)
    return session


def sessions_of(cohort: Cohort) -> list[tuple[TrainingSession, int]]:
    """The cohort's sessions in time order, each with how many members were present."""
    present = (select(Attendance.session_id, func.count().label("n")).where(Attendance.present.is_(True))
               .group_by(Attendance.session_id).subquery())
    return [(s, n) for s, n in db.session.execute(
        select(TrainingSession, func.coalesce(present.c.n, 0))
        .outerjoin(present, present.c.session_id == TrainingSession.id)
        .where(TrainingSession.cohort_id == cohort.id).order_by(TrainingSession.starts_at, TrainingSession.id)
    )]


def get_session(cohort: Cohort, session_id: int) -> TrainingSession:
    session = db.session.get(TrainingSession, session_id)
    if session is None or session.cohort_id != cohort.id:
        raise NotFound(_("No such session."))
    return session


@dataclass(frozen=True)
class AttendanceSheet:
    session: TrainingSession
    present: list[int]  # user ids
    absent: list[int]  # the excused included (they did not attend)
    recorded: bool
    excused: list[int] = field(default_factory=list)  # absent with a reason the trainer accepted


def attendance_of(session: TrainingSession) -> AttendanceSheet:
    """Who was marked present and absent at a session (members not yet marked count as absent)."""
    rows = db.session.execute(
        select(Enrolment.user_id, Attendance.present, Attendance.excused)
        .outerjoin(Attendance, (Attendance.enrolment_id == Enrolment.id) & (Attendance.session_id == session.id))
        .where(Enrolment.cohort_id == session.cohort_id, Enrolment.status != "withdrawn")
        .order_by(Enrolment.user_id)
    ).all()
    present = [user_id for user_id, mark, _e in rows if mark]
    return AttendanceSheet(session, present, [user_id for user_id, mark, _e in rows if not mark],
                           any(mark is not None for _u, mark, _e in rows),
                           [user_id for user_id, mark, excused in rows if excused and not mark])


def marked_user_ids(session: TrainingSession) -> list[int]:
    """The members who have a mark (present, absent or excused) for the session."""
    return list(db.session.scalars(
        select(Enrolment.user_id).join(Attendance, Attendance.enrolment_id == Enrolment.id)
        .where(Attendance.session_id == session.id)))


class SessionNotStarted(Conflict):
    code = "session_not_started"


def has_started(session: TrainingSession) -> bool:
    return session.starts_at <= utcnow()


def require_started(session: TrainingSession) -> None:
    """Attendance is a fact about the past: a session that has not begun cannot be marked."""
    if not has_started(session):
        raise SessionNotStarted(_("This session has not started yet: attendance can be recorded once it has begun."))


def mark_present(actor_id: int, cohort: Cohort, session: TrainingSession, enrolment_id: int,
                 how: str = "trainer") -> None:
    """Mark one member present (self check-in), keeping every other mark of the register as it is."""
    require_open(cohort)
    require_started(session)
    mark = db.session.get(Attendance, (session.id, enrolment_id))
    if mark is None:
        db.session.add(Attendance(session_id=session.id, enrolment_id=enrolment_id, present=True,
                                  recorded_at=utcnow(), recorded_by_id=actor_id))
    elif not mark.present:
        mark.present, mark.excused, mark.recorded_at, mark.recorded_by_id = True, False, utcnow(), actor_id
    else:
        return  # already present: a repeated check-in changes nothing
    audit(actor_id, "cohort.attendance_marked", "cohort", cohort.id, session_id=session.id,
          enrolment_id=enrolment_id, how=how)
    db.session.flush()


def record_attendance(actor_id: int, cohort: Cohort, session: TrainingSession, present_user_ids,
                      excused_user_ids=()) -> AttendanceSheet:
    """Replace the session's register: the members listed were present, those listed as excused were
    absent with a reason (present wins if someone is in both), every other member absent."""
    require_open(cohort)
    require_started(session)
    errors = {}
    for name, ids in (("present", present_user_ids), ("excused", list(excused_user_ids))):
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            errors[name] = [_("Give a list of user ids.")]
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    lock_session(session)
    members = dict(db.session.execute(
        select(Enrolment.user_id, Enrolment.id)
        .where(Enrolment.cohort_id == cohort.id, Enrolment.status != "withdrawn")
    ).all())
    for name, ids in (("present", present_user_ids), ("excused", list(excused_user_ids))):
        strangers = sorted({i for i in ids if i not in members})
        if strangers:
            errors[name] = [_("User %(id)d is not a member of this cohort.", id=i) for i in strangers]
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    wanted = set(present_user_ids)
    excused = set(excused_user_ids) - wanted
    now = utcnow()
    already_present = set(db.session.scalars(
        select(Attendance.enrolment_id).where(Attendance.session_id == session.id, Attendance.present.is_(True))))
    db.session.execute(delete(Attendance).where(Attendance.session_id == session.id))
    if members:
        db.session.execute(insert(Attendance), [
            {"session_id": session.id, "enrolment_id": enrolment_id, "present": user_id in wanted,
             "excused": user_id in excused, "recorded_at": now, "recorded_by_id": actor_id}
            for user_id, enrolment_id in members.items()
        ])
    for user_id in sorted(wanted):  # those newly marked present attended (a re-recorded register says it once)
        if members[user_id] not in already_present:
            _attended(cohort, session, user_id, members[user_id])
    audit(actor_id, "cohort.attendance_recorded", "cohort", cohort.id, session_id=session.id, present=len(wanted))
    db.session.flush()
    return attendance_of(session)


def _attended(cohort: Cohort, session: TrainingSession, user_id: int, enrolment_id: int) -> None:
    learning_event.send(LearningEvent(
        kind="attended", user_id=user_id, course_id=cohort.course_id, enrolment_id=enrolment_id,
        ref=f"{session.id}:{user_id}", occurred_at=session.starts_at,
        details={"cohort_id": cohort.id, "session_id": session.id, "session_title": session.title}))


def lock_session(session: TrainingSession) -> None:
    """Serialise changes to one session's register (a register saved while a device's marks arrive)."""
    db.session.execute(select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update())


MARKS = ("present", "absent", "excused")
# When two marks of one member carry the same time, the result must not depend on which arrived first.
_RANK = {"absent": 0, "excused": 1, "present": 2}


def mark_of(row: Attendance) -> str:
    return "present" if row.present else "excused" if row.excused else "absent"


def apply_mark(actor_id: int, cohort: Cohort, session: TrainingSession, enrolment_id: int, mark: str,
               at: datetime, how: str = "offline") -> bool:
    """Set one member's mark as made at ``at`` (a device's time), unless a later mark is already there.

    The rule is last writer by the mark's own time: a mark made (online or on a device) after this one
    stays; an older one is replaced. So a correction made online after the device's mark is never
    overwritten when the device's marks arrive later, and marks arriving out of order end as if they
    had arrived in order. Two marks of the same time: present beats excused beats absent, whatever
    the order they arrive in. Returns whether the register changed. The session is locked by the caller.
    """
    require_open(cohort)
    require_started(session)
    row = db.session.get(Attendance, (session.id, enrolment_id))
    if row is not None and (row.recorded_at, _RANK[mark_of(row)]) >= (at, _RANK[mark]):
        return False  # a later (or equal and stronger) mark is already recorded: it stays
    before = mark_of(row) if row is not None else None
    if row is None:
        row = Attendance(session_id=session.id, enrolment_id=enrolment_id)
        db.session.add(row)
    changed = before != mark
    row.present, row.excused = mark == "present", mark == "excused"
    row.recorded_at, row.recorded_by_id = at, actor_id
    db.session.flush()
    if changed:
        audit(actor_id, "cohort.attendance_marked", "cohort", cohort.id, session_id=session.id,
              enrolment_id=enrolment_id, how=how, mark=mark)
    if mark == "present" and before != "present":
        enrolment = db.session.get(Enrolment, enrolment_id)
        _attended(cohort, session, enrolment.user_id, enrolment_id)
    return changed
