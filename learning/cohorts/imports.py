"""Importing a roster into a cohort: every row checked first, then set-based writes.

A 10,000-row file costs a handful of queries: one to find the accounts that
already exist (by e-mail), one for their enrolments in the course, one for the
organisations named, then bulk inserts of organisations, accounts, invitations
and enrolments. Enrolments record the same snapshot as
``learning.enrolment.services.enrol`` (country, sector, organisation, language)
and the database's unique active-enrolment index still guards against races.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from learning.accounts.models import Organisation, User
from learning.audit.services import record as audit
from learning.certificates.models import Certificate
from learning.cohorts.bulk import among, bulk_insert
from learning.cohorts.models import Cohort, CohortInvitation, RosterImport
from learning.cohorts.roster import (
    ParsedRoster,
    RosterFileInvalid,
    RosterRow,
    RowError,
    check_size,
    decode,
    parse_roster,
)
from learning.cohorts.services import require_open
from learning.enrolment.models import Enrolment
from learning.errors import Conflict, DomainError, NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.outbox.services import emit
from learning.reporting.rollup import note_changed

ALL_OR_NOTHING = "all_or_nothing"
PARTIAL = "partial"
MODES = (ALL_OR_NOTHING, PARTIAL)
LOOKUP_CHUNK = 10_000  # one query for a 10,000-row file; within SQLite's and PostgreSQL's parameter limits
INVITATION_BATCH = 200


@dataclass
class RosterReport:
    """What an import did, or would have done, and every problem found."""

    created: int = 0
    enrolled: int = 0
    already_enrolled: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    mode: str = ALL_OR_NOTHING
    applied: bool = False

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "enrolled": self.enrolled,
            "already_enrolled": self.already_enrolled,
            "errors": [error.as_dict() for error in sorted(self.errors, key=lambda e: (e.row, e.field))],
            "rows": self.rows,
            "ignored_columns": self.ignored_columns,
            "mode": self.mode,
            "applied": self.applied,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RosterReport:
        errors = [RowError(e["row"], e["field"], e["message"]) for e in data.get("errors", [])]
        return cls(data["created"], data["enrolled"], data["already_enrolled"], errors, data.get("rows", 0),
                   data.get("ignored_columns", []), data.get("mode", ALL_OR_NOTHING), data.get("applied", False))


class RosterInvalid(ValidationFailed):
    """An all-or-nothing import found bad rows: nothing was changed."""

    code = "roster_invalid"

    def __init__(self, report: RosterReport):
        super().__init__(ngettext("The roster has %(num)d problem; nothing was imported.",
                                  "The roster has %(num)d problems; nothing was imported.", len(report.errors)))
        self.report = report


@dataclass
class _Plan:
    new_people: list[RosterRow] = field(default_factory=list)
    to_enrol: list[tuple[RosterRow, dict]] = field(default_factory=list)  # existing accounts: (row, profile)
    to_adopt: list[int] = field(default_factory=list)  # active enrolments without a cohort
    already: int = 0
    errors: list[RowError] = field(default_factory=list)
    capacity: int | None = None


def check_mode(mode: str | None) -> str:
    """The import mode asked for, defaulting to all-or-nothing."""
    mode = mode or ALL_OR_NOTHING
    if mode not in MODES:
        raise ValidationFailed(_("Unknown mode %(mode)s.", mode=mode), {"mode": [_("Use one of %(values)s.", values=", ".join(MODES))]})
    return mode


def import_roster(cohort: Cohort, data: bytes, mode: str, actor_id: int | None,
                  parsed: ParsedRoster | None = None) -> RosterReport:
    """Validate every row, then create accounts and enrol members; in all-or-nothing mode any error changes nothing."""
    require_open(cohort)
    mode = check_mode(mode)
    parsed = parsed or parse_roster(data, default_language=cohort.course.language)
    plan = _plan(cohort, parsed.rows)
    report = RosterReport(rows=parsed.total_rows, ignored_columns=parsed.ignored_columns, mode=mode,
                          errors=parsed.errors + plan.errors)
    if report.errors and mode == ALL_OR_NOTHING:
        raise RosterInvalid(report)
    _apply(cohort, plan)
    report.created = len(plan.new_people)
    report.enrolled = len(plan.new_people) + len(plan.to_enrol)
    report.already_enrolled = plan.already
    report.applied = True
    audit(actor_id, "cohort.roster_imported", "cohort", cohort.id, mode=mode, rows=report.rows,
          created=report.created, enrolled=report.enrolled, already_enrolled=report.already_enrolled,
          rejected_rows=len({e.row for e in report.errors}))
    return report


def _chunks(items: list, size: int = LOOKUP_CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _plan(cohort: Cohort, rows: list[RosterRow]) -> _Plan:
    """Decide for each valid row what to do, checking accounts, enrolments and capacity in bulk."""
    plan = _Plan(capacity=cohort.capacity)
    accounts: dict[str, dict] = {}
    for chunk in _chunks([row.email for row in rows]):
        for account in db.session.execute(
            select(User.id, User.email, User.country, User.sector, User.organisation_id, User.language,
                   User.active, User.erased_at).where(among(User.email, chunk))
        ).mappings():
            accounts[account["email"]] = dict(account)
    existing = _enrolments_by_user(cohort, [a["id"] for a in accounts.values()])
    room = _room_left(cohort)
    for row in rows:
        account = accounts.get(row.email)
        if account is None:
            if _take_place(plan, row, room):
                plan.new_people.append(row)
            room = None if room is None else room - 1
            continue
        if not account["active"] or account["erased_at"] is not None:
            plan.errors.append(RowError(row.row, "email", _("The account of %(email)s is closed.", email=row.email)))
            continue
        decision = existing.get(account["id"])
        if decision == "member":
            plan.already += 1
        elif isinstance(decision, int):
            plan.already += 1
            if _take_place(plan, row, room):
                plan.to_adopt.append(decision)
            room = None if room is None else room - 1
        elif decision is not None:
            plan.errors.append(RowError(row.row, "email", decision))
        else:
            if _take_place(plan, row, room):
                plan.to_enrol.append((row, account))
            room = None if room is None else room - 1
    return plan


def _take_place(plan: _Plan, row: RosterRow, room: int | None) -> bool:
    if room is not None and room <= 0:
        plan.errors.append(RowError(row.row, "email", _("The cohort is full: it has places for %(capacity)d people.",
                                                        capacity=plan.capacity)))
        return False
    return True


def _room_left(cohort: Cohort) -> int | None:
    if cohort.capacity is None:
        return None
    members = db.session.scalar(
        select(func.count()).select_from(Enrolment)
        .where(Enrolment.cohort_id == cohort.id, Enrolment.status != "withdrawn")
    )
    return cohort.capacity - members


def _renewal_window() -> timedelta:
    return timedelta(days=current_app.config.get("RENEWAL_WINDOW_DAYS", 90))


def _enrolments_by_user(cohort: Cohort, user_ids: list[int]) -> dict[int, object]:
    """Per account: "member" (already in this cohort), an enrolment id to adopt, or why they cannot join."""
    decisions: dict[int, object] = {}
    now = utcnow()
    for chunk in _chunks(user_ids):
        rows = db.session.execute(
            select(Enrolment.id, Enrolment.user_id, Enrolment.status, Enrolment.cohort_id,
                   Certificate.expires_at, Certificate.revoked_at)
            .outerjoin(Certificate, Certificate.enrolment_id == Enrolment.id)
            .where(Enrolment.course_id == cohort.course_id, Enrolment.status != "withdrawn",
                   among(Enrolment.user_id, chunk))
        ).all()
        for enrolment_id, user_id, status, cohort_id, expires_at, revoked_at in rows:
            if decisions.get(user_id) == "member":
                continue
            if cohort_id == cohort.id:
                decisions[user_id] = "member"
            elif status == "active" and cohort_id is None:
                decisions[user_id] = enrolment_id
            elif status == "active":
                decisions[user_id] = _("Already a member of another cohort of this course.")
            elif revoked_at is None and (expires_at is None or expires_at - _renewal_window() > now):
                decisions.setdefault(user_id, _("Has already completed this course and the certificate is still valid."))
    return decisions


def _apply(cohort: Cohort, plan: _Plan) -> None:
    """Write the plan in the caller's transaction: organisations, accounts, invitations, enrolments."""
    now = utcnow()
    organisations = _organisation_ids([row for row in plan.new_people if row.organisation], now)
    try:
        new_ids: dict[str, int] = {}
        if plan.new_people:
            created = bulk_insert(User.__table__, [{
                "email": row.email, "full_name": row.full_name, "country": row.country, "sector": row.sector,
                "language": row.language,
                "organisation_id": organisations.get(row.organisation.lower()) if row.organisation else None,
            } for row in plan.new_people], constants={
                "password_hash": None, "timezone": "UTC", "active": True, "reminders_enabled": True,
                "created_at": now, "session_version": 1,
            }, returning=(User.__table__.c.id, User.__table__.c.email))
            new_ids = {email: user_id for user_id, email in created}
            bulk_insert(CohortInvitation.__table__, [{"user_id": user_id} for user_id in new_ids.values()],
                        constants={"cohort_id": cohort.id, "created_at": now})
        snapshots = [
            {"user_id": new_ids[row.email], "country": row.country, "sector": row.sector,
             "organisation_id": organisations.get(row.organisation.lower()) if row.organisation else None,
             "language": row.language}
            for row in plan.new_people
        ] + [
            {"user_id": account["id"], "country": account["country"], "sector": account["sector"],
             "organisation_id": account["organisation_id"], "language": account["language"]}
            for _row, account in plan.to_enrol
        ]
        bulk_insert(Enrolment.__table__, snapshots, constants={
            "course_id": cohort.course_id, "cohort_id": cohort.id, "status": "active", "enrolled_at": now})
        note_changed(db.session, [s["user_id"] for s in snapshots])  # an INSERT ... SELECT on PostgreSQL
        for chunk in _chunks(plan.to_adopt):
            db.session.execute(update(Enrolment).where(Enrolment.id.in_(chunk), Enrolment.status == "active")
                               .values(cohort_id=cohort.id), execution_options={"synchronize_session": False})
        db.session.flush()
    except IntegrityError as exc:
        raise Conflict(_("Someone registered or enrolled one of these people while the roster was being imported. "
                         "Nothing was imported; import the file again.")) from exc
    ids = sorted(new_ids.values())
    for batch in _chunks(ids, INVITATION_BATCH):
        emit("cohort.invitations", {"cohort_id": cohort.id, "user_ids": batch})


