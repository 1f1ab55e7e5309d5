"""Applying events made on a learner's device while offline (``POST /api/v1/sync``).

DESIGN.md rule 9: each event carries an id the device made; it is applied at most once, ever,
however often, late or out of order it arrives. The id is written to ``device_events`` in the
same savepoint as the event's effect, and its primary key makes a second write fail; so a
replayed, doubled or concurrently sent event is reported ``duplicate`` and changes nothing.

Events are applied in the order they happened (per enrolment, by ``occurred_at``), whatever
order they arrive in, and each in a savepoint of its own: a rejected event changes nothing
and does not stop the others. Enrolments are locked in id order so that two batches sent at
once cannot deadlock. The quiz is scored by the same code as online, and a completion dates
from when its last requirement was met on the device, so statistics count the day it
happened; it earns its certificate through the outbox like any other.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from learning.accounts.models import User
from learning.enrolment import services
from learning.enrolment.models import DeviceEvent, Enrolment
from learning.errors import DomainError
from learning.extensions import db
from learning.models_base import utcnow

MAX_EVENTS = 500
ATTENDANCE = "attendance.marked"  # a trainer's mark on a session's register (learning.cohorts.sessions.apply_mark)
EVENT_TYPES = ("lesson.completed", "quiz.attempted", ATTENDANCE)
# A device's clock may run a little fast; beyond this an event "from the future" is refused.
CLOCK_TOLERANCE = timedelta(minutes=5)


class EventRejected(Exception):
    """One event cannot be applied; its message is shown to the learner."""


@dataclass
class _Event:
    index: int
    id: str
    type: str
    enrolment_id: int
    occurred_at: datetime
    lesson_id: int | None = None
    answers: dict | None = None
    session_id: int | None = None
    mark: str | None = None


@dataclass
class SyncResult:
    results: list[dict]
    enrolments: list[Enrolment] = field(default_factory=list)
    # (session id, enrolment id) of the register marks the batch named, to answer as they are now
    marks: list[tuple[int, int]] = field(default_factory=list)


def _parse_time(value) -> datetime:
    if not isinstance(value, str):
        raise EventRejected(_("The event's time (occurred_at) is missing or not a date and time."))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventRejected(_("The event's time (occurred_at) is missing or not a date and time.")) from None
    if moment.tzinfo is None:
        raise EventRejected(_("The event's time (occurred_at) must include its time zone."))
    return moment.astimezone(UTC)


DATABASE_INT_MAX = 2**31 - 1  # beyond it no row exists (and PostgreSQL would refuse the query)


def _int(value, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= DATABASE_INT_MAX:
        raise EventRejected(message)
    return value


def _parse(index: int, raw: dict, now: datetime) -> _Event:
    raw_id = raw.get("id")
    try:
        event_id = str(uuid.UUID(raw_id)) if isinstance(raw_id, str) else None
    except ValueError:
        event_id = None
    if event_id is None:
        raise EventRejected(_("The event's id is not a UUID."))
    event_type = raw.get("type")
    if event_type not in EVENT_TYPES:
        raise EventRejected(_("Unknown event type."))
    enrolment_id = _int(raw.get("enrolment_id"), _("No such enrolment."))
    occurred_at = _parse_time(raw.get("occurred_at"))
    if occurred_at > now + CLOCK_TOLERANCE:
        raise EventRejected(_("The event's time is in the future; check the device's clock."))
    event = _Event(index, event_id, event_type, enrolment_id, min(occurred_at, now))
    if event_type == "lesson.completed":
        event.lesson_id = _int(raw.get("lesson_id"), _("This lesson is not part of the course."))
    elif event_type == ATTENDANCE:
        event.session_id = _int(raw.get("session_id"), _("No such session in your cohorts."))
        event.mark = raw.get("attendance")
        if event.mark not in ("present", "absent", "excused"):
            raise EventRejected(_("The attendance mark must be present, absent or excused."))
    else:
        answers = raw.get("answers")
        if not isinstance(answers, dict):
            raise EventRejected(_("The answers must map question ids to choice ids."))
        event.answers = answers
    return event


def _id_of(raw: dict):
    value = raw.get("id")
    return value if isinstance(value, str) else None


def apply_events(user: User, raw_events: list[dict]) -> SyncResult:
    """Apply a device's events for ``user``; the caller commits.

    The batch's shape (at most ``MAX_EVENTS`` objects with the documented fields and types) is the
    API schema's to check; everything else is judged here, event by event."""
    now = utcnow()
    results: list[dict | None] = [None] * len(raw_events)
    parsed: list[_Event] = []
    for index, raw in enumerate(raw_events):
        try:
            parsed.append(_parse(index, raw, now))
        except EventRejected as exc:
            results[index] = {"id": _id_of(raw), "status": "rejected", "error": str(exc)}
    touched: dict[int, Enrolment] = {}
    marks: set[tuple[int, int]] = set()
    # Lock order by enrolment id (no deadlock between two batches); within one, the order things happened.
    # A trainer's attendance marks come after, by session (the lock they take), then the order they were made.
    learning = [e for e in parsed if e.type != ATTENDANCE]
    for event in sorted(learning, key=lambda e: (e.enrolment_id, e.occurred_at, e.index)):
        results[event.index] = _apply_one(user, event, touched, marks)
    register = [e for e in parsed if e.type == ATTENDANCE]
    for event in sorted(register, key=lambda e: (e.session_id, e.occurred_at, e.index)):
        results[event.index] = _apply_one(user, event, touched, marks)
    return SyncResult([r for r in results if r is not None], [touched[k] for k in sorted(touched)], sorted(marks))


