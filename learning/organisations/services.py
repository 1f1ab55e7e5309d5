"""The rules of partner organisations, for the pages and the API alike.

Who sees what: an admin sees every organisation; an ``org_manager`` sees the organisations in
their ``managed_organisations`` and nothing else. Anyone else is refused (403); a manager asking
for an organisation that is not theirs finds nothing (404), so that ids cannot be probed.

Members of an organisation are the people whose current organisation it is, and the people with
an enrolment recorded with it (DESIGN.md rule 3): someone who left stays visible through what
they did while they belonged, and only through that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, or_, select

from learning.accounts.models import Organisation, User
from learning.audit.services import record as audit
from learning.catalogue.models import Course
from learning.certificates.models import Certificate
from learning.enrolment.models import Enrolment
from learning.enrolment.services import AlreadyEnrolled, enrol
from learning.errors import Forbidden, NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.organisations.models import (
    AssignedPerson,
    Assignment,
    JoinRequest,
    OrganisationDomain,
    done_condition,
)
from learning.reporting import services as reporting
from learning.reporting.queries import ReportFilter

MAX_DOMAINS = 20


# --- who may see which organisation ---------------------------------------------------------------

def require_organisation_role(user: User) -> None:
    """Only admins and organisation managers have anything to see here."""
    if not (user.is_admin or user.is_org_manager):
        raise Forbidden(_("Only organisation managers and admins can see organisations."))


def managed_ids(user: User) -> set[int]:
    return {organisation.id for organisation in user.managed_organisations} if user.is_org_manager else set()


def get_organisation_for(user: User, organisation_id: int) -> Organisation:
    """The organisation if the user is an admin or manages it; a manager of another one gets 404."""
    require_organisation_role(user)
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None or not (user.is_admin or organisation.id in managed_ids(user)):
        raise NotFound(_("No such organisation."))
    return organisation


def organisations_for(user: User, page: int = 1, per_page: int = 50) -> tuple[list[Organisation], int]:
    """Every organisation for admins, a manager's own for them; by name, one page of them."""
    require_organisation_role(user)
    query = select(Organisation)
    if not user.is_admin:
        query = query.where(Organisation.id.in_(managed_ids(user) or {0}))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Organisation.name, Organisation.id)
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def current_member_counts(organisation_ids: Iterable[int]) -> dict[int, int]:
    """How many people have each organisation as their current one (erased accounts left out)."""
    ids = list(organisation_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(User.organisation_id, func.count()).where(User.organisation_id.in_(ids), User.erased_at.is_(None))
        .group_by(User.organisation_id))
    return dict(rows.all())


# --- members ----------------------------------------------------------------------------------------

def _member_condition(organisation_id: int):
    recorded = exists().where(Enrolment.user_id == User.id, Enrolment.organisation_id == organisation_id)
    return and_(User.erased_at.is_(None), or_(User.organisation_id == organisation_id, recorded))


def is_member(organisation_id: int, user_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(User.id == user_id, _member_condition(organisation_id)))))


def current_member_ids(organisation_id: int) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.organisation_id == organisation_id,
                                                         User.erased_at.is_(None), User.active.is_(True))
                                   .order_by(User.id)))


@dataclasses.dataclass(frozen=True)
class MemberView:
    """A member as their organisation's manager sees them."""

    user: User
    current: bool  # the organisation is their current one (else: only enrolments recorded with it show)
    enrolments: list[dict]
    certificates: list[dict]


def members(organisation: Organisation, page: int = 1, per_page: int = 50) -> tuple[list[MemberView], int]:
    """The organisation's members by name, with the enrolments and certificates it may see."""
    query = select(User).where(_member_condition(organisation.id))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    people = list(db.session.scalars(query.order_by(User.full_name, User.id)
                                     .limit(per_page).offset((page - 1) * per_page)))
    return [view for view in _views(organisation.id, people)], total


