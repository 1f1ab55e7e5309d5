"""LTI 1.3: the platforms (partners' LMSs) registered to launch us, their deployments, the links between
their users and our accounts, the contexts and resource links they launch from (with the AGS and NRPS
endpoints they announce), the login states we issued (state + nonce, used once), and the tool's own
RSA signing keys.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from learning.accounts.models import Organisation, User
from learning.extensions import db
from learning.models_base import UTCDateTime, utcnow


class LtiPlatform(db.Model):
    """A partner's LMS as its admin registered it here: one issuer + client id (Canvas cloud shares
    one issuer between every customer; the client id tells them apart)."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(Text)  # the platform's OIDC authorization endpoint
    auth_token_url: Mapped[str] = mapped_column(Text)  # its OAuth 2 token endpoint (AGS, NRPS)
    auth_token_audience: Mapped[str | None] = mapped_column(Text)  # ``aud`` of our client assertion, if not the token URL
    key_set_url: Mapped[str] = mapped_column(Text)  # its JWKS
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"),
                                                        index=True)
    # Whether the platform's Instructor (and Administrator) roles may run the context's cohort here.
    instructors_are_trainers: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    deployments: Mapped[list[LtiDeployment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="platform", order_by="LtiDeployment.id")


class LtiDeployment(db.Model):
    """A deployment of the tool in a platform (``https://purl.imsglobal.org/spec/lti/claim/deployment_id``)."""

    __tablename__ = "lti_deployments"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiIdentity(db.Model):
    """The account a platform's user (``sub``) launches into."""

    __tablename__ = "lti_identities"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LtiContext(db.Model):
    """A course (section) of the platform we were launched from (``.../claim/context``), with the
    Names and Role Provisioning Service endpoint it announced (``.../claim/namesroleservice``)."""

    __tablename__ = "lti_contexts"
    __table_args__ = (UniqueConstraint("deployment_id", "context_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("lti_deployments.id", ondelete="CASCADE"))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300), default="")
    label: Mapped[str] = mapped_column(String(300), default="")
    memberships_url: Mapped[str | None] = mapped_column(Text)  # NRPS context_memberships_url
    nrps_versions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[LtiPlatform] = relationship()
    deployment: Mapped[LtiDeployment] = relationship()


class LtiContextCohort(db.Model):
    """The cohort a platform context runs for one of our courses (made at the context's first launch)."""

    __tablename__ = "lti_context_cohorts"

    context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)


class LtiResourceLink(db.Model):
    """A placement of the tool in a platform (``.../claim/resource_link``) and the course it opens, with the
    Assignment and Grade Services endpoint it announced (``https://purl.imsglobal.org/spec/lti-ags/claim/endpoint``)."""

    __tablename__ = "lti_resource_links"
    __table_args__ = (UniqueConstraint("deployment_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("lti_deployments.id", ondelete="CASCADE"))
    context_id: Mapped[int | None] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"), index=True)
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300), default="")
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"), index=True)
    ags_lineitems: Mapped[str | None] = mapped_column(Text)  # the context's line items container URL
    ags_lineitem: Mapped[str | None] = mapped_column(Text)  # this link's own line item URL, if the platform made one
    ags_scopes: Mapped[list] = mapped_column(JSON, default=list)
    # The line item the tool found or created in the ``ags_lineitems`` container when the launch named none.
    tool_lineitem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[LtiPlatform] = relationship()
    deployment: Mapped[LtiDeployment] = relationship()
    context: Mapped[LtiContext | None] = relationship()


class LtiLinkMember(db.Model):
    """Someone who launched a resource link, with the roles the platform gave them there (grade
    passback posts their scores to the link's line item under their ``sub``)."""

    __tablename__ = "lti_link_members"

    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id", ondelete="CASCADE"),
                                                  primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("lti_identities.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list] = mapped_column(JSON, default=list)
    first_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    identity: Mapped[LtiIdentity] = relationship()


class LtiScoreDelivery(db.Model):
    """The timestamp of the last score a platform took for one person of one resource link (AGS): a score
    event not newer than it is sent no more (duplicates, retries after a lost answer)."""

    __tablename__ = "lti_score_deliveries"

    resource_link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_links.id", ondelete="CASCADE"),
                                                  primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    sent_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_rank: Mapped[int | None] = mapped_column()  # the fact's kind breaks a tie of timestamps
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The ``timestamp`` the platform was sent (the fact's, or the next whole second: ``ags._stamp``).
    sent_stamp: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LtiLoginState(db.Model):
    """An OIDC login we started: the ``state`` and ``nonce`` we sent, what the platform asked for, and when
    a launch used them. A used row stays until it expires so a replayed id_token is recognised as such."""

    __tablename__ = "lti_login_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True)
    login_hint: Mapped[str] = mapped_column(Text, default="")
    message_hint: Mapped[str | None] = mapped_column(Text)
    target_link_uri: Mapped[str] = mapped_column(Text, default="")
    deployment_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    platform: Mapped[LtiPlatform] = relationship()


class LtiKey(db.Model):
    """An RSA key the tool signs with (deep linking responses, and the client assertions of AGS/NRPS);
    a key of its own, apart from the certificates' Ed25519 issuer keys. Retired keys stay published."""

    __tablename__ = "lti_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
