"""The rules of single sign-on, whatever the protocol.

Which provider an e-mail address goes to, how an admin configures a provider, and what a
verified identity becomes here: the account it is linked to, a linked existing account (only
through a verified address), or a new account of the provider's organisation. Every refusal is
written to the audit log as ``user.sign_in_failed`` with its reason and changes nothing else.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from learning.accounts import services as accounts
from learning.accounts.models import Organisation, User, UserRole
from learning.audit.services import record as audit
from learning.errors import Conflict, DomainError, NotFound, ValidationFailed
from learning.extensions import db
from learning.models_base import utcnow
from learning.sso.models import (
    MAPPABLE_ROLES,
    PROVIDER_KINDS,
    SsoDomain,
    SsoIdentity,
    SsoProvider,
    SsoReplay,
)
from learning.text import single_line
from learning.transactions import keep_despite_failure

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class SsoRefused(DomainError):
    """The identity provider's answer cannot sign anyone in. ``reason`` is what the audit log keeps."""

    status = 403
    code = "forbidden"

    def __init__(self, reason: str, message: str | None = None, **extra):
        super().__init__(message or _("Single sign-on could not sign you in."), **extra)
        self.reason = reason


# --- routing ------------------------------------------------------------------------------

def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower().rstrip(".")


def provider_for_email(email: str) -> SsoProvider | None:
    """The enabled provider the address's domain is routed to, if any."""
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return None
    domain = email_domain(email)
    if not DOMAIN.match(domain):  # also keeps NUL and other junk away from the database
        return None
    row = db.session.get(SsoDomain, domain)
    if row is None or not row.provider.enabled:
        return None
    return row.provider


def get_provider(slug: str) -> SsoProvider:
    provider = db.session.scalar(select(SsoProvider).where(SsoProvider.slug == slug))
    if provider is None or not provider.enabled:
        raise NotFound(_("No such sign-in provider."))
    return provider


def sign_in_origins() -> list[str]:
    """The origins the organisation sign-in form may end up at (its submission redirects to the IdP,
    and CSP's ``form-action`` covers the redirects of a form's navigation)."""
    from urllib.parse import urlsplit

    urls = []
    for provider in db.session.scalars(select(SsoProvider).where(SsoProvider.enabled.is_(True))):
        settings = provider.settings or {}
        urls += [settings.get("authorization_endpoint"), settings.get("discovery_url")]
        urls += re.findall(r'SingleSignOnService[^>]*Location="([^"]+)"', settings.get("idp_metadata") or "")
    origins = []
    for url in filter(None, urls):
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("http", "https") and parts.netloc and origin not in origins:
            origins.append(origin)
    return origins


def list_providers() -> list[SsoProvider]:
    return list(db.session.scalars(select(SsoProvider).order_by(SsoProvider.name)))


# --- configuration ------------------------------------------------------------------------

def _clean_domains(domains, errors: dict) -> list[str]:
    clean = []
    for raw in domains or []:
        domain = str(raw).strip().lower().lstrip("@").rstrip(".")
        if not DOMAIN.match(domain):
            errors.setdefault("domains", []).append(_("“%(domain)s” is not a domain name.", domain=raw))
        elif domain not in clean:
            clean.append(domain)
    if not clean and "domains" not in errors:
        errors.setdefault("domains", []).append(_("Route at least one e-mail domain to the provider."))
    return clean