def _views(organisation_id: int, people: list[User]) -> list[MemberView]:
    from learning.catalogue.services import course_text
    from learning.enrolment.services import progress_of
    from learning.i18n import current_language

    language = current_language()

    if not people:
        return []
    ids = [person.id for person in people]
    enrolments = db.session.scalars(select(Enrolment).where(Enrolment.user_id.in_(ids))
                                    .order_by(Enrolment.enrolled_at, Enrolment.id)).all()
    certificates = {row.enrolment_id: row for row in db.session.scalars(
        select(Certificate).where(Certificate.user_id.in_(ids)))}
    now = utcnow()
    views = []
    for person in people:
        current = person.organisation_id == organisation_id
        shown = [e for e in enrolments if e.user_id == person.id and (current or e.organisation_id == organisation_id)]
        rows, certs = [], []
        for enrolment in shown:
            progress = progress_of(enrolment)
            rows.append({"course": enrolment.course.slug, "course_title": course_text(enrolment.course, language).title,
                         "status": enrolment.status, "enrolled_at": enrolment.enrolled_at,
                         "completed_at": enrolment.completed_at, "completed_lessons": progress.completed_lessons,
                         "total_lessons": progress.total_lessons})
            certificate = certificates.get(enrolment.id)
            if certificate is not None:
                certs.append({"code": certificate.code, "course": enrolment.course.slug,
                              "status": certificate.status_at(now), "issued_at": certificate.issued_at,
                              "expires_at": certificate.expires_at})
        views.append(MemberView(person, current, rows, certs))
    return views


# --- assignments ------------------------------------------------------------------------------------

def due_instant(due_on: date) -> datetime:
    """The first instant after the due day, in UTC: done "by" the due date means before it."""
    return datetime.combine(due_on + timedelta(days=1), time(0), tzinfo=UTC)


def _published_course(slug) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug)) if isinstance(slug, str) else None
    if course is None or course.status != "published":
        raise ValidationFailed(_("This course cannot be assigned."),
                               {"course": [_("Choose a published course.")]})
    return course


def create_assignment(actor: User, organisation: Organisation, course_slug: str, due_on: date,
                      user_ids: list[int] | None = None, all_members: bool = False) -> Assignment:
    """Assign a course to chosen members (or all current ones) by ``due_on``; enrol who needs it.

    Someone already enrolled keeps their enrolment (it counts); someone whose certificate is still
    in force is not enrolled again (they may be done already, or renew when the course allows it).
    Every check comes first: a refused assignment changes nothing.
    """
    errors: dict[str, list[str]] = {}
    course = None
    try:
        course = _published_course(course_slug)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if not isinstance(due_on, date) or due_on < utcnow().date():
        errors["due_on"] = [_("Choose a due date from today on.")]
    if all_members:
        people = current_member_ids(organisation.id)
        if not people:
            errors["all_members"] = [_("This organisation has no members yet.")]
    else:
        people = sorted(set(user_ids or []))
        if not people:
            errors["user_ids"] = [_("Choose at least one member, or all of them.")]
        else:
            strangers = [uid for uid in people if not _is_current_member(organisation.id, uid)]
            if strangers:
                errors["user_ids"] = [_("Not members of this organisation: %(ids)s",
                                        ids=", ".join(str(uid) for uid in strangers))]
    if errors:
        raise ValidationFailed(_("The assignment cannot be made."), errors)
    assignment = Assignment(organisation_id=organisation.id, course_id=course.id, due_on=due_on,
                            due_at=due_instant(due_on), created_by_id=actor.id)
    db.session.add(assignment)
    db.session.flush()
    active = dict(db.session.execute(select(Enrolment.user_id, Enrolment.id).where(
        Enrolment.user_id.in_(people), Enrolment.course_id == course.id, Enrolment.status == "active")).all())
    for user_id in people:
        enrolment_id = active.get(user_id)
        if enrolment_id is None:
            try:
                enrolment_id = enrol(db.session.get(User, user_id), course).id
            except AlreadyEnrolled:
                enrolment_id = None  # completed with a certificate in force: it may count as done
        db.session.add(AssignedPerson(assignment_id=assignment.id, user_id=user_id, enrolment_id=enrolment_id))
    db.session.flush()
    audit(actor.id, "assignment.created", "assignment", assignment.id, organisation_id=organisation.id,
          course=course.slug, due_on=due_on.isoformat(), people=len(people))
    return assignment


def _is_current_member(organisation_id: int, user_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(
        User.id == user_id, User.organisation_id == organisation_id, User.erased_at.is_(None)))))


@dataclasses.dataclass(frozen=True)
class Counts:
    assigned: int = 0
    completed: int = 0
    overdue: int = 0


def assignment_counts(assignment_ids: Iterable[int], now: datetime | None = None) -> dict[int, Counts]:
    """Assigned, completed and overdue people of each assignment, in one query."""
    ids = list(assignment_ids)
    if not ids:
        return {}
    now = now or utcnow()
    done = done_condition()
    rows = db.session.execute(
        select(Assignment.id, func.count(AssignedPerson.id),
               func.sum(case((done, 1), else_=0)),
               func.sum(case((and_(~done, Assignment.due_at <= now), 1), else_=0)))
        .join(AssignedPerson, AssignedPerson.assignment_id == Assignment.id)
        .where(Assignment.id.in_(ids)).group_by(Assignment.id))
    return {row[0]: Counts(row[1], int(row[2] or 0), int(row[3] or 0)) for row in rows}


