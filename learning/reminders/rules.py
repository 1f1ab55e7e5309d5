"""The reminder rules: when each one is due (one set-based query) and what it says.

Every rule is configurable through the app setting ``REMINDER_RULES``, a mapping
of rule name to overrides of ``DEFAULT_RULES``::

    REMINDER_RULES = {"inactivity": {"days": [10, 30]}, "certificate_issued": {"enabled": False}}

``days`` are thresholds. A rule with several thresholds fires once per
threshold band: an enrolment idle for 25 days gets the 21-day reminder only,
never the 7-day one as well. Each rule's query joins the learners who may be
written to now (``recipients``) and leaves out, with NOT EXISTS, the occasions
already in the sent-log.

The invitation itself is sent by the cohorts feature when a roster creates an
account (``CohortInvitation.sent_at``); the ``invitation_pending`` rule only
follows up, once per threshold, with a fresh link when the invited person has
still not set a password. It never sends a second invitation at creation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select

from learning.accounts.models import User
from learning.certificates.models import Certificate
from learning.cohorts.models import Cohort, CohortInvitation
from learning.enrolment.models import Enrolment
from learning.organisations.models import AssignedPerson, Assignment, done_condition
from learning.reminders.models import OPEN_DIGEST_STATUSES, ReminderDigest, ReminderSent

DEFAULT_RULES: dict[str, dict] = {
    "inactivity": {"enabled": True, "days": [7, 21]},
    "cohort_ending": {"enabled": True, "days": [7]},
    "certificate_expiring": {"enabled": True, "days": [60, 30, 7]},
    "certificate_issued": {"enabled": True, "within_days": 14},
    "invitation_pending": {"enabled": True, "days": [3, 10]},
    "assignment_assigned": {"enabled": True, "within_days": 14},
    "assignment_due": {"enabled": True, "days": [7]},
    "assignment_overdue": {"enabled": True},
}
RULE_NAMES = tuple(DEFAULT_RULES)

# The columns every rule's query yields, in the order of the sent-log insert.
CLAIM_COLUMNS = ("rule", "user_id", "occasion", "subject_id", "due_on", "status", "created_at")


class RuleConfigError(ValueError):
    """``REMINDER_RULES`` names an unknown rule or gives a bad threshold."""


def rule_settings() -> dict[str, dict]:
    """Every rule's settings: the defaults overridden by ``REMINDER_RULES``, checked."""
    overrides = current_app.config.get("REMINDER_RULES") or {}
    unknown = set(overrides) - set(DEFAULT_RULES)
    if unknown:
        raise RuleConfigError(f"REMINDER_RULES names unknown rules: {', '.join(sorted(unknown))}")
    settings = {}
    for name, defaults in DEFAULT_RULES.items():
        merged = {**defaults, **(overrides.get(name) or {})}
        if "days" in merged:
            days = merged["days"]
            if not days or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in days):
                raise RuleConfigError(f"REMINDER_RULES[{name!r}]['days'] must be positive whole numbers")
            merged["days"] = sorted(set(days))
        if "within_days" in merged and not (isinstance(merged["within_days"], int) and merged["within_days"] > 0):
            raise RuleConfigError(f"REMINDER_RULES[{name!r}]['within_days'] must be a positive whole number")
        settings[name] = merged
    return settings


@dataclass(frozen=True)
class Moment:
    """When the rules run: the instant, its UTC date, and the learners' local dates by time zone."""

    now: datetime
    local_clock: object  # a CTE (timezone, local_date) of the zones where it is daytime now

    @property
    def today(self) -> date:
        return self.now.date()


def recipients(moment: Moment) -> tuple[object, ColumnElement]:
    """The join to the local clock and the condition that a learner may get a digest now.

    Active, not erased, opted in, in daytime where they live, and with no reminders
    digest yet today nor one still waiting to be delivered (notifications do not count).
    """
    clock = moment.local_clock
    digest = aliased(ReminderDigest)
    condition = and_(
        User.active.is_(True),
        User.erased_at.is_(None),
        User.reminders_enabled.is_(True),
        ~exists().where(
            digest.user_id == User.id,
            digest.kind == "reminders",  # a notification does not take the day's digest (docs/REMINDERS.md)
            or_(digest.local_date == clock.c.local_date, digest.sent_on == clock.c.local_date,
                digest.status.in_(OPEN_DIGEST_STATUSES)),
        ),
    )
    return clock, condition


