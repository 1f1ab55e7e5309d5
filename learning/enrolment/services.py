"""Enrolling, progressing and completing: the rules of a learner's journey.

Completion writes an ``enrolment.completed`` outbox event in the same
transaction (DESIGN.md rule 1); the certificate follows from it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, exists, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from learning.accounts.models import User
from learning.catalogue.content import kept
from learning.catalogue.models import Course, Lesson, Module, Quiz
from learning.catalogue.questions import score_answers
from learning.certificates.models import Certificate
from learning.enrolment.completion import completed_lesson_ids, quiz_passed, requirements_met
from learning.enrolment.models import Enrolment, LessonProgress, QuizAttempt
from learning.errors import Conflict, DomainError, NotFound
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.services import emit
from learning.signals import LearningEvent, learning_event


class AlreadyEnrolled(Conflict):
    code = "already_enrolled"


class NotEnrollable(Conflict):
    code = "not_enrollable"


class EnrolmentNotActive(Conflict):
    code = "enrolment_not_active"


DEFAULT_RENEWAL_WINDOW_DAYS = 90


def _renewal_window() -> timedelta:
    return timedelta(days=current_app.config.get("RENEWAL_WINDOW_DAYS", DEFAULT_RENEWAL_WINDOW_DAYS))


def can_enrol_again(user_id: int, course_id: int) -> tuple[bool, str | None]:
    """Whether a learner may start (again) a course: no active cycle and no certificate still in force."""
    rows = db.session.execute(
        select(Enrolment.status, Certificate.expires_at, Certificate.revoked_at)
        .outerjoin(Certificate, Certificate.enrolment_id == Enrolment.id)
        .where(Enrolment.user_id == user_id, Enrolment.course_id == course_id, Enrolment.status != "withdrawn")
    ).all()
    now = utcnow()
    for status, expires_at, revoked_at in rows:
        if status == "active":
            return False, _("You are already enrolled in this course.")
        if status == "completed" and revoked_at is None:
            if expires_at is None:
                return False, _("You have already completed this course.")
            if expires_at - _renewal_window() > now:
                return False, _("Your certificate for this course is still valid; you can renew it closer to its expiry.")
    return True, None


def enrol(user: User, course: Course, cohort_id: int | None = None, by_trainer: bool = False) -> Enrolment:
    """Enrol a learner, recording their country, sector and organisation as of now (rule 3)."""
    if course.status != "published" and not (by_trainer and course.status == "draft"):
        raise NotEnrollable(_("This course is not open for enrolment."))
    values = {
        "user_id": user.id, "course_id": course.id, "cohort_id": cohort_id, "status": "active",
        "enrolled_at": utcnow(), "country": user.country, "sector": user.sector,
        "organisation_id": user.organisation_id, "language": user.language,
    }
    # The database's unique index of active enrolments refuses a second one (a concurrent request that
    # enrolled first) without an error, so no SAVEPOINT is needed around the insert. The rollup notes
    # the person from the parameters' ``user_id`` (``_remember_people_of_bulk_statements``).
    if db.session.get_bind().dialect.name == "postgresql":
        # One round trip: the rule of ``can_enrol_again`` is the insert's own condition (helper
        # "hotpath3"); only a refusal asks again, for the reason to give.
        enrolment = db.session.scalars(
            _enrol_unless_barred(), {**values, "renewal_from": values["enrolled_at"] + _renewal_window()}
        ).one_or_none()
        if enrolment is None:
            allowed, reason = can_enrol_again(user.id, course.id)
            raise AlreadyEnrolled(reason if not allowed else _("You are already enrolled in this course."))
    else:
        allowed, reason = can_enrol_again(user.id, course.id)
        if not allowed:
            raise AlreadyEnrolled(reason)
        enrolment = db.session.scalars(
            sqlite_insert(Enrolment).on_conflict_do_nothing().returning(Enrolment), [values]
        ).one_or_none()
        if enrolment is None:
            raise AlreadyEnrolled(_("You are already enrolled in this course."))
    # The object the caller holds: the answer reads it (and its title) without a round trip.
    set_committed_value(enrolment, "course", course)
    db.session.info.setdefault(_DONE, {})[enrolment.id] = frozenset()  # nothing done yet: nothing to read
    _announce(enrolment, "registered", str(enrolment.id), enrolment.enrolled_at)
    return enrolment


_ENROLMENT_VALUES = ("user_id", "course_id", "cohort_id", "status", "enrolled_at", "country", "sector",
                     "organisation_id", "language")


@functools.cache
def _enrol_unless_barred():
    """PostgreSQL, built once: ``INSERT INTO enrolments … SELECT <the values> WHERE NOT EXISTS (<what
    bars it>) ON CONFLICT DO NOTHING RETURNING enrolments.*``. What bars it is ``can_enrol_again``'s rule
    in SQL: an active enrolment in the course, or a completed one whose certificate is not revoked and
    either never expires or expires after ``renewal_from`` (now + the renewal window); a completed
    enrolment whose certificate is still to be issued bars it too (no certificate row: nothing revoked,
    no expiry)."""
    return (pg_insert(Enrolment).from_select(list(_ENROLMENT_VALUES), enrolment_unless_barred())
            .on_conflict_do_nothing().returning(Enrolment)
            .execution_options(dml_strategy="orm"))  # the parameters are the SELECT's, not rows to insert


def enrolment_unless_barred(course=None):
    """``SELECT <the values> WHERE NOT EXISTS (<what bars it>)``: the rows ``_enrol_unless_barred`` inserts.

    ``course``: a FROM clause with the course's ``id`` and ``status`` (the API's hot path reads the course
    in the same statement, ``learning.enrolment.hot``): its id instead of the ``course_id`` parameter, and
    only if it is published."""
    table = Enrolment.__table__
    params = {name: bindparam(name, type_=table.c[name].type) for name in _ENROLMENT_VALUES}
    if course is not None:
        params["course_id"] = course.c.id
    earlier = aliased(Enrolment)
    barred = (
        select(1).select_from(earlier).outerjoin(Certificate, Certificate.enrolment_id == earlier.id)
        .where(earlier.user_id == params["user_id"], earlier.course_id == params["course_id"],
               or_(earlier.status == "active",
                   and_(earlier.status == "completed", Certificate.revoked_at.is_(None),
                        or_(Certificate.expires_at.is_(None),
                            Certificate.expires_at > bindparam("renewal_from", type_=Certificate.expires_at.type)))))
    )
    rows = select(*params.values()).where(~exists(barred))
    if course is not None:
        rows = rows.where(course.c.status == "published")
    return rows


def _announce(enrolment: Enrolment, kind: str, ref: str, at, **details) -> None:
    """State a fact of the learner's journey to whoever listens (``learning.xapi``), in this transaction."""
    announce(enrolment.user_id, enrolment.course_id, enrolment.id, kind, ref, at, **details)


