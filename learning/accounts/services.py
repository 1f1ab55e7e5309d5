"""What can happen to an account: sign-up, sign-in, profile changes, roles, passwords and e-mailed links.

API tokens (issuing, revoking, finding who calls with one) are ``learning.accounts.tokens``.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from learning.accounts import sessions, throttling
from learning.accounts.models import ROLES, ApiToken, Organisation, User, UserRole
from learning.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from learning.audit.services import record as audit
from learning.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from learning.extensions import db
from learning.i18n import is_country_code, is_sector, is_timezone, normalise_language
from learning.models_base import utcnow
from learning.text import single_line
from learning.transactions import keep_despite_failure

PROFILE_FIELDS = ("full_name", "country", "sector", "language", "organisation", "reminders_enabled", "timezone")


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_email(email, errors: dict, check_deliverability: bool = False) -> str | None:
    if not isinstance(email, str) or not email.strip():
        errors.setdefault("email", []).append(_("An e-mail address is required."))
        return None
    try:
        result = validate_email(email.strip(), check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        errors.setdefault("email", []).append(str(exc))
        return None
    return normalise_email(result.normalized)


def validate_profile(data: dict, errors: dict, partial: bool = False) -> dict:
    """Check profile fields; return the clean values, adding problems to ``errors``."""
    clean: dict = {}

    def present(name: str) -> bool:
        return name in data and data[name] is not None or not partial

    if present("full_name"):
        name = data.get("full_name")
        if not isinstance(name, str) or not name.strip():
            errors.setdefault("full_name", []).append(_("A name is required."))
        elif len(name.strip()) > 200:
            errors.setdefault("full_name", []).append(_("Use at most %(n)d characters.", n=200))
        else:
            clean["full_name"] = single_line(name)
    if present("country"):
        country = data.get("country")
        if not isinstance(country, str) or not is_country_code(country):
            errors.setdefault("country", []).append(_("Unknown country code %(code)r", code=country))
        else:
            clean["country"] = country.upper()
    if present("sector"):
        sector = data.get("sector")
        if not is_sector(sector):
            errors.setdefault("sector", []).append(_("Unknown sector %(sector)r", sector=sector))
        else:
            clean["sector"] = sector
    if present("language"):
        language = normalise_language(data.get("language"))
        if language is None:
            errors.setdefault("language", []).append(_("Not a BCP 47 language tag: %(tag)r", tag=data.get("language")))
        else:
            clean["language"] = language
    if "timezone" in data and data["timezone"] is not None:
        if not is_timezone(data["timezone"]):
            errors.setdefault("timezone", []).append(_("Unknown time zone %(zone)r", zone=data["timezone"]))
        else:
            clean["timezone"] = data["timezone"]
    if "reminders_enabled" in data and data["reminders_enabled"] is not None:
        if not isinstance(data["reminders_enabled"], bool):
            errors.setdefault("reminders_enabled", []).append(_("Must be true or false."))
        else:
            clean["reminders_enabled"] = data["reminders_enabled"]
    if "organisation" in data:
        org = data.get("organisation")
        if org is None or org == "":
            clean["organisation"] = None
        elif not isinstance(org, str) or len(org.strip()) > 200:
            errors.setdefault("organisation", []).append(_("Use a name of at most %(n)d characters.", n=200))
        else:
            clean["organisation"] = single_line(org)
    return clean


def find_or_create_organisation(name: str | None, country: str | None = None,
                                sector: str | None = None) -> Organisation | None:
    """The organisation with this name (case-insensitive), created if new."""
    if not name:
        return None
    org = db.session.scalar(select(Organisation).where(func.lower(Organisation.name) == name.lower()))
    if org is None:
        org = Organisation(name=name, country=country, sector=sector)
        db.session.add(org)
        db.session.flush()
    return org


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def register_user(data: dict, roles: list[str] | None = None, send_verification: bool = True,
                  password_required: bool = True) -> User:
    """Create an account after checking every field; raise ``ValidationFailed`` naming each bad one."""
    errors: dict[str, list[str]] = {}
    email = _check_email(data.get("email"), errors)
    clean = validate_profile(data, errors)
    password = data.get("password")
    if password is not None or password_required:
        name = data.get("full_name") if isinstance(data.get("full_name"), str) else ""
        for problem in password_problems(password if isinstance(password, str) else "", email or "", name):
            errors.setdefault("password", []).append(problem)
    for role in roles or []:
        if role not in ROLES:
            errors.setdefault("roles", []).append(_("Unknown role %(role)r", role=role))
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    if get_user_by_email(email) is not None:
        raise Conflict(_("An account with this e-mail address already exists."), {"email": [_("Already registered.")]})
    org = find_or_create_organisation(clean.pop("organisation", None), clean.get("country"), clean.get("sector"))
    user = User(
        email=email,
        password_hash=hash_password(password) if password else None,
        organisation=org,
        **{k: v for k, v in clean.items() if k != "organisation"},
    )
    for role in roles or []:
        if role != "learner":
            user.role_rows.append(UserRole(role=role))
    db.session.add(user)
    db.session.flush()
    if send_verification:
        send_verification_email(user)
    return user


def authenticate(email: str, password: str, ip: str | None = None, known_device: bool = False) -> User:
    """The user with these credentials; repeated failures make the next attempt wait (``throttling``).

    ``known_device``: the request carries a device cookie of this account, so failures made by
    others on the account do not slow its owner down (those of its address still do).
    """
    if not isinstance(email, str) or not isinstance(password, str) or len(email) > 254:
        # No address is longer than 254 characters (nor fits the throttling table): no account has it.
        raise InvalidCredentials(_("Wrong e-mail address or password."))
    email = normalise_email(email)
    throttling.check_sign_in_allowed(email, ip, known_device)
    user = get_user_by_email(email)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        def record_failure() -> None:
            throttling.record_sign_in_failure(email, ip, user)
            # An unknown address is kept in the details (no account to erase it with); a known one by its id.
            audit(None, "user.sign_in_failed", "user" if user else None, user.id if user else None,
                  **({} if user else {"email": email}))

        keep_despite_failure(record_failure)  # the failure counts even though the request is refused
        raise InvalidCredentials(_("Wrong e-mail address or password."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    throttling.forget_failures(email)
    user.last_login_at = utcnow()
    return user


def record_sign_in(user: User, method: str) -> None:
    """Write a completed sign-in to the audit log (``method``: ``password``, ``two_factor``, ``api_token``)."""
    audit(user.id, "user.signed_in", "user", user.id, method=method)


def end_credentials(user: User, keep_current_session: bool = False) -> None:
    """What was proved with the old credentials stops working: every API token, every session (but
    this request's, with ``keep_current_session``) and every e-mailed link.

    Called when the password changes or is reset, when two-factor sign-in is turned on or off, and
    when the account is disabled or erased (API.md: tokens outlive nothing that made them)."""
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    sessions.end_sessions(user, keep_current=keep_current_session)
    user.session_version += 1


def update_profile(user: User, data: dict, *, by_admin: bool = False) -> User:
    """Change profile fields; past enrolments keep what they recorded (rule 3).

    Someone naming a partner organisation for themselves only asks to join it (its manager
    confirms); an admin's change is made as it is."""
    errors: dict[str, list[str]] = {}
    clean = validate_profile(data, errors, partial=True)
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    if "organisation" in clean:
        from learning.organisations.services import change_own_organisation

        change_own_organisation(user, find_or_create_organisation(
            clean.pop("organisation"), clean.get("country", user.country), clean.get("sector", user.sector)
        ), confirmed=by_admin)
    for key, value in clean.items():
        setattr(user, key, value)
    return user


def choose_language(user: User, code: str) -> User:
    """Make ``code`` the person's language: the pages, and the e-mails they receive, use it."""
    if normalise_language(code) is None:
        raise ValidationFailed(_("Some fields are invalid."), {"language": [_("Not a BCP 47 language tag: %(tag)r", tag=code)]})
    user.language = code
    return user


def set_roles(actor: User, user: User, roles: list[str]) -> User:
    """Replace a user's roles (admin only); ``learner`` is implicit."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed(_("Unknown roles."), {"roles": [_("Unknown role %(role)r", role=r) for r in unknown]})
    wanted = set(roles) - {"learner"}
    if actor.id == user.id and "admin" not in wanted:
        raise ValidationFailed(_("You cannot remove your own admin role."),
                               {"roles": [_("Keep 'admin' on yourself.")]})
    user.role_rows = [row for row in user.role_rows if row.role in wanted]
    for role in wanted - {row.role for row in user.role_rows}:
        user.role_rows.append(UserRole(role=role))
    audit(actor.id, "user.roles_changed", "user", user.id, roles=sorted(wanted | {"learner"}))
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


# --- signed links -----------------------------------------------------------

def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"learning.{purpose}")


def make_link_token(user: User, purpose: str) -> str:
    return _serializer(purpose).dumps({"uid": user.id, "v": user.session_version, "e": user.email})


def read_link_token(token: str, purpose: str, max_age: int) -> User:
    """The user a signed link was made for; raise if it is forged, expired or used."""
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ValidationFailed(_("This link has expired. Ask for a new one.")) from exc
    except BadSignature as exc:
        raise ValidationFailed(_("This link is not valid.")) from exc
    user = db.session.get(User, data.get("uid"))
    if user is None or user.session_version != data.get("v") or user.email != data.get("e"):
        raise ValidationFailed(_("This link is no longer valid."))
    return user


def send_verification_email(user: User) -> None:
    from learning.mail.services import queue_email

    link = f"{current_app.config['PUBLIC_BASE_URL']}/account/verify/{make_link_token(user, 'verify')}"
    queue_email(user.email, "verify_email", user.language, user_name=user.full_name, link=link)


def verify_email(token: str) -> User:
    user = read_link_token(token, "verify", max_age=7 * 24 * 3600)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


def request_password_reset(email: str) -> None:
    """E-mail a reset link if the account exists; say nothing either way."""
    user = get_user_by_email(email) if isinstance(email, str) else None
    if user is None or not user.is_active:
        return
    queue_password_reset(user)


def queue_password_reset(user: User) -> None:
    """Queue the e-mail with a link to choose a new password."""
    from learning.mail.services import queue_email

    link = f"{current_app.config['PUBLIC_BASE_URL']}/account/reset/{make_link_token(user, 'reset')}"
    queue_email(user.email, "reset_password", user.language, user_name=user.full_name, link=link)


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset (or invitation) link; the link then stops working."""
    user = read_link_token(token, "reset", max_age=3 * 24 * 3600)
    problems = password_problems(new_password, user.email, user.full_name)
    if problems:
        raise ValidationFailed(_("The password is not acceptable."), {"password": problems})
    user.password_hash = hash_password(new_password)
    end_credentials(user)
    throttling.forget_failures(user.email)  # the link proved the owner: no wait left for them
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the link proved the address
    audit(user.id, "user.password_reset", "user", user.id)
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    """A new password, given the current one; every other session and every token ends."""
    if not isinstance(current, str) or not verify_password(user.password_hash, current):
        raise ValidationFailed(_("The current password is wrong."), {"current_password": [_("Wrong password.")]})
    problems = password_problems(new_password, user.email, user.full_name)
    if problems:
        raise ValidationFailed(_("The password is not acceptable."), {"password": problems})
    user.password_hash = hash_password(new_password)
    end_credentials(user, keep_current_session=True)
    audit(user.id, "user.password_changed", "user", user.id)
