"""Single sign-on pages: the organisation sign-in page, the start of a flow, the callbacks,
the SAML service provider's metadata, and the admins' list of providers. Rules live in ``services``."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from learning.accounts import services as accounts
from learning.accounts import sessions
from learning.errors import DomainError, NotFound
from learning.extensions import csrf, db
from learning.security import safe_redirect_target
from learning.sso import services
from learning.sso.services import SsoRefused
from learning.web import admin_required

bp = Blueprint("sso", __name__, url_prefix="/auth/sso")
admin_bp = Blueprint("sso_admin", __name__, url_prefix="/admin/sso")
log = logging.getLogger(__name__)
PENDING = "sso_pending"


@bp.get("/")
def choose():
    """"Sign in with your organisation": the address's domain says which provider."""
    email = (request.args.get("email") or "").strip()
    next_url = safe_redirect_target(request.args.get("next"), url_for("home.index"))
    if email:
        provider = services.provider_for_email(email)
        if provider is not None:
            return redirect(url_for("sso.login", provider=provider.slug, login_hint=email, next=next_url))
        flash(_("No organisation signs in with this address here. Sign in with your password instead."), "error")
        return _choose_page(email, next_url, 422)
    return _choose_page("", next_url, 200)


def _choose_page(email: str, next_url: str, status: int):
    """The page's CSP lets its form's redirects reach the configured identity providers, and no one else."""
    from learning.security import CSP

    response = make_response(render_template("sso/choose.html", email=email, next=next_url), status)
    origins = " ".join(services.sign_in_origins())
    if origins:
        response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origins}")
    return response


def _provider_or_404(slug: str):
    try:
        return services.get_provider(slug)
    except NotFound:
        return None


@bp.get("/<provider>/login")
def login(provider):
    found = _provider_or_404(provider)
    if found is None:
        return render_template("sso/refused.html", reason=_("No such sign-in provider.")), 404
    next_url = safe_redirect_target(request.args.get("next"), url_for("home.index"))
    hint = (request.args.get("login_hint") or "")[:254] or None
    try:
        if found.kind == "oidc":
            from learning.sso import oidc

            target, pending = oidc.start(found, url_for("sso.oidc_callback", provider=found.slug, _external=True),
                                         hint)
        else:
            from learning.sso import saml

            # The request id we will accept an answer to is committed with the redirect (unit of work).
            return saml.start(found, next_url, hint, PENDING)
    except SsoRefused as refused:
        services.refuse(found, refused.reason)
        return render_template("sso/refused.html", reason=refused.message), 502
    session[PENDING] = {**pending, "provider": found.slug, "next": next_url}
    return redirect(target)


def _signed_in(provider, identity: dict, next_url: str):
    """Turn a verified identity into a session, or a refusal page (audited, nothing created)."""
    try:
        user, created = services.complete_sign_in(provider, **identity)
    except SsoRefused as refused:
        services.refuse(provider, refused.reason, refused.extra.get("email") or identity.get("email"))
        return render_template("sso/refused.html", reason=refused.message), 403
    if user.totp_secret:
        # The person turned on two-factor sign-in here: their organisation's sign-in stands for the
        # password, not for the code, which is asked as after a password.
        session["two_factor_pending"] = {"user_id": user.id, "version": user.session_version, "remember": False}
        return redirect(url_for("accounts.login_two_factor", next=next_url))
    accounts.record_sign_in(user, "sso")
    sessions.sign_in(user)
    if services.needs_profile(user):
        flash(_("Welcome! Please tell us your country and sector."), "info")
        return redirect(url_for("accounts.profile"))
    if created:
        flash(_("Welcome! Your account was created through your organisation."), "success")
    return redirect(next_url)


@bp.get("/<provider>/oidc/callback")
def oidc_callback(provider):
    from learning.sso import oidc

    found = _provider_or_404(provider)
    if found is None or found.kind != "oidc":
        return render_template("sso/refused.html", reason=_("No such sign-in provider.")), 404
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict) or pending.get("provider") != found.slug:
        pending = None
    try:
        claims = oidc.finish(found, url_for("sso.oidc_callback", provider=found.slug, _external=True),
                             request.args, pending)
    except SsoRefused as refused:
        services.refuse(found, refused.reason)
        return render_template("sso/refused.html", reason=refused.message), 403
    return _signed_in(found, oidc.identity(found, claims), pending["next"])


@bp.post("/<provider>/saml/acs")
@csrf.exempt  # the IdP posts here from its own page; the signed response is the proof
def saml_acs(provider):
    """Verify what needs no cookie (this cross-site POST carries none), then hand over to ``saml_complete``."""
    from learning.sso import saml

    found = _provider_or_404(provider)
    if found is None or found.kind != "saml":
        return render_template("sso/refused.html", reason=_("No such sign-in provider.")), 404
    try:
        request_id, identity = saml.finish(found, request.form.get("SAMLResponse", ""))
    except SsoRefused as refused:
        services.refuse(found, refused.reason)
        return render_template("sso/refused.html", reason=refused.message), 403
    # The assertion id and the request are used up: committed with this redirect (unit of work),
    # whatever happens next; a refusal above keeps only its audit line (``services.refuse``).
    ticket = _tickets().dumps({"provider": found.slug, "request_id": request_id, "identity": identity})
    return redirect(url_for("sso.saml_complete", provider=found.slug, ticket=ticket), 303)