def _not_logged(rule: str, occasion: ColumnElement) -> ColumnElement:
    sent = aliased(ReminderSent)
    return ~exists().where(sent.rule == rule, sent.user_id == User.id, sent.occasion == occasion)


def _band(value: ColumnElement, limits: list[tuple[object, int]]) -> ColumnElement:
    """``'<n>d'`` for the first limit ``value`` is within (limits are tried in order)."""
    return case(*[(value <= limit, literal(f"{days}d")) for limit, days in limits])


def _claim_columns(rule: str, moment: Moment, occasion: ColumnElement, subject_id: ColumnElement) -> list:
    return [
        literal(rule, String).label("rule"),
        User.id.label("user_id"),
        occasion.label("occasion"),
        cast(subject_id, Integer).label("subject_id"),
        moment.local_clock.c.local_date.label("due_on"),
        literal("claimed", String).label("status"),
        literal(moment.now, ReminderSent.created_at.type).label("created_at"),
    ]


def _text(value: ColumnElement) -> ColumnElement:
    return cast(value, String)


class Rule:
    """A reminder rule: ``due`` selects what to claim; ``describe`` says it, or None if it no longer applies.

    Every rule's query has one shape: its rows (``source``, with ``joins``) joined to their learner
    (``learner``) and the learner's local clock, kept where the rule's ``conditions`` hold, the
    learner may get a digest now, and the occasion is not in the sent-log yet. A rule says only
    what is its own: the occasion and the conditions (``parts``).
    """

    name: str
    source: type
    subject_id: ColumnElement  # the id stored with the claim (what ``describe`` reads)
    learner: ColumnElement  # the user id of whom the reminder goes to
    joins: tuple = ()

    def __init__(self, settings: dict):
        self.settings = settings

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        """The occasion (a text unique per reminder and threshold band) and the conditions."""
        raise NotImplementedError

    def due(self, moment: Moment) -> Select:
        rule = type(self)  # the columns are read from the class: on an instance they would be descriptors
        occasion, conditions = self.parts(moment)
        clock, allowed = recipients(moment)
        query = select(*_claim_columns(self.name, moment, occasion, rule.subject_id)).select_from(rule.source)
        for target, on in rule.joins:
            query = query.join(target, on)
        return (
            query.join(User, User.id == rule.learner)
            .join(clock, clock.c.timezone == User.timezone)
            .where(*conditions, allowed, _not_logged(self.name, occasion))
        )


class Inactivity(Rule):
    """An active enrolment with no progress for N days."""

    name = "inactivity"
    source, subject_id, learner = Enrolment, Enrolment.id, Enrolment.user_id

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        days = self.settings["days"]
        last = func.coalesce(Enrolment.last_activity_at, Enrolment.enrolled_at)
        limits = [(literal(moment.now - timedelta(days=d), Enrolment.enrolled_at.type), d) for d in reversed(days)]
        occasion = literal("enrolment:") + _text(Enrolment.id) + literal(":inactive:") + _band(last, limits)
        return occasion, [Enrolment.status == "active", last <= limits[-1][0]]


class CohortEnding(Rule):
    """A cohort ending within N days (counted from the UTC date) with the member not yet complete."""

    name = "cohort_ending"
    source, subject_id, learner = Enrolment, Enrolment.id, Enrolment.user_id
    joins = ((Cohort, Cohort.id == Enrolment.cohort_id),)

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        days = self.settings["days"]
        limits = [(literal(moment.today + timedelta(days=d), Date), d) for d in days]
        occasion = (literal("cohort:") + _text(Cohort.id) + literal(":enrolment:") + _text(Enrolment.id)
                    + literal(":ending:") + _band(Cohort.ends_on, limits))
        return occasion, [
            Enrolment.status == "active",
            Cohort.status == "open",
            Cohort.ends_on >= literal(moment.today, Date),
            Cohort.ends_on <= limits[-1][0],
        ]


def renewed(certificate) -> ColumnElement:
    """The holder has already enrolled again in the course since the certificate was issued."""
    again = aliased(Enrolment)
    return exists().where(
        again.user_id == certificate.user_id,
        again.course_id == certificate.course_id,
        again.id != certificate.enrolment_id,
        again.status.in_(("active", "completed")),
        again.enrolled_at >= certificate.issued_at,
    )