def create_provider(*, kind: str, slug: str, name: str, organisation: Organisation | None, domains: list[str],
                    settings: dict, client_secret: str | None = None, trust_email: bool = False,
                    role_groups: dict | None = None, actor: User | None = None) -> SsoProvider:
    """A new provider for an organisation, after checking every field (``ValidationFailed`` names them)."""
    errors: dict[str, list[str]] = {}
    if kind not in PROVIDER_KINDS:
        errors.setdefault("kind", []).append(_("Choose OpenID Connect or SAML."))
    slug = (slug or "").strip().lower()
    if not SLUG.match(slug):
        errors.setdefault("slug", []).append(_("Use 3 to 64 lower-case letters, digits and hyphens."))
    name = single_line(name or "").strip()
    if not name or len(name) > 200:
        errors.setdefault("name", []).append(_("Give the provider a name of at most %(n)d characters.", n=200))
    if organisation is None:
        errors.setdefault("organisation", []).append(_("Choose the organisation whose people sign in here."))
    clean_domains = _clean_domains(domains, errors)
    role_groups = {role: str(group).strip() for role, group in (role_groups or {}).items() if str(group).strip()}
    for role in role_groups:
        if role not in MAPPABLE_ROLES:
            errors.setdefault("role_groups", []).append(_("Only trainer and org_manager can be granted by sign-in."))
    if kind == "oidc":
        settings = _check_oidc_settings(settings, client_secret, errors)
    elif kind == "saml":
        settings = _check_saml_settings(settings, errors)
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    if db.session.scalar(select(SsoProvider.id).where(SsoProvider.slug == slug)) is not None:
        raise Conflict(_("A provider with this short name already exists."), {"slug": [_("Already used.")]})
    taken = db.session.scalars(select(SsoDomain.domain).where(SsoDomain.domain.in_(clean_domains))).all()
    if taken:
        raise Conflict(_("These domains already sign in elsewhere: %(domains)s", domains=", ".join(sorted(taken))),
                       {"domains": [_("Already routed to another provider.")]})
    provider = SsoProvider(kind=kind, slug=slug, name=name, organisation=organisation, settings=settings,
                           client_secret=client_secret or None, trust_email=bool(trust_email),
                           role_groups=role_groups, enabled=True)
    provider.domains = [SsoDomain(domain=d) for d in clean_domains]
    db.session.add(provider)
    db.session.flush()
    audit(actor.id if actor else None, "sso.provider_created", "sso_provider", provider.id, slug=slug, kind=kind,
          domains=clean_domains, role_groups=role_groups)
    return provider