def _apply_one(user: User, event: _Event, touched: dict[int, Enrolment], marks: set) -> dict:
    try:
        with db.session.begin_nested():
            if event.type == ATTENDANCE:
                status = _apply_mark_in_savepoint(user, event, marks)
            else:
                status = _apply_in_savepoint(user, event, touched)
    except EventRejected as exc:
        return {"id": event.id, "status": "rejected", "error": str(exc)}
    except DomainError as exc:  # the same rules as online (unknown lesson, invalid answers...)
        return {"id": event.id, "status": "rejected", "error": exc.message}
    except IntegrityError:  # another request applied the same event id at the same moment
        return {"id": event.id, "status": "duplicate"}
    return {"id": event.id, "status": status}


def _apply_in_savepoint(user: User, event: _Event, touched: dict[int, Enrolment]) -> str:
    seen = db.session.get(DeviceEvent, event.id)
    if seen is not None:
        if seen.user_id != user.id:
            raise EventRejected(_("This event id was already used by another device."))
        if seen.event_type != ATTENDANCE:
            touched[seen.enrolment_id] = db.session.get(Enrolment, seen.enrolment_id)  # where the learner stands
        return "duplicate"
    enrolment = db.session.execute(
        select(Enrolment).where(Enrolment.id == event.enrolment_id, Enrolment.user_id == user.id)
        .with_for_update(of=Enrolment).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if enrolment is None:
        raise EventRejected(_("No such enrolment."))
    touched[enrolment.id] = enrolment  # answered as it is now, even if this event is refused
    # Checked again under the lock: a request that waited for it must see the other's event.
    if db.session.scalar(select(DeviceEvent.id).where(DeviceEvent.id == event.id)) is not None:
        return "duplicate"
    if enrolment.status == "withdrawn":
        raise EventRejected(_("You have withdrawn from this course; this progress was not recorded."))
    if enrolment.course.status == "archived":
        raise EventRejected(_("This course has been archived; this progress was not recorded."))
    if event.occurred_at < enrolment.enrolled_at:
        raise EventRejected(_("The event happened before the enrolment; check the device's clock."))
    if enrolment.status == "active":
        if event.type == "lesson.completed":
            services.complete_lesson(enrolment, event.lesson_id, locked=True, at=event.occurred_at)
        else:
            services.submit_quiz(enrolment, event.answers, at=event.occurred_at)
    elif event.type == "lesson.completed" and event.lesson_id not in services.course_outline(
            enrolment.course_id).lesson_ids:
        raise EventRejected(_("This lesson is not part of the course."))
    # A completed enrolment: the course is already done, the event is recorded and changes nothing.
    db.session.add(DeviceEvent(id=event.id, user_id=user.id, enrolment_id=enrolment.id,
                               event_type=event.type, occurred_at=event.occurred_at, applied_at=utcnow()))
    db.session.flush()
    return "applied"


def _apply_mark_in_savepoint(user: User, event: _Event, marks: set) -> str:
    """A trainer's attendance mark made offline: for a session of one of the caller's cohorts that has
    begun, a member of that cohort; last writer by the mark's own time (``sessions.apply_mark``)."""
    from learning.cohorts import services as cohorts  # noqa: PLC0415 (cohorts builds on enrolment)
    from learning.cohorts import sessions  # noqa: PLC0415
    from learning.cohorts.models import TrainingSession  # noqa: PLC0415

    seen = db.session.get(DeviceEvent, event.id)
    if seen is not None:
        if seen.user_id != user.id:
            raise EventRejected(_("This event id was already used by another device."))
        return "duplicate"
    session = db.session.get(TrainingSession, event.session_id)
    cohort = session and db.session.get(cohorts.Cohort, session.cohort_id)
    if cohort is None or not cohorts.can_run_cohorts(user) or not (
            user.is_admin or any(t.user_id == user.id for t in cohort.trainers)):
        raise EventRejected(_("No such session in your cohorts."))
    sessions.lock_session(session)
    # Checked again under the lock: a request that waited for it must see the other's event.
    if db.session.scalar(select(DeviceEvent.id).where(DeviceEvent.id == event.id)) is not None:
        return "duplicate"
    member = db.session.get(Enrolment, event.enrolment_id)
    if member is None or member.cohort_id != cohort.id or member.status == "withdrawn":
        raise EventRejected(_("This person is not a member of the session's cohort."))
    cohorts.require_open(cohort)
    sessions.require_started(session)
    if event.occurred_at < session.starts_at:
        raise EventRejected(_("The mark was made before the session began; check the device's clock."))
    sessions.apply_mark(user.id, cohort, session, member.id, event.mark, event.occurred_at)
    marks.add((session.id, member.id))
    db.session.add(DeviceEvent(id=event.id, user_id=user.id, enrolment_id=member.id, event_type=ATTENDANCE,
                               occurred_at=event.occurred_at, applied_at=utcnow()))
    db.session.flush()
    return "applied"


def marks_now(keys: list[tuple[int, int]]) -> list[dict]:
    """The register marks a batch named, as they are now (the device shows the truth, not its guess)."""
    from learning.cohorts.models import Attendance  # noqa: PLC0415
    from learning.cohorts.sessions import mark_of  # noqa: PLC0415

    answer = []
    for session_id, enrolment_id in keys:
        row = db.session.get(Attendance, (session_id, enrolment_id))
        enrolment = db.session.get(Enrolment, enrolment_id)
        answer.append({"session_id": session_id, "enrolment_id": enrolment_id, "user_id": enrolment.user_id,
                       "attendance": mark_of(row) if row else "absent",
                       "recorded_at": row.recorded_at.isoformat() if row else None})
    return answer
