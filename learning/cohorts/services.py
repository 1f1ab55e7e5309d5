"""Cohorts and the trainers who run them: who may see what, and members (sign-off and closing: ``completion``).

Least privilege: admins see every cohort; a trainer sees only the cohorts they
run (any other answers "not found", so ids reveal nothing); everyone else is
refused. Members are the enrolments that point at the cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from learning.accounts.models import User, UserRole
from learning.audit.services import record as audit
from learning.catalogue.models import Course, Lesson, Module
from learning.catalogue.services import get_course
from learning.cohorts.models import (
    ATTENDANCE_RULES,
    CAPACITY_MAX,
    DELIVERY_MODES,
    NAME_MAX,
    Attendance,
    Cohort,
    CohortTrainer,
    TrainingSession,
)
from learning.enrolment.models import Enrolment, LessonProgress, QuizAttempt
from learning.errors import Conflict, Forbidden, NotFound, ValidationFailed
from learning.extensions import db
from learning.i18n import is_country_code
from learning.models_base import utcnow
from learning.parsing import InvalidInput, parse_date
from learning.text import single_line


class CohortClosed(Conflict):
    code = "cohort_closed"


def can_run_cohorts(user: User) -> bool:
    """Whether the user may have a trainer's workspace at all."""
    return user.is_admin or user.is_trainer


def require_cohort_role(user: User) -> None:
    if not can_run_cohorts(user):
        raise Forbidden(_("Only trainers and admins can manage cohorts."))


def get_cohort_for(user: User, cohort_id: int) -> Cohort:
    """The cohort if the user runs it or is an admin; others get 404 (trainers) or 403 (learners)."""
    require_cohort_role(user)
    cohort = db.session.get(Cohort, cohort_id)
    if cohort is None or not (user.is_admin or any(t.user_id == user.id for t in cohort.trainers)):
        raise NotFound(_("No such cohort."))
    return cohort