def _check_oidc_settings(settings: dict, client_secret: str | None, errors: dict) -> dict:
    clean = {}
    for key in ("issuer", "discovery_url", "authorization_endpoint", "token_endpoint", "jwks_uri", "client_id",
                "groups_claim"):
        value = (settings or {}).get(key)
        if value:
            clean[key] = str(value).strip()
    # Authlib refuses plain HTTP (tokens and secrets would cross in clear) unless AUTHLIB_INSECURE_TRANSPORT
    # is set, which only the tests do for their providers on loopback.
    scheme = r"^https?://" if os.environ.get("AUTHLIB_INSECURE_TRANSPORT") else r"^https://"
    for key in ("issuer", "discovery_url", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if key in clean and not re.match(scheme, clean[key]):
            errors.setdefault(key, []).append(_("Use an https:// address."))
    if not clean.get("discovery_url") and not all(
            clean.get(k) for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")):
        errors.setdefault("discovery_url", []).append(
            _("Give the discovery URL, or the issuer and the authorization, token and JWKS endpoints."))
    if not clean.get("client_id"):
        errors.setdefault("client_id", []).append(_("The client id is required."))
    if not client_secret:
        errors.setdefault("client_secret", []).append(_("The client secret is required."))
    return clean


def _check_saml_settings(settings: dict, errors: dict) -> dict:
    clean = {}
    metadata = (settings or {}).get("idp_metadata")
    if not metadata or "EntityDescriptor" not in str(metadata):
        errors.setdefault("idp_metadata", []).append(_("Paste the identity provider's SAML metadata (XML)."))
    else:
        clean["idp_metadata"] = str(metadata)
        match = re.search(r'entityID="([^"]+)"', clean["idp_metadata"])
        if match:
            clean["idp_entity_id"] = match.group(1)
        else:
            errors.setdefault("idp_metadata", []).append(_("The metadata names no entityID."))
    for key in ("email_attribute", "name_attribute", "groups_attribute"):
        if (settings or {}).get(key):
            clean[key] = str(settings[key]).strip()
    return clean


def describe(provider: SsoProvider) -> dict:
    """What an admin may see of a provider: everything but the secret."""
    settings = {k: v for k, v in provider.settings.items() if k != "idp_metadata"}
    return {"id": provider.id, "slug": provider.slug, "name": provider.name, "kind": provider.kind,
            "organisation": {"id": provider.organisation.id, "name": provider.organisation.name},
            "domains": [d.domain for d in provider.domains], "settings": settings,
            "has_client_secret": bool(provider.client_secret), "trust_email": provider.trust_email,
            "role_groups": provider.role_groups, "enabled": provider.enabled}


# --- replay cache -------------------------------------------------------------------------

def consume_once(key: str, expires_at: datetime) -> None:
    """Remember ``key`` until ``expires_at``; a second use raises ``SsoRefused('replayed')``."""
    now = utcnow()
    db.session.execute(delete(SsoReplay).where(SsoReplay.expires_at < now))
    try:
        with db.session.begin_nested():
            db.session.add(SsoReplay(key=key[:300], expires_at=max(expires_at, now + timedelta(minutes=5))))
    except IntegrityError:
        raise SsoRefused("replayed") from None


def remember_once(key: str, expires_at: datetime) -> None:
    """Keep a one-time key (a SAML request we issued) until ``forget`` uses it or it expires."""
    db.session.add(SsoReplay(key=key[:300], expires_at=expires_at))


def forget(key: str) -> bool:
    """Use a key kept by ``remember_once``: True the first time while it lives, False after."""
    result = db.session.execute(delete(SsoReplay).where(SsoReplay.key == key[:300],
                                                        SsoReplay.expires_at >= utcnow()))
    return result.rowcount == 1


# --- what a verified identity becomes -----------------------------------------------------

def refuse(provider: SsoProvider | None, reason: str, email: str | None = None) -> None:
    """Write a refused sign-in to the audit log (committed, after undoing anything else)."""
    details = {"reason": reason, "method": "sso"}
    if provider is not None:
        details["provider"] = provider.slug  # read before the undo expires the provider
    if email:
        details["email"] = email
    keep_despite_failure(lambda: audit(None, "user.sign_in_failed", None, None, **details))


def complete_sign_in(provider: SsoProvider, *, subject: str, email: str | None, email_verified: bool,
                     full_name: str | None, groups: list[str] | None = None) -> tuple[User, bool]:
    """The account this verified identity signs in to, and whether it was created now.

    Raises ``SsoRefused`` (nothing changed) when the address is not routed to this provider,
    when it would link an existing account without a verified address, or when the account is disabled.
    """
    if not subject:
        raise SsoRefused("no_subject")
    email = accounts.normalise_email(email) if isinstance(email, str) and "@" in email else None
    if email is None:
        raise SsoRefused("no_email", _("Your organisation's sign-in did not give your e-mail address."))
    routed = db.session.get(SsoDomain, email_domain(email))
    if routed is None or routed.provider_id != provider.id:
        raise SsoRefused("unrouted_domain", _("Your e-mail address does not sign in through this organisation."),
                         email=email)
    identity = db.session.scalar(select(SsoIdentity).where(SsoIdentity.provider_id == provider.id,
                                                           SsoIdentity.subject == subject[:255]))
    created = False
    if identity is not None:
        user = identity.user
    else:
        user = accounts.get_user_by_email(email)
        if user is not None:
            if not email_verified:
                raise SsoRefused("email_not_verified", _(
                    "An account with this address exists, and your organisation did not confirm the address: "
                    "sign in with your password instead."), email=email)
        else:
            user = _create_user(provider, email, email_verified, full_name)
            created = True
        identity = SsoIdentity(provider_id=provider.id, subject=subject[:255], user_id=user.id)
        db.session.add(identity)
    if not user.is_active:
        raise SsoRefused("account_disabled", _("This account is disabled."))
    _grant_mapped_roles(provider, user, groups or [])
    identity.last_used_at = utcnow()
    user.last_login_at = utcnow()
    if email_verified and user.email_verified_at is None and user.email == email:
        user.email_verified_at = utcnow()
    db.session.flush()
    return user, created


def _create_user(provider: SsoProvider, email: str, email_verified: bool, full_name: str | None) -> User:
    org = provider.organisation
    name = single_line(full_name or "").strip()[:200] or email.partition("@")[0]
    from learning.i18n import current_language

    # The language the person's browser is using here now (as sign-up preselects it).
    user = User(email=email, password_hash=None, full_name=name, organisation=org, country=org.country,
                sector=org.sector, language=current_language(), email_verified_at=utcnow() if email_verified else None)
    db.session.add(user)
    db.session.flush()
    audit(user.id, "user.created", "user", user.id, method="sso", provider=provider.slug)
    return user


def _grant_mapped_roles(provider: SsoProvider, user: User, groups: list[str]) -> None:
    """Grant the roles whose group the admin mapped and the person is in (never removes any)."""
    for role, group in (provider.role_groups or {}).items():
        if role not in MAPPABLE_ROLES or group not in groups:
            continue
        if not user.has_role(role):
            user.role_rows.append(UserRole(role=role))
            audit(None, "user.roles_changed", "user", user.id, added=[role], source="sso", provider=provider.slug)
        if role == "org_manager" and provider.organisation not in user.managed_organisations:
            user.managed_organisations.append(provider.organisation)


def needs_profile(user: User) -> bool:
    """A just-in-time account whose organisation did not say the country or sector asks the person."""
    return not user.country or not user.sector


# --- erasure ------------------------------------------------------------------------------

def _on_user_erased(person) -> None:
    """An erased person's links to their organisation's IdP go: the subject identifies them there."""
    db.session.execute(delete(SsoIdentity).where(SsoIdentity.user_id == person.user_id))


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(_on_user_erased)