def announce(user_id: int, course_id: int, enrolment_id: int, kind: str, ref: str, at, **details) -> None:
    """``_announce`` for an enrolment known by its ids (the hot path reads rows, not objects)."""
    learning_event.send(LearningEvent(kind=kind, user_id=user_id, course_id=course_id,
                                      enrolment_id=enrolment_id, ref=ref, occurred_at=at, details=details or None))


def get_enrolment(enrolment_id: int) -> Enrolment:
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise NotFound(_("No such enrolment."))
    return enrolment


def get_own_enrolment(user: User, enrolment_id: int, *, for_update: bool = False) -> Enrolment:
    """The caller's own enrolment; someone else's answers 404 so ids reveal nothing.

    With ``for_update`` it is read and locked in one statement (see ``_lock``), for a change that
    follows at once; only the caller's own row is ever locked.
    """
    if for_update:
        enrolment = db.session.execute(
            _own_enrolment_for_update(), {"enrolment_id": enrolment_id, "user_id": user.id}
        ).scalar_one_or_none()
    else:
        enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or enrolment.user_id != user.id:
        raise NotFound(_("No such enrolment."))
    return enrolment


@functools.cache
def _own_enrolment_for_update():
    """Built once (every lesson completion runs it). The course comes joined (its content version with
    it); its translations are read only if something asks for them (the API's answer takes the title the
    process keeps)."""
    return (
        select(Enrolment)
        .where(Enrolment.id == bindparam("enrolment_id"), Enrolment.user_id == bindparam("user_id"))
        .options(joinedload(Enrolment.course).lazyload(Course.translations))
        .with_for_update(of=Enrolment).execution_options(populate_existing=True)
    )