def _organisation_ids(rows: list[RosterRow], now) -> dict[str, int]:
    """Organisation ids by folded name; the ones not yet known are created (first spelling wins)."""
    wanted: dict[str, RosterRow] = {}
    for row in rows:
        wanted.setdefault(row.organisation.lower(), row)
    if not wanted:
        return {}
    found: dict[str, int] = {}
    for chunk in _chunks(list(wanted)):
        for org_id, name in db.session.execute(
            select(Organisation.id, Organisation.name).where(among(func.lower(Organisation.name), chunk))
        ):
            found.setdefault(name.lower(), org_id)
    missing = [row for key, row in wanted.items() if key not in found]
    created = bulk_insert(Organisation.__table__, [
        {"name": row.organisation, "country": row.country, "sector": row.sector} for row in missing
    ], constants={"created_at": now}, returning=(Organisation.__table__.c.id, Organisation.__table__.c.name))
    found.update({name.lower(): org_id for org_id, name in created})
    return found


# --- large files, imported in the background -----------------------------------

DEFAULT_BACKGROUND_ROWS = 2000


def should_run_in_background(data: bytes) -> bool:
    """Whether a file is large enough that the page should not wait for it."""
    return data.count(b"\n") > current_app.config.get("ROSTER_BACKGROUND_ROWS", DEFAULT_BACKGROUND_ROWS)


