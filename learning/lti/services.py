"""The rules of the LTI tool that are not the protocol: registering a platform, and what a verified launch
becomes here (the account, the course, the enrolment, the context's cohort).

Every refusal raises ``LtiRefused`` (a reason the audit log keeps) and changes nothing; ``refuse`` writes it
to the audit log as ``lti.launch_refused`` after undoing anything else, as single sign-on does.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from learning.accounts import services as accounts
from learning.accounts.models import Organisation, User, UserRole
from learning.audit.services import record as audit
from learning.errors import Conflict, DomainError, NotFound, ValidationFailed
from learning.extensions import db
from learning.lti.models import (
    LtiContext,
    LtiContextCohort,
    LtiDeployment,
    LtiIdentity,
    LtiLinkMember,
    LtiPlatform,
    LtiResourceLink,
)
from learning.models_base import utcnow
from learning.text import single_line
from learning.transactions import keep_despite_failure

MAX_URL = 2000
log = logging.getLogger(__name__)


class LtiRefused(DomainError):
    """A launch or login that cannot go on. ``reason`` is what the audit log keeps."""

    status = 403
    code = "lti_refused"

    def __init__(self, reason: str, message: str | None = None, status: int | None = None, **extra):
        super().__init__(message or _("This launch from your learning platform was refused."), **extra)
        self.reason = reason
        if status:
            self.status = status


# --- registration ---------------------------------------------------------------------------

def _url_problem(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return _("This address is required.")
    value = value.strip()
    if len(value) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in value):
        return _("Give a valid address.")
    parts = urlsplit(value)
    allowed = ("https", "http") if current_app.config.get("LTI_ALLOW_HTTP") else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return _("Use an https:// address.")
    return None


def _text_problem(value, limit: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return _("This field is required.") if required else None
    if not isinstance(value, str) or len(value.strip()) > limit or "\x00" in value or single_line(value) != value.strip():
        return _("Use at most %(n)d characters on one line.", n=limit)
    return None


def create_platform(*, issuer: str, client_id: str, auth_login_url: str, auth_token_url: str, key_set_url: str,
                    deployment_ids: list[str], name: str | None = None, organisation: Organisation | None = None,
                    auth_token_audience: str | None = None, instructors_are_trainers: bool = True,
                    actor: User | None = None) -> LtiPlatform:
    """Register a partner's LMS, after checking every field (``ValidationFailed`` names them); the same
    issuer and client id twice is a ``Conflict``."""
    errors: dict[str, list[str]] = {}
    for field, value in (("issuer", issuer), ("auth_login_url", auth_login_url), ("auth_token_url", auth_token_url),
                         ("key_set_url", key_set_url)):
        problem = _url_problem(value)
        if problem:
            errors[field] = [problem]
    if auth_token_audience and _text_problem(auth_token_audience, 255):
        errors["auth_token_audience"] = [_text_problem(auth_token_audience, 255)]
    if _text_problem(client_id, 255):
        errors["client_id"] = [_text_problem(client_id, 255)]
    if _text_problem(name, 200, required=False):
        errors["name"] = [_text_problem(name, 200, required=False)]
    clean_ids: list[str] = []
    for raw in deployment_ids or []:
        if _text_problem(raw, 255):
            errors.setdefault("deployment_ids", []).append(_("“%(id)s” is not a deployment id.", id=str(raw)[:50]))
        elif raw.strip() not in clean_ids:
            clean_ids.append(raw.strip())
    if not clean_ids and "deployment_ids" not in errors:
        errors["deployment_ids"] = [_("Give at least one deployment id.")]
    if errors:
        raise ValidationFailed(_("Some fields are invalid."), errors)
    issuer, client_id = issuer.strip(), client_id.strip()
    taken = db.session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == issuer,
                                                           LtiPlatform.client_id == client_id))
    if taken is not None:
        raise Conflict(_("This platform (issuer and client id) is already registered."),
                       {"client_id": [_("Already registered for this issuer.")]})
    platform = LtiPlatform(
        name=(name or "").strip() or urlsplit(issuer).hostname or issuer, issuer=issuer, client_id=client_id,
        auth_login_url=auth_login_url.strip(), auth_token_url=auth_token_url.strip(),
        auth_token_audience=(auth_token_audience or "").strip() or None, key_set_url=key_set_url.strip(),
        organisation=organisation, instructors_are_trainers=bool(instructors_are_trainers), enabled=True)
    platform.deployments = [LtiDeployment(deployment_id=d) for d in clean_ids]
    db.session.add(platform)
    db.session.flush()
    from learning.lti.keys import active_key

    active_key()  # the key the client assertions are signed with exists before the platform asks for a token
    audit(actor.id if actor else None, "lti.platform_registered", "lti_platform", platform.id, issuer=issuer,
          client_id=client_id, deployment_ids=clean_ids)
    return platform


def list_platforms() -> list[LtiPlatform]:
    return list(db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


def get_platform(platform_id: int) -> LtiPlatform:
    platform = db.session.get(LtiPlatform, platform_id)
    if platform is None:
        raise NotFound(_("No such platform."))
    return platform


def describe(platform: LtiPlatform) -> dict:
    """A registration as the API and the CLI show it."""
    return {"id": platform.id, "name": platform.name, "issuer": platform.issuer, "client_id": platform.client_id,
            "auth_login_url": platform.auth_login_url, "auth_token_url": platform.auth_token_url,
            "auth_token_audience": platform.auth_token_audience, "key_set_url": platform.key_set_url,
            "deployment_ids": [d.deployment_id for d in platform.deployments],
            "organisation": ({"id": platform.organisation.id, "name": platform.organisation.name}
                             if platform.organisation else None),
            "instructors_are_trainers": platform.instructors_are_trainers, "enabled": platform.enabled,
            "created_at": platform.created_at}


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform:
    """The enabled registration of an issuer (and client id, which may be left out when the issuer has
    only one registration); ``LtiRefused('unknown_issuer')`` otherwise."""
    if not isinstance(issuer, str) or not issuer or len(issuer) > 255:
        raise LtiRefused("unknown_issuer", status=400)
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.enabled.is_(True))
    if client_id:
        if not isinstance(client_id, str) or len(client_id) > 255:
            raise LtiRefused("unknown_client", status=400)
        query = query.where(LtiPlatform.client_id == client_id)
    found = db.session.scalars(query.limit(2)).all()
    if not found:
        known_issuer = client_id and db.session.scalar(select(LtiPlatform.id).where(
            LtiPlatform.issuer == issuer, LtiPlatform.enabled.is_(True)).limit(1)) is not None
        raise LtiRefused("unknown_client" if known_issuer else "unknown_issuer", _(
            "This learning platform is not registered with us. Ask your administrator to register it."))
    if len(found) > 1:
        raise LtiRefused("ambiguous_client", status=400)
    return found[0]


def find_deployment(platform: LtiPlatform, deployment_id) -> LtiDeployment:
    for deployment in platform.deployments:
        if deployment.deployment_id == deployment_id:
            return deployment
    raise LtiRefused("unknown_deployment", _(
        "This deployment of the tool is not registered with us. Ask your administrator to add it."))


# --- the person ------------------------------------------------------------------------------

INSTRUCTOR_ROLES = {
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    # Deprecated short forms some platforms still send (LTI 1.3 core, A.2.3).
    "Instructor", "Administrator", "ContentDeveloper",
}


def is_instructor(roles: list[str]) -> bool:
    """Whether the launch's roles (``.../claim/roles``) make the person a teacher of the context."""
    return any(role in INSTRUCTOR_ROLES for role in roles)


