"""Removing what LTI keeps of a partner's LMS: a whole registered platform, or one resource link (a placement
of one of our courses in it).

A platform that people launched from is not removed by accident: while resource links or linked accounts
depend on it, ``remove_platform`` refuses (``PlatformInUse``, naming how many) unless asked to ``cascade``.
Either removal goes through the session, so a course whose last link goes stops being ``lti_linked``
(``ags.note_unlinked_courses`` and ``ags.update_linked_courses`` see the deleted links), and is audited.
The accounts and enrolments made by launches stay (history, rule 3); only their link to the platform goes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from learning.accounts.models import User
from learning.audit.services import record as audit
from learning.errors import Conflict, NotFound
from learning.extensions import db
from learning.lti.models import (
    LtiContext,
    LtiContextCohort,
    LtiIdentity,
    LtiLinkMember,
    LtiLoginState,
    LtiPlatform,
    LtiResourceLink,
    LtiScoreDelivery,
)


class PlatformInUse(Conflict):
    code = "platform_in_use"


@dataclass(frozen=True)
class Dependents:
    """What launches from a platform left here: its resource links and the accounts linked to its users."""

    resource_links: int
    linked_accounts: int

    def __bool__(self) -> bool:
        return bool(self.resource_links or self.linked_accounts)


def dependents_of(platform: LtiPlatform) -> Dependents:
    """How many resource links and linked accounts the platform has."""
    def count(model) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(model.platform_id == platform.id))

    return Dependents(count(LtiResourceLink), count(LtiIdentity))


def get_resource_link(link_id: int, platform: LtiPlatform | None = None) -> LtiResourceLink:
    """The resource link of this id (of ``platform``, when given: another platform's is ``NotFound`` too)."""
    link = db.session.get(LtiResourceLink, link_id)
    if link is None or (platform is not None and link.platform_id != platform.id):
        raise NotFound(_("No such resource link."))
    return link


def link_counts() -> dict[int, int]:
    """How many resource links each platform has, by platform id (one statement; a platform without any is
    left out)."""
    return dict(db.session.execute(select(LtiResourceLink.platform_id, func.count())
                                   .group_by(LtiResourceLink.platform_id)).all())


def resource_links_of(platform: LtiPlatform) -> list[LtiResourceLink]:
    return list(db.session.scalars(select(LtiResourceLink).where(LtiResourceLink.platform_id == platform.id)
                                   .order_by(LtiResourceLink.id)))


def described_links(platform: LtiPlatform, page: int | None = None, per_page: int = 50) -> tuple[list[dict], int]:
    """The platform's resource links as the API and the CLI show them, oldest first, and how many there are:
    one page of them (every one without ``page``), read with their course, context and members' count in one
    statement (a platform with thousands of links is paged by the database, not in Python)."""
    from learning.catalogue.models import Course

    members = (select(func.count()).select_from(LtiLinkMember)
               .where(LtiLinkMember.resource_link_id == LtiResourceLink.id).scalar_subquery())
    query = (
        select(LtiResourceLink.id, LtiResourceLink.platform_id, LtiResourceLink.resource_link_id,
               LtiResourceLink.title, Course.slug.label("course"),
               func.coalesce(func.nullif(LtiContext.title, ""), LtiContext.context_id).label("context"),
               members.label("members"), LtiResourceLink.created_at)
        .outerjoin(Course, Course.id == LtiResourceLink.course_id)
        .outerjoin(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .where(LtiResourceLink.platform_id == platform.id).order_by(LtiResourceLink.id))
    total = db.session.scalar(select(func.count()).select_from(LtiResourceLink)
                              .where(LtiResourceLink.platform_id == platform.id))
    if page is not None:
        query = query.offset((page - 1) * per_page).limit(per_page)
    return [dict(row._mapping) for row in db.session.execute(query)], total


def _delete_links(links: list[LtiResourceLink]) -> None:
    """Their members and score deliveries (written by no relationship: deleted by statement, as the database
    would by cascade where it enforces foreign keys), then the links themselves through the session."""
    ids = [link.id for link in links]
    if not ids:
        return
    db.session.execute(delete(LtiScoreDelivery).where(LtiScoreDelivery.resource_link_id.in_(ids)))
    db.session.execute(delete(LtiLinkMember).where(LtiLinkMember.resource_link_id.in_(ids)))
    for link in links:
        db.session.delete(link)
    db.session.flush()  # the courses left without a link stop being ``lti_linked`` (ags' flush listeners)


def remove_resource_link(actor: User | None, link: LtiResourceLink) -> None:
    """Forget one placement: its scores are no longer sent. A new launch of it registers it again (it is
    the platform's to show); to stop launches, turn the platform off or remove it."""
    link_id, platform_id, course_id, resource_link_id = link.id, link.platform_id, link.course_id, link.resource_link_id
    _delete_links([link])
    audit(actor.id if actor else None, "lti.resource_link_removed", "lti_resource_link", link_id,
          platform=platform_id, resource_link_id=resource_link_id, course_id=course_id)


def remove_platform(actor: User | None, platform: LtiPlatform, *, cascade: bool = False) -> Dependents:
    """Remove a registration: its launches are refused from now on. While resource links or linked accounts
    depend on it, ``PlatformInUse`` (nothing changed) unless ``cascade``, which removes them with it."""
    found = dependents_of(platform)
    if found and not cascade:
        raise PlatformInUse(
            _("Launches from this platform left records that depend on it (resource links: %(links)d, linked "
              "accounts: %(accounts)d). Remove it with everything that depends on it, or turn it off instead.",
              links=found.resource_links, accounts=found.linked_accounts),
            resource_links=found.resource_links, linked_accounts=found.linked_accounts)
    platform_id, issuer, client_id = platform.id, platform.issuer, platform.client_id
    _delete_links(resource_links_of(platform))
    contexts = select(LtiContext.id).where(LtiContext.platform_id == platform_id)
    db.session.execute(delete(LtiContextCohort).where(LtiContextCohort.context_id.in_(contexts)))
    db.session.execute(delete(LtiContext).where(LtiContext.platform_id == platform_id))
    db.session.execute(delete(LtiIdentity).where(LtiIdentity.platform_id == platform_id))
    db.session.execute(delete(LtiLoginState).where(LtiLoginState.platform_id == platform_id))
    db.session.delete(platform)  # its deployments with it (the relationship's cascade)
    db.session.flush()
    audit(actor.id if actor else None, "lti.platform_removed", "lti_platform", platform_id, issuer=issuer,
          client_id=client_id, cascade=cascade, resource_links=found.resource_links,
          linked_accounts=found.linked_accounts)
    return found
