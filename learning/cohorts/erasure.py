"""Erasure of a person (DESIGN.md rule 8): what cohorts wrote about them goes.

Enrolments and attendance stay (anonymous facts, kept by id). The invitation
rows of accounts made from a roster go. Roster files still waiting to be
imported lose the rows naming the person (finished imports keep no file), and
import reports and the notes of the person's training sessions have their
address and name replaced by ``[erased]``.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select

from learning.cohorts.models import CohortInvitation, RosterImport, TrainingSession
from learning.enrolment.models import Enrolment
from learning.extensions import db
from learning.signals import ErasedPerson, user_erased


def _without_rows_naming(content: bytes, person: ErasedPerson) -> bytes:
    """The file without the lines that mention the person (the header line always stays)."""
    lines = content.splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if not person.mentioned_in_text(line)]
    return b"".join(kept)


def forget_person(person: ErasedPerson) -> None:
    """Remove the person from invitations, queued roster files, import reports and session notes."""
    db.session.execute(delete(CohortInvitation).where(CohortInvitation.user_id == person.user_id))
    for job in db.session.scalars(select(RosterImport).where(RosterImport.content.is_not(None))):
        if person.mentioned_in_text(job.content):
            job.content = _without_rows_naming(job.content, person)
    query = select(RosterImport).where(or_(person.mentioned_in_column(RosterImport.report),
                                           person.mentioned_in_column(RosterImport.filename)))
    for job in db.session.scalars(query):
        job.report = person.scrub(job.report)
        job.filename = person.scrub_text(job.filename)
    their_cohorts = select(Enrolment.cohort_id).where(Enrolment.user_id == person.user_id,
                                                      Enrolment.cohort_id.is_not(None))
    for session in db.session.scalars(select(TrainingSession).where(TrainingSession.cohort_id.in_(their_cohorts))):
        for field in ("title", "place", "notes"):
            value = getattr(session, field)
            if person.mentioned_in_text(value):
                setattr(session, field, person.scrub_text(value))


def _on_user_erased(person: ErasedPerson) -> None:
    forget_person(person)


def connect_erasure() -> None:
    user_erased.connect(_on_user_erased)