def account_for(platform: LtiPlatform, claims: dict, launch: bool = True) -> tuple[User, LtiIdentity, bool]:
    """The account the platform's user launches into, and whether it was created now.

    Linked by issuer + subject. The first launch links an existing account with the same address only
    if the platform vouches for it (``email_verified`` is not an LTI claim; an admin's platform is trusted
    as single sign-on trusts an organisation's IdP with ``--trust-email``: only when the registration
    names an organisation and the address is of a person of that organisation), else creates an account
    in the registration's organisation.

    ``launch``: the person is signing in now (else a roster pull names them: no sign-in is recorded).
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise LtiRefused("no_subject", _("The launch did not say who you are (an anonymous launch)."))
    identity = db.session.scalar(select(LtiIdentity).where(LtiIdentity.platform_id == platform.id,
                                                           LtiIdentity.subject == subject))
    created = False
    if identity is None:
        email = claims.get("email")
        email = accounts.normalise_email(email) if isinstance(email, str) and "@" in email and len(email) <= 254 \
            else None
        user = accounts.get_user_by_email(email) if email else None
        if user is not None and not (platform.organisation_id and user.organisation_id == platform.organisation_id):
            raise LtiRefused("email_taken", _(
                "An account with your e-mail address already exists here, outside your learning platform's "
                "organisation. Ask your administrator to link them."), email=email)
        if user is None:
            user = _create_user(platform, claims, email)
            created = True
        identity = LtiIdentity(platform_id=platform.id, subject=subject, user_id=user.id, user=user)
        db.session.add(identity)
    user = identity.user
    if not user.is_active:
        raise LtiRefused("account_disabled", _("This account is disabled."))
    if launch:
        identity.last_launch_at = utcnow()
        user.last_login_at = utcnow()
    db.session.flush()
    return user, identity, created


def _full_name(claims: dict) -> str:
    name = claims.get("name") if isinstance(claims.get("name"), str) else ""
    if not name:
        name = " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if isinstance(p, str))
    return single_line(name).strip()[:200]


def _create_user(platform: LtiPlatform, claims: dict, email: str | None) -> User:
    from learning.i18n import current_language

    org = platform.organisation
    name = _full_name(claims) or (email.partition("@")[0] if email else _("Learner"))
    # The e-mail column is unique and required: an anonymous address (no mail goes there) when the platform
    # keeps the person's address to itself, as Canvas and Moodle may.
    address = email or f"lti-{platform.id}-{_token()}@lti.invalid"
    locale = (claims.get("https://purl.imsglobal.org/spec/lti/claim/launch_presentation") or {})
    language = _language_of(locale.get("locale") if isinstance(locale, dict) else None) or current_language()
    user = User(email=address, password_hash=None, full_name=name, organisation=org,
                country=org.country if org else None, sector=org.sector if org else None, language=language,
                email_verified_at=None)
    db.session.add(user)
    db.session.flush()
    audit(user.id, "user.created", "user", user.id, method="lti", platform=platform.id)
    return user


def _token() -> str:
    import secrets

    return secrets.token_hex(8)


def _language_of(locale) -> str | None:
    """Our interface language closest to an LTI ``locale`` (``fr-CA`` → ``fr``), if we have it."""
    if not isinstance(locale, str) or not re.match(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$", locale):
        return None
    from learning.i18n import UI_LANGUAGES

    base = locale.replace("_", "-").split("-")[0].lower()
    return base if base in UI_LANGUAGES else None


def grant_trainer(platform: LtiPlatform, user: User) -> None:
    """An instructor of a trusted platform runs the context's cohort here: the trainer role (never removed)."""
    if not user.has_role("trainer"):
        user.role_rows.append(UserRole(role="trainer"))
        audit(None, "user.roles_changed", "user", user.id, added=["trainer"], source="lti", platform=platform.id)


