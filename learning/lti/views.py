"""LTI 1.3 endpoints: the tool's configuration and keys, OIDC login initiation, the launch, and the deep
linking picker. The protocol's checks are in ``launch``, what a launch becomes in ``services``.

Cookies and frames: platforms often show a tool in an iframe, where browsers may withhold our cookies
(third-party cookies). The login sets a ``state`` cookie (``SameSite=None; Secure`` over https) that the
launch must bring back: that proves the browser that finishes is the one that started (no login CSRF).
A resource link launched inside an iframe, or whose browser did not bring the cookie back, is not
signed in there: a small page offers to open the course in a new window, which starts the login again at
the top level, where the cookies work. The deep linking picker needs no cookie (it signs no one in):
its choice travels in a signed ticket.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _

from learning.accounts import services as accounts
from learning.accounts import sessions
from learning.extensions import csrf, db
from learning.lti import deep_linking, keys, launch, services
from learning.lti.services import LtiRefused
from learning.security import CSP
from learning.web import admin_required

bp = Blueprint("lti", __name__, url_prefix="/lti")
admin_bp = Blueprint("lti_admin", __name__, url_prefix="/admin/lti")
STATE_COOKIE = "lti_state_"
AGS_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
              "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
              "https://purl.imsglobal.org/spec/lti-ags/scope/score"]
NRPS_SCOPES = ["https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"]


# --- configuration and keys ----------------------------------------------------------------------

@bp.get("/config")
def config():
    """What a partner's admin enters in their LMS (Canvas takes this document as a developer key's JSON)."""
    launch_url = url_for("lti.launch_view", _external=True)
    deep_url = url_for("lti.deep_linking_launch", _external=True)
    login_url = url_for("lti.login", _external=True)
    jwks_url = url_for("lti.jwks", _external=True)
    title = _("Child Protection Learning")
    description = _("Courses for professionals who meet children at risk, with certificates anyone can verify.")
    domain = urlsplit(launch_url).netloc
    messages = [{"type": "LtiResourceLinkRequest", "target_link_uri": launch_url},
                {"type": "LtiDeepLinkingRequest", "target_link_uri": deep_url}]
    document = {
        "title": title, "description": description,
        "login_url": login_url, "launch_url": launch_url, "jwks_url": jwks_url, "deep_linking_url": deep_url,
        "redirect_uris": [launch_url, deep_url], "domain": domain,
        "lti_version": "1.3.0", "messages": messages, "scopes": AGS_SCOPES + NRPS_SCOPES,
        "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
        "custom_parameters": {"course": _("the slug of one of our courses (set by deep linking)")},
        # Canvas (developer key, "Enter URL" or "Paste JSON") reads these.
        "oidc_initiation_url": login_url, "target_link_uri": launch_url, "public_jwk_url": jwks_url,
        "public_jwk": keys.jwks()["keys"][0],
        "extensions": [{
            "platform": "canvas.instructure.com", "domain": domain, "privacy_level": "public",
            "settings": {"placements": [
                {"placement": "link_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": deep_url, "text": title},
                {"placement": "assignment_selection", "message_type": "LtiDeepLinkingRequest",
                 "target_link_uri": deep_url, "text": title},
                {"placement": "course_navigation", "message_type": "LtiResourceLinkRequest",
                 "target_link_uri": launch_url, "text": title, "windowTarget": "_blank"},
            ]},
        }],
        # IMS LTI Dynamic Registration's tool configuration, for platforms that read it.
        "https://purl.imsglobal.org/spec/lti-tool-configuration": {
            "domain": domain, "target_link_uri": launch_url, "claims": ["iss", "sub", "name", "email"],
            "messages": messages,
        },
    }
    return jsonify(document)


@bp.get("/jwks")
def jwks():
    """The tool's public keys: platforms check our deep linking responses and client assertions with them."""
    response = jsonify(keys.jwks())
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