def get_enrolment_for(user: User, enrolment_id: int) -> Enrolment:
    """An enrolment its learner or an admin may read; to anyone else it does not exist."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None or (enrolment.user_id != user.id and not user.is_admin):
        raise NotFound(_("No such enrolment."))
    return enrolment


def _lock(enrolment: Enrolment) -> None:
    """Serialise changes to one enrolment, so that two requests finishing its last two
    requirements at once complete it exactly once (a row lock on PostgreSQL; SQLite
    serialises writers anyway)."""
    # The row must be fetched: populate_existing refreshes the object only as rows are read, and a
    # request that waited for the lock must see what the one before it committed (its status).
    db.session.execute(
        select(Enrolment).where(Enrolment.id == enrolment.id).with_for_update(of=Enrolment)
        .execution_options(populate_existing=True)
    ).scalar_one()


def _require_active(enrolment: Enrolment) -> None:
    require_active_status(enrolment.status)


def require_active_status(status: str) -> None:
    """409 unless an enrolment in this status may change."""
    if status != "active":
        if status == "completed":
            raise EnrolmentNotActive(_("This enrolment is completed."))
        if status == "withdrawn":
            raise EnrolmentNotActive(_("This enrolment is withdrawn."))
        raise EnrolmentNotActive(_("This enrolment is not active."))


@dataclass(frozen=True)
class CourseOutline:
    """What completing a course requires: its lessons in order, and whether it has a quiz."""

    lesson_ids: tuple[int, ...]
    has_quiz: bool


_OUTLINES = "course_outlines"
_DONE = "completed_lessons"  # lessons done per enrolment, as written in this transaction


def course_outline(course_id: int) -> CourseOutline:
    """The course's outline: kept by the process for as long as the course's content version is the
    same (``learning.catalogue.content``; the version comes with the course row, which the hot path's
    requests read anyway), else read (two small indexed queries), at most once per transaction."""
    cache = db.session.info.setdefault(_OUTLINES, {})
    if course_id not in cache:
        course = db.session.get(Course, course_id)
        if course is None:
            cache[course_id] = _read_outline(course_id)
        else:
            cache[course_id] = kept(db.session(), course, "outline", lambda: _read_outline(course_id))
    return cache[course_id]


def _read_outline(course_id: int) -> CourseOutline:
    lesson_ids = tuple(db.session.scalars(
        select(Lesson.id).join(Module).where(Module.course_id == course_id)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    ))
    has_quiz = db.session.scalar(select(Quiz.id).where(Quiz.course_id == course_id)) is not None
    return CourseOutline(lesson_ids, has_quiz)


def forget_transaction_caches(session: Session, *_args) -> None:
    """After commit or rollback (attached by ``learning.enrolment.init_app``)."""
    session.info.pop(_OUTLINES, None)  # a course edited later must be read afresh
    session.info.pop(_DONE, None)


def complete_lesson(enrolment: Enrolment, lesson_id: int, *, locked: bool = False,
                    at: datetime | None = None) -> Enrolment:
    """Mark a lesson done (repeating it changes nothing) and complete the course if that was all.

    ``locked``: the caller read the enrolment with ``get_own_enrolment(..., for_update=True)``.
    ``at``: when it happened, for a completion made offline and synced later (DESIGN.md rule 9);
    the course's completion then dates from its last requirement met, not from the sync.
    """
    if not locked:
        _lock(enrolment)
    _require_active(enrolment)
    if lesson_id not in course_outline(enrolment.course_id).lesson_ids:
        raise NotFound(_("This lesson is not part of the course."))
    if db.session.get_bind().dialect.name == "postgresql":
        done, added = _record_lesson_in_one_statement(enrolment, lesson_id, at)
    else:
        done = completed_lesson_ids(enrolment)
        added = lesson_id not in done
        if added:
            # The row lock makes a duplicate impossible; ON CONFLICT keeps it harmless anyway.
            db.session.execute(
                sqlite_insert(LessonProgress)
                .values(enrolment_id=enrolment.id, lesson_id=lesson_id, completed_at=at or utcnow())
                .on_conflict_do_nothing()
            )
            done.add(lesson_id)
        _note_activity(enrolment, at)
    if added:
        _announce(enrolment, "lesson_completed", f"{enrolment.id}:{lesson_id}", at or utcnow(), lesson_id=lesson_id)
    db.session.info.setdefault(_DONE, {})[enrolment.id] = frozenset(done)  # for the answer's progress
    check_completion(enrolment, done, offline=at is not None)
    return enrolment


_RECORD_LESSON_PG = text(
    "WITH added AS (INSERT INTO lesson_progress (enrolment_id, lesson_id, completed_at) "
    "VALUES (:enrolment_id, :lesson_id, :completed_at) ON CONFLICT DO NOTHING RETURNING lesson_id), "
    "touched AS (UPDATE enrolments SET last_activity_at = :activity_at WHERE id = :enrolment_id "
    "AND (last_activity_at IS NULL OR last_activity_at < :activity_at)) "
    "SELECT lesson_id, false AS added FROM lesson_progress WHERE enrolment_id = :enrolment_id "
    "UNION ALL SELECT lesson_id, true FROM added"
)


def _record_lesson_in_one_statement(enrolment: Enrolment, lesson_id: int,
                                    at: datetime | None) -> tuple[set[int], bool]:
    """PostgreSQL, the enrolment locked: insert the lesson's progress unless it is there, move the last
    activity forward and read the lessons done, in one round trip. Returns (lessons done, whether this
    one was added).

    Every part of one statement sees the same snapshot, taken after the row lock was granted: the
    lessons done by a request that held the lock before are seen; the row added here comes from
    ``RETURNING``. The last activity is set as ``_note_activity`` would, and the enrolment object told
    so, so the flush writes nothing more for it."""
    when = at or utcnow()
    rows = db.session.execute(_RECORD_LESSON_PG, {
        "enrolment_id": enrolment.id, "lesson_id": lesson_id, "completed_at": when, "activity_at": when,
    }).all()
    if enrolment.last_activity_at is None or enrolment.last_activity_at < when:
        set_committed_value(enrolment, "last_activity_at", when)
    return {row.lesson_id for row in rows}, any(row.added for row in rows)


class QuizAttemptsExhausted(DomainError):
    """The course's limit of quiz attempts is reached: 429, with when the learner may try again."""

    status = 429
    code = "too_many_attempts"