# --- the course, the context and its cohort ----------------------------------------------------

def _first_or_insert(query, make):
    """The row ``query`` finds, else a new one from ``make()`` inserted in a savepoint: when a class
    launches a new link at the same moment, the launches that lose the race read the winner's row."""
    found = db.session.scalar(query)
    if found is not None:
        return found
    try:
        with db.session.begin_nested():
            row = make()
            db.session.add(row)
            db.session.flush()
        return row
    except IntegrityError:
        return db.session.scalar(query)


def course_for(link_course_id: int | None, claims: dict, target_link_uri: str):
    """The course a launch opens: the ``course`` custom parameter, else the course the resource link was
    given before, else a ``/courses/<slug>`` target link URI. None: the catalogue."""
    from learning.catalogue.models import Course

    custom = claims.get("https://purl.imsglobal.org/spec/lti/claim/custom")
    slug = custom.get("course") if isinstance(custom, dict) else None
    if not (isinstance(slug, str) and slug):
        match = re.search(r"/courses/([A-Za-z0-9_-]{1,100})/?$", urlsplit(target_link_uri or "").path)
        slug = match.group(1) if match and link_course_id is None else None
    if isinstance(slug, str) and slug:
        course = db.session.scalar(select(Course).where(Course.slug == slug[:100]))
        if course is None or course.status != "published":
            raise LtiRefused("unknown_course", _("The course this link opens is not available."), status=404)
        return course
    if link_course_id is not None:
        course = db.session.get(Course, link_course_id)
        if course is not None and course.status == "published":
            return course
    return None


