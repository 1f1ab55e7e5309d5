"""The learner's hot path on SQLAlchemy Core (PostgreSQL): enrolling and completing a lesson through the API.

The same rules as ``learning.enrolment.services`` (``enrol``, ``get_own_enrolment(for_update=True)``,
``complete_lesson``, ``check_completion``, ``mark_completed``), with rows instead of ORM objects: no
``Enrolment`` or ``Course`` is loaded into the identity map, nothing is left for the unit of work to flush
at commit, and the answer (``EnrolmentSchema``'s shape) is built from the rows read
(docs/PERFORMANCE.md, "Hot path (helper "hotview")"). The pages, the offline sync, trainers and admins
keep the ORM services; SQLite (the tests' other database) keeps them too.

- Enrolling: one statement reads the course by its slug, inserts the enrolment if the course is published
  and nothing bars it (``services.enrolment_unless_barred``: ``can_enrol_again``'s rule; ``ON CONFLICT DO
  NOTHING`` for a concurrent request) and writes the statistics' ``reporting.refresh`` event naming the
  learner.
- Completing a lesson: the enrolment locked as a row with what the request needs of its course (its
  content version keys what the process keeps: outline, slug, titles), then ONE statement that records
  the lesson, moves the last activity forward, reads the lessons done, and, when that was the last
  requirement, completes the enrolment and writes its ``enrolment.completed`` outbox event (the certificate
  follows from it) and the statistics' event — the completion rule (``learning.enrolment.completion``, which
  ``check_completion`` applies too: every lesson done, the quiz passed if the course has one, no attendance
  rule of a cohort deciding instead) as the statement's own condition, evaluated after the row lock was granted, so two requests finishing the last two lessons at
  once complete it exactly once.

The statistics' events are written by these statements when the refresh is deferred (``defer_refresh``,
as the API's views ask); otherwise the people are noted (``rollup.note_changed``) and refreshed before
commit as for any change. Either way the events' ids are published after commit (``outbox.written``).
xAPI statements and LTI grade passback follow from the same learning events as before
(``services.announce``).
"""

from __future__ import annotations

import functools
import json

from flask_babel import gettext as _
from sqlalchemy import Boolean, Integer, String, bindparam, column, insert, literal, select, text
from sqlalchemy.orm import Session

from learning.catalogue.content import CourseKey, course_card, kept, note_lti_linked, title_of
from learning.catalogue.models import Course
from learning.db_liveness import PREPARE_AT_ONCE
from learning.enrolment import completion, services
from learning.enrolment.models import Enrolment
from learning.enrolment.own_lock import LOCK_OWN_COLUMNS, LOCK_OWN_SQL
from learning.errors import NotFound
from learning.hot_statements import HotStatement
from learning.models_base import UTCDateTime, utcnow
from learning.outbox.models import OutboxEvent
from learning.outbox.services import written
from learning.reporting.rollup import (
    REFRESH_EVENT,
    note_changed,
    refresh_event_payload,
    refresh_is_deferred,
)

# The hot statements are prepared on their first execution on a connection (learning/db_liveness.py).
_PREPARED = {PREPARE_AT_ONCE: True}


