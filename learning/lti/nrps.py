"""Names and Role Provisioning Services 2.0: a trainer of a context's cohort (or an admin) pulls the partner
course's roster into the cohort.

The members are read from the context's memberships URL (``application/vnd.ims.lti-nrps.v2.membershipcontainer+json``),
following ``Link: <...>; rel="next"`` pages. Each active member becomes the account a launch of theirs would
reach (``services.account_for``: linked by platform + subject, created if needed, an address taken outside
the platform's organisation refused); learners are enrolled in the cohort's course, in the cohort;
instructors become the cohort's trainers when the registration says the platform's instructors are trainers.
The report counts them like the CSV roster import: created, enrolled, already enrolled, trainers, skipped.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import requests
from flask_babel import gettext as _
from sqlalchemy import select

from learning.audit.services import record as audit
from learning.errors import Conflict, DomainError
from learning.extensions import db
from learning.lti import client, services
from learning.lti.models import LtiContext, LtiContextCohort
from learning.lti.services import LtiRefused

MEMBERSHIPS_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 100
MAX_MEMBERS = 20_000
log = logging.getLogger(__name__)


class RosterUnavailable(DomainError):
    """The platform's roster could not be read (down, refused the tool, or answered nonsense)."""

    status = 502
    code = "lti_roster_unavailable"


@dataclass
class PullReport:
    members: int = 0
    created: int = 0
    enrolled: int = 0
    already_enrolled: int = 0
    trainers: int = 0
    skipped: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def context_of(cohort) -> LtiContext | None:
    """The platform context whose cohort this is, if any."""
    row = db.session.scalar(select(LtiContextCohort).where(LtiContextCohort.cohort_id == cohort.id).limit(1))
    return db.session.get(LtiContext, row.context_id) if row else None


def can_pull(cohort) -> bool:
    """Whether the cohort's page offers the roster pull: a context with a roster service, of an enabled platform."""
    context = context_of(cohort)
    return bool(context and context.memberships_url and context.platform.enabled and cohort.status == "open")


def _next_link(response: requests.Response) -> str | None:
    following = response.links.get("next")
    return following.get("url") if following else None


def fetch_members(context: LtiContext) -> list[dict]:
    """Every member of the context, page after page."""
    members: list[dict] = []
    url: str | None = context.memberships_url
    pages = 0
    seen: set[str] = set()
    while url and pages < MAX_PAGES and len(members) < MAX_MEMBERS:
        if url in seen:
            break  # a platform whose next page is a page already read
        seen.add(url)
        try:
            response = client.call(context.platform, "GET", url, [client.NRPS_SCOPE], accept=MEMBERSHIPS_TYPE)
            body = response.json()
        except client.ServiceError as error:
            log.warning("LTI roster of context %s not read: %s", context.id, error)
            raise RosterUnavailable(_("Your learning platform did not give the course's roster. Try again later, "
                                      "or ask its administrator to allow the roster service for this tool.")) from error
        except ValueError as error:
            raise RosterUnavailable(_("Your learning platform's roster could not be read.")) from error
        page = body.get("members") if isinstance(body, dict) else None
        if not isinstance(page, list):
            raise RosterUnavailable(_("Your learning platform's roster could not be read."))
        members.extend(m for m in page if isinstance(m, dict))
        pages += 1
        url = _next_link(response)
    return members[:MAX_MEMBERS]


def _is_learner(roles: list[str]) -> bool:
    return any(role == "Learner" or role.endswith("membership#Learner") or role.endswith("Learner#Learner")
               for role in roles)


def pull_roster(actor, cohort) -> PullReport:
    """Enrol the context's learners in the cohort (and add its instructors as trainers, if allowed)."""
    from learning.cohorts.models import CohortTrainer
    from learning.cohorts.services import require_open
    from learning.enrolment.models import Enrolment

    require_open(cohort)
    context = context_of(cohort)
    if context is None or not context.memberships_url:
        raise Conflict(_("This cohort is not linked to a course of a learning platform that shares its roster."))
    platform = context.platform
    if not platform.enabled:
        raise Conflict(_("The learning platform of this cohort is disabled here."))
    members = fetch_members(context)
    report = PullReport(members=len(members))
    course = cohort.course
    for member in members:
        roles = [r for r in member.get("roles") or [] if isinstance(r, str)]
        status = member.get("status") or "Active"
        instructor = services.is_instructor(roles)
        if status != "Active" or (instructor and not platform.instructors_are_trainers) or (
                not instructor and not _is_learner(roles)):
            report.skipped += 1
            continue
        claims = {"sub": member.get("user_id"), **{k: member[k] for k in ("email", "name", "given_name", "family_name")
                                                  if isinstance(member.get(k), str)}}
        try:
            with db.session.begin_nested():
                user, _identity, created = services.account_for(platform, claims, launch=False)
        except LtiRefused:
            report.skipped += 1  # anonymous, disabled, or an address taken outside the organisation
            continue
        report.created += created
        if instructor:
            services.grant_trainer(platform, user)
            if all(t.user_id != user.id for t in cohort.trainers):
                cohort.trainers.append(CohortTrainer(user_id=user.id))
                report.trainers += 1
            continue
        current = db.session.scalar(select(Enrolment).where(
            Enrolment.user_id == user.id, Enrolment.course_id == course.id, Enrolment.status == "active").limit(1))
        if current is not None:
            if current.cohort_id is None:
                current.cohort_id = cohort.id
            report.already_enrolled += 1
            continue
        enrolment = services.open_enrolment(user, course, cohort)
        if enrolment is not None and enrolment.status == "active" and enrolment.cohort_id == cohort.id:
            report.enrolled += 1
        else:
            report.already_enrolled += 1  # completed, with a certificate in force
    audit(actor.id, "cohort.lti_roster_pulled", "cohort", cohort.id, platform=platform.id, **report.as_dict())
    db.session.flush()
    return report
