"""Background work of cohorts, run by the outbox: invitation e-mails and large roster imports.

Both handlers (registered by ``learning.cohorts.init_app``) are idempotent: an invitation is queued in the same transaction
that marks it sent, and an import runs only while its job is still queued.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from learning.accounts.models import User
from learning.accounts.services import make_link_token
from learning.catalogue.services import course_text
from learning.cohorts.imports import run_import
from learning.cohorts.models import Cohort, CohortInvitation, RosterImport
from learning.cohorts.services import trainers_of
from learning.extensions import db
from learning.i18n import interface_language
from learning.mail.services import queue_email
from learning.models_base import utcnow


def invitation_link(user: User) -> str:
    """The link that lets a person invited from a roster choose their password (the reset page)."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/account/reset/{make_link_token(user, 'reset')}"


def send_invitations(payload: dict) -> None:
    """Queue the invitation e-mail of each new account in the batch that has not had one."""
    cohort = db.session.get(Cohort, payload["cohort_id"])
    if cohort is None:
        return
    trainers = ", ".join(t.full_name for t in trainers_of([cohort.id]).get(cohort.id, []) if t.full_name)
    pending = db.session.execute(
        select(CohortInvitation, User).join(User, User.id == CohortInvitation.user_id)
        .where(CohortInvitation.cohort_id == cohort.id, CohortInvitation.user_id.in_(payload["user_ids"]),
               CohortInvitation.sent_at.is_(None))
        .with_for_update(of=CohortInvitation, skip_locked=True)
    ).all()
    for invitation, user in pending:
        invitation.sent_at = utcnow()
        if user.password_hash is not None or not user.is_active:
            continue  # they found their own way in, or the account was closed meanwhile
        queue_email(user.email, "invitation", user.language, user_name=user.full_name, link=invitation_link(user),
                    cohort_name=cohort.name, course_title=course_text(cohort.course, user.language).title,
                    trainers=trainers)
    db.session.commit()


def import_in_background(payload: dict) -> None:
    """Run a queued roster import, reporting in the language of the person who uploaded it."""
    job = db.session.get(RosterImport, payload["import_id"])
    if job is None:
        return
    creator = db.session.get(User, job.created_by_id) if job.created_by_id else None
    language = interface_language(creator.language if creator else "en")
    db.session.rollback()
    with force_locale(language):
        run_import(payload["import_id"])