def available(session: Session) -> bool:
    """Whether the Core hot path serves this session's database (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def _outline(session: Session, key: CourseKey) -> services.CourseOutline:
    return kept(session, key, "outline", lambda: services._read_outline(key.id))


def _progress(outline: services.CourseOutline, done, quiz_passed: bool) -> dict:
    lesson_ids = outline.lesson_ids
    return {
        "completed_lessons": sum(1 for lesson_id in lesson_ids if lesson_id in done),
        "total_lessons": len(lesson_ids),
        "completed_lesson_ids": sorted(done),
        "next_lesson_id": next((lesson_id for lesson_id in lesson_ids if lesson_id not in done), None),
        "quiz_required": outline.has_quiz,
        "quiz_passed": quiz_passed if outline.has_quiz else False,
    }


# --- enrolling ------------------------------------------------------------------------------------------

@functools.cache
def _enrol_statement():
    """One statement: the course by its slug; the enrolment, if the course is published and nothing bars it
    (``services.enrolment_unless_barred``: ``can_enrol_again``'s rule), with ``ON CONFLICT DO NOTHING``
    (the unique index of active enrolments decides between two concurrent requests); when the statistics'
    refresh is deferred, its ``reporting.refresh`` event naming the learner. Returns the course's row with
    the new enrolment's id and the event's (None when nothing was inserted)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    courses = Course.__table__
    course = (select(courses.c.id, courses.c.status, courses.c.language, courses.c.created_at,
                     courses.c.content_version, courses.c.lti_linked)
              .where(courses.c.slug == bindparam("slug")).cte("course"))
    table = Enrolment.__table__
    added = (pg_insert(table).from_select(list(services._ENROLMENT_VALUES), services.enrolment_unless_barred(course))
             .on_conflict_do_nothing().returning(table.c.id).cte("added"))
    events = OutboxEvent.__table__
    now = bindparam("enrolled_at", type_=table.c.enrolled_at.type)
    event = (insert(events).from_select(
        ["event_type", "payload", "status", "attempts", "created_at", "next_attempt_at"],
        select(literal(REFRESH_EVENT), bindparam("refresh_payload", type_=events.c.payload.type),
               literal("pending"), literal(0), now, now)
        .select_from(added).where(bindparam("deferred", type_=Boolean)))
        .returning(events.c.id).cte("event"))
    return HotStatement(select(*course.c, select(added.c.id).scalar_subquery().label("enrolment_id"),
                               select(event.c.id).scalar_subquery().label("event_id")).execution_options(**_PREPARED))


def enrol(session: Session, user, slug: str) -> dict:
    """``services.enrol(user, visible_course(slug, user))`` for the API: the answer's body."""
    now = utcnow()
    deferred = refresh_is_deferred(session)
    rows = _enrol_statement().rows(session.connection(), {
        "slug": slug, "user_id": user.id, "cohort_id": None, "status": "active", "enrolled_at": now,
        "country": user.country, "sector": user.sector, "organisation_id": user.organisation_id,
        "language": user.language, "renewal_from": now + services._renewal_window(),
        "deferred": deferred, "refresh_payload": refresh_event_payload((user.id,)),
    })
    if not rows:
        raise NotFound(_("No course %(slug)r.", slug=slug))
    course_id, status, language, created_at, version, lti_linked, enrolment_id, event_id = rows[0]
    if status != "published":
        if not user.is_admin:
            raise NotFound(_("No course %(slug)r.", slug=slug))
        raise services.NotEnrollable(_("This course is not open for enrolment."))
    if enrolment_id is None:
        allowed, reason = services.can_enrol_again(user.id, course_id)
        raise services.AlreadyEnrolled(reason if not allowed else _("You are already enrolled in this course."))
    if deferred:  # their "reached" fact: the worker refreshes it (the event is written)
        written(session, {event_id: REFRESH_EVENT})
    else:
        note_changed(session, (user.id,))
    note_lti_linked(session, course_id, lti_linked)
    services.announce(user.id, course_id, enrolment_id, "registered", str(enrolment_id), now)
    key = CourseKey(course_id, created_at, version)
    kept(session, key, "card", lambda: (slug, language))  # for the lessons' answers (``course_card``)
    # A new enrolment: nothing done, no quiz attempt.
    return _body(session, key, enrolment_id, slug, language, user.language, "active", now, None, None,
                 None, _progress(_outline(session, key), frozenset(), False))


def _body(session: Session, key: CourseKey, enrolment_id: int, slug: str, course_language: str,
          language: str | None, status: str, enrolled_at, completed_at, withdrawn_at, cohort_id,
          progress: dict) -> dict:
    return {
        "id": enrolment_id,
        "course": slug,
        "course_title": title_of(session, key, course_language, language),
        "status": status,
        "enrolled_at": enrolled_at,
        "completed_at": completed_at,
        "withdrawn_at": withdrawn_at,
        "cohort_id": cohort_id,
        "progress": progress,
    }


# --- completing a lesson --------------------------------------------------------------------------------

# The caller's own enrolment only, locked, with its course's content version and LTI flag
# (``learning.enrolment.own_lock``, shared with the token's statement).
_LOCK_OWN = HotStatement(text(LOCK_OWN_SQL).columns(*LOCK_OWN_COLUMNS).execution_options(**_PREPARED))

# Every part of one statement sees the same snapshot, taken after the row lock above was granted: the
# lessons done by a request that held the lock before are seen, the one added here comes from RETURNING.
# ``rules`` is the completion rule, a column per requirement (``learning.enrolment.completion``; its
# ``quiz_done`` is the quiz passed when the course has one, for the answer's progress); ``touched`` writes
# the last activity (never back in time) and, when every requirement holds, the completion, as
# ``mark_completed`` does; ``event`` is its outbox event.
_RECORD_AND_COMPLETE = text(
    "WITH added AS ("
    "INSERT INTO lesson_progress (enrolment_id, lesson_id, completed_at) "
    "VALUES (:enrolment_id, :lesson_id, :now) ON CONFLICT DO NOTHING RETURNING lesson_id), "
    "done AS ("
    "SELECT lesson_id, false AS added FROM lesson_progress WHERE enrolment_id = :enrolment_id "
    "UNION ALL SELECT lesson_id, true FROM added), "
    f"rules AS (SELECT {completion.SQL_COLUMNS}), "
    "touched AS ("
    "UPDATE enrolments SET "
    "last_activity_at = CASE WHEN last_activity_at IS NULL OR last_activity_at < :now "
    "THEN :now ELSE last_activity_at END, "
    "status = CASE WHEN r.finish THEN 'completed' ELSE status END, "
    "completed_at = CASE WHEN r.finish THEN :now ELSE completed_at END, "
    "signed_off_by_id = CASE WHEN r.finish THEN NULL ELSE signed_off_by_id END "
    f"FROM (SELECT {completion.SQL_ALL_MET} AS finish FROM rules) AS r "
    "WHERE enrolments.id = :enrolment_id AND enrolments.status = 'active' "
    "AND (r.finish OR enrolments.last_activity_at IS NULL OR enrolments.last_activity_at < :now) "
    "RETURNING r.finish), "
    "event AS ("
    "INSERT INTO outbox_events (event_type, payload, status, attempts, created_at, next_attempt_at) "
    "SELECT 'enrolment.completed', CAST(:payload AS json), 'pending', 0, :now, :now FROM touched "
    "WHERE touched.finish "
    "UNION ALL SELECT 'reporting.refresh', CAST(:refresh_payload AS json), 'pending', 0, :now, :now "
    "FROM touched WHERE touched.finish AND :deferred "
    "RETURNING id, event_type) "
    "SELECT done.lesson_id, done.added, NULL AS event_id, NULL AS event_type, "
    "(SELECT quiz_done FROM rules) AS quiz_done FROM done "
    "UNION ALL SELECT NULL, NULL, id, event_type, NULL FROM event"
).bindparams(
    bindparam("now", type_=UTCDateTime), bindparam("has_quiz", type_=Boolean),
    bindparam("cohort_id", type_=Integer), bindparam("deferred", type_=Boolean),
)


@functools.cache
def _record_and_complete():
    from sqlalchemy.dialects.postgresql import ARRAY

    return HotStatement(_RECORD_AND_COMPLETE.bindparams(bindparam("lesson_ids", type_=ARRAY(Integer))).columns(
        column("lesson_id", Integer), column("added", Boolean), column("event_id", Integer),
        column("event_type", String), column("quiz_done", Boolean)).execution_options(**_PREPARED))


def complete_lesson(session: Session, user, enrolment_id: int, lesson_id: int) -> dict:
    """``services.complete_lesson(get_own_enrolment(user, enrolment_id, for_update=True), lesson_id)`` for
    the API: the answer's body."""
    connection = session.connection()
    locked = getattr(user, "locked_enrolment", None)
    if locked is not None and locked[0] == enrolment_id:  # read and locked with the token (auth.py, hotpath6)
        row = locked[1]
    else:
        rows = _LOCK_OWN.rows(connection, {"enrolment_id": enrolment_id, "user_id": user.id})
        row = rows[0] if rows else None
    if row is None:
        raise NotFound(_("No such enrolment."))
    course_id, cohort_id, status, enrolled_at, completed_at, withdrawn_at, created_at, version, linked = row
    services.require_active_status(status)
    key = CourseKey(course_id, created_at, version)
    outline = _outline(session, key)
    if lesson_id not in outline.lesson_ids:
        raise NotFound(_("This lesson is not part of the course."))
    note_lti_linked(session, course_id, linked)
    now = utcnow()
    deferred = refresh_is_deferred(session)
    rows = _record_and_complete().rows(connection, {
        "enrolment_id": enrolment_id, "lesson_id": lesson_id, "now": now, "has_quiz": outline.has_quiz,
        "cohort_id": cohort_id, "lesson_ids": list(outline.lesson_ids),
        "payload": json.dumps({"enrolment_id": enrolment_id}),
        "deferred": deferred, "refresh_payload": json.dumps(refresh_event_payload((user.id,))),
    })
    done = frozenset(r[0] for r in rows if r[0] is not None)
    added = any(r[1] for r in rows)
    events = {r[2]: r[3] for r in rows if r[2] is not None}
    if added:
        services.announce(user.id, course_id, enrolment_id, "lesson_completed", f"{enrolment_id}:{lesson_id}", now,
                          lesson_id=lesson_id)
    if events:  # this lesson was the last requirement: completed, with its event (and the statistics')
        status, completed_at = "completed", now
        written(session, events)
        if not deferred:
            note_changed(session, (user.id,))  # their "trained" fact
        services.announce(user.id, course_id, enrolment_id, "course_completed", str(enrolment_id), now)
    slug, course_language = course_card(session, key)
    return _body(session, key, enrolment_id, slug, course_language, user.language, status, enrolled_at,
                 completed_at, withdrawn_at, cohort_id, _progress(outline, done, any(r[4] for r in rows if r[0] is not None)))
