"""What each reminder says, and whether it still applies when its digest goes out.

A reminder is claimed when its rule finds it due and sent a little later (the
next daytime run, or after an SMTP outage). Each ``describe_*`` function looks
again at what the reminder is about: if the learner has completed or left the
course, renewed the certificate, or set their password meanwhile, it returns
None and the reminder is cancelled instead of sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from babel.dates import format_date
from flask import current_app
from sqlalchemy import exists, select

from learning.accounts.models import Organisation, User
from learning.accounts.services import make_link_token
from learning.catalogue.models import Course
from learning.catalogue.services import course_text
from learning.certificates.models import Certificate
from learning.certificates.services import verify_url
from learning.cohorts.models import Cohort
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.organisations.models import AssignedPerson, Assignment, done_condition
from learning.reminders.models import ReminderSent
from learning.reminders.rules import renewed
from learning.reminders.services import zone

Describer = Callable[[ReminderSent, User, datetime, str], "dict | None"]


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def course_url(course: Course) -> str:
    """Where a learner continues, or enrols again in, a course."""
    return f"{_base()}/courses/{course.slug}"


def _day(moment: datetime, user: User, language: str) -> str:
    return format_date(moment.astimezone(zone(user.timezone)).date(), format="long", locale=language)


def _threshold(item: ReminderSent) -> int:
    """The threshold in days an occasion was claimed for (its last part, ``'21d'``)."""
    return int(item.occasion.rsplit(":", 1)[-1].rstrip("d"))


def describe_inactivity(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    enrolment = db.session.get(Enrolment, item.subject_id)
    if enrolment is None or enrolment.status != "active":
        return None
    last = enrolment.last_activity_at or enrolment.enrolled_at
    if last > item.created_at:  # progress since the reminder fell due
        return None
    return {"kind": "inactivity", "course_title": course_text(enrolment.course, language).title,
            "days": _threshold(item), "course_url": course_url(enrolment.course)}


def describe_cohort_ending(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    enrolment = db.session.get(Enrolment, item.subject_id)
    if enrolment is None or enrolment.status != "active" or enrolment.cohort_id is None:
        return None
    cohort = db.session.get(Cohort, enrolment.cohort_id)
    if cohort.status != "open" or cohort.ends_on < now.date():
        return None
    return {"kind": "cohort_ending", "cohort_name": cohort.name,
            "course_title": course_text(enrolment.course, language).title,
            "ends_on": format_date(cohort.ends_on, format="long", locale=language),
            "course_url": course_url(enrolment.course)}


def _certificate(item: ReminderSent) -> tuple[Certificate | None, Course | None]:
    certificate = db.session.get(Certificate, item.subject_id)
    if certificate is None or certificate.revoked_at is not None:
        return None, None
    return certificate, db.session.get(Course, certificate.course_id)


def describe_certificate_expiring(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    certificate, course = _certificate(item)
    if certificate is None or certificate.expires_at is None or certificate.expires_at <= now:
        return None
    if db.session.scalar(select(renewed(Certificate)).where(Certificate.id == certificate.id)):
        return None
    return {"kind": "certificate_expiring", "course_title": course_text(course, language).title,
            "expires_on": _day(certificate.expires_at, user, language), "course_url": course_url(course)}


def describe_certificate_issued(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    certificate, course = _certificate(item)
    if certificate is None:
        return None
    return {"kind": "certificate_issued", "course_title": course_text(course, language).title,
            "verify_url": verify_url(certificate.code),
            "pdf_url": f"{_base()}/certificates/{certificate.code}.pdf"}


def describe_invitation_pending(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    if user.password_hash is not None or user.last_login_at is not None:
        return None
    cohort = db.session.get(Cohort, item.subject_id)
    member = cohort is not None and db.session.scalar(select(exists().where(
        Enrolment.user_id == user.id, Enrolment.cohort_id == cohort.id, Enrolment.status == "active")))
    if not member:
        return None
    # The same set-password page as the cohorts feature's invitation, with a fresh link.
    return {"kind": "invitation_pending", "cohort_name": cohort.name,
            "course_title": course_text(cohort.course, language).title,
            "link": f"{_base()}/account/reset/{make_link_token(user, 'reset')}"}


def _assignment(item: ReminderSent, user: User, now: datetime, overdue: bool) -> Assignment | None:
    """The assignment if it still applies: the person is a member, not done, and the date is as claimed."""
    assignment = db.session.get(Assignment, item.subject_id)
    if assignment is None or user.organisation_id != assignment.organisation_id:
        return None
    done = db.session.scalar(select(done_condition()).select_from(AssignedPerson).join(
        Assignment, Assignment.id == AssignedPerson.assignment_id).where(
        AssignedPerson.assignment_id == assignment.id, AssignedPerson.user_id == user.id))
    if done is None or done or (assignment.due_at <= now) != overdue:
        return None
    return assignment


def describe_assignment(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    assignment = _assignment(item, user, now, overdue=item.rule == "assignment_overdue")
    if assignment is None:
        return None
    organisation = db.session.get(Organisation, assignment.organisation_id)
    return {"kind": item.rule, "course_title": course_text(assignment.course, language).title,
            "organisation": organisation.name, "due_on": format_date(assignment.due_on, format="long", locale=language),
            "course_url": course_url(assignment.course)}


DESCRIBERS: dict[str, Describer] = {
    "assignment_assigned": describe_assignment,
    "assignment_due": describe_assignment,
    "assignment_overdue": describe_assignment,
    "inactivity": describe_inactivity,
    "cohort_ending": describe_cohort_ending,
    "certificate_expiring": describe_certificate_expiring,
    "certificate_issued": describe_certificate_issued,
    "invitation_pending": describe_invitation_pending,
}


def describe(item: ReminderSent, user: User, now: datetime, language: str) -> dict | None:
    """The reminder as the digest shows it, or None if it no longer applies."""
    describer = DESCRIBERS.get(item.rule)
    return describer(item, user, now, language) if describer else None