def record_context(platform: LtiPlatform, deployment: LtiDeployment, claims: dict) -> LtiContext | None:
    """The launch's context, created or brought up to date, with its NRPS endpoint."""
    claim = claims.get("https://purl.imsglobal.org/spec/lti/claim/context")
    if not isinstance(claim, dict) or not isinstance(claim.get("id"), str) or not claim["id"]:
        return None
    context_id = claim["id"][:255]
    context = _first_or_insert(
        select(LtiContext).where(LtiContext.deployment_id == deployment.id, LtiContext.context_id == context_id),
        lambda: LtiContext(platform_id=platform.id, deployment_id=deployment.id, context_id=context_id,
                           nrps_versions=[]))
    context.title = single_line(str(claim.get("title") or ""))[:300]
    context.label = single_line(str(claim.get("label") or ""))[:300]
    nrps = claims.get("https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice")
    if isinstance(nrps, dict) and isinstance(nrps.get("context_memberships_url"), str):
        context.memberships_url = nrps["context_memberships_url"][:MAX_URL]
        versions = nrps.get("service_versions")
        context.nrps_versions = [str(v) for v in versions] if isinstance(versions, list) else []
    context.updated_at = utcnow()
    db.session.flush()
    return context


def record_resource_link(platform: LtiPlatform, deployment: LtiDeployment, context: LtiContext | None,
                         claims: dict) -> LtiResourceLink:
    """The launch's resource link, created or brought up to date, with its AGS endpoint."""
    claim = claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link") or {}
    link_id = claim.get("id") if isinstance(claim, dict) else None
    if not isinstance(link_id, str) or not link_id or len(link_id) > 255:
        raise LtiRefused("no_resource_link", status=400)
    link = _first_or_insert(
        select(LtiResourceLink).where(LtiResourceLink.deployment_id == deployment.id,
                                      LtiResourceLink.resource_link_id == link_id),
        lambda: LtiResourceLink(platform_id=platform.id, deployment_id=deployment.id, resource_link_id=link_id,
                                ags_scopes=[]))
    link.context = context
    link.title = single_line(str(claim.get("title") or ""))[:300]
    ags = claims.get("https://purl.imsglobal.org/spec/lti-ags/claim/endpoint")
    if isinstance(ags, dict):
        link.ags_lineitems = ags.get("lineitems")[:MAX_URL] if isinstance(ags.get("lineitems"), str) else None
        link.ags_lineitem = ags.get("lineitem")[:MAX_URL] if isinstance(ags.get("lineitem"), str) else None
        scopes = ags.get("scope")
        link.ags_scopes = [str(s) for s in scopes] if isinstance(scopes, list) else []
    link.updated_at = utcnow()
    db.session.flush()
    return link


def record_member(link: LtiResourceLink, identity: LtiIdentity, user: User, roles: list[str]) -> None:
    member = db.session.get(LtiLinkMember, (link.id, user.id))
    if member is None:
        member = LtiLinkMember(resource_link_id=link.id, user_id=user.id, first_launch_at=utcnow())
        db.session.add(member)
    member.identity_id = identity.id
    member.roles = roles[:50]
    member.last_launch_at = utcnow()


