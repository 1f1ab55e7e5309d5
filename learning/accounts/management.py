"""What an admin does to other people's accounts: find them, change their roles and the
organisations they manage, disable and re-enable them, send a password reset, erase them.

The admin pages (``/admin/users/``) and the API (``GET /api/v1/users``,
``PATCH /api/v1/users/<id>``) both call these functions, so one rule holds in
both places. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, exists, func, or_, select

from learning.accounts.models import (
    ROLES,
    Organisation,
    OrganisationManager,
    User,
    UserRole,
)
from learning.accounts.services import end_credentials
from learning.audit.services import record as audit
from learning.errors import ValidationFailed
from learning.extensions import db
from learning.i18n import is_country_code

STATUSES = ("active", "disabled", "erased")


@dataclass(frozen=True)
class UserFilters:
    """A search over accounts; every field is optional and they combine with AND."""

    q: str | None = None
    role: str | None = None
    country: str | None = None
    organisation: str | None = None
    status: str | None = None


def _organisation_ids(value: str) -> Select:
    """Organisations named by an id or, else, by their exact name ignoring case (as the reports do)."""
    value = value.strip()
    query = select(Organisation.id).where(func.lower(Organisation.name) == value.lower())
    if value.isdigit() and len(value) <= 9:
        query = select(Organisation.id).where(
            or_(Organisation.id == int(value), func.lower(Organisation.name) == value.lower()))
    return query


def check_filters(filters: UserFilters) -> UserFilters:
    """The filters with clean values; ``ValidationFailed`` names each one that cannot match anything."""
    errors: dict[str, list[str]] = {}
    if filters.role and filters.role not in ROLES:
        errors["role"] = [_("Unknown role %(role)r", role=filters.role)]
    if filters.status and filters.status not in STATUSES:
        errors["status"] = [_("Use one of: %(values)s", values=", ".join(STATUSES))]
    country = (filters.country or "").strip().upper() or None
    if country and not is_country_code(country):  # "ZZ" is shaped like a code but names no country
        errors["country"] = [_("Unknown country code %(code)r", code=filters.country)]
    if filters.q and len(filters.q) > 254:
        errors["q"] = [_("Use at most %(n)d characters.", n=254)]
    if errors:
        raise ValidationFailed(_("Some filters are invalid."), errors)
    return UserFilters(q=(filters.q or "").strip() or None, role=filters.role or None, country=country,
                       organisation=(filters.organisation or "").strip() or None, status=filters.status or None)


def search_users(filters: UserFilters, page: int = 1, per_page: int = 50) -> tuple[list[User], int]:
    """Accounts matching ``filters``, by name then e-mail, one page of them; and how many match in all."""
    filters = check_filters(filters)
    query = select(User)
    if filters.q:
        needle = filters.q.lower()  # "%" and "_" are matched as themselves
        query = query.where(or_(func.lower(User.full_name).contains(needle, autoescape=True),
                                User.email.contains(needle, autoescape=True)))
    if filters.role == "learner":
        pass  # everyone is a learner
    elif filters.role:
        query = query.where(exists().where(UserRole.user_id == User.id, UserRole.role == filters.role))
    if filters.country:
        query = query.where(User.country == filters.country)
    if filters.organisation:
        query = query.where(User.organisation_id.in_(_organisation_ids(filters.organisation)))
    if filters.status == "active":
        query = query.where(User.active.is_(True), User.erased_at.is_(None))
    elif filters.status == "disabled":
        query = query.where(User.active.is_(False), User.erased_at.is_(None))
    elif filters.status == "erased":
        query = query.where(User.erased_at.is_not(None))
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    users = db.session.scalars(
        query.order_by(func.lower(User.full_name), User.email, User.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(users), total


def status_of(user: User) -> str:
    """``active``, ``disabled`` (an admin turned it off, or its erasure is under way) or ``erased``."""
    if user.erased_at is not None:
        return "erased"
    return "active" if user.active else "disabled"


def organisation_choices() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).order_by(func.lower(Organisation.name))))


def _organisations(ids) -> list[Organisation]:
    """The organisations with these ids; ``ValidationFailed`` on ``managed_organisations`` naming the unknown."""
    if not isinstance(ids, list | tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed(_("The managed organisations must be a list of organisation ids."),
                               {"managed_organisations": [_("Must be a list of organisation ids.")]})
    wanted = set(ids)
    found = list(db.session.scalars(select(Organisation).where(Organisation.id.in_(wanted)))) if wanted else []
    unknown = sorted(wanted - {org.id for org in found})
    if unknown:
        raise ValidationFailed(_("Unknown organisations."), {"managed_organisations": [
            _("Unknown organisation id %(id)d", id=org_id) for org_id in unknown]})
    return sorted(found, key=lambda org: org.name.lower())


def set_roles(actor: User, user: User, roles: list[str], managed_organisations: list[int] | None = None) -> User:
    """Replace a user's roles and, for an ``org_manager``, the organisations they manage.

    ``learner`` is implicit. An ``org_manager`` manages at least one organisation;
    taking the role away empties the list. Omitting ``managed_organisations``
    keeps the current ones.
    """
    from learning.accounts import services

    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ValidationFailed(_("The roles must be a list."), {"roles": [_("Must be a list.")]})
    wanted = set(roles)
    organisations = (_organisations(managed_organisations) if managed_organisations is not None
                     else list(user.managed_organisations))
    if "org_manager" in wanted and not organisations:
        raise ValidationFailed(_("Choose the organisations this manager manages."), {
            "managed_organisations": [_("An organisation manager needs at least one organisation.")]})
    if "org_manager" not in wanted and managed_organisations:
        raise ValidationFailed(_("Only an organisation manager manages organisations."), {
            "managed_organisations": [_("Give the role 'org_manager' too, or leave this empty.")]})
    before = (user.roles, [org.id for org in user.managed_organisations])
    services.set_roles(actor, user, roles)
    user.managed_organisations = organisations if "org_manager" in wanted else []
    after = (user.roles, [org.id for org in user.managed_organisations])
    if after[1] != before[1]:
        audit(actor.id, "user.managed_organisations_changed", "user", user.id,
              organisations=[org.name for org in user.managed_organisations])
    return user


def managers_of(organisation_id: int) -> list[User]:
    """The people who manage this organisation."""
    return list(db.session.scalars(
        select(User).join(OrganisationManager, OrganisationManager.user_id == User.id)
        .where(OrganisationManager.organisation_id == organisation_id).order_by(User.full_name)))


def _not_yourself(actor: User, user: User, message: str) -> None:
    if actor.id == user.id:
        raise ValidationFailed(message)


def _not_erased(user: User) -> None:
    if user.erased_at is not None:
        raise ValidationFailed(_("This account is erased."))


def disable_user(actor: User, user: User) -> User:
    """Stop someone from signing in: their sessions, links and API tokens end at once. Reversible."""
    _not_yourself(actor, user, _("You cannot disable your own account."))
    _not_erased(user)
    if user.active:
        user.active = False
        end_credentials(user)
        audit(actor.id, "user.disabled", "user", user.id)
    return user


def enable_user(actor: User, user: User) -> User:
    """Let a disabled person sign in again (their old sessions and tokens stay ended)."""
    _not_erased(user)
    if _erasure_pending(user):
        raise ValidationFailed(_("This account is being erased at its owner's request."))
    if not user.active:
        user.active = True
        audit(actor.id, "user.enabled", "user", user.id)
    return user


def set_active(actor: User, user: User, active: bool) -> User:
    """Disable or re-enable an account (the API's ``active`` field)."""
    try:
        return enable_user(actor, user) if active else disable_user(actor, user)
    except ValidationFailed as error:
        raise ValidationFailed(error.message, {"active": [error.message]}) from error


def _erasure_pending(user: User) -> bool:
    from learning.audit.models import AuditEntry

    return user.erased_at is None and not user.active and db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "user.erasure_requested", AuditEntry.target_type == "user",
            AuditEntry.target_id == str(user.id))) > 0


def erasure_pending(user: User) -> bool:
    """Whether an erasure was asked for and has not run yet."""
    return _erasure_pending(user)


def send_password_reset(actor: User, user: User) -> None:
    """E-mail the person a link to choose a new password (the link works once, for three days)."""
    from learning.accounts import services

    _not_erased(user)
    if not user.active:
        raise ValidationFailed(_("This account is disabled: enable it first."))
    services.queue_password_reset(user)
    audit(actor.id, "user.password_reset_sent", "user", user.id)


def erase_user_on_request(actor: User, user: User) -> None:
    """Erase someone at their request (DESIGN.md rule 3): locked now, erased by a task."""
    from learning.accounts.privacy import request_erasure

    _not_yourself(actor, user, _("Erase your own account from your profile."))
    _not_erased(user)
    request_erasure(user, actor_id=actor.id)