# --- login initiation ----------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the platform starts the login from its own page (third-party initiated login)
def login():
    params = request.form if request.method == "POST" else request.args
    platform = None
    try:
        # The platform posts the id token to the redirect URI: the deep linking URL when that is the
        # target (both are registered redirect URIs), else the launch URL.
        deep_url = url_for("lti.deep_linking_launch", _external=True)
        redirect_uri = deep_url if params.get("target_link_uri") == deep_url else url_for("lti.launch_view",
                                                                                           _external=True)
        target, state = launch.start_login({k: params.get(k) for k in (
            "iss", "client_id", "login_hint", "lti_message_hint", "target_link_uri", "lti_deployment_id")},
            redirect_uri)
        if not launch.is_ours(state.target_link_uri):
            raise LtiRefused("foreign_target", status=400)
    except LtiRefused as refused:
        return _refused(platform, refused)
    response = redirect(target)
    secure = request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))
    response.set_cookie(STATE_COOKIE + state.state, state.state, max_age=int(launch.STATE_LIFETIME.total_seconds()),
                        path=url_for("lti.login").rsplit("/", 1)[0] + "/", httponly=True, secure=secure,
                        samesite="None" if secure else "Lax")
    return response


# --- the launch ----------------------------------------------------------------------------------

@bp.post("/launch")
@csrf.exempt  # the platform posts the id_token from its own page; the signed token and state are the proof
def launch_view():
    return _launch()


@bp.post("/deep-linking")
@csrf.exempt
def deep_linking_launch():
    """The deep linking URL a platform is given (the same checks; the message type decides)."""
    return _launch()


def _launch():
    platform = None
    try:
        state = launch.login_state(request.form.get("state"))
        platform = state.platform  # the refusals of a launch to a login we started are audited
        platform, claims = launch.verify_launch(request.form.get("id_token"), state)
        if claims[launch.MESSAGE_TYPE] == launch.DEEP_LINKING:
            return _picker(platform, claims)
        return _resource_link(platform, claims, state)
    except LtiRefused as refused:
        return _refused(platform, refused)


def _resource_link(platform, claims: dict, state):
    target = claims.get(launch.TARGET_LINK_URI)
    if not isinstance(target, str) or not launch.is_ours(target):
        raise LtiRefused("foreign_target", status=400)
    brought_back = request.cookies.get(STATE_COOKIE + state.state) == state.state
    if request.headers.get("Sec-Fetch-Dest") == "iframe" or not brought_back:
        if not brought_back and request.headers.get("Sec-Fetch-Dest") not in ("iframe", None):
            # At the top level the cookie must come back: a launch brought by someone else's page is refused.
            raise LtiRefused("state_cookie_missing", _(
                "This launch did not start in this browser. Start it again from your course."))
        return _open_in_new_window(platform, state)
    deployment = launch.deployment_of(platform, claims)
    context = services.record_context(platform, deployment, claims)
    link = services.record_resource_link(platform, deployment, context, claims)
    course = services.course_for(link.course_id, claims, target)
    if course is not None:
        link.course_id = course.id
    user, identity, created = services.account_for(platform, claims)
    roles = launch.roles_of(claims)
    instructor = services.is_instructor(roles) and platform.instructors_are_trainers
    if instructor:
        services.grant_trainer(platform, user)
    services.record_member(link, identity, user, roles)
    destination = url_for("catalogue.index")
    if course is not None:
        cohort = services.context_cohort(context, course, user if instructor else None) if context else None
        if instructor and cohort is not None:
            destination = url_for("cohorts.show", cohort_id=cohort.id)
        else:
            if not instructor:
                services.open_enrolment(user, course, cohort)
            destination = url_for("catalogue.course", slug=course.slug)
    if user.totp_secret:
        # Their LMS stands for the password, not for the code (as single sign-on does).
        session["two_factor_pending"] = {"user_id": user.id, "version": user.session_version, "remember": False}
        return redirect(url_for("accounts.login_two_factor", next=destination))
    accounts.record_sign_in(user, "lti")
    sessions.sign_in(user)
    response = redirect(destination)
    response.delete_cookie(STATE_COOKIE + state.state, path=url_for("lti.login").rsplit("/", 1)[0] + "/")
    return response