def assignments_of(organisation: Organisation, page: int = 1,
                   per_page: int = 50) -> tuple[list[Assignment], int]:
    query = select(Assignment).where(Assignment.organisation_id == organisation.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Assignment.due_on.desc(), Assignment.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), total


def serialise_assignment(assignment: Assignment, counts: Counts) -> dict:
    return {"id": assignment.id, "course": assignment.course.slug,
            "due_on": assignment.due_on, "assigned": counts.assigned, "completed": counts.completed,
            "overdue": counts.overdue}


def totals(organisation: Organisation, now: datetime | None = None) -> Counts:
    """Assigned, completed and overdue over every assignment of the organisation (at a glance)."""
    ids = db.session.scalars(select(Assignment.id).where(Assignment.organisation_id == organisation.id)).all()
    counts = assignment_counts(ids, now).values()
    return Counts(sum(c.assigned for c in counts), sum(c.completed for c in counts), sum(c.overdue for c in counts))


def person_statuses(organisation: Organisation, now: datetime | None = None):
    """Every assigned person of the organisation with their state: completed, overdue or pending."""
    now = now or utcnow()
    done = done_condition()
    return db.session.execute(
        select(Assignment.id, Course.slug, Assignment.due_on, User.full_name, User.email,
               case((done, "completed"), (Assignment.due_at <= now, "overdue"), else_="pending"))
        .join(AssignedPerson, AssignedPerson.assignment_id == Assignment.id)
        .join(Course, Course.id == Assignment.course_id)
        .join(User, User.id == AssignedPerson.user_id)
        .where(Assignment.organisation_id == organisation.id)
        .order_by(Assignment.due_on, Assignment.id, User.full_name, User.id)).all()


# --- figures ----------------------------------------------------------------------------------------

def scoped_filter(organisation: Organisation, args) -> ReportFilter:
    """The reports' filters from ``args``, restricted to the organisation.

    Naming another organisation is refused (422) rather than silently replaced."""
    report = reporting.parse_filters(args, blank_is_unset=False)
    if report.organisation is not None and report.organisation != organisation.id:
        raise ValidationFailed(_("Some filters are invalid."),
                               {"organisation": [_("These figures are for one organisation only.")]})
    labels = {**report.labels, "organisation": organisation.name}
    return dataclasses.replace(report, organisation=organisation.id, labels=labels)


def summary(organisation: Organisation, args) -> dict:
    """The reports summary of the organisation: the same rollup, so the same figures as the admin's."""
    return reporting.summary(scoped_filter(organisation, args))


# --- joining and leaving -----------------------------------------------------------------------------

def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def organisation_for_domain(email: str) -> Organisation | None:
    row = db.session.get(OrganisationDomain, email_domain(email))
    return db.session.get(Organisation, row.organisation_id) if row else None


def is_partner(organisation: Organisation) -> bool:
    """An organisation with managers or e-mail domains: joining it needs someone's confirmation."""
    from learning.accounts.models import OrganisationManager

    return bool(db.session.scalar(select(or_(
        exists().where(OrganisationManager.organisation_id == organisation.id),
        exists().where(OrganisationDomain.organisation_id == organisation.id)))))


def place_new_member(user: User) -> JoinRequest | None:
    """At sign-up: a partner organisation chosen, or matched by the e-mail's domain, is only requested.

    The person becomes a member once a manager or an admin confirms; until then their
    enrolments record no organisation, so nobody's figures or staff list gain a stranger.
    An organisation that is no partner (a name typed in, nobody manages it) is kept as given.
    """
    chosen = user.organisation
    if chosen is not None and is_partner(chosen):
        user.organisation = None
        user.organisation_id = None
        return _request(user, chosen, "signup")
    if chosen is None:
        matched = organisation_for_domain(user.email)
        if matched is not None:
            return _request(user, matched, "email_domain")
    return None


def change_own_organisation(user: User, organisation: Organisation | None, confirmed: bool = False) -> None:
    """A person changes the organisation on their profile: leaving is immediate (history stays);
    a partner organisation is only requested, any other one is taken as given."""
    if organisation is not None and organisation.id == user.organisation_id:
        return
    if organisation is not None and not confirmed and is_partner(organisation):
        for pending in pending_request_of(user):
            pending.status, pending.decided_at = "withdrawn", utcnow()
        _request(user, organisation, "profile")
        return
    user.organisation = organisation
    user.organisation_id = organisation.id if organisation is not None else None


