"""What can happen to an account: sign-up, sign-in, tokens, profile changes, roles."""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import (
    Boolean,
    Integer,
    String,
    bindparam,
    column,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from learning.accounts import sessions, throttling
from learning.accounts.models import ROLES, ApiToken, Organisation, User, UserRole
from learning.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from learning.audit.services import record as audit
from learning.db_liveness import PREPARE_AT_ONCE
from learning.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from learning.extensions import db
from learning.i18n import is_country_code, is_sector, is_timezone, normalise_language
from learning.models_base import UTCDateTime, utcnow
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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


TOKEN_NAME_MAX = 100


def issue_api_token(user: User, name: str | None = None) -> tuple[str, ApiToken]:
    """A new bearer token; the plain token is returned once and only its hash is stored."""
    if name is not None:
        if not isinstance(name, str) or len(name) > TOKEN_NAME_MAX:
            raise ValidationFailed(_("Some fields are invalid."),
                                   {"name": [_("Use at most %(n)d characters.", n=TOKEN_NAME_MAX)]})
        name = " ".join(name.split()) or None
    token = "lp_" + secrets.token_urlsafe(32)
    lifetime = timedelta(hours=current_app.config["API_TOKEN_LIFETIME_HOURS"])
    row = ApiToken(user_id=user.id, token_hash=_token_hash(token), name=name, expires_at=utcnow() + lifetime)
    db.session.add(row)
    return token, row


# The token look-up (every API request): one Core statement, and the rows made into the session's
# objects by hand (docs/PERFORMANCE.md, helper "hotauth"). The ORM's select of ``ApiToken`` with its user,
# roles and organisation joined (27 columns) cost about a quarter of a learner's request in Python: its
# loading context, the joined rows made unique and an ``ApiToken`` object nobody reads. Nothing is kept
# between requests: every request reads the token, the user and the roles afresh, so a revoked or
# expired token, a disabled or erased user and a removed role stop working on the very next request,
# in every process (tests/accounts/test_token_lookup.py).
#
# Columns no API request of the learner reads are left out (each one costs the driver and the
# statement per row, docs/PERFORMANCE.md "hotpath4"): the token's hash (the caller sent it), name and
# creation; the user's password hash and two-factor bookkeeping, read only when signing in or changing
# them, where they come in one more statement (they are left expired, so reading them loads them); when
# a role was granted; when the organisation was created. ``tests/enrolment/test_hot_path_statements.py``
# fails if the hot path reads one of them after all.
_USER_LEFT_OUT = frozenset({"password_hash", "totp_last_step", "totp_failures", "totp_failed_at", "sign_in_alert_at"})
_ORGANISATION_LEFT_OUT = frozenset({"created_at"})


def _read_columns(model, left_out: frozenset) -> list[tuple[str, object]]:
    """(attribute name, table column) of the model's plain columns, but those ``left_out``."""
    return [(prop.key, prop.columns[0]) for prop in inspect(model).column_attrs
            if prop.key not in left_out and len(prop.columns) == 1]


@functools.cache
def _token_lookup():
    """Built once: the statement, and where each object's values are in its rows.

    One row per role the user holds beyond ``learner`` (one row when none); the token's columns
    first, then the user's, the organisation's (NULL without one) and the role's name."""
    configure_mappers()  # the objects are made by hand below: the mappers must be ready
    tokens, users = ApiToken.__table__, User.__table__
    organisations, roles = Organisation.__table__, UserRole.__table__
    user_columns = _read_columns(User, _USER_LEFT_OUT)
    organisation_columns = _read_columns(Organisation, _ORGANISATION_LEFT_OUT)
    token = (tokens.c.id, tokens.c.expires_at, tokens.c.revoked_at, tokens.c.last_used_at)
    statement = (
        select(*token, *(c for _k, c in user_columns),
               *(c.label(f"organisation_{k}") for k, c in organisation_columns), roles.c.role)
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id)
                     .outerjoin(organisations, organisations.c.id == users.c.organisation_id)
                     .outerjoin(roles, roles.c.user_id == users.c.id))
        .where(tokens.c.token_hash == bindparam("token_hash")))
    first_user = len(token)
    first_organisation = first_user + len(user_columns)
    return (statement, [k for k, _c in user_columns], first_user, first_organisation,
            [k for k, _c in organisation_columns], first_organisation + len(organisation_columns))