@dataclass(frozen=True)
class QuizWait:
    """Why the next attempt must wait: until ``retry_at``, or for good when it is None."""

    retry_at: datetime | None
    allowed: int

    def message(self) -> str:
        if self.retry_at is None:
            return _("You have used all the quiz attempts allowed for this course. "
                     "Ask your trainer or the organisers for help.")
        return _("You have used the quiz attempts allowed for now. You can try again from %(time)s.",
                 time=format_datetime(self.retry_at, "short"))


def quiz_wait(enrolment: Enrolment) -> QuizWait | None:
    """Whether the learner must wait before another attempt at this course's quiz, and until when.

    The score shown after each attempt would otherwise let anyone find the right answers by trial:
    a course allows ``max_quiz_attempts`` within any ``quiz_cooldown_minutes`` (0: ever). Attempts count
    across all the person's enrolments in the course, so leaving and enrolling again starts nothing afresh.
    """
    course = enrolment.course
    if course.max_quiz_attempts is None:
        return None
    statement = (
        select(QuizAttempt.submitted_at)
        .join(Enrolment, Enrolment.id == QuizAttempt.enrolment_id)
        .where(Enrolment.user_id == enrolment.user_id, Enrolment.course_id == enrolment.course_id)
        .order_by(QuizAttempt.submitted_at.desc()).limit(course.max_quiz_attempts)
    )
    window = timedelta(minutes=course.quiz_cooldown_minutes)
    if course.quiz_cooldown_minutes:
        statement = statement.where(QuizAttempt.submitted_at > utcnow() - window)
    recent = list(db.session.scalars(statement))
    if len(recent) < course.max_quiz_attempts:
        return None
    # The oldest of the attempts that fill the window: when it leaves the window, one attempt is free.
    return QuizWait(recent[-1] + window if course.quiz_cooldown_minutes else None, course.max_quiz_attempts)


def _note_activity(enrolment: Enrolment, at: datetime | None) -> None:
    """A late offline event never moves the last activity back in time."""
    when = at or utcnow()
    if enrolment.last_activity_at is None or enrolment.last_activity_at < when:
        enrolment.last_activity_at = when


@dataclass(frozen=True)
class QuizResult:
    attempt: QuizAttempt
    score: int
    passed: bool