def _request(user: User, organisation: Organisation, source: str) -> JoinRequest:
    db.session.flush()
    request = JoinRequest(user_id=user.id, organisation_id=organisation.id, source=source, status="pending")
    db.session.add(request)
    db.session.flush()
    return request


def request_to_join(user: User, organisation_id: int) -> JoinRequest:
    """A signed-in person asks to join an organisation (from their membership page)."""
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        raise ValidationFailed(_("Choose an organisation."), {"organisation": [_("Choose an organisation.")]})
    if user.organisation_id == organisation.id:
        raise ValidationFailed(_("You are already a member of this organisation."), {})
    for pending in pending_request_of(user):
        pending.status, pending.decided_at = "withdrawn", utcnow()
    return _request(user, organisation, "profile")


def pending_request_of(user: User) -> list[JoinRequest]:
    return list(db.session.scalars(select(JoinRequest).where(JoinRequest.user_id == user.id,
                                                             JoinRequest.status == "pending")))


def pending_requests(organisation: Organisation) -> list[JoinRequest]:
    return list(db.session.scalars(select(JoinRequest).join(User, User.id == JoinRequest.user_id)
                                   .where(JoinRequest.organisation_id == organisation.id,
                                          JoinRequest.status == "pending", User.erased_at.is_(None))
                                   .order_by(JoinRequest.created_at, JoinRequest.id)))


def decide(actor: User, organisation: Organisation, request_id: int, confirm: bool) -> JoinRequest:
    """Confirm (the person's current organisation becomes this one) or decline a pending request."""
    request = db.session.get(JoinRequest, request_id)
    if request is None or request.organisation_id != organisation.id or request.status != "pending":
        raise NotFound(_("No such request."))
    request.status = "confirmed" if confirm else "declined"
    request.decided_at, request.decided_by_id = utcnow(), actor.id
    if confirm:
        request.user.organisation_id = organisation.id
    audit(actor.id, f"organisation.member_{request.status}", "user", request.user_id,
          organisation_id=organisation.id)
    return request


def leave(user: User) -> Organisation | None:
    """The person leaves their organisation. Their enrolments keep the organisation they recorded."""
    left = user.organisation
    if left is None:
        raise ValidationFailed(_("You are not a member of any organisation."), {})
    user.organisation_id = None
    user.organisation = None
    audit(user.id, "organisation.member_left", "user", user.id, organisation_id=left.id)
    return left


def domains_of(organisation: Organisation) -> list[str]:
    return list(db.session.scalars(select(OrganisationDomain.domain)
                                   .where(OrganisationDomain.organisation_id == organisation.id)
                                   .order_by(OrganisationDomain.domain)))


def set_domains(actor: User, organisation: Organisation, text: str) -> list[str]:
    """Replace the organisation's e-mail domains (admins only): one per line or separated by commas."""
    if not actor.is_admin:
        raise Forbidden(_("Only admins can change an organisation's e-mail domains."))
    wanted = sorted({part.strip().lower().lstrip("@") for part in text.replace(",", "\n").splitlines()
                     if part.strip()})
    bad = [d for d in wanted if len(d) > 253 or "." not in d or not all(
        label and len(label) <= 63 and label.replace("-", "").isalnum() for label in d.split("."))]
    errors: dict[str, list[str]] = {}
    if bad:
        errors["domains"] = [_("Not an e-mail domain: %(value)s", value=", ".join(bad))]
    elif len(wanted) > MAX_DOMAINS:
        errors["domains"] = [_("Give at most %(n)d domains.", n=MAX_DOMAINS)]
    else:
        taken = db.session.scalars(select(OrganisationDomain.domain).where(
            OrganisationDomain.domain.in_(wanted), OrganisationDomain.organisation_id != organisation.id)).all()
        if taken:
            errors["domains"] = [_("Already used by another organisation: %(value)s", value=", ".join(taken))]
    if errors:
        raise ValidationFailed(_("The e-mail domains are invalid."), errors)
    db.session.execute(OrganisationDomain.__table__.delete().where(
        OrganisationDomain.organisation_id == organisation.id))
    for domain in wanted:
        db.session.add(OrganisationDomain(domain=domain, organisation_id=organisation.id))
    db.session.flush()
    audit(actor.id, "organisation.domains_changed", "organisation", organisation.id, domains=wanted)
    return wanted