def _as_persistent(session, model, key: tuple, values: dict):
    """The session's object for this row: the one it already holds, its unloaded attributes filled in
    (as a query would), or a new one made from ``values`` and attached as loaded from the database
    (unread columns left expired, so reading one loads it)."""
    obj = session.identity_map.get(key)
    if obj is not None:
        unloaded = instance_state(obj).unloaded
        for name, value in values.items():
            if name in unloaded:
                set_committed_value(obj, name, value)
        return obj
    obj = inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)  # committed as it is, its identity set; the rest expired
    return obj


def user_for_token(token: str) -> User | None:
    """The user a valid, unexpired, unrevoked token belongs to, if their account is active (``User.is_active``):
    an object of the request's session."""
    if not token:
        return None
    statement, user_keys, first_user, first_organisation, organisation_keys, role_at = _token_lookup()
    session = db.session()
    rows = session.execute(statement, {"token_hash": _token_hash(token)}).all()
    if not rows:
        return None
    row = rows[0]
    now = utcnow()
    values = dict(zip(user_keys, row[first_user:first_organisation], strict=True))
    if row[2] is not None or row[1] <= now:
        return None  # revoked or expired: decided on what the database says now
    user = _as_persistent(session, User, (User, (values["id"],), None), values)
    if not user.is_active:  # disabled or erased: the account's own rule, on the row just read
        return None  # before the object joins the session (a new one is still detached): nothing kept
    state = instance_state(user)
    if "role_rows" in state.unloaded:
        set_committed_value(user, "role_rows", [
            _as_persistent(session, UserRole, (UserRole, (user.id, r[role_at]), None),
                           {"user_id": user.id, "role": r[role_at]})
            for r in rows if r[role_at] is not None])
    if "organisation" in state.unloaded:
        organisation = None
        if values["organisation_id"] is not None:
            found = dict(zip(organisation_keys, row[first_organisation:role_at], strict=True))
            organisation = _as_persistent(session, Organisation, (Organisation, (found["id"],), None), found)
        set_committed_value(user, "organisation", organisation)
    for obj in (user, *user.role_rows, user.organisation):
        if obj is not None and instance_state(obj).session_id is None:
            session.add(obj)  # attached as loaded: nothing to flush (a new user brings its roles along)
    if row[3] is None or now - row[3] > _TOKEN_USE_NOTED_EVERY:
        _record_token_use(session, row[0], now)
    return user


# The caller of the learner's hot routes (enrolling, completing a lesson: ``learning/api/auth.py``'s
# ``LIGHT_ENDPOINTS``, PostgreSQL only): the few values those routes read, from one statement, with no ORM
# object built, attached to the session or expired at commit (docs/PERFORMANCE.md, helper "hotpath6").
# Nothing is kept between requests, as for ``user_for_token``: the statement decides on what the database
# says now (revoked, expired, disabled, erased), and notes the token's use (every five minutes) in the same
# round trip. Every other route, ``/me`` included, gets the ``User`` of ``user_for_token``.
class TokenCaller(NamedTuple):
    id: int
    language: str | None
    country: str | None
    sector: str | None
    organisation_id: int | None
    is_admin: bool
    two_factor_on: bool  # whether a TOTP secret is set (the secret itself is not read)
    # ``(enrolment id, its row or None)`` when the look-up also locked the caller's enrolment named in the
    # address (``caller_for_token(..., lock_enrolment=...)``): ``learning/enrolment/hot.py`` uses the row.
    locked_enrolment: tuple | None = None


# ``used`` runs whether or not the final SELECT reads it (PostgreSQL runs every data-modifying CTE once);
# its condition is on the token's row, so a request that waited for another's note of the same token's
# use finds it done and writes nothing.
_CALLER_CTES = (
    "WITH caller AS ("
    "SELECT t.id AS token_id, t.last_used_at, u.id, u.language, u.country, u.sector, u.organisation_id, "
    "u.totp_secret IS NOT NULL AS two_factor_on "
    "FROM api_tokens AS t JOIN users AS u ON u.id = t.user_id "
    "WHERE t.token_hash = :token_hash AND t.revoked_at IS NULL AND t.expires_at > :now "
    "AND u.active AND u.erased_at IS NULL), "  # User.is_active, in SQL (both asked by test_token_lookup.py)
    "used AS ("
    "UPDATE api_tokens SET last_used_at = :now "
    "WHERE id = (SELECT token_id FROM caller WHERE last_used_at IS NULL OR last_used_at < :stale) "
    "AND (last_used_at IS NULL OR last_used_at < :stale) RETURNING id)")