def submit_quiz(enrolment: Enrolment, answers, *, at: datetime | None = None) -> QuizResult:
    """Score the answers on the server against the course's pass mark.

    ``at``: when the attempt was made, for one made offline and synced later (scored the same way).
    """
    _lock(enrolment)
    _require_active(enrolment)
    course = enrolment.course
    if course.quiz is None:
        raise NotFound(_("This course has no quiz."))
    wait = quiz_wait(enrolment)
    if wait is not None:
        error = QuizAttemptsExhausted(
            wait.message(), retry_at=wait.retry_at.isoformat() if wait.retry_at else None, allowed=wait.allowed)
        if wait.retry_at is not None:
            error.headers["Retry-After"] = str(max(1, int((wait.retry_at - utcnow()).total_seconds()) + 1))
        raise error
    scored = score_answers(answers, {q.id: q for q in course.quiz.questions},
                           not_asked=_l("Not a question of this quiz."))
    score = scored.percent
    passed = score >= course.pass_mark
    attempt = QuizAttempt(enrolment_id=enrolment.id, score=score, passed=passed,
                          answers=scored.answers_as_data(), submitted_at=at or utcnow())
    db.session.add(attempt)
    _note_activity(enrolment, at)
    db.session.flush()
    _announce(enrolment, "quiz_attempted", str(attempt.id), at or utcnow(), quiz_id=course.quiz.id, score=score,
              passed=passed, pass_mark=course.pass_mark)
    check_completion(enrolment, offline=at is not None)
    return QuizResult(attempt, score, passed)


def check_completion(enrolment: Enrolment, done: set[int] | None = None, *, offline: bool = False) -> bool:
    """Complete the enrolment if the completion rule holds (``learning.enrolment.completion``: every
    lesson done, the quiz passed if the course has one, no attendance rule of a cohort deciding instead).

    ``offline``: the requirement just met was an event made on a device; the completion then dates
    from when its last requirement was actually met (statistics count that day, rule 9).
    """
    if enrolment.status != "active":
        return enrolment.status == "completed"
    outline = course_outline(enrolment.course_id)
    if not requirements_met(enrolment, outline, done):
        return False
    mark_completed(enrolment, at=_requirements_met_at(enrolment, outline) if offline else None)
    return True


def _requirements_met_at(enrolment: Enrolment, outline: CourseOutline) -> datetime:
    """When the last requirement was met: the latest lesson done, or the first quiz passed if later."""
    moments = [db.session.scalar(
        select(func.max(LessonProgress.completed_at)).where(LessonProgress.enrolment_id == enrolment.id)
    )]
    if outline.has_quiz:
        moments.append(db.session.scalar(
            select(func.min(QuizAttempt.submitted_at))
            .where(QuizAttempt.enrolment_id == enrolment.id, QuizAttempt.passed.is_(True))
        ))
    known = [m for m in moments if m is not None]  # max/min keep the column's type: aware UTC datetimes
    return min(max(known), utcnow()) if known else utcnow()


def mark_completed(enrolment: Enrolment, signed_off_by: int | None = None, *,
                   at: datetime | None = None) -> Enrolment:
    """Record the completion and, in the same transaction, the event that earns the certificate."""
    if enrolment.status == "completed":
        return enrolment
    _require_active(enrolment)
    enrolment.status = "completed"
    enrolment.completed_at = at or utcnow()
    enrolment.signed_off_by_id = signed_off_by
    emit("enrolment.completed", {"enrolment_id": enrolment.id})
    _announce(enrolment, "course_completed", str(enrolment.id), enrolment.completed_at)
    return enrolment


def withdraw(enrolment: Enrolment) -> Enrolment:
    """Leave a course; the history stays and the learner may enrol again later."""
    _lock(enrolment)
    _require_active(enrolment)
    enrolment.status = "withdrawn"
    enrolment.withdrawn_at = utcnow()
    return enrolment


@dataclass(frozen=True)
class Progress:
    completed_lessons: int
    total_lessons: int
    next_lesson_id: int | None
    quiz_required: bool
    quiz_passed: bool
    done: frozenset[int] = frozenset()

    @property
    def next_lesson(self) -> Lesson | None:
        """The next lesson to take (loaded only by the pages that show it)."""
        return db.session.get(Lesson, self.next_lesson_id) if self.next_lesson_id is not None else None

    @property
    def percent(self) -> int:
        return round(100 * self.completed_lessons / self.total_lessons) if self.total_lessons else 0


def progress_of(enrolment: Enrolment) -> Progress:
    """How far the learner is: lessons done of all, the next lesson, and the quiz."""
    outline = course_outline(enrolment.course_id)
    done = db.session.info.get(_DONE, {}).get(enrolment.id)
    if done is None:
        done = completed_lesson_ids(enrolment)
    return Progress(
        completed_lessons=sum(1 for lesson_id in outline.lesson_ids if lesson_id in done),
        total_lessons=len(outline.lesson_ids),
        next_lesson_id=next((lesson_id for lesson_id in outline.lesson_ids if lesson_id not in done), None),
        quiz_required=outline.has_quiz,
        quiz_passed=quiz_passed(enrolment) if outline.has_quiz else False,
        done=frozenset(done),
    )