def start_import(cohort: Cohort, data: bytes, mode: str, actor_id: int | None, filename: str = "") -> RosterImport:
    """Keep the file and queue its import (through the outbox); the file's encoding and header are checked now."""
    require_open(cohort)
    mode = check_mode(mode)
    check_size(data)
    decode(data)
    job = RosterImport(cohort_id=cohort.id, created_by_id=actor_id, mode=mode, filename=(filename or "")[:255],
                       content=data, status="queued", total_rows=data.count(b"\n"), processed_rows=0)
    db.session.add(job)
    db.session.flush()
    emit("cohort.roster_import", {"import_id": job.id})
    return job


def get_import(cohort: Cohort, import_id: int) -> RosterImport:
    job = db.session.get(RosterImport, import_id)
    if job is None or job.cohort_id != cohort.id:
        raise NotFound(_("No such import."))
    return job


def run_import(import_id: int) -> str:
    """Import a queued file in one transaction, recording progress and the report; safe to repeat."""
    job = db.session.get(RosterImport, import_id)
    if job is None or job.status not in ("queued", "running"):
        db.session.rollback()
        return "nothing-to-do"
    job.status, job.processed_rows = "running", 0
    db.session.commit()

    def progress(rows: int) -> None:  # nothing else is written while rows are checked, so commit freely
        job.processed_rows = rows
        db.session.commit()

    cohort = db.session.get(Cohort, job.cohort_id)
    try:
        parsed = parse_roster(job.content or b"", default_language=cohort.course.language, progress=progress)
        job.total_rows = parsed.total_rows
        report = import_roster(cohort, b"", job.mode, job.created_by_id, parsed=parsed)
        outcome = "done"
    except RosterInvalid as invalid:
        db.session.rollback()
        report, outcome = invalid.report, "rejected"
    except RosterFileInvalid as invalid:
        db.session.rollback()
        report, outcome = RosterReport(errors=invalid.errors, mode=job.mode), "rejected"
    except DomainError as error:
        db.session.rollback()
        report, outcome = RosterReport(errors=[RowError(0, "file", error.message)], mode=job.mode), "failed"
    except Exception:
        db.session.rollback()
        job.status = "queued"  # the outbox retries with backoff
        db.session.commit()
        raise
    job = db.session.get(RosterImport, import_id)
    job.status, job.report, job.content = outcome, report.as_dict(), None
    job.processed_rows = job.total_rows = report.rows or job.total_rows
    job.finished_at = utcnow()
    db.session.commit()
    return outcome