_CALLER_COLUMNS = (
    "caller.id, caller.language, caller.country, caller.sector, caller.organisation_id, "
    "EXISTS (SELECT 1 FROM user_roles WHERE user_roles.user_id = caller.id AND role = 'admin'), "
    "caller.two_factor_on")


def _caller_statement(sql: str, *more):
    """Result columns given in order (their metadata is kept with the statement, not matched by name)."""
    return text(sql).bindparams(bindparam("now", type_=UTCDateTime), bindparam("stale", type_=UTCDateTime)).columns(
        column("id", Integer), column("language", String), column("country", String), column("sector", String),
        column("organisation_id", Integer), column("is_admin", Boolean), column("two_factor_on", Boolean), *more,
    ).execution_options(**{PREPARE_AT_ONCE: True})  # every hot request sends it (learning/db_liveness.py)


_CALLER = _caller_statement(f"{_CALLER_CTES} SELECT {_CALLER_COLUMNS} FROM caller")


@functools.cache
def _caller_and_enrolment():
    """The caller, and in the same round trip their own enrolment named in the address, locked, with what
    the lesson's statement needs of its course (``hot._LOCK_OWN``'s columns: someone else's enrolment is
    neither read nor locked, and an invalid token locks nothing). One row when the token is valid, the
    enrolment's columns NULL when it is not the caller's; none otherwise."""
    from learning.enrolment.hot import LOCK_OWN_COLUMNS, LOCK_OWN_SQL

    sql = (f"{_CALLER_CTES}, locked AS ({LOCK_OWN_SQL.replace(':user_id', '(SELECT id FROM caller)')}) "
           f"SELECT {_CALLER_COLUMNS}, locked.* FROM caller LEFT JOIN locked ON true")
    return _caller_statement(sql, *LOCK_OWN_COLUMNS)


_TOKEN_USE_NOTED_EVERY = timedelta(minutes=5)


def caller_for_token(token: str, lock_enrolment: int | None = None) -> TokenCaller | None:
    """``user_for_token`` for the learner's hot routes on PostgreSQL: who calls, as a ``TokenCaller``;
    with ``lock_enrolment``, their enrolment of that id read and locked in the same statement."""
    if not token:
        return None
    now = utcnow()
    parameters = {"token_hash": _token_hash(token), "now": now, "stale": now - _TOKEN_USE_NOTED_EVERY}
    if lock_enrolment is None:
        row = db.session().connection().execute(_CALLER, parameters).first()
        return None if row is None else TokenCaller(*row)
    parameters["enrolment_id"] = lock_enrolment
    row = db.session().connection().execute(_caller_and_enrolment(), parameters).first()
    if row is None:
        return None
    enrolment = tuple(row[7:])
    return TokenCaller(*row[:7], (lock_enrolment, None if enrolment[0] is None else enrolment))


def tokens_of(user: User, page: int = 1, per_page: int = 50) -> tuple[list[ApiToken], int]:
    """The person's tokens that still work, newest first, and how many there are."""
    live = (ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow())
    total = db.session.scalar(select(func.count()).select_from(ApiToken).where(*live))
    rows = db.session.scalars(
        select(ApiToken).where(*live).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def revoke_token(user: User, token_id: int) -> ApiToken:
    """End one of the person's own tokens (again is harmless); anyone else's is ``NotFound``."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such token."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(user.id, "user.token_revoked", "api_token", row.id)
    return row


def end_credentials(user: User, keep_current_session: bool = False) -> None:
    """What was proved with the old credentials stops working: every API token, every session (but
    this request's, with ``keep_current_session``) and every e-mailed link.

    Called when the password changes or is reset, when two-factor sign-in is turned on or off, and
    when the account is disabled or erased (API.md: tokens outlive nothing that made them)."""
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))
    sessions.end_sessions(user, keep_current=keep_current_session)
    user.session_version += 1


def _record_token_use(session, token_id: int, now: datetime) -> None:
    """Note when a token was last used (at most every five minutes), in the request's own unit of work.

    One statement on the request's connection, never a second connection: twenty requests waiting on
    a row lock would otherwise each hold one connection and wait for another, and exhaust the pool.
    A token object the session holds gets the value as already stored, so nothing is flushed or read
    again for it."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                    .execution_options(synchronize_session=False))
    held = session.identity_map.get((ApiToken, (token_id,), None))
    if held is not None and "last_used_at" not in instance_state(held).unloaded:
        set_committed_value(held, "last_used_at", now)


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