def context_cohort(context: LtiContext, course, instructor: User | None):
    """The cohort of a context for a course: made at the first instructor's launch (who runs it), joined
    by later instructors. None until an instructor has launched (learners are enrolled on their own)."""
    from learning.cohorts.models import Cohort, CohortTrainer

    row = db.session.get(LtiContextCohort, (context.id, course.id))
    cohort = db.session.get(Cohort, row.cohort_id) if row else None
    if cohort is None and instructor is not None:
        country = (context.platform.organisation.country if context.platform.organisation else None) \
            or instructor.country
        if not country:
            return None  # a cohort needs a country: the instructor is asked for theirs on their profile
        from learning.cohorts.services import create_cohort

        today = utcnow().date()
        name = single_line(context.title or context.label or context.context_id)[:180] or course.slug
        try:
            with db.session.begin_nested():  # two instructors at once: one cohort, the other joins it
                cohort = create_cohort(instructor, {"course": course.slug, "name": name, "country": country,
                                                    "delivery": "online", "starts_on": today.isoformat(),
                                                    "ends_on": (today + timedelta(days=365)).isoformat()})
                cohort.organisation_id = context.platform.organisation_id
                db.session.add(LtiContextCohort(context_id=context.id, course_id=course.id, cohort_id=cohort.id))
                db.session.flush()
        except IntegrityError:
            return context_cohort(context, course, instructor)
    elif cohort is not None and instructor is not None and all(t.user_id != instructor.id for t in cohort.trainers):
        cohort.trainers.append(CohortTrainer(user_id=instructor.id))
        audit(None, "cohort.updated", "cohort", cohort.id, fields=["trainers"], source="lti")
    return cohort


def open_enrolment(user: User, course, cohort):
    """The learner's enrolment in the course: their current one, else a new one (through the enrolment
    service: statistics and xAPI see it), in the context's cohort when there is one."""
    from learning.enrolment.models import Enrolment
    from learning.enrolment.services import AlreadyEnrolled, enrol

    current = db.session.scalar(select(Enrolment).where(Enrolment.user_id == user.id, Enrolment.course_id == course.id,
                                                        Enrolment.status != "withdrawn")
                                .order_by(Enrolment.enrolled_at.desc()).limit(1))
    if current is not None and current.status == "active":
        if current.cohort_id is None and cohort is not None and cohort.status == "open":
            current.cohort_id = cohort.id
        return current
    try:
        return enrol(user, course, cohort_id=cohort.id if cohort is not None and cohort.status == "open" else None)
    except AlreadyEnrolled:
        return current  # completed, certificate in force: the course page shows it


# --- audit and erasure -------------------------------------------------------------------------

def refuse(platform: LtiPlatform | None, reason: str, **details) -> None:
    """Undo anything the refused request did; write the refusal to the audit log (committed) when it came
    from a registered platform, else only to the log (anyone can post junk here: it must not fill the audit log)."""
    data = {"reason": reason, "method": "lti", **{k: v for k, v in details.items() if v is not None}}
    if platform is None:
        db.session.rollback()
        log.warning("LTI request refused: %s", reason)
        return
    data["platform"] = platform.id  # read before the undo expires the platform
    keep_despite_failure(lambda: audit(None, "lti.launch_refused", None, None, **data))


def _on_user_erased(person) -> None:
    """The platform's subject and the launches identify the person at their LMS: they go. So do the
    login states (kept ten minutes, and removed only when someone next signs in) whose login hint is
    their subject, as Moodle's and Open edX's are: the subject would otherwise outlive the erasure."""
    from learning.lti.models import LtiLoginState

    for platform_id, subject in db.session.execute(
            select(LtiIdentity.platform_id, LtiIdentity.subject).where(LtiIdentity.user_id == person.user_id)).all():
        db.session.execute(delete(LtiLoginState).where(LtiLoginState.platform_id == platform_id,
                                                       LtiLoginState.login_hint == subject))
    db.session.execute(delete(LtiLinkMember).where(LtiLinkMember.user_id == person.user_id))
    db.session.execute(delete(LtiIdentity).where(LtiIdentity.user_id == person.user_id))


def connect_erasure() -> None:
    from learning.signals import user_erased

    user_erased.connect(_on_user_erased)