def _open_in_new_window(platform, state):
    """Inside the platform's iframe: a button that starts the launch again at the top level."""
    args = {"iss": platform.issuer, "client_id": platform.client_id, "login_hint": state.login_hint,
            "target_link_uri": state.target_link_uri}
    if state.message_hint:
        args["lti_message_hint"] = state.message_hint
    if state.deployment_id:
        args["lti_deployment_id"] = state.deployment_id
    response = make_response(render_template("lti/new_window.html", restart=url_for("lti.login", **args)))
    return _frameable(response)


# --- deep linking -------------------------------------------------------------------------------

def _locale(claims_or_ticket_locale) -> str:
    return services._language_of(claims_or_ticket_locale) or "en"


def _picker(platform, claims: dict):
    from learning.catalogue.services import list_published
    from learning.catalogue.texts import course_text

    settings = deep_linking.settings_of(claims)
    ticket = deep_linking.make_ticket(platform, claims, settings)
    presentation = claims.get(launch.LTI + "launch_presentation")
    language = services._language_of(presentation.get("locale") if isinstance(presentation, dict) else None) \
        or request.accept_languages.best_match(["en", "es", "fr", "pt", "ar"]) or "en"
    courses, _total = list_published(per_page=500)
    with force_locale(language):
        items = [(course, course_text(course, language)) for course in courses]
        page = render_template("lti/deep_linking.html", items=items, ticket=ticket, lang=language,
                               platform_name=platform.name)
    return _frameable(make_response(page))


@bp.post("/deep-linking/respond")
@csrf.exempt  # inside the platform's iframe our session cookie may be withheld; the signed ticket is the proof
def deep_linking_respond():
    """The teacher's choice, posted back to their LMS as a signed ``LtiDeepLinkingResponse``."""
    from learning.catalogue.models import Course
    from learning.catalogue.texts import course_text
    from learning.lti.models import LtiPlatform

    platform = None
    try:
        ticket = deep_linking.read_ticket(request.form.get("ticket", ""))
        platform = db.session.get(LtiPlatform, ticket["platform"])
        if platform is None or not platform.enabled:
            raise LtiRefused("unknown_issuer")
        slug = request.form.get("course", "")
        course = db.session.scalar(db.select(Course).where(Course.slug == slug[:100])) if slug else None
        if course is None or course.status != "published":
            raise LtiRefused("unknown_course", _("Choose one of the courses listed."), status=422)
        language = _locale(ticket.get("locale"))
        text = course_text(course, language)
        token = deep_linking.response_jwt(platform, ticket, course, text.title, text.summary,
                                          url_for("lti.launch_view", _external=True))
    except LtiRefused as refused:
        return _refused(platform, refused)
    with force_locale(language):
        page = render_template("lti/deep_linking_return.html", return_url=ticket["return_url"], jwt=token,
                               title=text.title)
    response = _frameable(make_response(page))
    origin = urlsplit(ticket["return_url"])
    response.headers["Content-Security-Policy"] = response.headers["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {origin.scheme}://{origin.netloc}")
    return response


# --- the context's roster (NRPS), from the cohort's page -----------------------------------------

@bp.post("/cohorts/<int:cohort_id>/roster")
def pull_roster(cohort_id: int):
    """The cohort page's button: the partner course's roster into the cohort (its trainers and admins)."""
    from flask import flash
    from flask_babel import ngettext
    from flask_login import current_user

    from learning.cohorts.services import get_cohort_for
    from learning.errors import DomainError
    from learning.lti import nrps

    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    cohort = get_cohort_for(current_user, cohort_id)
    try:
        report = nrps.pull_roster(current_user, cohort)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("cohorts.show", cohort_id=cohort_id))
    flash(" ".join([
        _("The roster of your learning platform's course is read."),
        ngettext("%(num)d new account.", "%(num)d new accounts.", report.created),
        ngettext("%(num)d person enrolled.", "%(num)d people enrolled.", report.enrolled),
        ngettext("%(num)d person was already enrolled.", "%(num)d people were already enrolled.",
                 report.already_enrolled),
        ngettext("%(num)d trainer added.", "%(num)d trainers added.", report.trainers),
        ngettext("%(num)d member skipped.", "%(num)d members skipped.", report.skipped)]), "success")
    return redirect(url_for("cohorts.show", cohort_id=cohort_id))


# --- the admins' page of registered platforms -----------------------------------------------------

