"""Finding due reminders, claiming each exactly once, and gathering them into daily digests.

A run (``plan``) works in one transaction, serialised across processes:

1. the time zones where it is daytime now, with their local dates (``local_clock``);
2. the rules' due reminders claimed in the sent-log with ``INSERT ... SELECT ...
   ON CONFLICT DO NOTHING``: the unique (rule, user_id, occasion) makes a re-run,
   an overlapping beat or a retried task claim nothing twice;
3. one digest per learner with fresh claims, for their local day, and the
   claims attached to it.

On PostgreSQL steps 2 and 3 are one statement (``claim_into_digests``): the
rules' selects, unioned, are computed once; the digests are inserted first and
each claim is inserted already pointing at its digest, so no row is written
twice. Elsewhere (SQLite: development and tests) the claims are inserted rule by
rule and then attached to their digests with an ``UPDATE``.

Delivery (``learning.reminders.delivery``) then sends each digest and marks it
and its reminders sent only after the SMTP server has accepted it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Date, String, and_, func, literal, or_, select, text, true, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from learning.accounts.models import User
from learning.audit.services import record as audit
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.reminders.models import (
    OPEN_DIGEST_STATUSES,
    REMINDERS_PER_DAY,
    ReminderDigest,
    ReminderSent,
)
from learning.reminders.rules import CLAIM_COLUMNS, Moment, enabled_rules

DEFAULT_SEND_HOURS = (8, 20)  # local time: from 08:00 until 20:00
PLAN_LOCK_KEY = 0x5EED_0006  # pg_advisory_xact_lock key serialising planning runs
DISPATCH_LEASE = timedelta(minutes=10)


# --- the learner's clock --------------------------------------------------------

def zone(name: str | None) -> ZoneInfo:
    """The named time zone; an unknown or empty name counts as UTC."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def send_hours() -> tuple[int, int]:
    """The local hours reminders may go out: ``REMINDER_SEND_HOURS`` (start, end), default 08-20."""
    start, end = current_app.config.get("REMINDER_SEND_HOURS", DEFAULT_SEND_HOURS)
    return int(start), int(end)


def is_daytime(timezone: str | None, now: datetime) -> bool:
    """Whether it is within sending hours where the learner lives."""
    start, end = send_hours()
    return start <= now.astimezone(zone(timezone)).hour < end


def local_date(timezone: str | None, now: datetime) -> date:
    return now.astimezone(zone(timezone)).date()


def next_daytime(timezone: str | None, now: datetime) -> datetime:
    """The next moment (UTC) sending hours begin where the learner lives, or ``now`` if they have."""
    if is_daytime(timezone, now):
        return now
    tz = zone(timezone)
    local = now.astimezone(tz)
    start = local.replace(hour=send_hours()[0], minute=0, second=0, microsecond=0)
    if start <= local:
        start = (local + timedelta(days=1)).replace(hour=send_hours()[0], minute=0, second=0, microsecond=0)
    return start.astimezone(UTC)


def daytime_zones(timezones: Iterable[str], now: datetime) -> dict[str, date]:
    """Of the given zone names, those in sending hours now, with their local date."""
    return {name: local_date(name, now) for name in timezones if is_daytime(name, now)}


def local_clock(now: datetime):
    """A CTE ``(timezone, local_date)`` of the learners' zones where it is daytime now; None if none is."""
    zones = daytime_zones(db.session.scalars(select(User.timezone).distinct()), now)
    if not zones:
        return None
    rows = [select(literal(name, String).label("timezone"), literal(day, Date).label("local_date"))
            for name, day in sorted(zones.items())]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte("local_clock")


def moment_at(now: datetime) -> Moment | None:
    clock = local_clock(now)
    return None if clock is None else Moment(now=now, local_clock=clock)


# --- planning -------------------------------------------------------------------

