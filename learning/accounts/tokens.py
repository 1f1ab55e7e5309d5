"""API bearer tokens: issuing, listing and revoking a person's tokens, and finding who calls with one.

Every API request goes through ``user_for_token`` (an ORM ``User`` of the request's session) or, on the
learner's hot routes on PostgreSQL, ``caller_for_token`` (a ``TokenCaller``: a few values read by one
statement, their enrolment locked with it when the address names one); ``learning/api/auth.py`` chooses.
Neither keeps anything between requests: a revoked or expired token, a disabled or erased account and a
removed role stop working on the very next request (tests/accounts/test_token_lookup.py). Only a token's
hash is stored; its use is noted at most every five minutes, in the request's own unit of work.

Ending every token of a person when their credentials change is ``accounts.services.end_credentials``.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from flask_babel import gettext as _
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

from learning.accounts.models import ApiToken, Organisation, User, UserRole
from learning.audit.services import record as audit
from learning.db_liveness import PREPARE_AT_ONCE
from learning.enrolment.own_lock import LOCK_OWN_COLUMNS, LOCK_OWN_SQL
from learning.errors import NotFound, ValidationFailed
from learning.extensions import db
from learning.hot_statements import HotStatement
from learning.models_base import UTCDateTime, utcnow


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


_CALLER = HotStatement(_caller_statement(f"{_CALLER_CTES} SELECT {_CALLER_COLUMNS} FROM caller"))


@functools.cache
def _caller_and_enrolment():
    """The caller, and in the same round trip their own enrolment named in the address, locked, with what
    the lesson's statement needs of its course (``hot._LOCK_OWN``'s columns: someone else's enrolment is
    neither read nor locked, and an invalid token locks nothing). One row when the token is valid, the
    enrolment's columns NULL when it is not the caller's; none otherwise."""
    sql = (f"{_CALLER_CTES}, locked AS ({LOCK_OWN_SQL.replace(':user_id', '(SELECT id FROM caller)')}) "
           f"SELECT {_CALLER_COLUMNS}, locked.* FROM caller LEFT JOIN locked ON true")
    return HotStatement(_caller_statement(sql, *LOCK_OWN_COLUMNS))


_TOKEN_USE_NOTED_EVERY = timedelta(minutes=5)


def caller_for_token(token: str, lock_enrolment: int | None = None) -> TokenCaller | None:
    """``user_for_token`` for the learner's hot routes on PostgreSQL: who calls, as a ``TokenCaller``;
    with ``lock_enrolment``, their enrolment of that id read and locked in the same statement."""
    if not token:
        return None
    now = utcnow()
    parameters = {"token_hash": _token_hash(token), "now": now, "stale": now - _TOKEN_USE_NOTED_EVERY}
    if lock_enrolment is None:
        rows = _CALLER.rows(db.session().connection(), parameters)
        return TokenCaller(*rows[0]) if rows else None
    parameters["enrolment_id"] = lock_enrolment
    rows = _caller_and_enrolment().rows(db.session().connection(), parameters)
    if not rows:
        return None
    row = rows[0]
    enrolment = row[7:]
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