def cohorts_for(user: User, page: int = 1, per_page: int = 50) -> tuple[list[Cohort], int]:
    """The cohorts the user runs (every cohort for admins), newest first, one page of them."""
    require_cohort_role(user)
    query = select(Cohort)
    if not user.is_admin:
        query = query.where(Cohort.id.in_(select(CohortTrainer.cohort_id).where(CohortTrainer.user_id == user.id)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    cohorts = db.session.scalars(
        query.options(selectinload(Cohort.course)).order_by(Cohort.starts_on.desc(), Cohort.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(cohorts), total


def trainer_choices() -> list[User]:
    """Everyone an admin may assign to a cohort: the trainers, by name."""
    return list(db.session.scalars(
        select(User).join(UserRole).where(UserRole.role == "trainer", User.erased_at.is_(None)).order_by(User.full_name)
    ))


def course_choices() -> list[Course]:
    """Courses a cohort can be run for: published ones and drafts (a trainer may pilot a draft)."""
    return list(db.session.scalars(select(Course).where(Course.status != "archived").order_by(Course.slug)))


def _date(value, field: str, errors: dict) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return parse_date(value) if isinstance(value, str) else None
    except InvalidInput:
        pass
    errors.setdefault(field, []).append(_("Use a date such as 2025-03-31."))
    return None


def _delivery_problem(value) -> str | None:
    return None if value in DELIVERY_MODES else _("Use one of %(modes)s.", modes=", ".join(DELIVERY_MODES))


def _capacity_problem(value) -> str | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= CAPACITY_MAX):
        return None
    return _("Use a whole number of places, at least 1, or leave it empty.")


def _rule_problem(value) -> str | None:
    return None if value in ATTENDANCE_RULES else _("Use one of %(rules)s.", rules=", ".join(ATTENDANCE_RULES))


def _percent_problem(value) -> str | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100):
        return None
    return _("Use a percentage from 1 to 100.")


# The rules on single values, which the API's schemas also apply as they parse (so that one answer
# names every bad field): the message for a bad value, or None.
FIELD_RULES = {"delivery": _delivery_problem, "capacity": _capacity_problem, "attendance_rule": _rule_problem,
               "attendance_min_percent": _percent_problem}


def validate_cohort(data: dict, partial: bool = False) -> dict:
    """Clean cohort fields or raise ``ValidationFailed`` naming every bad one.

    The one place of the cohort's rules: the page's forms parse their input (presence, numbers,
    dates) and leave every rule on the values to this; the API's schemas apply ``FIELD_RULES``.
    """
    errors: dict[str, list[str]] = {}
    clean: dict = {}

    def given(name: str) -> bool:
        return name in data and data[name] is not None or not partial

    if given("course"):
        try:
            course = get_course(str(data.get("course") or ""))
        except NotFound:
            course = None
        if course is None or course.status == "archived":
            errors.setdefault("course", []).append(_("No course %(slug)s is open for cohorts.",
                                                     slug=repr(data.get("course"))))
        else:
            clean["course_id"] = course.id
    if given("name"):
        name = single_line(data.get("name") or "")
        if not name or len(name) > NAME_MAX:
            errors.setdefault("name", []).append(_("A name of at most 200 characters is required."))
        clean["name"] = name
    if given("country"):
        country = data.get("country")
        if not isinstance(country, str) or not is_country_code(country):
            errors.setdefault("country", []).append(_("Unknown country code %(code)s", code=repr(country)))
        else:
            clean["country"] = country.upper()
    if given("delivery"):
        if problem := _delivery_problem(data.get("delivery")):
            errors.setdefault("delivery", []).append(problem)
        clean["delivery"] = data.get("delivery")
    for name in ("starts_on", "ends_on"):
        if given(name):
            clean[name] = _date(data.get(name), name, errors)
    if clean.get("starts_on") and clean.get("ends_on") and clean["ends_on"] < clean["starts_on"]:
        errors.setdefault("ends_on", []).append(_("The cohort cannot end before it starts."))
    if "capacity" in data:
        capacity = data["capacity"]
        if problem := _capacity_problem(capacity):
            errors.setdefault("capacity", []).append(problem)
        clean["capacity"] = capacity
    if "attendance_rule" in data and data["attendance_rule"] is not None:
        if problem := _rule_problem(data["attendance_rule"]):
            errors.setdefault("attendance_rule", []).append(problem)
        clean["attendance_rule"] = data["attendance_rule"]
    if "attendance_min_percent" in data:
        percent = data["attendance_min_percent"]
        if problem := _percent_problem(percent):
            errors.setdefault("attendance_min_percent", []).append(problem)
        clean["attendance_min_percent"] = percent
    if clean.get("attendance_rule") == "min_percent" and not clean.get("attendance_min_percent"):
        errors.setdefault("attendance_min_percent", []).append(_("Say what share of sessions a member must attend."))
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    return clean


def _check_trainers(user_ids) -> list[int]:
    if not isinstance(user_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in user_ids):
        raise ValidationFailed(_("Some fields are invalid."), {"trainers": [_("Give a list of user ids.")]})
    ids = list(dict.fromkeys(user_ids))
    found = set(db.session.scalars(
        select(UserRole.user_id).where(UserRole.user_id.in_(ids), UserRole.role == "trainer")
    )) if ids else set()
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(_("Some fields are invalid."), {
            "trainers": [_("User %(id)d is not a trainer.", id=i) for i in missing]
        })
    return ids


def _names_only(trainers, allowed: set[int], exactly: bool = False) -> bool:
    """Whether a trainer's ``trainers`` changes nothing: absent, or naming no one but ``allowed`` (all of
    them when ``exactly``), so that an integrator may send the cohort's own trainers back. Only admins
    choose who runs a cohort; anything else is refused before it is validated."""
    if trainers is None:
        return True
    if not isinstance(trainers, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in trainers):
        return False
    return set(trainers) == allowed if exactly else set(trainers) <= allowed


def create_cohort(actor: User, data: dict) -> Cohort:
    """A new open cohort; a trainer who creates one runs it, an admin assigns its trainers."""
    require_cohort_role(actor)
    if not actor.is_admin and not _names_only(data.get("trainers"), {actor.id}):
        raise Forbidden(_("Only admins assign trainers to cohorts."))
    clean = validate_cohort(data)
    trainer_ids = _check_trainers(data["trainers"]) if data.get("trainers") is not None else []
    if not actor.is_admin:
        trainer_ids = [actor.id]
    cohort = Cohort(**clean, status="open", created_by_id=actor.id, created_at=utcnow())
    cohort.attendance_rule = clean.get("attendance_rule") or "none"
    cohort.trainers = [CohortTrainer(user_id=i) for i in trainer_ids]
    db.session.add(cohort)
    db.session.flush()
    audit(actor.id, "cohort.created", "cohort", cohort.id, trainers=trainer_ids)
    return cohort


def update_cohort(actor: User, cohort: Cohort, data: dict) -> Cohort:
    """Change a cohort's details and completion rule; only admins change who runs it."""
    require_open(cohort)
    if not actor.is_admin and not _names_only(data.get("trainers"), {t.user_id for t in cohort.trainers}, exactly=True):
        raise Forbidden(_("Only admins assign trainers to cohorts."))
    merged = {"attendance_rule": cohort.attendance_rule, "attendance_min_percent": cohort.attendance_min_percent,
              "starts_on": cohort.starts_on, "ends_on": cohort.ends_on, **data}
    clean = validate_cohort({k: v for k, v in merged.items() if k != "trainers"}, partial=True)
    clean.pop("course_id", None)  # the course of a cohort with members does not change
    for key, value in clean.items():
        setattr(cohort, key, value)
    if data.get("trainers") is not None:
        ids = _check_trainers(data["trainers"])
        cohort.trainers = [t for t in cohort.trainers if t.user_id in ids] + [
            CohortTrainer(user_id=i) for i in ids if i not in {t.user_id for t in cohort.trainers}
        ]
    audit(actor.id, "cohort.updated", "cohort", cohort.id, fields=sorted(data))
    return cohort


def require_open(cohort: Cohort) -> None:
    """Refuse changes to a closed cohort."""
    if cohort.status == "closed":
        raise CohortClosed(_("This cohort is closed."))


@dataclass(frozen=True)
class Member:
    """A member as the trainer sees them: who, status, progress and attendance."""

    enrolment_id: int
    user_id: int
    full_name: str
    email: str
    status: str
    enrolled_at: datetime
    completed_at: datetime | None
    signed_off: bool
    lessons_done: int
    lessons_total: int
    quiz_passed: bool
    sessions_attended: int
    sessions_total: int
    country: str | None = None
    sector: str | None = None
    organisation: str | None = None
    language: str | None = None

    @property
    def percent(self) -> int:
        return round(100 * self.lessons_done / self.lessons_total) if self.lessons_total else 0


def members_of(cohort: Cohort, page: int | None = None, per_page: int = 100,
               user_id: int | None = None) -> tuple[list[Member], int]:
    """The cohort's members with progress and attendance, aggregated in SQL, by name."""
    from learning.accounts.models import Organisation

    lessons_total = db.session.scalar(
        select(func.count(Lesson.id)).join(Module).where(Module.course_id == cohort.course_id)
    ) or 0
    sessions_total = db.session.scalar(
        select(func.count(TrainingSession.id)).where(TrainingSession.cohort_id == cohort.id)
    ) or 0
    done = (select(LessonProgress.enrolment_id, func.count().label("n")).join(Enrolment)
            .where(Enrolment.cohort_id == cohort.id).group_by(LessonProgress.enrolment_id).subquery())
    attended = (select(Attendance.enrolment_id, func.count().label("n")).join(Enrolment)
                .where(Enrolment.cohort_id == cohort.id, Attendance.present.is_(True))
                .group_by(Attendance.enrolment_id).subquery())
    passed = (select(QuizAttempt.enrolment_id).join(Enrolment)
              .where(Enrolment.cohort_id == cohort.id, QuizAttempt.passed.is_(True)).distinct().subquery())
    base = (select(Enrolment, User.full_name, User.email, Organisation.name,
                   func.coalesce(done.c.n, 0), func.coalesce(attended.c.n, 0),
                   case((passed.c.enrolment_id.is_not(None), True), else_=False))
            .join(User, User.id == Enrolment.user_id)
            .outerjoin(Organisation, Organisation.id == Enrolment.organisation_id)
            .outerjoin(done, done.c.enrolment_id == Enrolment.id)
            .outerjoin(attended, attended.c.enrolment_id == Enrolment.id)
            .outerjoin(passed, passed.c.enrolment_id == Enrolment.id)
            .where(Enrolment.cohort_id == cohort.id, Enrolment.status != "withdrawn"))
    if user_id is not None:
        base = base.where(Enrolment.user_id == user_id)
    total = db.session.scalar(select(func.count(Enrolment.id)).where(
        Enrolment.cohort_id == cohort.id, Enrolment.status != "withdrawn"))
    query = base.order_by(User.full_name, User.id)
    if page is not None:
        query = query.offset((page - 1) * per_page).limit(per_page)
    members = [
        Member(enrolment.id, enrolment.user_id, name, email, enrolment.status, enrolment.enrolled_at,
               enrolment.completed_at, enrolment.signed_off_by_id is not None, lessons, lessons_total, quiz,
               present, sessions_total, enrolment.country, enrolment.sector, organisation, enrolment.language)
        for enrolment, name, email, organisation, lessons, present, quiz in db.session.execute(query)
    ]
    return members, total


def member_counts(cohort_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(members, completed) per cohort, in one query."""
    if not cohort_ids:
        return {}
    rows = db.session.execute(
        select(Enrolment.cohort_id, func.count(), func.sum(case((Enrolment.status == "completed", 1), else_=0)))
        .where(Enrolment.cohort_id.in_(cohort_ids), Enrolment.status != "withdrawn").group_by(Enrolment.cohort_id)
    )
    return {cohort_id: (members, int(completed or 0)) for cohort_id, members, completed in rows}


@dataclass(frozen=True)
class Trainer:
    user_id: int
    full_name: str
    email: str


def trainers_of(cohort_ids: list[int]) -> dict[int, list[Trainer]]:
    """The trainers of each cohort, by name, in one query (a page of cohorts is one round trip)."""
    if not cohort_ids:
        return {}
    rows = db.session.execute(
        select(CohortTrainer.cohort_id, User.id, User.full_name, User.email)
        .join(User, User.id == CohortTrainer.user_id)
        .where(CohortTrainer.cohort_id.in_(cohort_ids))
        .order_by(User.full_name, User.id)
    )
    found: dict[int, list[Trainer]] = {}
    for cohort_id, user_id, full_name, email in rows:
        found.setdefault(cohort_id, []).append(Trainer(user_id, full_name, email))
    return found


def get_member(cohort: Cohort, user_id: int) -> Member:
    members, _total = members_of(cohort, user_id=user_id)
    if not members:
        raise NotFound(_("This person is not a member of the cohort."))
    return members[0]


def export_roster(actor_id: int, cohort: Cohort) -> str:
    """The cohort's roster as CSV, recorded in the audit log like every export of personal data."""
    from learning.cohorts.roster import export_rows

    members, _total = members_of(cohort)
    audit(actor_id, "cohort.roster_exported", "cohort", cohort.id, members=len(members))
    return export_rows(members)