def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _serialise_runs() -> None:
    """Let one planning run at a time hold the claims (SQLite serialises writers anyway)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLAN_LOCK_KEY})


def due_reminders(now: datetime) -> dict[str, list[tuple]]:
    """What every enabled rule finds due now, without claiming it: rule -> rows of CLAIM_COLUMNS."""
    moment = moment_at(now)
    if moment is None:
        return {rule.name: [] for rule in enabled_rules()}
    return {rule.name: [tuple(row) for row in db.session.execute(rule.due(moment))] for rule in enabled_rules()}


def count_due(now: datetime) -> dict[str, int]:
    """How many reminders each enabled rule finds due now (one counting query per rule)."""
    moment = moment_at(now)
    counts = {}
    for rule in enabled_rules():
        if moment is None:
            counts[rule.name] = 0
            continue
        counts[rule.name] = db.session.scalar(select(func.count()).select_from(rule.due(moment).subquery()))
    return counts


def claim_due(now: datetime) -> dict[str, int]:
    """Claim every due reminder in the sent-log (exactly once each); how many were new, by rule."""
    moment = moment_at(now)
    claimed = {}
    for rule in enabled_rules():
        if moment is None:
            claimed[rule.name] = 0
            continue
        statement = (
            _insert(ReminderSent.__table__)
            .from_select(list(CLAIM_COLUMNS), rule.due(moment))
            .on_conflict_do_nothing(index_elements=["rule", "user_id", "occasion"])
            .returning(ReminderSent.__table__.c.id)
        )
        claimed[rule.name] = len(db.session.execute(statement).all())
    return claimed


def gather_digests(now: datetime) -> int:
    """Put every unattached claim into its learner's digest for the day it fell due; how many digests are new."""
    fresh = select(ReminderSent.user_id, ReminderSent.due_on).where(
        ReminderSent.status == "claimed", ReminderSent.digest_id.is_(None), ReminderSent.due_on.is_not(None)
    ).distinct().subquery("fresh")
    new = db.session.execute(
        _insert(ReminderDigest.__table__)
        .from_select(
            ["user_id", "local_date", "status", "attempts", "next_attempt_at", "created_at"],
            select(fresh.c.user_id, fresh.c.due_on, literal("pending"), literal(0),
                   literal(now, ReminderDigest.next_attempt_at.type), literal(now, ReminderDigest.created_at.type))
            .select_from(fresh).where(true()),  # WHERE: SQLite's upsert grammar
        )
        .on_conflict_do_nothing(index_elements=["user_id", "local_date"], index_where=REMINDERS_PER_DAY)
        .returning(ReminderDigest.__table__.c.id)
    ).all()
    db.session.execute(  # UPDATE ... FROM: a join, on PostgreSQL and SQLite alike
        update(ReminderSent)
        .where(
            ReminderSent.status == "claimed",
            ReminderSent.digest_id.is_(None),
            ReminderDigest.user_id == ReminderSent.user_id,
            ReminderDigest.local_date == ReminderSent.due_on,
            ReminderDigest.kind == "reminders",
            ReminderDigest.status == "pending",
        )
        .values(digest_id=ReminderDigest.id),
        execution_options={"synchronize_session": False},
    )
    return len(new)


PLAN_WORK_MEM = "64MB"  # for the run's hash joins and DISTINCT over every due reminder (PostgreSQL, this run only)


def claim_into_digests(now: datetime) -> dict[str, int]:
    """Claim every due reminder and gather the claims into digests in one PostgreSQL statement; counts by rule.

    ::

        WITH local_clock AS (...),
             due AS (<rule 1> UNION ALL <rule 2> ...),          -- computed once
             new_digests AS (INSERT INTO reminder_digests ... SELECT DISTINCT user_id, due_on FROM due
                             ON CONFLICT (user_id, local_date) DO NOTHING RETURNING id, user_id, local_date),
             claims AS (INSERT INTO reminders_sent (..., digest_id) SELECT due.*, new_digests.id
                        FROM due JOIN new_digests ON (user_id, due_on = local_date)
                        ON CONFLICT (rule, user_id, occasion) DO NOTHING RETURNING rule)
        SELECT rule, count(*) FROM claims GROUP BY rule UNION ALL SELECT 'digests', count(*) FROM new_digests

    Each rule's select already leaves out learners with a digest that day (or one still
    waiting) and occasions already in the sent-log, so under the run lock neither
    conflict clause fires; they remain the guarantee. (Were every claim of a new digest
    to conflict, the digest would stay empty and delivery would cancel it.) Each claim
    row is written once, with its digest, instead of being inserted and then updated.
    """
    rules = enabled_rules()
    counts = dict.fromkeys((rule.name for rule in rules), 0)
    counts["digests"] = 0
    moment = moment_at(now)
    if moment is None or not rules:
        return counts
    selects = [rule.due(moment) for rule in rules]
    due = (union_all(*selects) if len(selects) > 1 else selects[0]).cte("due")
    digests, sent = ReminderDigest.__table__, ReminderSent.__table__
    new_digests = (
        postgresql.insert(digests)
        .from_select(
            ["user_id", "local_date", "status", "attempts", "next_attempt_at", "created_at"],
            select(due.c.user_id, due.c.due_on, literal("pending", String), literal(0),
                   literal(now, digests.c.next_attempt_at.type), literal(now, digests.c.created_at.type)).distinct(),
        )
        .on_conflict_do_nothing(index_elements=["user_id", "local_date"], index_where=REMINDERS_PER_DAY)
        .returning(digests.c.id, digests.c.user_id, digests.c.local_date)
        .cte("new_digests")
    )
    claims = (
        postgresql.insert(sent)
        .from_select(
            [*CLAIM_COLUMNS, "digest_id"],
            select(*[due.c[name] for name in CLAIM_COLUMNS], new_digests.c.id)
            .select_from(due.join(new_digests, and_(new_digests.c.user_id == due.c.user_id,
                                                    new_digests.c.local_date == due.c.due_on))),
        )
        .on_conflict_do_nothing(index_elements=["rule", "user_id", "occasion"])
        .returning(sent.c.rule)
        .cte("claims")
    )
    statement = union_all(
        select(claims.c.rule, func.count()).group_by(claims.c.rule),
        select(literal("digests", String), func.count()).select_from(new_digests),
    )
    db.session.execute(text(f"SET LOCAL work_mem = '{PLAN_WORK_MEM}'"))
    counts.update({name: count for name, count in db.session.execute(statement)})
    return counts