class CertificateExpiring(Rule):
    """A certificate in force that expires within 60, 30 or 7 days, not yet renewed."""

    name = "certificate_expiring"
    source, subject_id, learner = Certificate, Certificate.id, Certificate.user_id

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        days = self.settings["days"]
        limits = [(literal(moment.now + timedelta(days=d), Certificate.expires_at.type), d) for d in days]
        occasion = literal("certificate:") + _text(Certificate.id) + literal(":expiring:") + _band(
            Certificate.expires_at, limits)
        return occasion, [
            Certificate.revoked_at.is_(None),
            Certificate.expires_at > literal(moment.now, Certificate.expires_at.type),
            Certificate.expires_at <= limits[-1][0],
            ~renewed(Certificate),
        ]


class CertificateIssued(Rule):
    """A certificate issued recently (within ``within_days``), with its links."""

    name = "certificate_issued"
    source, subject_id, learner = Certificate, Certificate.id, Certificate.user_id

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        since = moment.now - timedelta(days=self.settings["within_days"])
        occasion = literal("certificate:") + _text(Certificate.id) + literal(":issued")
        stamp = Certificate.issued_at.type
        return occasion, [
            Certificate.revoked_at.is_(None),
            Certificate.issued_at > literal(since, stamp),
            Certificate.issued_at <= literal(moment.now, stamp),
        ]


class InvitationPending(Rule):
    """Someone invited from a roster N days ago who has still not set a password."""

    name = "invitation_pending"
    source, subject_id, learner = CohortInvitation, CohortInvitation.cohort_id, CohortInvitation.user_id

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        days = self.settings["days"]
        stamp = CohortInvitation.sent_at.type
        limits = [(literal(moment.now - timedelta(days=d), stamp), d) for d in reversed(days)]
        occasion = literal("cohort:") + _text(CohortInvitation.cohort_id) + literal(":invitation:") + _band(
            CohortInvitation.sent_at, limits)
        return occasion, [
            CohortInvitation.sent_at <= limits[-1][0],
            User.password_hash.is_(None),
            User.last_login_at.is_(None),
            exists().where(Enrolment.user_id == User.id, Enrolment.cohort_id == CohortInvitation.cohort_id,
                           Enrolment.status == "active"),
        ]


class _AssignmentRule(Rule):
    """An organisation's assignment (``learning.organisations``) not done yet, for someone still a member.

    The occasion names the assignment, so that each person gets each of these reminders once."""

    source, subject_id, learner = AssignedPerson, Assignment.id, AssignedPerson.user_id
    joins = ((Assignment, Assignment.id == AssignedPerson.assignment_id),)

    def pending(self) -> list[ColumnElement]:
        return [User.organisation_id == Assignment.organisation_id, ~done_condition()]

    def occasion(self, suffix: str) -> ColumnElement:
        return literal("assignment:") + _text(Assignment.id) + literal(suffix)


class AssignmentAssigned(_AssignmentRule):
    """A course was assigned (within ``within_days``): what, and by when."""

    name = "assignment_assigned"

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        stamp = AssignedPerson.assigned_at.type
        since = literal(moment.now - timedelta(days=self.settings["within_days"]), stamp)
        return self.occasion(":assigned"), [
            *self.pending(), AssignedPerson.assigned_at > since, Assignment.due_at > literal(moment.now, stamp)]


class AssignmentDue(_AssignmentRule):
    """An assignment due within N days (of its due date's end), not done yet."""

    name = "assignment_due"

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        stamp = Assignment.due_at.type
        limits = [(literal(moment.now + timedelta(days=d), stamp), d) for d in self.settings["days"]]
        return self.occasion(":due:") + _band(Assignment.due_at, limits), [
            *self.pending(), Assignment.due_at > literal(moment.now, stamp), Assignment.due_at <= limits[-1][0],
            # The "assigned" mail already gave the date when the two would fall on the same days.
            AssignedPerson.assigned_at <= literal(moment.now - timedelta(days=1), stamp)]


class AssignmentOverdue(_AssignmentRule):
    """An assignment past its due date and not done: once."""

    name = "assignment_overdue"

    def parts(self, moment: Moment) -> tuple[ColumnElement, list[ColumnElement]]:
        return self.occasion(":overdue"), [
            *self.pending(), Assignment.due_at <= literal(moment.now, Assignment.due_at.type)]


RULES: dict[str, type[Rule]] = {
    rule.name: rule for rule in (Inactivity, CohortEnding, CertificateExpiring, CertificateIssued, InvitationPending,
                                 AssignmentAssigned, AssignmentDue, AssignmentOverdue)
}


def enabled_rules() -> list[Rule]:
    """The configured rules that are switched on, in a stable order."""
    settings = rule_settings()
    return [RULES[name](settings[name]) for name in RULE_NAMES if settings[name].get("enabled", True)]
