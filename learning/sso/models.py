"""Identity providers of partner organisations, the e-mail domains routed to them, the links
between their subjects and our accounts, and the replay cache of responses already used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.accounts.models import Organisation, User
from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow

PROVIDER_KINDS = ("oidc", "saml")
MAPPABLE_ROLES = ("trainer", "org_manager")


class SsoProvider(db.Model):
    """An organisation's identity provider, as its admin configured it.

    ``settings`` holds the protocol's public settings (OIDC: issuer, endpoints, client id;
    SAML: the IdP's metadata and entity id). ``client_secret`` is never shown back.
    ``role_groups`` maps a role we may grant (``trainer``, ``org_manager``) to the IdP group
    or claim value that grants it; a role absent there is never granted by sign-in.
    """

    __tablename__ = "sso_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    client_secret: Mapped[str | None] = mapped_column(Text)
    # SAML has no ``email_verified``: the admin says whether the IdP's addresses can be trusted.
    trust_email: Mapped[bool] = mapped_column(Boolean, default=False)
    role_groups: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    domains: Mapped[list[SsoDomain]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="provider", order_by="SsoDomain.domain"
    )


class SsoDomain(db.Model):
    """An e-mail domain whose people sign in through one provider (a domain routes to one only)."""

    __tablename__ = "sso_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("sso_providers.id", ondelete="CASCADE"), index=True)

    provider: Mapped[SsoProvider] = relationship(back_populates="domains")


class SsoIdentity(db.Model):
    """The account a provider's subject (OIDC ``sub``, SAML NameID) signs in to."""

    __tablename__ = "sso_identities"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("sso_providers.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SsoReplay(db.Model):
    """A response already accepted (SAML assertion id, OIDC nonce), kept until it would expire anyway.

    The primary key makes a second use fail even when two requests race.
    """

    __tablename__ = "sso_replays"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
