"""Self check-in at an in-person session: a code on the room's screen that changes every minute.

The code is ``<session id><six digits>``: the digits are an HMAC (keyed by the app's secret key)
of the session id and the current minute, like a TOTP code, so no table is needed and a code is
valid only for its session. The code of the previous minute is still accepted, so someone who
typed it just as it changed is not refused; anything older is expired. Guessing is limited by
the rate limit on the check-in routes (``CHECK_IN_RATE_LIMIT``), per person.

Members check in only while the session is on: from its start until ``CHECK_IN_WINDOW`` after it.
Marking goes through :func:`learning.cohorts.sessions.mark_present`, as the trainer's register does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from learning.accounts.models import User
from learning.cohorts import sessions
from learning.cohorts.models import Cohort, TrainingSession
from learning.enrolment.models import Enrolment
from learning.errors import Conflict, Forbidden, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow

STEP_SECONDS = 60
DIGITS = 6
CHECK_IN_WINDOW = timedelta(hours=12)  # a long day's session; later, the trainer corrects the register
_SEPARATORS = re.compile(r"[\s\-.]")


@dataclass(frozen=True)
class CheckInCode:
    session_id: int
    code: str
    expires_at: datetime

    @property
    def display(self) -> str:
        """The code as shown on the screen: the session part, then the digits in two groups."""
        digits = self.code[-DIGITS:]
        return f"{self.code[:-DIGITS]}-{digits[:3]} {digits[3:]}"


def _step(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def _digits(session_id: int, step: int) -> str:
    key = hashlib.sha256(b"learning.check-in:" + current_app.config["SECRET_KEY"].encode()).digest()
    mac = hmac.new(key, f"{session_id}:{step}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10 ** DIGITS:0{DIGITS}d}"


def current_code(session: TrainingSession) -> CheckInCode:
    """The code to show for ``session`` now, and when it stops being accepted (the end of the next minute)."""
    step = _step(utcnow())
    expires_at = datetime.fromtimestamp((step + 2) * STEP_SECONDS, UTC)
    return CheckInCode(session.id, f"{session.id}{_digits(session.id, step)}", expires_at)


def seconds_until_next_code() -> int:
    """When the screen should reload to show the next minute's code (a second after it begins)."""
    now = utcnow()
    return (_step(now) + 1) * STEP_SECONDS - int(now.timestamp()) + 1


def issue_code(actor_id: int, cohort: Cohort, session: TrainingSession) -> CheckInCode:
    """The trainer asks for the code to put on the screen (audited, so the log shows when check-in was open)."""
    from learning.audit.services import record as audit
    from learning.cohorts.services import require_open

    require_open(cohort)
    code = current_code(session)
    audit(actor_id, "cohort.check_in_code_shown", "cohort", cohort.id, session_id=session.id)
    return code


def normalise(code) -> str:
    return _SEPARATORS.sub("", code) if isinstance(code, str) else ""


def _well_formed(code: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts "²" and Arabic-Indic digits, which int() or
    # compare_digest would refuse.
    return code.isascii() and code.isdigit() and DIGITS < len(code) <= DIGITS + 18


def is_current(session: TrainingSession, code: str) -> bool:
    """Whether ``code`` is this session's code of this minute or the previous one."""
    code = normalise(code)
    if not _well_formed(code):
        return False
    step = _step(utcnow())
    return any(hmac.compare_digest(code, f"{session.id}{_digits(session.id, s)}") for s in (step, step - 1))


def _invalid() -> ValidationFailed:
    message = _("This code is wrong or has expired. Type the code now on the screen.")
    return ValidationFailed(message, {"code": [message]})


def find_session(code) -> TrainingSession:
    """The session a valid, current code belongs to; 422 for anything else (which session is not said)."""
    code = normalise(code)
    if not _well_formed(code):
        raise _invalid()
    session_id = int(code[:-DIGITS])
    if session_id > 2**31 - 1:  # beyond any id the database holds (PostgreSQL would refuse to compare)
        raise _invalid()
    session = db.session.get(TrainingSession, session_id)
    if session is None or not is_current(session, code):
        raise _invalid()
    return session


@dataclass(frozen=True)
class CheckInResult:
    cohort: Cohort
    session: TrainingSession


def check_in(user: User, code) -> CheckInResult:
    """Mark ``user`` present at the session of ``code``: they must be a member, the session must be on."""
    session = find_session(code)
    cohort = db.session.get(Cohort, session.cohort_id)
    enrolment = db.session.scalar(select(Enrolment).where(
        Enrolment.cohort_id == cohort.id, Enrolment.user_id == user.id, Enrolment.status != "withdrawn"))
    if enrolment is None:
        raise Forbidden(_("You are not a member of this session's cohort. Ask the trainer."))
    now = utcnow()
    if now > session.starts_at + CHECK_IN_WINDOW:
        raise Conflict(_("Check-in for this session has ended. Ask the trainer to mark you present."))
    sessions.mark_present(user.id, cohort, session, enrolment.id, how="check_in")
    return CheckInResult(cohort, session)


def rate_limit_key() -> str:
    """Limit guesses per person, not per address: a whole room checks in through one connection.

    The key is found before authentication runs: the bearer token's owner (a hash of the token if
    it names nobody), or the signed-in page's user; an anonymous caller is keyed by address (and
    refused afterwards)."""
    from flask import request
    from flask_limiter.util import get_remote_address
    from flask_login import current_user

    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        # The person the token is theirs, not the token: one person with many tokens (each sign-in
        # through the API makes one) gets one allowance, as the setting says.
        from learning.accounts.tokens import user_for_token

        user = user_for_token(header[7:].strip())
        if user is not None:
            return f"check-in:user:{user.id}"
        return "check-in:token:" + hashlib.sha256(header.encode()).hexdigest()
    if current_user and current_user.is_authenticated:
        return f"check-in:user:{current_user.id}"
    if header:
        return "check-in:token:" + hashlib.sha256(header.encode()).hexdigest()
    return f"check-in:address:{get_remote_address()}"


def qr_svg(url: str) -> str:
    """A standalone SVG document (with its namespace, so it renders as an image on its own)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=10, title="QR")
    return out.getvalue().decode()


def qr_data_uri(url: str) -> str:
    """The QR code as an SVG data: URI (allowed by the CSP for images, as two-factor set-up does)."""
    import segno

    return segno.make(url, error="m").svg_data_uri(scale=10)