class _Tickets:
    """Short-lived tickets from the assertion consumer service to ``saml_complete``, encrypted and
    authenticated (Fernet, a key derived from SECRET_KEY): they travel in a URL, so the person's
    address and name must not be readable in access logs or browser history."""

    def _fernet(self):
        import base64
        import hashlib

        from cryptography.fernet import Fernet
        from flask import current_app

        digest = hashlib.sha256(b"sso-saml-ticket:" + str(current_app.secret_key).encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))

    def dumps(self, data: dict) -> str:
        import json

        return self._fernet().encrypt(json.dumps(data).encode()).decode()

    def loads(self, token: str, max_age: int) -> dict:
        import json

        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet().decrypt(token.encode(), ttl=max_age))
        except (InvalidToken, ValueError, UnicodeError) as error:
            raise BadTicket from error


class BadTicket(Exception):
    """A ticket that was forged, damaged or is too old."""


def _tickets() -> _Tickets:
    return _Tickets()


TICKET_SECONDS = 120


@bp.get("/<provider>/saml/complete")
def saml_complete(provider):
    """Same-site now: the browser that finishes must be the one that started (no login CSRF)."""
    found = _provider_or_404(provider)
    if found is None or found.kind != "saml":
        return render_template("sso/refused.html", reason=_("No such sign-in provider.")), 404
    pending = session.pop(PENDING, None)
    try:
        ticket = _tickets().loads(request.args.get("ticket", ""), max_age=TICKET_SECONDS)
    except BadTicket:
        services.refuse(found, "bad_ticket")
        return render_template("sso/refused.html", reason=_("Single sign-on could not sign you in.")), 403
    if (not isinstance(pending, dict) or ticket.get("provider") != found.slug
            or pending.get("provider") != found.slug or pending.get("request_id") != ticket.get("request_id")):
        services.refuse(found, "browser_mismatch")
        return render_template("sso/refused.html", reason=_(
            "This sign-in was started in another browser. Start again from the sign-in page.")), 403
    return _signed_in(found, ticket["identity"], pending.get("next") or url_for("home.index"))


@bp.get("/<provider>/saml/metadata")
def saml_metadata(provider):
    from learning.sso import saml

    found = _provider_or_404(provider)
    if found is None or found.kind != "saml":
        return render_template("sso/refused.html", reason=_("No such sign-in provider.")), 404
    return Response(saml.sp_metadata(found), mimetype="application/samlmetadata+xml")


@admin_bp.get("/")
@admin_required
def index():
    providers = [services.describe(p) for p in services.list_providers()]
    return render_template("sso/admin.html", providers=providers)


@admin_bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    """An admin adds a provider; the client secret is written once and never shown again."""
    from flask_login import current_user

    from learning.accounts.models import Organisation
    from learning.sso.forms import ProviderForm
    from learning.web import apply_field_errors

    form = ProviderForm().fill_choices()
    if form.validate_on_submit():
        data = form.data
        settings = ({"discovery_url": data["discovery_url"], "client_id": data["client_id"],
                     "groups_claim": data["groups_claim"]} if data["kind"] == "oidc"
                    else {"idp_metadata": data["idp_metadata"]})
        try:
            services.create_provider(
                kind=data["kind"], slug=data["slug"], name=data["name"],
                organisation=db.session.get(Organisation, data["organisation"]) if data["organisation"] else None,
                domains=[d for d in data["domains"].replace(",", "\n").splitlines() if d.strip()],
                settings=settings, client_secret=data["client_secret"] if data["kind"] == "oidc" else None,
                trust_email=data["trust_email"],
                role_groups={"trainer": data["trainer_group"] or "", "org_manager": data["org_manager_group"] or ""},
                actor=current_user._get_current_object())
        except DomainError as error:
            db.session.rollback()
            apply_field_errors(form, error)
        else:
            flash(_("The provider is added. People of its domains can sign in with it now."), "success")
            return redirect(url_for("sso_admin.index"))
    form.client_secret.data = ""  # never echoed back into the page
    return render_template("sso/admin_new.html", form=form), 422 if form.errors else 200


@admin_bp.post("/<int:provider_id>/enabled")
@admin_required
def set_enabled(provider_id):
    from flask_login import current_user

    from learning.sso.models import SsoProvider

    provider = db.session.get(SsoProvider, provider_id)
    if provider is None:
        abort(404)
    provider.enabled = request.form.get("enabled") == "1"
    from learning.audit.services import record

    record(current_user.id, "sso.provider_enabled" if provider.enabled else "sso.provider_disabled",
           "sso_provider", provider.id, slug=provider.slug)
    flash(_("Sign-in through %(name)s is on.", name=provider.name) if provider.enabled
          else _("Sign-in through %(name)s is off.", name=provider.name), "success")
    return redirect(url_for("sso_admin.index"))