@admin_bp.get("/")
@admin_required
def admin_index():
    from learning.lti.removal import link_counts

    platforms = [services.describe(p) for p in services.list_platforms()]
    return render_template("lti/admin.html", platforms=platforms, link_counts=link_counts())


@admin_bp.post("/<int:platform_id>/enabled")
@admin_required
def admin_set_enabled(platform_id: int):
    """Turn a registration off (its launches are refused, its scores and roster pulls wait) or on again."""
    from flask import flash
    from flask_login import current_user

    from learning.audit.services import record

    platform = services.get_platform(platform_id)
    platform.enabled = request.form.get("enabled") == "1"
    record(current_user.id, "lti.platform_enabled" if platform.enabled else "lti.platform_disabled",
           "lti_platform", platform.id, issuer=platform.issuer, client_id=platform.client_id)
    flash(_("%(name)s can launch our courses.", name=platform.name) if platform.enabled
          else _("%(name)s is off: its launches are refused and its grades wait.", name=platform.name), "success")
    return redirect(url_for("lti_admin.admin_index"))


@admin_bp.post("/<int:platform_id>/remove")
@admin_required
def admin_remove(platform_id: int):
    """Remove a registration; refused (flashed, nothing changed) while launches left records depending on
    it, unless the admin ticked that those go too."""
    from flask import flash
    from flask_login import current_user

    from learning.lti.removal import remove_platform

    platform = services.get_platform(platform_id)
    name = platform.name
    remove_platform(current_user, platform, cascade=request.form.get("cascade") == "1")
    flash(_("%(name)s is removed: its launches are refused.", name=name), "success")
    return redirect(url_for("lti_admin.admin_index"))


LINKS_PER_PAGE = 50


@admin_bp.get("/<int:platform_id>/links")
@admin_required
def admin_links(platform_id: int):
    """One page of a platform's resource links (oldest first, as the API lists them), each with a button
    that removes it; a page past the last shows the last."""
    from learning.lti.removal import described_links
    from learning.parsing import page_number

    platform = services.get_platform(platform_id)
    page = page_number(request.args)
    links, total = described_links(platform, page, LINKS_PER_PAGE)
    last = max(1, -(-total // LINKS_PER_PAGE))
    if page > last:
        page = last
        links, total = described_links(platform, page, LINKS_PER_PAGE)
    return render_template("lti/links.html", platform=platform, links=links, total=total, page=page,
                           per_page=LINKS_PER_PAGE)


@admin_bp.post("/<int:platform_id>/links/<int:link_id>/remove")
@admin_required
def admin_remove_link(platform_id: int, link_id: int):
    """Remove one of the platform's resource links, as ``DELETE /api/v1/lti/links/<id>`` does: its scores are
    no longer sent; a new launch of it registers it again. Another platform's link, or none, is a 404."""
    from flask import flash
    from flask_login import current_user

    from learning.lti.removal import get_resource_link, remove_resource_link
    from learning.parsing import page_number

    platform = services.get_platform(platform_id)
    link = get_resource_link(link_id, platform)
    title = link.title or link.resource_link_id
    remove_resource_link(current_user, link)
    flash(_("The resource link “%(title)s” is removed: its scores are no longer sent. A new launch of it "
            "registers it again.", title=title), "success")
    return redirect(url_for("lti_admin.admin_links", platform_id=platform.id, page=page_number(request.form)))


# --- shared ------------------------------------------------------------------------------------

def _frameable(response):
    """LTI pages show inside the platform's iframe, whatever its origin (Canvas frames from each school's
    own domain): they hold no action an attacker could click through but the one the launch asked for."""
    schemes = "https: http:" if current_app.config.get("LTI_ALLOW_HTTP") else "https:"
    response.headers["Content-Security-Policy"] = CSP.replace("frame-ancestors 'none'", f"frame-ancestors {schemes}")
    response.frameable = True  # no X-Frame-Options: DENY (learning.security)
    return response


def _refused(platform, refused: LtiRefused):
    services.refuse(platform, refused.reason, email=refused.extra.get("email"))
    response = make_response(render_template("lti/refused.html", reason=refused.message), refused.status)
    return _frameable(response)
