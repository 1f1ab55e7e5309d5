"""Factories for reminder tests: learners where and when we want them, idle enrolments,
cohorts about to end, certificates at any age, roster invitations.

Times are explicit so that tests run the rules with a controllable ``now``.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from learning.accounts import services as accounts
from learning.certificates.models import Certificate
from learning.cohorts.models import Cohort, CohortInvitation
from learning.enrolment.models import Enrolment
from learning.extensions import db
from tests import factories

# A Monday at noon UTC: daytime in Madrid (13:00), night in Tokyo (21:00).
NOW = datetime(2031, 3, 10, 12, 0, tzinfo=UTC)
_seq = itertools.count(1)


def learner(timezone: str = "Europe/Madrid", language: str = "es", **fields):
    """A learner who lives in ``timezone`` and reads ``language`` (with no usable password: hashing is slow)."""
    n = next(_seq)
    data = {"email": f"learner{n}@example.org", "full_name": f"Learner {n}", "country": "CO",
            "sector": "law_enforcement", "language": language, "timezone": timezone, **fields}
    user = accounts.register_user(data, send_verification=False, password_required=False)
    user.password_hash = "!unusable"  # signed up long ago; only roster invitations have no password
    db.session.commit()
    return user


def idle_enrolment(user, idle_since: datetime, of_course=None, cohort: Cohort | None = None) -> Enrolment:
    """An active enrolment whose last progress was at ``idle_since``."""
    enrolment = factories.enrolment(user, of_course, cohort_id=cohort.id if cohort else None)
    enrolment.enrolled_at = idle_since - timedelta(days=1)
    enrolment.last_activity_at = idle_since
    db.session.commit()
    return enrolment


def cohort(of_course, ends_on: date, status: str = "open", name: str | None = None) -> Cohort:
    created = Cohort(course_id=of_course.id, name=name or f"Cohort {next(_seq)}", country="CO",
                     delivery="in_person", starts_on=ends_on - timedelta(days=60), ends_on=ends_on, status=status)
    db.session.add(created)
    db.session.commit()
    return created


def certificate(user, issued_at: datetime, expires_at: datetime | None = None, of_course=None,
                revoked: bool = False) -> Certificate:
    """A completed enrolment and its certificate, issued at ``issued_at``."""
    of_course = of_course or factories.course()
    enrolment = Enrolment(user_id=user.id, course_id=of_course.id, status="completed",
                          enrolled_at=issued_at - timedelta(days=10), completed_at=issued_at,
                          last_activity_at=issued_at, country=user.country, sector=user.sector,
                          language=user.language)
    db.session.add(enrolment)
    db.session.flush()
    issued = Certificate(
        code=secrets.token_hex(8).upper(), enrolment_id=enrolment.id, user_id=user.id,
        course_id=enrolment.course_id, holder_name=user.full_name, course_title="Course",
        course_language="en", issued_at=issued_at, expires_at=expires_at,
        revoked_at=issued_at + timedelta(days=1) if revoked else None,
    )
    db.session.add(issued)
    db.session.commit()
    return issued


def invited(to_cohort: Cohort, sent_at: datetime, timezone: str = "Europe/Madrid", language: str = "fr"):
    """Someone a roster created an account for (no password yet), invited at ``sent_at``."""
    n = next(_seq)
    user = accounts.register_user(
        {"email": f"invited{n}@example.org", "full_name": f"Invited {n}", "country": "FR",
         "sector": "education", "language": language, "timezone": timezone},
        send_verification=False, password_required=False,
    )
    db.session.flush()
    db.session.add(CohortInvitation(cohort_id=to_cohort.id, user_id=user.id, created_at=sent_at, sent_at=sent_at))
    db.session.add(Enrolment(user_id=user.id, course_id=to_cohort.course_id, cohort_id=to_cohort.id,
                             status="active", enrolled_at=sent_at, country="FR", sector="education",
                             language=language))
    db.session.commit()
    return user


def renewal(user, of_course, enrolled_at: datetime) -> Enrolment:
    """The holder enrolled again in a course to renew its certificate."""
    enrolment = Enrolment(user_id=user.id, course_id=of_course.id, status="active", enrolled_at=enrolled_at,
                          country=user.country, sector=user.sector, language=user.language)
    db.session.add(enrolment)
    db.session.commit()
    return enrolment


def set_user(user, **values) -> None:
    """Change a user's row directly (as an admin action or an erasure would)."""
    db.session.execute(update(type(user)).where(type(user).id == user.id).values(**values))
    db.session.commit()
    db.session.refresh(user)


def daytime_zone(now: datetime, hour: int = 13) -> str:
    """An ``Etc/GMT`` zone where it is about ``hour`` o'clock at ``now``."""
    offset = hour - now.hour
    if offset > 12:
        offset -= 24
    if offset < -12:
        offset += 24
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT-{offset}" if offset > 0 else f"Etc/GMT+{-offset}"
