"""What can happen to an account: sign-up, sign-in, tokens, profile changes, roles."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from learning.accounts.models import ROLES, ApiToken, LoginFailure, Organisation, User, UserRole
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

PROFILE_FIELDS = ("full_name", "country", "sector", "language", "organisation", "reminders_enabled", "timezone")
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
FAILED_LOGIN_LIMIT = 10


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
            clean["full_name"] = " ".join(name.split())
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
            clean["organisation"] = " ".join(org.split())
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


def authenticate(email: str, password: str, ip: str | None = None) -> User:
    """The user with these credentials; per-account throttling stops guessing."""
    if not isinstance(email, str) or not isinstance(password, str) or len(email) > 254:
        # No address is longer than 254 characters (nor fits the throttling table): no account has it.
        raise InvalidCredentials(_("Wrong e-mail address or password."))
    email = normalise_email(email)
    since = utcnow() - FAILED_LOGIN_WINDOW
    failures = db.session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.email == email, LoginFailure.at >= since)
    )
    if failures >= FAILED_LOGIN_LIMIT:
        raise Unauthorized(
            _("Too many failed sign-ins for this account. Try again in %(minutes)d minutes or reset your password.",
              minutes=int(FAILED_LOGIN_WINDOW.total_seconds() // 60)),
            code="account_throttled",
        )
    user = get_user_by_email(email)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        db.session.add(LoginFailure(email=email, ip=ip))
        db.session.commit()
        raise InvalidCredentials(_("Wrong e-mail address or password."))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    user.last_login_at = utcnow()
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: ``"<id>:<version>"``; a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version or not user.is_active:
        return None
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(user: User, name: str | None = None) -> tuple[str, ApiToken]:
    """A new bearer token; the plain token is returned once and only its hash is stored."""
    token = "lp_" + secrets.token_urlsafe(32)
    lifetime = timedelta(hours=current_app.config["API_TOKEN_LIFETIME_HOURS"])
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), name=name, expires_at=utcnow() + lifetime)
    db.session.add(row)
    return token, row


def user_for_token(token: str) -> User | None:
    """The user a valid, unexpired, unrevoked token belongs to."""
    if not token:
        return None
    # One statement on every API request: the token, its user and the user's roles (joined, where the
    # roles' own ``selectin`` loading would be a second round trip).
    row = db.session.execute(
        select(ApiToken).options(joinedload(ApiToken.user).joinedload(User.role_rows))
        .where(ApiToken.token_hash == _token_hash(token))
    ).unique().scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = row.user
    if not user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        _record_token_use(row, now)
    return user


def _record_token_use(row: ApiToken, now: datetime) -> None:
    """Note when a token was last used (at most every five minutes), in a short transaction of its own.

    Not through the request's session: committing that would expire everything it holds, so the
    request would read the user and their roles again (two more round trips on the learner's path)."""
    with db.engine.begin() as connection:
        connection.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    set_committed_value(row, "last_used_at", now)


def update_profile(user: User, data: dict) -> User:
    """Change profile fields; past enrolments keep what they recorded (rule 3)."""
    errors: dict[str, list[str]] = {}
    clean = validate_profile(data, errors, partial=True)
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    if "organisation" in clean:
        user.organisation = find_or_create_organisation(
            clean.pop("organisation"), clean.get("country", user.country), clean.get("sector", user.sector)
        )
    for key, value in clean.items():
        setattr(user, key, value)
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
    from learning.mail.services import queue_email

    user = get_user_by_email(email) if isinstance(email, str) else None
    if user is None or not user.is_active:
        return
    link = f"{current_app.config['PUBLIC_BASE_URL']}/account/reset/{make_link_token(user, 'reset')}"
    queue_email(user.email, "reset_password", user.language, user_name=user.full_name, link=link)


def reset_password(token: str, new_password: str) -> User:
    """Set a new password from a reset (or invitation) link; the link then stops working."""
    user = read_link_token(token, "reset", max_age=3 * 24 * 3600)
    problems = password_problems(new_password, user.email, user.full_name)
    if problems:
        raise ValidationFailed(_("The password is not acceptable."), {"password": problems})
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the link proved the address
    return user


def change_password(user: User, current: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(_("The current password is wrong."), {"current_password": [_("Wrong password.")]})
    problems = password_problems(new_password, user.email, user.full_name)
    if problems:
        raise ValidationFailed(_("The password is not acceptable."), {"password": problems})
    user.password_hash = hash_password(new_password)
    user.session_version += 1


def token_expiry(row: ApiToken) -> datetime:
    return row.expires_at