def plan(now: datetime) -> dict[str, int]:
    """Claim what is due now and gather it into digests, in one committed transaction; counts by rule."""
    try:
        _serialise_runs()
        if db.session.get_bind().dialect.name == "postgresql":
            claimed = claim_into_digests(now)
        else:
            claimed = claim_due(now)
            claimed["digests"] = gather_digests(now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return claimed


def take_due_digests(now: datetime, limit: int = 5000) -> list[int]:
    """Digests waiting to be sent whose time has come (or whose sender died); leased briefly so the next run
    does not queue them again."""
    abandoned = and_(ReminderDigest.status == "sending", ReminderDigest.lease_until < now)
    ids = list(db.session.scalars(
        select(ReminderDigest.id)
        .where(or_(and_(ReminderDigest.status == "pending", ReminderDigest.next_attempt_at <= now), abandoned))
        .order_by(ReminderDigest.next_attempt_at, ReminderDigest.id)
        .limit(limit)
    ))
    if ids:
        db.session.execute(
            update(ReminderDigest)
            .where(ReminderDigest.id.in_(ids), ReminderDigest.status == "pending")
            .values(next_attempt_at=now + DISPATCH_LEASE),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    return ids


def batch_size() -> int:
    return int(current_app.config.get("REMINDER_BATCH_SIZE", 50))


def batches(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


# --- opting out -----------------------------------------------------------------

def _unsubscribe_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="learning.reminders.unsubscribe")


def unsubscribe_token(user: User) -> str:
    """A signed token naming the learner; it needs no login and does not expire."""
    return _unsubscribe_serializer().dumps({"u": user.id})


def unsubscribe_url(user: User) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/reminders/unsubscribe/{unsubscribe_token(user)}"


def user_for_unsubscribe(token: str) -> User:
    """The learner an unsubscribe link was made for; a forged or damaged link is refused."""
    try:
        data = _unsubscribe_serializer().loads(token)
    except BadSignature as exc:
        raise ValidationFailed(_("This unsubscribe link is not valid.")) from exc
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or user.erased_at is not None:
        raise ValidationFailed(_("This unsubscribe link is not valid."))
    return user


def unsubscribe(user: User) -> bool:
    """Stop reminders to the learner (idempotent); True if this changed the setting."""
    if not user.reminders_enabled:
        return False
    user.reminders_enabled = False
    audit(user.id, "reminders.unsubscribed", "user", user.id)
    return True


def _forget_person(person) -> None:
    """Erasure (DESIGN.md rule 8): no digest goes to the person any more, and no error text keeps them.

    Their open digests and claimed reminders are cancelled (the sent-log keeps only ids, so a
    reminder is still never sent twice), and SMTP errors recorded on any digest that quote their
    address are scrubbed.
    """
    open_digests = select(ReminderDigest.id).where(ReminderDigest.user_id == person.user_id,
                                                   ReminderDigest.status.in_(OPEN_DIGEST_STATUSES))
    db.session.execute(update(ReminderSent).where(ReminderSent.digest_id.in_(open_digests),
                                                  ReminderSent.status == "claimed").values(status="cancelled"),
                       execution_options={"synchronize_session": False})
    db.session.execute(update(ReminderDigest).where(ReminderDigest.id.in_(open_digests))
                       .values(status="cancelled", lease_until=None),
                       execution_options={"synchronize_session": False})
    scrubbed = select(ReminderDigest).where(person.mentioned_in_column(ReminderDigest.last_error))
    for digest in db.session.scalars(scrubbed):
        digest.last_error = person.scrub_text(digest.last_error)


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(_forget_person)
